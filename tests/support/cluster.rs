//! A real Kubernetes control plane for tests, run from the pinned binaries as child processes
//! on loopback: random free ports, a temporary directory, certificates made for the run.
//!
//! * [`Mode::ApiServer`]: etcd and kube-apiserver with RBAC, the default admission plugins
//!   (PodSecurity included) and ServiceAccount token signing. Nothing acts on objects.
//! * [`Mode::SimulatedCluster`]: the same plus kube-controller-manager, kube-scheduler and kwok
//!   with fake Nodes, so Jobs get Pods that are scheduled, run and succeed, and the garbage
//!   collector deletes dependents.
//! * [`Mode::RealCluster`]: the controllers plus one real node (containerd, runc, the kubelet,
//!   CNI, kube-proxy, CoreDNS; see [`super::real`]): pods run real containers from locally
//!   built images. The API server listens on the host end of the node link
//!   ([`super::real::HOST_IP`]) instead of loopback, so pods and node components reach it.

/// The audit log the API server writes (a module of its own; declared here so that every
/// user of the cluster gets it).
#[path = "audit.rs"]
pub mod audit;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::certs::{KeyAndCert, Pki, SERVING_NAMES};
use super::identity::write_kubeconfig;
use super::process::{self, Processes};
use super::simulation;
use super::{tools, wait};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    ApiServer,
    SimulatedCluster,
    RealCluster,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::ApiServer => "API server",
            Mode::SimulatedCluster => "simulated cluster",
            Mode::RealCluster => "real cluster",
        })
    }
}

/// Where the cluster keeps its state.
pub enum Location {
    /// A fresh directory under [`temporary_base`]; stale ones from interrupted runs are swept.
    Temporary,
    /// A fixed directory (the sandbox); refused while another live process owns it.
    Fixed(PathBuf),
}

/// Parent of the temporary cluster directories.
pub fn temporary_base() -> PathBuf {
    std::env::temp_dir().join("locust-k8s-operator-test-clusters")
}

/// ServiceAccount token issuer, as in a kubeadm cluster.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const SERVICE_CIDR: &str = "10.96.0.0/16";
pub(super) const START_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Cluster {
    pub mode: Mode,
    /// The cluster's directory: certificates, kubeconfigs, logs, etcd data.
    pub dir: PathBuf,
    /// Admin kubeconfig (group system:masters), for kubectl, helm or a separate process.
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>` (real cluster: `https://<HOST_IP>:<port>`).
    pub server: String,
    pub ca_cert: PathBuf,
    pub kubectl_path: PathBuf,
    /// How long the start took.
    pub start_up: Duration,
    client: Client,
    pub(super) processes: Processes,
    next_namespace: AtomicU32,
    /// The real node (real cluster only).
    pub real: Option<super::real::RealNode>,
}

struct Ports {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
}

/// Free loopback ports, all held until every one is picked so that none is handed out twice.
fn free_ports() -> Result<Ports, String> {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    let port = |i: usize| listeners[i].local_addr().map(|a| a.port()).unwrap_or(0);
    Ok(Ports {
        etcd_client: port(0),
        etcd_peer: port(1),
        apiserver: port(2),
    })
}

pub(super) fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn claim(location: Location) -> Result<PathBuf, String> {
    match location {
        Location::Temporary => {
            let base = temporary_base();
            std::fs::create_dir_all(&base)
                .map_err(|e| format!("cannot create {}: {e}", base.display()))?;
            process::sweep_all(&base);
            let binary = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_default();
            let binary = binary.split('-').next().unwrap_or("test").to_string();
            tempfile::Builder::new()
                .prefix(&format!("{binary}-"))
                .tempdir_in(&base)
                .map(tempfile::TempDir::keep)
                .map_err(|e| format!("cannot create a cluster directory: {e}"))
        }
        Location::Fixed(dir) => {
            if let Some(pid) = process::owner_alive(&dir) {
                return Err(format!(
                    "{} is in use by process {pid}; stop it first",
                    dir.display()
                ));
            }
            if dir.exists() && !process::sweep(&dir) {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            Ok(dir)
        }
    }
}

impl Cluster {
    /// Starts a cluster and returns once it serves (and, simulated, once a Pod can run).
    pub async fn start(mode: Mode, location: Location) -> Result<Self, String> {
        let started = Instant::now();
        let [etcd, apiserver, kubectl] = tools::tools(["etcd", "kube-apiserver", "kubectl"])?;
        let controllers = match mode {
            Mode::ApiServer => None,
            Mode::SimulatedCluster => {
                let [controller_manager, scheduler, kwok] =
                    tools::tools(["kube-controller-manager", "kube-scheduler", "kwok"])?;
                Some(simulation::Binaries {
                    controller_manager,
                    scheduler,
                    kwok: Some(kwok),
                })
            }
            Mode::RealCluster => {
                let [controller_manager, scheduler] =
                    tools::tools(["kube-controller-manager", "kube-scheduler"])?;
                Some(simulation::Binaries {
                    controller_manager,
                    scheduler,
                    kwok: None,
                })
            }
        };
        let dir = claim(location)?;
        let processes = Processes::new(&dir)?;
        let real = match mode {
            Mode::RealCluster => Some(super::real::prepare(&dir, &processes)?),
            _ => None,
        };
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&pki_dir).map_err(|e| e.to_string())?;
        let pki = Pki::create(&pki_dir)?;
        let (address, service_cidr) = match mode {
            Mode::RealCluster => (super::real::HOST_IP, super::real::SERVICE_CIDR),
            _ => ("127.0.0.1", SERVICE_CIDR),
        };
        let mut serving_names = SERVING_NAMES.to_vec();
        if mode == Mode::RealCluster {
            serving_names.extend([super::real::HOST_IP, super::real::KUBERNETES_SERVICE_IP]);
        }
        let serving = pki.serving("kube-apiserver", &serving_names)?;
        let admin = pki.client("admin", "locust-test-admin", Some("system:masters"))?;
        // The API server's identity towards kubelets (logs, exec, port-forward).
        let kubelet_client = pki.client(
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            Some("system:masters"),
        )?;
        let service_account_key = pki.signing_key("service-account")?;
        let ports = free_ports()?;
        let server = format!("https://{address}:{}", ports.apiserver);

        let etcd_url = |port: u16| format!("http://127.0.0.1:{port}");
        processes.spawn(
            "etcd",
            &etcd,
            &[
                "--name=test".into(),
                format!("--data-dir={}", path(&dir.join("etcd"))),
                format!("--listen-client-urls={}", etcd_url(ports.etcd_client)),
                format!("--advertise-client-urls={}", etcd_url(ports.etcd_client)),
                format!("--listen-peer-urls={}", etcd_url(ports.etcd_peer)),
                format!(
                    "--initial-advertise-peer-urls={}",
                    etcd_url(ports.etcd_peer)
                ),
                format!("--initial-cluster=test={}", etcd_url(ports.etcd_peer)),
                // Throw-away data: durability buys nothing and costs seconds.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        )?;
        // Started together: the API server retries etcd until it answers.
        let audit = audit::flags(&dir)?;
        processes.spawn(
            "kube-apiserver",
            &apiserver,
            &[
                format!("--etcd-servers={}", etcd_url(ports.etcd_client)),
                // Without it the API server wants a default route, which offline machines lack.
                format!("--advertise-address={address}"),
                format!("--bind-address={address}"),
                format!("--secure-port={}", ports.apiserver),
                format!("--cert-dir={}", path(&pki_dir)),
                format!("--tls-cert-file={}", path(&serving.cert)),
                format!("--tls-private-key-file={}", path(&serving.key)),
                format!("--client-ca-file={}", path(&pki.ca_cert)),
                "--authorization-mode=Node,RBAC".into(),
                format!("--service-account-issuer={ISSUER}"),
                format!(
                    "--service-account-key-file={}",
                    path(&service_account_key.public)
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    path(&service_account_key.private)
                ),
                format!("--service-cluster-ip-range={service_cidr}"),
                "--allow-privileged=true".into(),
                "--profiling=false".into(),
                // Kubelets are dialled by address (no DNS for the node name) with a client
                // certificate their webhook authorization accepts.
                "--kubelet-preferred-address-types=InternalIP".into(),
                format!(
                    "--kubelet-client-certificate={}",
                    path(&kubelet_client.cert)
                ),
                format!("--kubelet-client-key={}", path(&kubelet_client.key)),
            ]
            .into_iter()
            .chain(audit)
            .collect::<Vec<_>>(),
        )?;
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(
            &kubeconfig,
            &server,
            &pki.ca_cert,
            &admin_user(&admin),
            None,
        )?;
        let client = super::identity::client_for(&kubeconfig).await?;
        let cluster = Cluster {
            mode,
            dir,
            kubeconfig,
            server,
            ca_cert: pki.ca_cert.clone(),
            kubectl_path: kubectl,
            start_up: Duration::ZERO,
            client,
            processes,
            next_namespace: AtomicU32::new(1),
            real,
        };
        // Waiting for another real node to stop is not start-up time.
        let waited = cluster
            .real
            .as_ref()
            .map(super::real::RealNode::lock_wait)
            .unwrap_or_default();
        let deadline = started + waited + START_TIMEOUT;
        cluster.wait_until_ready(deadline).await?;
        let mut cluster = cluster;
        match (&controllers, &cluster.real) {
            (Some(binaries), None) => {
                cluster
                    .start_simulation(&pki, &service_account_key, binaries, deadline)
                    .await?
            }
            (Some(binaries), Some(node)) => {
                cluster.start_controllers(&pki, &service_account_key, binaries)?;
                cluster.start_real_node(node, &pki, deadline).await?;
            }
            (None, _) => {}
        }
        cluster.start_up = started.elapsed().saturating_sub(waited);
        eprintln!(
            "{mode} ready in {:.1} s: {}, KUBECONFIG={}",
            cluster.start_up.as_secs_f64(),
            cluster.server,
            cluster.kubeconfig.display()
        );
        Ok(cluster)
    }

    /// The admin client (group system:masters), bound to the runtime that started the cluster.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A fresh namespace `<prefix>-<n>`; in a simulated cluster, once its `default`
    /// ServiceAccount exists (Pods cannot be created before).
    pub async fn namespace(&self, prefix: &str) -> String {
        let name = format!(
            "{prefix}-{}",
            self.next_namespace.fetch_add(1, Ordering::Relaxed)
        );
        let namespace: Namespace =
            serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap_or_default();
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
        if self.mode != Mode::ApiServer {
            let accounts =
                Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(self.client(), &name);
            wait::until(
                &format!("ServiceAccount {name}/default"),
                Duration::from_secs(30),
                async || accounts.get_opt("default").await.ok().flatten(),
            )
            .await;
        }
        name
    }

    /// `kubectl --kubeconfig <admin kubeconfig>`, ready for more arguments.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(&self.kubectl_path);
        command.arg("--kubeconfig").arg(&self.kubeconfig);
        command
    }

    /// Runs kubectl with `args`, feeding `stdin`; returns its output whatever the exit status.
    pub fn run_kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_with_stdin(self.kubectl().args(args), stdin)
    }

    /// The last lines of a component's log (`kube-apiserver`, `etcd`, `kwok`, ...).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        self.processes.log_tail(component, lines)
    }

    /// Stops every component and removes the directory. Idempotent. The state is thrown away,
    /// so a component gets a second to exit before it is killed (the API server and etcd take
    /// over five to shut down gracefully).
    pub fn stop(&self) {
        self.processes.stop(Duration::from_secs(1));
    }

    /// Puts a process group a test started itself under the cluster's teardown guarantees.
    pub fn adopt(&self, name: &str, pid: u32) {
        if let Err(error) = self.processes.adopt(name, pid) {
            panic!("{error}");
        }
    }

    /// An error naming the first component that exited, with the end of its log.
    pub fn check_running(&self) -> Result<(), String> {
        self.processes.check_running()
    }

    async fn wait_until_ready(&self, deadline: Instant) -> Result<(), String> {
        let mut last = String::new();
        while Instant::now() < deadline {
            self.processes.check_running()?;
            let request = http::Request::get("/readyz").body(Vec::new());
            match request {
                Ok(request) => match self.client.request_text(request).await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => return Err(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "kube-apiserver not ready after {START_TIMEOUT:?} (last answer: {last}); log:\n{}",
            self.processes.log_tail("kube-apiserver", 40)
        ))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(super) fn admin_user(cert: &KeyAndCert) -> serde_json::Value {
    json!({
        "client-certificate": path(&cert.cert),
        "client-key": path(&cert.key),
    })
}

/// Runs `command` with `stdin` (or none) and collects its output.
pub fn run_with_stdin(command: &mut Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    // Dropping the pipe closes the child's stdin.
    if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
        pipe.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write to {command:?}: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {command:?}: {e}"))
}
