//! The conversion webhook: an HTTPS server on every replica, leader or not, that converts
//! LocustTests between `locust.io/v1` and `locust.io/v2` for the API server.
//!
//! - [`review`]: the ConversionReview exchange, pure.
//! - [`server`]: TLS (1.2+, rustls), HTTP/1.1, `POST /convert`, bounded and drained on stop.
//! - [`certs`]: where the serving certificate comes from: a directory (OLM, cert-manager, a
//!   hand-made Secret) or self-managed (a CA and certificate the operator keeps in a Secret).
//!
//! docs/webhook.md is the user's view of all of this.

pub mod certs;
pub mod review;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::api::names::CRD_NAME;
pub use crate::contract::CertMode;
use crate::contract::{
    CERT_DIR, ENV_POD_NAMESPACE, ENV_WEBHOOK_BIND_ADDRESS, ENV_WEBHOOK_CA_VALIDITY,
    ENV_WEBHOOK_CERT_DIR, ENV_WEBHOOK_CERT_MODE, ENV_WEBHOOK_CERT_VALIDITY, ENV_WEBHOOK_EXTRA_SANS,
    ENV_WEBHOOK_SECRET_NAME, ENV_WEBHOOK_SERVICE_NAME, ENV_WEBHOOK_SHUTDOWN_DELAY, WEBHOOK_PORT,
    bind_address, parse_duration,
};
use crate::telemetry::Metrics;
use certs::CertStore;
use certs::rotation::Policy;

/// Flags of the webhook; each has an environment variable.
#[derive(clap::Args, Debug, Clone)]
pub struct WebhookArgs {
    /// Address of the conversion webhook (HTTPS, path /convert).
    #[arg(long, env = ENV_WEBHOOK_BIND_ADDRESS, default_value_t = bind_address(WEBHOOK_PORT))]
    pub webhook_bind_address: SocketAddr,

    /// Where the webhook's serving certificate comes from.
    #[arg(long, env = ENV_WEBHOOK_CERT_MODE, value_enum, default_value_t = CertMode::Directory)]
    pub webhook_cert_mode: CertMode,

    /// Directory mode: the directory holding tls.crt and tls.key.
    #[arg(long, env = ENV_WEBHOOK_CERT_DIR, default_value = CERT_DIR)]
    pub webhook_cert_dir: PathBuf,

    /// Self-managed mode: the webhook Service; the certificate covers <svc>, <svc>.<ns>,
    /// <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local (ns = POD_NAMESPACE).
    #[arg(long, env = ENV_WEBHOOK_SERVICE_NAME)]
    pub webhook_service_name: Option<String>,

    /// Self-managed mode: the Secret in POD_NAMESPACE that holds the CA and serving certificate.
    #[arg(long, env = ENV_WEBHOOK_SECRET_NAME)]
    pub webhook_secret_name: Option<String>,

    /// Self-managed mode: more DNS names or IP addresses for the certificate, comma-separated.
    #[arg(long, env = ENV_WEBHOOK_EXTRA_SANS, value_delimiter = ',')]
    pub webhook_extra_sans: Vec<String>,

    /// Self-managed mode: lifetime of the CA (renewed with a third left).
    #[arg(long, env = ENV_WEBHOOK_CA_VALIDITY, hide = true, default_value = "43800h",
          value_parser = parse_duration)]
    pub webhook_ca_validity: Duration,

    /// Self-managed mode: lifetime of a serving certificate (renewed with a third left).
    #[arg(long, env = ENV_WEBHOOK_CERT_VALIDITY, hide = true, default_value = "8760h",
          value_parser = parse_duration)]
    pub webhook_cert_validity: Duration,

    /// On shutdown, how long the webhook keeps serving while not ready, so that Services stop
    /// sending it new connections first.
    #[arg(long, env = ENV_WEBHOOK_SHUTDOWN_DELAY, hide = true, default_value = "5s",
          value_parser = parse_duration)]
    pub webhook_shutdown_delay: Duration,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook: cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("webhook: cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("webhook: {0}")]
    Settings(String),
}

/// What /readyz needs to know about the webhook.
#[derive(Clone, Default, Debug)]
pub struct Status {
    /// `None` when the webhook is disabled.
    store: Option<Arc<CertStore>>,
    stopping: Arc<AtomicBool>,
}

impl Status {
    /// `Err(reason)` while the webhook cannot serve.
    pub fn ready(&self) -> Result<(), &'static str> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err("webhook shutting down");
        }
        match &self.store {
            Some(store) if !store.is_loaded() => Err("webhook certificate not loaded"),
            _ => Ok(()),
        }
    }
}

/// A running webhook.
pub struct Webhook {
    local_addr: SocketAddr,
    status: Status,
    store: Arc<CertStore>,
    trigger: CancellationToken,
    supervisor: JoinHandle<()>,
}

impl Webhook {
    /// Binds the port and starts the certificate source and the server; returns `None` in
    /// disabled mode. `namespace` is the operator's own (where the self-managed Secret lives).
    /// The server answers as soon as a certificate is loaded. When `shutdown` is cancelled (or
    /// on [`Webhook::shutdown`]) it reports not ready, keeps serving for the shutdown delay,
    /// then drains.
    pub async fn start(
        args: &WebhookArgs,
        namespace: Option<&str>,
        client: &Client,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Result<Option<Self>, WebhookError> {
        let source = match args.webhook_cert_mode {
            CertMode::Disabled => {
                info!("conversion webhook disabled; v1 LocustTests cannot be read or written");
                return Ok(None);
            }
            CertMode::Directory => None,
            CertMode::SelfManaged => Some(self_managed_settings(args, namespace)?),
        };
        let address = args.webhook_bind_address;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| WebhookError::Listen { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| WebhookError::Listen { address, source })?;
        let store = CertStore::new();
        let status = Status {
            store: Some(store.clone()),
            stopping: Arc::new(AtomicBool::new(false)),
        };
        let (source_stop_tx, source_stop) = watch::channel(false);
        let source_task = match source {
            None => {
                let dir = args.webhook_cert_dir.clone();
                info!(dir = %dir.display(), %local_addr, "conversion webhook: certificates from a directory");
                tokio::spawn(certs::directory::run(dir, store.clone(), source_stop))
            }
            Some(settings) => {
                info!(
                    secret = %settings.secret_name,
                    namespace = %settings.namespace,
                    names = ?settings.policy.names,
                    %local_addr,
                    "conversion webhook: self-managed certificates"
                );
                tokio::spawn(certs::self_managed::run(
                    client.clone(),
                    settings,
                    store.clone(),
                    source_stop,
                ))
            }
        };
        let tls = server::tls_config(store.clone())?;
        let app = Arc::new(server::App {
            metrics,
            stopping: status.stopping.clone(),
        });
        let (server_stop_tx, server_stop) = watch::channel(false);
        let server_task = tokio::spawn(server::serve(listener, tls, app, server_stop));

        // Stopping this webhook alone (Webhook::shutdown) does not stop the process.
        let trigger = shutdown.child_token();
        let triggered = trigger.clone();
        let delay = args.webhook_shutdown_delay;
        let (stopping, loaded) = (status.stopping.clone(), store.clone());
        let supervisor = tokio::spawn(async move {
            triggered.cancelled().await;
            stopping.store(true, Ordering::SeqCst);
            if loaded.is_loaded() && !delay.is_zero() {
                info!(
                    delay_seconds = delay.as_secs_f64(),
                    "conversion webhook: not ready, still serving while clients move to other replicas"
                );
                tokio::time::sleep(delay).await;
            }
            let _ = server_stop_tx.send(true);
            let _ = server_task.await;
            let _ = source_stop_tx.send(true);
            let _ = source_task.await;
            info!("conversion webhook stopped");
        });
        Ok(Some(Self {
            local_addr,
            status,
            store,
            trigger,
            supervisor,
        }))
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// For /readyz.
    pub fn status(&self) -> Status {
        self.status.clone()
    }

    /// The certificate store (what is served now).
    pub fn certificates(&self) -> Arc<CertStore> {
        self.store.clone()
    }

    /// Stops (if `stop` has not already) and waits until in-flight requests are answered.
    pub async fn shutdown(self) {
        self.trigger.cancel();
        let _ = self.supervisor.await;
    }
}

/// The DNS names of a Service, as the API server and in-cluster clients address it.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

fn self_managed_settings(
    args: &WebhookArgs,
    namespace: Option<&str>,
) -> Result<certs::self_managed::Settings, WebhookError> {
    let required = |value: Option<&str>, flag: &str, variable: &str| {
        value
            .map(str::to_string)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                WebhookError::Settings(format!(
                    "--webhook-cert-mode=self-managed needs {flag} (or {variable})"
                ))
            })
    };
    let service = required(
        args.webhook_service_name.as_deref(),
        "--webhook-service-name",
        ENV_WEBHOOK_SERVICE_NAME,
    )?;
    let secret_name = required(
        args.webhook_secret_name.as_deref(),
        "--webhook-secret-name",
        ENV_WEBHOOK_SECRET_NAME,
    )?;
    let namespace = required(namespace, "the operator's namespace", ENV_POD_NAMESPACE)?;
    let mut names = service_names(&service, &namespace);
    for extra in &args.webhook_extra_sans {
        let extra = extra.trim();
        if !extra.is_empty() && !names.iter().any(|n| n == extra) {
            names.push(extra.to_string());
        }
    }
    if args.webhook_cert_validity > args.webhook_ca_validity {
        return Err(WebhookError::Settings(format!(
            "the serving certificate cannot outlive its CA: {ENV_WEBHOOK_CERT_VALIDITY} > {ENV_WEBHOOK_CA_VALIDITY}"
        )));
    }
    Ok(certs::self_managed::Settings {
        namespace,
        secret_name,
        crd_name: CRD_NAME.to_string(),
        policy: Policy {
            ca_validity: args.webhook_ca_validity,
            serving_validity: args.webhook_cert_validity,
            names,
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn service_names_cover_every_in_cluster_form() {
        assert_eq!(
            service_names("webhook", "ops"),
            [
                "webhook",
                "webhook.ops",
                "webhook.ops.svc",
                "webhook.ops.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn a_disabled_webhook_never_blocks_readiness() {
        assert_eq!(Status::default().ready(), Ok(()));
        let store = CertStore::new();
        let status = Status {
            store: Some(store),
            stopping: Arc::default(),
        };
        assert_eq!(status.ready(), Err("webhook certificate not loaded"));
    }
}
