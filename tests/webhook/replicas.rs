//! Operator replicas with the webhook in self-managed mode, and traffic that converts through
//! the API server while things happen to them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::common::{V1, locust_tests};
use crate::proxy::Proxy;
use crate::support::Cluster;
use crate::support::identity::Identity;
use crate::support::operator::{OperatorOptions, OperatorProcess, free_address};

pub const SERVICE: &str = "locust-k8s-operator-webhook";

/// How one set of replicas runs.
pub struct ReplicaSettings {
    pub namespace: String,
    pub watch_namespace: Option<String>,
    pub secret: String,
    /// More variables (lifetimes, operator configuration).
    pub env: Vec<(&'static str, String)>,
}

/// One replica: the process and the address its webhook listens on (kept across restarts).
pub struct Replica {
    pub name: String,
    pub webhook: SocketAddr,
    pub process: OperatorProcess,
}

impl Replica {
    pub fn start(
        cluster: &Cluster,
        identity: &Identity,
        settings: &ReplicaSettings,
        name: &str,
        webhook: Option<SocketAddr>,
        proxy: &Proxy,
    ) -> Self {
        let webhook = webhook.unwrap_or_else(|| free_address().parse().unwrap());
        let mut options = OperatorOptions::new(&identity.kubeconfig, &settings.namespace);
        options.watch_namespace = settings.watch_namespace.as_deref();
        options.leader_elect = true;
        options.env = vec![
            ("WEBHOOK_CERT_MODE", "self-managed".to_string()),
            ("WEBHOOK_BIND_ADDRESS", webhook.to_string()),
            ("WEBHOOK_SERVICE_NAME", SERVICE.to_string()),
            ("WEBHOOK_SECRET_NAME", settings.secret.clone()),
            ("WEBHOOK_EXTRA_SANS", "127.0.0.1".to_string()),
            ("WEBHOOK_SHUTDOWN_DELAY", "1s".to_string()),
            ("RUST_LOG", "info".to_string()),
        ];
        options.env.extend(settings.env.iter().cloned());
        let process = OperatorProcess::start(cluster, name, &options);
        proxy.set_backend(name, webhook, &process.health);
        Self {
            name: name.to_string(),
            webhook,
            process,
        }
    }

    /// SIGTERM, wait for the exit (the shutdown delay and the drain included), start again on
    /// the same webhook address and wait until ready.
    pub async fn restart(
        &mut self,
        cluster: &Cluster,
        identity: &Identity,
        settings: &ReplicaSettings,
        proxy: &Proxy,
    ) -> Duration {
        let started = Instant::now();
        assert!(
            self.process.terminate(Duration::from_secs(30)),
            "{} did not exit on SIGTERM:\n{}",
            self.name,
            self.process.log_text()
        );
        let stopped = started.elapsed();
        *self = Replica::start(
            cluster,
            identity,
            settings,
            &self.name,
            Some(self.webhook),
            proxy,
        );
        self.process.wait_ready().await;
        stopped
    }
}

/// The Secret's value under `key` as text.
pub async fn secret_text(cluster: &Cluster, namespace: &str, secret: &str, key: &str) -> String {
    let secret = Api::<Secret>::namespaced(cluster.client(), namespace)
        .get(secret)
        .await
        .unwrap();
    let bytes = secret
        .data
        .unwrap_or_default()
        .remove(key)
        .unwrap_or_default();
    String::from_utf8(bytes.0).unwrap()
}

/// Failed requests: seconds into the traffic, and the error.
pub type Failures = Vec<(f64, String)>;

/// Loops that read a LocustTest as v1 (one ConversionReview per read) and list the namespace
/// as v1, counting what succeeds and keeping every failure: when (seconds into the run) and
/// the message.
pub struct Traffic {
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<(u32, Failures)>>,
    started: Instant,
}

impl Traffic {
    pub fn start(cluster: &Cluster, namespace: &str, name: &str, loops: usize) -> Self {
        let (stop, stopped) = watch::channel(false);
        let started = Instant::now();
        let loops = (0..loops)
            .map(|index| {
                let api = locust_tests(cluster, namespace, V1);
                let (name, stopped) = (name.to_string(), stopped.clone());
                tokio::spawn(async move {
                    let (mut ok, mut failed) = (0u32, Vec::new());
                    let mut round = 0usize;
                    while !*stopped.borrow() {
                        let result = if (round + index).is_multiple_of(4) {
                            api.list(&Default::default()).await.map(|_| ())
                        } else {
                            api.get(&name).await.map(|_| ())
                        };
                        match result {
                            Ok(()) => ok += 1,
                            Err(e) => failed.push((started.elapsed().as_secs_f64(), e.to_string())),
                        }
                        round += 1;
                    }
                    (ok, failed)
                })
            })
            .collect();
        Self {
            stop,
            loops,
            started,
        }
    }

    /// Seconds since the traffic started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Stops the loops: (succeeded, failures, seconds run).
    pub async fn finish(self) -> (u32, Failures, f64) {
        self.stop.send(true).unwrap();
        let (mut ok, mut failed) = (0, Vec::new());
        for task in self.loops {
            let (o, f) = task.await.unwrap();
            ok += o;
            failed.extend(f);
        }
        (ok, failed, self.started.elapsed().as_secs_f64())
    }
}
