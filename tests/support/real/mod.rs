//! The real-node part of a [`Cluster`] in [`Mode::RealCluster`]: one real Node on this host —
//! containerd and runc (Debian packages), the kubelet (cgroupfs driver, its own root directory),
//! CNI (bridge, host-local, loopback, portmap), kube-proxy (iptables mode) and CoreDNS as host
//! processes — running the images `make tools` built locally, so pods run real containers.
//!
//! [`host`] explains what is created on the host and how it is undone; [`config`] holds the
//! components' configuration; [`images`] the image set; [`workloads`] what tests run on it.
//!
//! Start-up: the host lock, the network and containerd come first, so image import overlaps the
//! API server's start; then the kubelet, kube-proxy and CoreDNS; the node is ready when its
//! Node is Ready and a probe pod (the pause image) runs with a pod IP.

pub mod config;
pub mod host;
pub mod images;
pub mod workloads;

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use super::certs::Pki;
use super::cluster::{Cluster, admin_user, path};
use super::identity::write_kubeconfig;
use super::process::Processes;
use super::tools;

pub use config::NODE_NAME;
pub use host::{HOST_IP, KUBERNETES_SERVICE_IP, NODE_IP, SERVICE_CIDR};
use host::{HostLock, Names};
use images::Images;

/// A real node being started or running: what the cluster keeps of it.
pub struct RealNode {
    lock: HostLock,
    pub names: Names,
    /// containerd's directory and socket (`ctr --address`).
    pub containerd_socket: PathBuf,
    pub images: Images,
    import: std::sync::Mutex<Option<JoinHandle<Result<(), String>>>>,
    binaries: Binaries,
}

struct Binaries {
    kubelet: PathBuf,
    kube_proxy: PathBuf,
    coredns: PathBuf,
    cni: PathBuf,
}

/// Step 1, before the API server: the host lock, leftovers swept, the teardown script, cgroups,
/// the network, containerd, and the image import started in the background.
pub fn prepare(dir: &Path, processes: &Processes) -> Result<RealNode, String> {
    if !host::is_root() {
        return Err(
            "the real node needs root (containerd, the kubelet, network namespaces)".into(),
        );
    }
    let [kubelet, kube_proxy, coredns] = tools::tools(["kubelet", "kube-proxy", "coredns"])?;
    let cni = tools::directory("cni-plugins")?;
    let images = Images::find()?;
    let lock = HostLock::acquire(dir)?;
    host::sweep_leftovers();
    let names = Names::new();
    processes.set_teardown(&host::teardown_script(dir, &names))?;
    host::create_cgroups(&names)?;
    host::create_network(&names)?;

    let containerd_dir = dir.join("containerd");
    let cni_conf = dir.join("cni").join("net.d");
    for d in [&containerd_dir, &cni_conf] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    std::fs::write(
        cni_conf.join("10-lkop.conflist"),
        config::cni_conflist(&dir.join("cni").join("ipam")),
    )
    .map_err(|e| e.to_string())?;
    let containerd_config = containerd_dir.join("config.toml");
    std::fs::write(
        &containerd_config,
        config::containerd(&containerd_dir, &cni, &cni_conf),
    )
    .map_err(|e| e.to_string())?;
    spawn_on_node(
        processes,
        &names,
        "containerd",
        Path::new("containerd"),
        &[format!("--config={}", path(&containerd_config))],
    )?;
    let socket = config::socket(&containerd_dir);
    let started = Instant::now();
    while images::ctr(&socket)
        .arg("version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        processes.check_running()?;
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "containerd did not answer on {} within 30 s:\n{}",
                socket.display(),
                processes.log_tail("containerd", 30)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let archives: Vec<PathBuf> = images::NODE_IMAGES
        .iter()
        .filter_map(|key| images.by_key.get(*key).map(|(_, file)| file.clone()))
        .collect();
    let import_socket = socket.clone();
    let import = std::thread::spawn(move || {
        let refs: Vec<&Path> = archives.iter().map(PathBuf::as_path).collect();
        images::import(&import_socket, &refs)
    });
    Ok(RealNode {
        lock,
        names,
        containerd_socket: socket,
        images,
        import: std::sync::Mutex::new(Some(import)),
        binaries: Binaries {
            kubelet,
            kube_proxy,
            coredns,
            cni,
        },
    })
}

impl RealNode {
    /// How long the start waited for another real node on this host to stop (not start-up
    /// time).
    pub fn lock_wait(&self) -> Duration {
        self.lock.waited
    }
}

/// Starts a node component inside the node's cgroup and network namespace.
fn spawn_on_node(
    processes: &Processes,
    names: &Names,
    name: &str,
    program: &Path,
    args: &[String],
) -> Result<(), String> {
    let mut all = vec![
        "-c".to_string(),
        host::wrapper(names),
        format!("{}-{name}", host::PREFIX.trim_end_matches('-')),
        path(program),
    ];
    all.extend_from_slice(args);
    processes.spawn(name, Path::new("/bin/sh"), &all)
}

impl Cluster {
    /// Step 2, once the API server and the controllers run: kube-proxy, CoreDNS and the
    /// kubelet; returns when the Node is Ready and a probe pod runs.
    pub(super) async fn start_real_node(
        &self,
        node: &RealNode,
        pki: &Pki,
        deadline: Instant,
    ) -> Result<(), String> {
        let node_dir = self.dir.join("node");
        std::fs::create_dir_all(&node_dir).map_err(|e| e.to_string())?;
        let kubeconfig = |name: &str, user: &str, group: Option<&str>| {
            let cert = pki.client(name, user, group)?;
            let file = node_dir.join(format!("{name}.kubeconfig"));
            write_kubeconfig(&file, &self.server, &pki.ca_cert, &admin_user(&cert), None)?;
            Ok::<_, String>(file)
        };
        let kubelet_kubeconfig = kubeconfig(
            "kubelet",
            &format!("system:node:{NODE_NAME}"),
            Some("system:nodes"),
        )?;
        // Bound by the bootstrap policy to system:node-proxier.
        let proxy_kubeconfig = kubeconfig("kube-proxy", "system:kube-proxy", None)?;
        let coredns_kubeconfig = kubeconfig("coredns", "coredns", Some("system:masters"))?;
        let serving = pki.serving("kubelet-serving", &[NODE_IP, NODE_NAME])?;

        let proxy_config = node_dir.join("kube-proxy.yaml");
        std::fs::write(&proxy_config, config::kube_proxy(&proxy_kubeconfig))
            .map_err(|e| e.to_string())?;
        spawn_on_node(
            &self.processes,
            &node.names,
            "kube-proxy",
            &node.binaries.kube_proxy,
            &[format!("--config={}", path(&proxy_config))],
        )?;
        let corefile = node_dir.join("Corefile");
        std::fs::write(&corefile, config::corefile(&coredns_kubeconfig))
            .map_err(|e| e.to_string())?;
        spawn_on_node(
            &self.processes,
            &node.names,
            "coredns",
            &node.binaries.coredns,
            &["-conf".into(), path(&corefile)],
        )?;

        // The kubelet needs the pause image when the first pod starts.
        let import = node.import.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(import) = import {
            import
                .join()
                .map_err(|_| "the image import panicked".to_string())??;
        }
        let resolv_conf = node_dir.join("resolv.conf");
        std::fs::write(&resolv_conf, "options ndots:5\n").map_err(|e| e.to_string())?;
        let kubelet_root = self.dir.join("kubelet");
        std::fs::create_dir_all(&kubelet_root).map_err(|e| e.to_string())?;
        let kubelet_config = node_dir.join("kubelet.yaml");
        let cgroup_root = format!("/{}", node.names.cgroup);
        std::fs::write(
            &kubelet_config,
            config::kubelet(&config::Kubelet {
                root: &kubelet_root,
                containerd_socket: &node.containerd_socket,
                ca_cert: &pki.ca_cert,
                serving_cert: &serving.cert,
                serving_key: &serving.key,
                cgroup_root: &cgroup_root,
                resolv_conf: &resolv_conf,
            }),
        )
        .map_err(|e| e.to_string())?;
        spawn_on_node(
            &self.processes,
            &node.names,
            "kubelet",
            &node.binaries.kubelet,
            &[
                format!("--config={}", path(&kubelet_config)),
                format!("--kubeconfig={}", path(&kubelet_kubeconfig)),
                format!("--root-dir={}", path(&kubelet_root)),
                format!("--hostname-override={NODE_NAME}"),
                format!("--node-ip={NODE_IP}"),
                "--v=1".into(),
            ],
        )?;
        self.wait_for_node(node, deadline).await
    }

    /// Ready when the Node reports Ready and a pause pod runs with an IP from the pod range.
    async fn wait_for_node(&self, node: &RealNode, deadline: Instant) -> Result<(), String> {
        let nodes = Api::<Node>::all(self.client());
        let pods = Api::<Pod>::namespaced(self.client(), "default");
        let probe: Pod = serde_json::from_value(json!({
            "metadata": { "name": "start-up-probe" },
            "spec": {
                "containers": [{
                    "name": "probe",
                    "image": node.images.reference("pause"),
                    "imagePullPolicy": "Never",
                }],
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": false,
            },
        }))
        .map_err(|e| e.to_string())?;
        let mut last = String::from("Node not registered yet");
        let mut created = false;
        while Instant::now() < deadline {
            self.processes.check_running()?;
            let ready = nodes
                .get_opt(NODE_NAME)
                .await
                .ok()
                .flatten()
                .is_some_and(|n| {
                    n.status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                });
            if !ready {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            if !created {
                match pods.create(&PostParams::default(), &probe).await {
                    Ok(_) => created = true,
                    Err(e) => last = format!("probe pod not created: {e}"),
                }
            } else if let Ok(pod) = pods.get("start-up-probe").await {
                let status = pod.status.unwrap_or_default();
                let phase = status.phase.unwrap_or_default();
                if phase == "Running" && status.pod_ip.is_some() {
                    let _ = pods
                        .delete("start-up-probe", &DeleteParams::default().grace_period(0))
                        .await;
                    return Ok(());
                }
                last = format!(
                    "probe pod is {phase:?}: {:?}",
                    status.container_statuses.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "the real node was not ready: {last}\nkubelet:\n{}\ncontainerd:\n{}",
            self.processes.log_tail("kubelet", 30),
            self.processes.log_tail("containerd", 20),
        ))
    }
}
