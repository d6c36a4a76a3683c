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
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::client::ClientError;
use crate::config::{Config, ConfigError};
use crate::contract::{
    ENV_HEALTH_PROBE_BIND_ADDRESS, ENV_KUBE_API_BURST, ENV_KUBE_API_QPS, ENV_KUBECONFIG_PATH,
    ENV_LEADER_ELECT, ENV_LEADER_ELECTION_ID, ENV_LEADER_ELECTION_NAMESPACE, ENV_LOG_FORMAT,
    ENV_MAX_CONCURRENT_RECONCILES, ENV_METRICS_BIND_ADDRESS, ENV_POD_DIAGNOSIS_GRACE_PERIOD,
    ENV_POD_NAME, ENV_POD_NAMESPACE, ENV_STATS_ACCESS, ENV_STATS_MAX_CONCURRENT_READS,
    ENV_STATS_POLL_INTERVAL, ENV_STATS_READ_TIMEOUT, ENV_STATS_UNANSWERED_GRACE_PERIOD,
    ENV_WATCH_NAMESPACE, HEALTH_PORT, HEALTHZ_PATH, LogFormat, METRICS_PATH, METRICS_PORT,
    READYZ_PATH, bind_address, parse_duration, parse_positive_duration, parse_rate,
};
use crate::controller::fenced;
use crate::controller::leader::{Fence, LeaderElector, LeaseSettings};
use crate::controller::rate_limit::TokenBucket;
use crate::controller::{self, Settings};
use crate::stats;
use crate::telemetry::{self, Metrics};
use crate::webhook::{self, Webhook, WebhookArgs, WebhookError};

/// Flags of `locust-k8s-operator run`; each has an environment variable.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Kubeconfig file; default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config.
    #[arg(long, env = ENV_KUBECONFIG_PATH)]
    pub kubeconfig: Option<PathBuf>,

    /// Watch only this namespace; empty watches all namespaces.
    #[arg(long, env = ENV_WATCH_NAMESPACE, default_value = "")]
    pub watch_namespace: String,

    /// Run leader election so that only one replica reconciles.
    #[arg(long, env = ENV_LEADER_ELECT, default_value_t = false, action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// Namespace of the leader Lease; default: the operator's own namespace (POD_NAMESPACE).
    #[arg(long, env = ENV_LEADER_ELECTION_NAMESPACE)]
    pub leader_election_namespace: Option<String>,

    /// Name of the leader Lease.
    #[arg(
        long,
        env = ENV_LEADER_ELECTION_ID,
        default_value = "locust-k8s-operator.locust.io"
    )]
    pub leader_election_id: String,

    /// Address of /healthz and /readyz.
    #[arg(long, env = ENV_HEALTH_PROBE_BIND_ADDRESS, default_value_t = bind_address(HEALTH_PORT))]
    pub health_probe_bind_address: SocketAddr,

    /// Address of /metrics (Prometheus).
    #[arg(long, env = ENV_METRICS_BIND_ADDRESS, default_value_t = bind_address(METRICS_PORT))]
    pub metrics_bind_address: SocketAddr,

    /// Log format.
    #[arg(long, env = ENV_LOG_FORMAT, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// How long a pod problem that may clear up by itself (image pull, scheduling, a missing
    /// ConfigMap) is tolerated before the test fails, e.g. 120s or 2m.
    #[arg(long, env = ENV_POD_DIAGNOSIS_GRACE_PERIOD, default_value = "2m", value_parser = parse_duration)]
    pub pod_diagnosis_grace_period: Duration,

    /// Reconciles running at once.
    #[arg(long, env = ENV_MAX_CONCURRENT_RECONCILES, default_value_t = 16)]
    pub max_concurrent_reconciles: u16,

    /// Client-side limit of the controller's requests to the API server, per second (lists,
    /// watches, reads, writes, retries; the webhook and the leader lease are not limited);
    /// 0: no limit.
    #[arg(long, env = ENV_KUBE_API_QPS, default_value_t = 0.0, value_parser = parse_rate)]
    pub kube_api_qps: f32,

    /// Requests the controller may send at once before --kube-api-qps paces them (the token
    /// bucket's size); 0: --kube-api-qps rounded up. Ignored while --kube-api-qps is 0.
    #[arg(long, env = ENV_KUBE_API_BURST, default_value_t = 0)]
    pub kube_api_burst: u32,

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
    #[arg(long, env = ENV_STATS_READ_TIMEOUT, default_value = "3s", value_parser = parse_positive_duration)]
    pub stats_read_timeout: Duration,

    /// Reads of masters at once, over all tests.
    #[arg(long, env = ENV_STATS_MAX_CONCURRENT_READS, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub stats_max_concurrent_reads: u16,

    /// How long a running master may leave its web API unanswered before the StatsAvailable
    /// condition says so (a master that is starting answers late).
    #[arg(long, env = ENV_STATS_UNANSWERED_GRACE_PERIOD, default_value = "60s", value_parser = parse_duration)]
    pub stats_unanswered_grace_period: Duration,

    /// The operator pod's name (downward API): its leader-election identity; default:
    /// <hostname>-<process id>.
    #[arg(long, env = ENV_POD_NAME, hide = true)]
    pub pod_name: Option<String>,

    /// The operator pod's namespace (downward API): where the leader Lease (unless
    /// --leader-election-namespace says otherwise) and the self-managed webhook Secret live.
    #[arg(long, env = ENV_POD_NAMESPACE, hide = true)]
    pub pod_namespace: Option<String>,

    #[command(flatten)]
    pub webhook: WebhookArgs,
}

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

/// How long the health and metrics servers may take to finish their requests on shutdown.
const SERVER_DRAIN: Duration = Duration::from_secs(3);

/// Why the operator could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid operator configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "leader election needs a namespace: set {ENV_LEADER_ELECTION_NAMESPACE} or {ENV_POD_NAMESPACE}"
    )]
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
    let kube_config = crate::client::config(args.kubeconfig.as_deref()).await?;
    let client = Client::try_from(kube_config.clone()).map_err(ClientError::from)?;
    // Under leader election the controller writes through a client that checks the lease's
    // fence as each request leaves (controller::fenced); with --kube-api-qps its requests wait
    // for the rate limit's tokens. The webhook and the election itself use the plain client.
    let fence = args.leader_elect.then(Arc::<Fence>::default);
    let limit = TokenBucket::new(args.kube_api_qps, args.kube_api_burst);
    let controller_client = if fence.is_some() || limit.is_some() {
        fenced::client(kube_config, fence.clone(), limit).map_err(ClientError::from)?
    } else {
        client.clone()
    };
    let metrics = Arc::new(Metrics::new());

    // The one shutdown signal: every task below stops when it is cancelled.
    let shutdown = CancellationToken::new();
    let signalled = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested");
        signalled.cancel();
    });

    // Every replica serves conversions, leader or not, so it starts before the election.
    let webhook = Webhook::start(
        &args.webhook,
        args.pod_namespace.as_deref(),
        &client,
        metrics.clone(),
        shutdown.clone(),
    )
    .await?;
    let readiness = Arc::new(Readiness {
        webhook: webhook.as_ref().map(Webhook::status).unwrap_or_default(),
        ..Readiness::default()
    });

    let mut servers = JoinSet::new();
    serve(
        &mut servers,
        "health",
        args.health_probe_bind_address,
        health_routes(readiness.clone()),
        shutdown.clone(),
    )
    .await?;
    serve(
        &mut servers,
        "metrics",
        args.metrics_bind_address,
        metrics_routes(metrics.clone()),
        shutdown.clone(),
    )
    .await?;

    let result = lead_and_reconcile(
        &args,
        client,
        controller_client,
        fence,
        config,
        metrics,
        readiness,
        shutdown.clone(),
    )
    .await;
    // Whatever ended the run ends every task, and each finishes what it is answering.
    shutdown.cancel();
    if let Some(webhook) = webhook {
        webhook.shutdown().await;
    }
    // Requests in flight get a moment; a client that holds its connection open does not hold
    // the exit.
    if tokio::time::timeout(SERVER_DRAIN, servers.join_all())
        .await
        .is_err()
    {
        warn!(
            seconds = SERVER_DRAIN.as_secs(),
            "health and metrics connections still open; exiting"
        );
    }
    if let Err(error) = &result {
        error!(%error, "operator stopped");
    }
    result
}

/// Waits for the leader lease (under leader election), then runs the controller until
/// `shutdown` or the loss of the lease.
#[allow(clippy::too_many_arguments)]
async fn lead_and_reconcile(
    args: &RunArgs,
    client: Client,
    controller_client: Client,
    fence: Option<Arc<Fence>>,
    config: Config,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let instance = args
        .pod_name
        .clone()
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
        kube_api_qps = args.kube_api_qps,
        instance = %instance,
        version = env!("CARGO_PKG_VERSION"),
        "starting the Locust operator"
    );

    let mut elector = None;
    if let Some(fence) = fence {
        let namespace = args
            .leader_election_namespace
            .clone()
            .or_else(|| args.pod_namespace.clone())
            .filter(|s| !s.is_empty())
            .ok_or(RunError::LeaseNamespace)?;
        let mut e = LeaderElector::new(
            client,
            LeaseSettings::new(namespace, args.leader_election_id.clone(), instance),
            fence.clone(),
        );
        // A standby is ready: it has nothing to sync until it leads.
        readiness.ready.store(true, Ordering::SeqCst);
        tokio::select! {
            _ = e.acquire() => {}
            () = shutdown.cancelled() => return Ok(()),
        }
        readiness.ready.store(false, Ordering::SeqCst);
        settings.fence = Some(fence);
        elector = Some(e);
    }
    metrics.set_leader(true);

    let ready_flag = readiness.clone();
    let controller = controller::run(
        controller_client,
        config,
        settings,
        metrics.clone(),
        move || ready_flag.ready.store(true, Ordering::SeqCst),
        shutdown.clone(),
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
        && shutdown.is_cancelled()
    {
        elector.release().await;
    }
    result
}

/// Binds `address` and serves `app` until `shutdown`, then lets the requests in flight finish.
async fn serve(
    servers: &mut JoinSet<()>,
    what: &'static str,
    address: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Listen { address, source })?;
    servers.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            error!(%error, endpoint = what, "endpoint stopped");
        }
    });
    Ok(())
}

/// /healthz and /readyz.
fn health_routes(readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route(HEALTHZ_PATH, get(|| async { "ok" }))
        .route(
            READYZ_PATH,
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
        )
}

/// /metrics in the OpenMetrics text format.
fn metrics_routes(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        METRICS_PATH,
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
    )
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
