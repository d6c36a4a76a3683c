//! The simulated-cluster part of a [`Cluster`]: kube-controller-manager, kube-scheduler and
//! kwok with fake Nodes, started once the API server is ready. A real cluster runs the same
//! controllers ([`Cluster::start_controllers`]) with a real node instead of kwok.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use super::certs::{Pki, SigningKey};
use super::cluster::{Cluster, admin_user, path};
use super::identity::write_kubeconfig;
use super::kwok;

/// The controllers the simulated cluster runs: enough for Jobs, Deployments, garbage
/// collection, namespaces, ServiceAccounts, Node health and evictions.
const CONTROLLERS: &str = "job-controller,garbage-collector-controller,namespace-controller,\
serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,\
ttl-after-finished-controller,endpointslice-controller,replicaset-controller,deployment-controller,\
disruption-controller,node-lifecycle-controller,taint-eviction-controller,\
pod-garbage-collector-controller";

/// The simulation's executables, found before anything starts.
pub(super) struct Binaries {
    pub controller_manager: PathBuf,
    pub scheduler: PathBuf,
    /// Simulated clusters only.
    pub kwok: Option<PathBuf>,
}

impl Cluster {
    pub(super) async fn start_simulation(
        &self,
        pki: &Pki,
        service_account_key: &SigningKey,
        binaries: &Binaries,
        deadline: Instant,
    ) -> Result<(), String> {
        self.start_controllers(pki, service_account_key, binaries)?;
        let component_kubeconfig = |name: &str, user: &str, group: Option<&str>| {
            let cert = pki.client(name, user, group)?;
            let file = self.dir.join("pki").join(format!("{name}.kubeconfig"));
            write_kubeconfig(&file, &self.server, &pki.ca_cert, &admin_user(&cert), None)?;
            Ok::<_, String>(path(&file))
        };
        // kwok plays the kubelet of every fake Node; the Node authorizer knows no such thing.
        let kwok = component_kubeconfig("kwok", "kwok", Some("system:masters"))?;
        let kwok_config = self.dir.join("kwok.yaml");
        std::fs::write(&kwok_config, kwok::STAGES).map_err(|e| e.to_string())?;
        self.processes.spawn(
            "kwok",
            binaries.kwok.as_ref().ok_or("kwok missing")?,
            &[
                format!("--kubeconfig={kwok}"),
                format!("--config={}", path(&kwok_config)),
                "--manage-all-nodes".into(),
                // Node leases keep the Node controller from marking the fake Nodes NotReady.
                "--node-lease-duration-seconds=40".into(),
            ],
        )?;
        let nodes = Api::<Node>::all(self.client());
        for index in 0..kwok::NODE_COUNT {
            nodes
                .create(&PostParams::default(), &kwok::node(index))
                .await
                .map_err(|e| format!("cannot create a fake Node: {e}"))?;
        }
        self.wait_for_a_running_pod(deadline).await
    }

    /// kube-controller-manager and kube-scheduler (simulated and real clusters alike).
    pub(super) fn start_controllers(
        &self,
        pki: &Pki,
        service_account_key: &SigningKey,
        binaries: &Binaries,
    ) -> Result<(), String> {
        let component_kubeconfig = |name: &str, user: &str, group: Option<&str>| {
            let cert = pki.client(name, user, group)?;
            let file = self.dir.join("pki").join(format!("{name}.kubeconfig"));
            write_kubeconfig(&file, &self.server, &pki.ca_cert, &admin_user(&cert), None)?;
            Ok::<_, String>(path(&file))
        };
        let controller_manager = component_kubeconfig(
            "kube-controller-manager",
            "system:kube-controller-manager",
            None,
        )?;
        let scheduler = component_kubeconfig("kube-scheduler", "system:kube-scheduler", None)?;
        // The API server's service proxy finds a Service's pods through its Endpoints, which
        // only matter where pods really answer.
        let controllers = match self.mode {
            super::cluster::Mode::RealCluster => format!("{CONTROLLERS},endpoints-controller"),
            _ => CONTROLLERS.to_string(),
        };

        self.processes.spawn(
            "kube-controller-manager",
            &binaries.controller_manager,
            &[
                format!("--kubeconfig={controller_manager}"),
                // No serving port (fixed default ports would collide between clusters) and no
                // leader election (a renewal missed on a loaded machine would stop it).
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
                "--use-service-account-credentials=true".into(),
                format!("--controllers={controllers}"),
                format!(
                    "--service-account-private-key-file={}",
                    path(&service_account_key.private)
                ),
                format!("--root-ca-file={}", path(&pki.ca_cert)),
                // New Nodes carry a not-ready taint until the Node controller sees them Ready.
                "--node-monitor-period=1s".into(),
            ],
        )?;
        self.processes.spawn(
            "kube-scheduler",
            &binaries.scheduler,
            &[
                format!("--kubeconfig={scheduler}"),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
            ],
        )?;
        Ok(())
    }

    /// The simulated cluster is ready when a Pod is admitted (ServiceAccount controller),
    /// scheduled on a fake Node (Node controller, scheduler) and running (kwok).
    async fn wait_for_a_running_pod(&self, deadline: Instant) -> Result<(), String> {
        let pods = Api::<Pod>::namespaced(self.client(), "default");
        let probe: Pod = serde_json::from_value(json!({
            "metadata": { "name": "start-up-probe" },
            "spec": {
                "containers": [{ "name": "probe", "image": "registry.k8s.io/pause:3.10" }],
                "terminationGracePeriodSeconds": 0,
            },
        }))
        .map_err(|e| e.to_string())?;
        let mut last = String::from("not created yet");
        let mut created = false;
        while Instant::now() < deadline {
            self.processes.check_running()?;
            if !created {
                match pods.create(&PostParams::default(), &probe).await {
                    Ok(_) => created = true,
                    // Refused until the `default` ServiceAccount exists.
                    Err(e) => last = e.to_string(),
                }
            } else if let Ok(pod) = pods.get("start-up-probe").await {
                let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
                if phase == "Running" {
                    let _ = pods
                        .delete("start-up-probe", &DeleteParams::default().grace_period(0))
                        .await;
                    return Ok(());
                }
                last = format!("probe Pod is {phase:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "simulated cluster not ready: {last}\nkube-controller-manager:\n{}\nkube-scheduler:\n{}\nkwok:\n{}",
            self.processes.log_tail("kube-controller-manager", 20),
            self.processes.log_tail("kube-scheduler", 20),
            self.processes.log_tail("kwok", 20)
        ))
    }
}
