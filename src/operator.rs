//! The `run` command: configuration, client, health and metrics endpoints, leader election,
//! the controller, and a graceful shutdown on SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError};
use crate::controller::fenced;
use crate::controller::leader::{Fence, LeaderElector, LeaseSettings};
use crate::controller::{self, Settings};
use crate::stats;
use crate::telemetry::{self, LogFormat, Metrics};
use crate::webhook::{self, Webhook, WebhookArgs, WebhookError};

/// Flags of `locust-k8s-operator run`; each has an environment variable.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Kubeconfig file; default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config.
    #[arg(long, env = "KUBECONFIG_PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Watch only this namespace; empty watches all namespaces.
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    pub watch_namespace: String,

    /// Run leader election so that only one replica reconciles.
    #[arg(long, env = "LEADER_ELECT", default_value_t = false, action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// Namespace of the leader Lease; default: the operator's own namespace (POD_NAMESPACE).
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,

    /// Name of the leader Lease.
    #[arg(
        long,
        env = "LEADER_ELECTION_ID",
        default_value = "locust-k8s-operator.locust.io"
    )]
    pub leader_election_id: String,

    /// Address of /healthz and /readyz.
    #[arg(
        long,
        env = "HEALTH_PROBE_BIND_ADDRESS",
        default_value = "0.0.0.0:8081"
    )]
    pub health_probe_bind_address: SocketAddr,

    /// Address of /metrics (Prometheus).
    #[arg(long, env = "METRICS_BIND_ADDRESS", default_value = "0.0.0.0:8080")]
    pub metrics_bind_address: SocketAddr,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// How long a pod problem that may clear up by itself (image pull, scheduling, a missing
    /// ConfigMap) is tolerated before the test fails, e.g. 120s or 2m.
    #[arg(long, env = "POD_DIAGNOSIS_GRACE_PERIOD", default_value = "2m", value_parser = parse_duration)]
    pub pod_diagnosis_grace_period: Duration,

    /// Reconciles running at once.
    #[arg(long, env = "MAX_CONCURRENT_RECONCILES", default_value_t = 16)]
    pub max_concurrent_reconciles: u16,

    /// How the operator reads each Locust master's web API for live stats, the result and the
    /// report: direct (HTTP to the master Service, for an operator in the cluster),
    /// apiserver-proxy (through the API server's service proxy, for an operator outside the
    /// cluster; needs `get` on services/proxy), off, or auto (direct in a pod, apiserver-proxy
    /// elsewhere).
    #[arg(long, env = ENV_STATS_ACCESS, value_enum, default_value = "auto")]
    pub stats_access: StatsAccessArg,

    /// Time between two reads of one master, e.g. 5s.
    #[arg(long, env = ENV_STATS_POLL_INTERVAL, default_value = "5s", value_parser = parse_positive_duration)]
    pub stats_poll_interval: Duration,

    /// Timeout of one read of a master (the HTML report gets five times as long, at least 15s).
    #[arg(long, env = "STATS_READ_TIMEOUT", default_value = "3s", value_parser = parse_positive_duration)]
    pub stats_read_timeout: Duration,

    /// Reads of masters at once, over all tests.
    #[arg(long, env = "STATS_MAX_CONCURRENT_READS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub stats_max_concurrent_reads: u16,

    /// How long a running master may leave its web API unanswered before the StatsAvailable
    /// condition says so (a master that is starting answers late).
    #[arg(long, env = "STATS_UNANSWERED_GRACE_PERIOD", default_value = "60s", value_parser = parse_duration)]
    pub stats_unanswered_grace_period: Duration,

    #[command(flatten)]
    pub webhook: WebhookArgs,
}

/// Variable of `--stats-access` (the chart sets it from `liveStats.access`).
pub const ENV_STATS_ACCESS: &str = "STATS_ACCESS";
/// Variable of `--stats-poll-interval` (the chart sets it from `liveStats.pollInterval`).
pub const ENV_STATS_POLL_INTERVAL: &str = "STATS_POLL_INTERVAL";

/// `--stats-access` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsAccessArg {
    /// direct when running in a pod, apiserver-proxy otherwise.
    Auto,
    Direct,
    #[value(name = "apiserver-proxy")]
    ApiServerProxy,
    Off,
}

impl StatsAccessArg {
    /// The route to use. `in_cluster`: the operator runs in a pod with the in-cluster client.
    pub fn resolve(self, in_cluster: bool) -> stats::Access {
        match self {
            StatsAccessArg::Auto if in_cluster => stats::Access::Direct,
            StatsAccessArg::Auto => stats::Access::ApiServerProxy,
            StatsAccessArg::Direct => stats::Access::Direct,
            StatsAccessArg::ApiServerProxy => stats::Access::ApiServerProxy,
            StatsAccessArg::Off => stats::Access::Off,
        }
    }
}

/// A duration (as [`parse_duration`]) that is not zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(duration)
}

/// Parses `90`, `90s`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 2m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?} is not a duration such as 90s, 2m or 1h")),
    };
    Ok(Duration::from_secs(secs))
}

/// Why the operator could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid operator configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot reach the Kubernetes API: {0}")]
    Client(String),
    #[error("cannot listen on {address}: {error}")]
    Listen {
        address: SocketAddr,
        error: std::io::Error,
    },
    #[error("leader election needs a namespace: set LEADER_ELECTION_NAMESPACE or POD_NAMESPACE")]
    LeaseNamespace,
    #[error(transparent)]
    Controller(#[from] controller::Error),
    #[error("lost the leader lease; exiting so that a fresh start rejoins the election")]
    LostLeadership,
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

/// What /readyz reports: the webhook can serve (a certificate is loaded), and the controller
/// is ready (the leader once caches synced; a standby while it waits).
#[derive(Default)]
struct Readiness {
    ready: AtomicBool,
    webhook: webhook::Status,
}

pub async fn run(args: RunArgs) -> Result<(), RunError> {
    telemetry::init_logging(args.log_format);
    let config = Config::from_env()?;
    for ignored in Config::ignored_variables_in_env() {
        warn!(
            variable = ignored.name,
            reason = ignored.reason,
            "ignored operator variable"
        );
    }
    let kube_config = kube_config(args.kubeconfig.as_deref()).await?;
    let client =
        Client::try_from(kube_config.clone()).map_err(|e| RunError::Client(e.to_string()))?;
    // Under leader election the controller writes through a client that checks the lease's
    // fence as each request leaves (controller::fenced); the webhook and the election itself
    // use the plain client.
    let fence = args.leader_elect.then(Arc::<Fence>::default);
    let controller_client = match &fence {
        Some(fence) => fenced::client(kube_config, fence.clone())
            .map_err(|e| RunError::Client(e.to_string()))?,
        None => client.clone(),
    };
    let metrics = Arc::new(Metrics::new());

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    // Every replica serves conversions, leader or not, so it starts before the election.
    let webhook = Webhook::start(&args.webhook, &client, metrics.clone(), stop_rx.clone()).await?;
    let readiness = Arc::new(Readiness {
        webhook: webhook.as_ref().map(Webhook::status).unwrap_or_default(),
        ..Readiness::default()
    });

    serve_health(args.health_probe_bind_address, readiness.clone()).await?;
    serve_metrics(args.metrics_bind_address, metrics.clone()).await?;

    let instance = std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "operator".to_string()),
                std::process::id()
            )
        });
    // In a pod: the in-cluster client is used (no kubeconfig given or found in the environment).
    let in_cluster = args.kubeconfig.is_none()
        && std::env::var_os("KUBECONFIG").is_none()
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let mut settings = Settings {
        namespace: Some(args.watch_namespace.clone()).filter(|ns| !ns.is_empty()),
        diagnosis_grace: args.pod_diagnosis_grace_period,
        concurrency: args.max_concurrent_reconciles,
        instance: instance.clone(),
        stats: stats::Settings {
            access: args.stats_access.resolve(in_cluster),
            interval: args.stats_poll_interval,
            timeout: args.stats_read_timeout,
            concurrency: usize::from(args.stats_max_concurrent_reads),
            grace: args.stats_unanswered_grace_period,
        },
        fence: None,
    };
    info!(
        namespace = settings.namespace.as_deref().unwrap_or("<all>"),
        stats_access = settings.stats.access.as_str(),
        leader_election = args.leader_elect,
        instance = %instance,
        version = env!("CARGO_PKG_VERSION"),
        "starting the Locust operator"
    );

    let mut elector = None;
    if let Some(fence) = fence {
        let namespace = args
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .filter(|s| !s.is_empty())
            .ok_or(RunError::LeaseNamespace)?;
        let mut e = LeaderElector::new(
            client.clone(),
            LeaseSettings::new(namespace, args.leader_election_id.clone(), instance),
            fence.clone(),
        );
        // A standby is ready: it has nothing to sync until it leads.
        readiness.ready.store(true, Ordering::SeqCst);
        let mut stop = stop_rx.clone();
        tokio::select! {
            _ = e.acquire() => {}
            _ = stop.wait_for(|s| *s) => {
                if let Some(webhook) = webhook {
                    webhook.shutdown().await;
                }
                return Ok(());
            }
        }
        readiness.ready.store(false, Ordering::SeqCst);
        settings.fence = Some(fence);
        elector = Some(e);
    }
    metrics.set_leader(true);

    let mut stop = stop_rx.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let ready_flag = readiness.clone();
    let controller = controller::run(
        controller_client,
        config,
        settings,
        metrics.clone(),
        move || ready_flag.ready.store(true, Ordering::SeqCst),
        shutdown,
    );

    let result = match elector.as_mut() {
        None => controller.await.map_err(RunError::from),
        Some(elector) => {
            tokio::select! {
                result = controller => result.map_err(RunError::from),
                _ = elector.hold() => Err(RunError::LostLeadership),
            }
        }
    };
    metrics.set_leader(false);
    if let Some(elector) = elector.as_mut()
        && *stop_rx.borrow()
    {
        elector.release().await;
    }
    if let Some(webhook) = webhook {
        webhook.shutdown().await;
    }
    if let Err(error) = &result {
        error!(%error, "operator stopped");
    }
    result
}

async fn kube_config(kubeconfig: Option<&std::path::Path>) -> Result<kube::Config, RunError> {
    Ok(match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|e| RunError::Client(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| RunError::Client(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| RunError::Client(e.to_string()))?,
    })
}

async fn listen(address: SocketAddr) -> Result<tokio::net::TcpListener, RunError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| RunError::Listen { address, error })
}

async fn serve_health(address: SocketAddr, readiness: Arc<Readiness>) -> Result<(), RunError> {
    let listener = listen(address).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let webhook = readiness.webhook.ready();
                let ready = readiness.ready.load(Ordering::SeqCst);
                async move {
                    match webhook {
                        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
                        Ok(()) if ready => (StatusCode::OK, "ok"),
                        Ok(()) => (StatusCode::SERVICE_UNAVAILABLE, "caches not synced"),
                    }
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            error!(%error, "health endpoint stopped");
        }
    });
    Ok(())
}

async fn serve_metrics(address: SocketAddr, metrics: Arc<Metrics>) -> Result<(), RunError> {
    let listener = listen(address).await?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let body = metrics.render();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            error!(%error, "metrics endpoint stopped");
        }
    });
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
