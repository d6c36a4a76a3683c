//! The operator binary run as a separate process against a test cluster, with the identity and
//! RBAC a real install gives it.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, Patch, PatchParams};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::json;

use locust_operator::manifests::rbac;

use super::cluster::Cluster;
use super::identity::Identity;
use super::wait;

/// A free loopback address.
pub fn free_address() -> String {
    // A port below Linux's ephemeral range (32768-60999): a port the kernel hands out (port 0)
    // can be taken by any outgoing connection before the operator binds it, which CI saw once
    // ("Address already in use"). Ports here are never handed out by the kernel; each test
    // binary walks its own stretch of them.
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(97) % COUNT;
    for _ in 0..COUNT {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let port = u16::try_from(FIRST + offset).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return format!("127.0.0.1:{port}");
        }
    }
    panic!("no free port in 127.0.0.1:{FIRST}-{}", FIRST + COUNT - 1)
}

/// The operator's ServiceAccount in `namespace` with exactly the generated rules: the
/// controller and cluster rules in a ClusterRole, the own-namespace rules in a Role.
pub async fn operator_identity(cluster: &Cluster, namespace: &str) -> Identity {
    operator_identity_named(cluster, namespace, "locust-k8s-operator").await
}

/// Like [`operator_identity`], for a ServiceAccount of another name (two replicas with
/// identities of their own, told apart in the audit log).
pub async fn operator_identity_named(cluster: &Cluster, namespace: &str, name: &str) -> Identity {
    let identity = cluster.service_account_identity(namespace, name).await;
    let subject = json!([{ "kind": "ServiceAccount", "name": name, "namespace": namespace }]);
    let cluster_role_name = if name == "locust-k8s-operator" {
        format!("{namespace}-locust-operator")
    } else {
        format!("{namespace}-{name}")
    };
    let mut rules = rbac::policy_rules(rbac::controller_rules());
    rules.extend(rbac::policy_rules(rbac::cluster_rules()));
    let apply = PatchParams::apply("locust-tests").force();
    Api::<ClusterRole>::all(cluster.client())
        .patch(
            &cluster_role_name,
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": { "name": cluster_role_name }, "rules": rules,
            })),
        )
        .await
        .unwrap();
    Api::<ClusterRoleBinding>::all(cluster.client())
        .patch(
            &cluster_role_name,
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": { "name": cluster_role_name },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role_name },
                "subjects": subject,
            })),
        )
        .await
        .unwrap();
    let own = rbac::policy_rules(rbac::own_namespace_rules());
    Api::<Role>::namespaced(cluster.client(), namespace)
        .patch(
            name,
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": { "name": name }, "rules": own,
            })),
        )
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(cluster.client(), namespace)
        .patch(
            name,
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": { "name": name },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name },
                "subjects": subject,
            })),
        )
        .await
        .unwrap();
    identity
}

/// One operator process (`locust-k8s-operator run`). Stopped (SIGKILL to its group) on drop.
pub struct OperatorProcess {
    pub name: String,
    pub health: String,
    pub metrics: String,
    pub log: PathBuf,
    child: Child,
}

/// How to start an operator.
pub struct OperatorOptions<'a> {
    pub kubeconfig: &'a Path,
    /// Its own namespace (POD_NAMESPACE), where the Lease and Secrets live.
    pub namespace: &'a str,
    /// WATCH_NAMESPACE; `None` watches all namespaces.
    pub watch_namespace: Option<&'a str>,
    pub leader_elect: bool,
    pub grace: &'a str,
    /// More environment, e.g. operator configuration variables.
    pub env: Vec<(&'a str, String)>,
}

impl<'a> OperatorOptions<'a> {
    pub fn new(kubeconfig: &'a Path, namespace: &'a str) -> Self {
        Self {
            kubeconfig,
            namespace,
            watch_namespace: Some(namespace),
            leader_elect: false,
            grace: "2m",
            env: Vec::new(),
        }
    }
}

impl OperatorProcess {
    pub fn start(cluster: &Cluster, name: &str, options: &OperatorOptions<'_>) -> Self {
        let health = free_address();
        let metrics = free_address();
        let dir = cluster.dir.join("operators");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let binary = env!("CARGO_BIN_EXE_locust-k8s-operator");
        // LOCUST_TEST_OPERATOR_WRAPPER="heaptrack -o /tmp/ht" runs the operator under a
        // profiler: the wrapper's words, then the binary and its arguments.
        let wrapper = std::env::var("LOCUST_TEST_OPERATOR_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .arg("run")
            .arg("--kubeconfig")
            .arg(options.kubeconfig)
            .arg("--health-probe-bind-address")
            .arg(&health)
            .arg("--metrics-bind-address")
            .arg(&metrics)
            .arg("--pod-diagnosis-grace-period")
            .arg(options.grace)
            .arg("--leader-elect")
            .arg(options.leader_elect.to_string())
            .env("POD_NAMESPACE", options.namespace)
            .env("POD_NAME", name)
            .env("WATCH_NAMESPACE", options.watch_namespace.unwrap_or(""))
            .env("WEBHOOK_CERT_MODE", "disabled")
            .env("RUST_LOG", "info,locust_operator=debug")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        cluster.adopt(&format!("operator-{name}"), child.id());
        Self {
            name: name.to_string(),
            health,
            metrics,
            log,
            child,
        }
    }

    /// Waits until /readyz answers 200.
    pub async fn wait_ready(&mut self) {
        let url = format!("http://{}/readyz", self.health);
        let what = format!("operator {} to be ready", self.name);
        let log = self.log.clone();
        wait::until_ok(&what, Duration::from_secs(60), async || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "operator {} exited ({status}):\n{}",
                    self.name,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            match http_get(&url).await {
                Ok((200, _)) => Ok(()),
                Ok((code, body)) => Err(format!("{code} {body}")),
                Err(e) => Err(e),
            }
        })
        .await;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit code once the process has exited.
    pub fn exit_code(&mut self) -> Option<i32> {
        self.child.try_wait().ok().flatten().and_then(|s| s.code())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: a crash, no clean shutdown.
    pub fn kill(&mut self) {
        let _ = killpg(self.group(), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGSTOP: frozen as by a long pause or a partition; it runs on after [`Self::resume`].
    pub fn pause(&self) {
        killpg(self.group(), Signal::SIGSTOP).unwrap();
    }

    /// SIGCONT after [`Self::pause`].
    pub fn resume(&self) {
        killpg(self.group(), Signal::SIGCONT).unwrap();
    }

    /// Waits up to `within` for the process to exit; its exit code, `None` if it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// The `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let (code, body) = http_get(&format!("http://{}/metrics", self.metrics))
            .await
            .unwrap_or_else(|e| panic!("cannot scrape {}: {e}", self.name));
        assert_eq!(code, 200, "{body}");
        body
    }

    /// The sum of every sample of `metric` (any labels) on `/metrics`; 0 when absent.
    pub async fn metric(&self, metric: &str) -> f64 {
        metric_sum(&self.metrics_text().await, metric)
    }

    /// SIGTERM, then waits for the exit; returns whether it exited within `within`.
    pub fn terminate(&mut self, within: Duration) -> bool {
        let _ = killpg(self.group(), Signal::SIGTERM);
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn group(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The sum of every sample of `metric` in an OpenMetrics text (any labels); 0 when absent.
pub fn metric_sum(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            let bare = name.split('{').next()?;
            (bare == metric).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// A plain HTTP GET on loopback: (status, body).
pub async fn http_get(url: &str) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let rest = url.strip_prefix("http://").ok_or("not an http URL")?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line in {text:?}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    })
    .await
    .map_err(|e| e.to_string())?
}
