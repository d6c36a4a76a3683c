//! HTTP GETs to a Locust master's web API, by one of two routes:
//!
//! - direct: plain HTTP to the master Service's web port (`<name>-master.<ns>.svc:8089`), from
//!   an operator running in the cluster (needs a NetworkPolicy that lets it in);
//! - through the API server's service proxy
//!   (`/api/v1/namespaces/<ns>/services/<name>-master:web-ui/proxy/...`), for an operator
//!   outside the cluster or one that cannot reach pods; needs `get` on `services/proxy`.
//!
//! Every request has a timeout and a body limit, so a master that hangs or answers with
//! something huge costs a bounded amount.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::api::names::{PORT_NAME_WEB, Role, WEB_PORT, child_name};
use crate::api::text::shorten;
use crate::resources::web_ui::WebUi;

/// Largest body read from the master (the HTML report is about 1 MB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// A plain HTTP/1 client for direct reads, shared by every test.
pub type DirectClient = HttpClient<HttpConnector, Empty<Bytes>>;

/// A new direct client: no connection pool kept idle for long, connect timeout included.
pub fn direct_client(timeout: Duration) -> DirectClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    connector.set_nodelay(true);
    HttpClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1)
        .build(connector)
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {}", error_chain(.0.as_ref()))]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("HTTP {0}: {1}")]
    Status(u16, String),
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the answer is not the stats JSON Locust sends: {0}")]
    NotStats(#[source] serde_json::Error),
}

/// The web API of one master, by one route.
#[derive(Clone)]
pub struct MasterApi {
    route: Route,
    base_path: String,
    timeout: Duration,
}

#[derive(Clone)]
enum Route {
    Direct { client: DirectClient, base: String },
    Proxy { client: kube::Client, base: String },
}

impl MasterApi {
    /// Direct HTTP to `base` (`http://host:port`), endpoints under the UI's base path.
    pub fn direct(client: DirectClient, base: String, ui: &WebUi, timeout: Duration) -> Self {
        Self {
            route: Route::Direct { client, base },
            base_path: ui.base_path.clone(),
            timeout,
        }
    }

    /// Direct HTTP to the master Service of test `name` in `namespace`.
    pub fn direct_to_service(
        client: DirectClient,
        namespace: &str,
        name: &str,
        ui: &WebUi,
        timeout: Duration,
    ) -> Self {
        let service = child_name(name, Role::Master);
        let base = format!("http://{service}.{namespace}.svc:{WEB_PORT}");
        Self::direct(client, base, ui, timeout)
    }

    /// Through the API server's proxy to the master Service of test `name` in `namespace`.
    pub fn through_api_server(
        client: kube::Client,
        namespace: &str,
        name: &str,
        ui: &WebUi,
        timeout: Duration,
    ) -> Self {
        let service = child_name(name, Role::Master);
        Self {
            route: Route::Proxy {
                client,
                base: format!(
                    "/api/v1/namespaces/{namespace}/services/{service}:{PORT_NAME_WEB}/proxy"
                ),
            },
            base_path: ui.base_path.clone(),
            timeout,
        }
    }

    /// Where `endpoint` is read, for messages.
    pub fn location(&self, endpoint: &str) -> String {
        match &self.route {
            Route::Direct { base, .. } => format!("{base}{}{endpoint}", self.base_path),
            Route::Proxy { base, .. } => {
                format!(
                    "the API server's service proxy {base}{}{endpoint}",
                    self.base_path
                )
            }
        }
    }

    /// GET `endpoint` (`/stats/requests`) under the UI's base path.
    pub async fn get(&self, endpoint: &str) -> Result<Bytes, ReadError> {
        let path = format!("{}{endpoint}", self.base_path);
        match tokio::time::timeout(self.timeout, self.get_path(&path)).await {
            Ok(result) => result,
            Err(_) => Err(ReadError::Timeout(self.timeout)),
        }
    }

    /// GET an endpoint that takes Locust a while to render (the HTML report): a longer
    /// timeout, five times the usual one and at least 15 s.
    pub async fn get_slow(&self, endpoint: &str) -> Result<Bytes, ReadError> {
        let timeout = (self.timeout * 5).max(Duration::from_secs(15));
        let path = format!("{}{endpoint}", self.base_path);
        match tokio::time::timeout(timeout, self.get_path(&path)).await {
            Ok(result) => result,
            Err(_) => Err(ReadError::Timeout(timeout)),
        }
    }

    async fn get_path(&self, path: &str) -> Result<Bytes, ReadError> {
        match &self.route {
            Route::Direct { client, base } => {
                let uri: hyper::Uri = format!("{base}{path}")
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| ReadError::Transport(e.into()))?;
                let response = client
                    .get(uri)
                    .await
                    .map_err(|e| ReadError::Transport(e.into()))?;
                let status = response.status();
                let body = Limited::new(response.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            ReadError::TooLarge
                        } else {
                            ReadError::Transport(e)
                        }
                    })?
                    .to_bytes();
                if status.is_success() {
                    Ok(body)
                } else {
                    Err(ReadError::Status(status.as_u16(), snippet(&body)))
                }
            }
            Route::Proxy { client, base } => {
                let request = http::Request::get(format!("{base}{path}"))
                    .body(Vec::new())
                    .map_err(|e| ReadError::Transport(e.into()))?;
                match client.request_text(request).await {
                    Ok(text) if text.len() > MAX_BODY => Err(ReadError::TooLarge),
                    Ok(text) => Ok(Bytes::from(text)),
                    Err(kube::Error::Api(status)) => {
                        Err(ReadError::Status(status.code, status.message))
                    }
                    Err(error) => Err(ReadError::Transport(error.into())),
                }
            }
        }
    }
}

/// An error and its causes on one line (hyper's top-level message alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    shorten(text.trim(), 200, "")
}
