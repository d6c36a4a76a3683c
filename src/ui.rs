//! `locust-k8s-operator ui NAME`: forwards a local port to the Locust master's web UI through
//! the API server (the same route as `kubectl port-forward`) and prints the URL, with the
//! test's web base path. Works as a kubectl plugin too: installed as `kubectl-locust` on the
//! PATH, it runs as `kubectl locust ui NAME`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::warn;

use crate::api::names::{LABEL_K8S_COMPONENT, LABEL_TEST_NAME, Role};
use crate::api::v2::LocustTest;
use crate::client::{ClientError, TestRef};
use crate::resources::web_ui::{Unreadable, WebUi, master_web_ui};

/// Flags of `ui`.
#[derive(clap::Args, Debug, Clone)]
pub struct UiArgs {
    #[command(flatten)]
    pub test: TestRef,
    /// Local port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Local address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub address: IpAddr,
}

/// Why the web UI cannot be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("LocustTest {name} not found in namespace {namespace}")]
    NotFound { name: String, namespace: String },
    #[error("cannot read LocustTest {name}: {source}")]
    Read {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("LocustTest {0} runs with --headless: its master has no web UI")]
    Headless(String),
    #[error("cannot list the pods of LocustTest {name}: {source}")]
    ListPods {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the master pod of LocustTest {name} is not running ({seen}); wait until the test runs (kubectl get lotest {name})"
    )]
    MasterNotRunning { name: String, seen: String },
    #[error("the master's web port {0} is not a valid port")]
    Port(i32),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What `ui` forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub port: u16,
    pub base_path: String,
}

/// Finds the running master, listens, calls `ready` with the URL to open, then forwards every
/// connection until the process is stopped.
pub async fn run(args: &UiArgs, ready: impl FnOnce(&str, &Target)) -> Result<(), UiError> {
    let (client, namespace) = args.test.client().await?;
    let target = find_master(&client, &namespace, &args.test.name).await?;
    let address = SocketAddr::new(args.address, args.port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| UiError::Listen { address, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| UiError::Listen { address, source })?;
    ready(&url(local, &target.base_path), &target);
    let pods: Api<Pod> = Api::namespaced(client, &target.namespace);
    loop {
        match listener.accept().await {
            Ok((connection, _)) => {
                tokio::spawn(forward(pods.clone(), target.clone(), connection));
            }
            Err(error) => warn!(%error, "cannot accept a connection"),
        }
    }
}

/// The URL of the web UI through `local`: a wildcard address is shown as the loopback one.
pub fn url(local: SocketAddr, base_path: &str) -> String {
    let host = match local.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}{base_path}/", SocketAddr::new(host, local.port()))
}

async fn find_master(client: &Client, namespace: &str, name: &str) -> Result<Target, UiError> {
    let tests: Api<LocustTest> = Api::namespaced(client.clone(), namespace);
    let test = tests
        .get_opt(name)
        .await
        .map_err(|source| UiError::Read {
            name: name.to_string(),
            source,
        })?
        .ok_or_else(|| UiError::NotFound {
            name: name.to_string(),
            namespace: namespace.to_string(),
        })?;
    let WebUi {
        port,
        base_path,
        unreadable,
    } = master_web_ui(&test.spec);
    if unreadable == Some(Unreadable::Headless) {
        return Err(UiError::Headless(name.to_string()));
    }
    let port = u16::try_from(port).map_err(|_| UiError::Port(port))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!(
        "{LABEL_TEST_NAME}={name},{LABEL_K8S_COMPONENT}={}",
        Role::Master.as_str()
    );
    let masters = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| UiError::ListPods {
            name: name.to_string(),
            source,
        })?;
    let phase = |pod: &Pod| pod.status.as_ref().and_then(|s| s.phase.clone());
    let running = masters
        .items
        .iter()
        .find(|pod| phase(pod).as_deref() == Some("Running"));
    match running {
        Some(pod) => Ok(Target {
            namespace: namespace.to_string(),
            pod: pod.name_any(),
            port,
            base_path,
        }),
        None => Err(UiError::MasterNotRunning {
            name: name.to_string(),
            seen: match masters.items.first() {
                None => "no master pod".to_string(),
                Some(pod) => format!(
                    "pod {} is {}",
                    pod.name_any(),
                    phase(pod).unwrap_or_else(|| "without a phase".to_string())
                ),
            },
        }),
    }
}

/// One local connection, carried to the master's port over its own port-forward stream.
async fn forward(pods: Api<Pod>, target: Target, mut connection: TcpStream) {
    let mut forwarder = match pods.portforward(&target.pod, &[target.port]).await {
        Ok(forwarder) => forwarder,
        Err(error) => {
            warn!(pod = %target.pod, %error, "cannot open a port-forward to the master");
            return;
        }
    };
    let Some(mut upstream) = forwarder.take_stream(target.port) else {
        warn!(pod = %target.pod, "the port-forward gave no stream");
        return;
    };
    if let Err(error) = tokio::io::copy_bidirectional(&mut connection, &mut upstream).await {
        warn!(pod = %target.pod, %error, "port-forward connection ended with an error");
    }
    drop(upstream);
    let _ = forwarder.join().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_base_path_and_a_reachable_host() {
        let any: SocketAddr = "0.0.0.0:8089"
            .parse()
            .unwrap_or(SocketAddr::from(([0; 4], 0)));
        assert_eq!(url(any, ""), "http://127.0.0.1:8089/");
        let local: SocketAddr = "127.0.0.1:40000"
            .parse()
            .unwrap_or(SocketAddr::from(([0; 4], 0)));
        assert_eq!(url(local, "/locust"), "http://127.0.0.1:40000/locust/");
    }
}
