//! The HTTPS server: TLS 1.2 and 1.3 on rustls, HTTP/1.1 only, `POST /convert`.
//!
//! HTTP/2 stays off: the API server speaks HTTP/1.1 to webhooks just as well, and an HTTP/2
//! server exposed inside the cluster brings the rapid-reset and stream-flood classes of denial
//! of service for no gain (controller-runtime turned it off by default for the same reason).
//! The ALPN list offers only `http/1.1`.
//!
//! Every step that waits on the peer has a bound: the TLS handshake, the request head, the body
//! size, and the number of open connections. The conversion itself runs on the blocking pool,
//! so a large list cannot stall the runtime, and a panic there becomes a failure answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{Span, debug, field, instrument, warn};

use super::certs::{CertStore, provider};
use super::review::{Reviewed, refused, review};
use crate::contract::CONVERT_PATH;
use crate::telemetry::Metrics;

/// Largest request body: a list conversion carries every object of the list.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Open connections at most; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 512;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds the wait for a request head, counted from the end of the previous response: hyper has
/// one timer for both, so this is also the idle keep-alive timeout. Longer than the 90 s the API
/// server's client keeps an idle connection, so the client always closes first; a server-side
/// close racing a new request would fail that conversion (Go does not retry a POST).
const HEADER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long in-flight requests may take to finish once the server stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest failure message written to the log.
const LOGGED_MESSAGE_CHARS: usize = 1024;

/// TLS 1.3 and 1.2, no client certificates, the certificate from `store` at every handshake.
pub fn tls_config(store: Arc<CertStore>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What every request needs.
pub struct App {
    pub metrics: Arc<Metrics>,
    /// Set while shutting down: answers ask the client to reconnect (`Connection: close`), which
    /// moves it to another replica.
    pub stopping: Arc<AtomicBool>,
}

/// Accepts connections until `stop` turns true, then lets in-flight requests finish (closing
/// idle keep-alive connections at once) for up to [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let (drain_tx, drain_rx) = watch::channel(false);
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let (acceptor, app, drain) = (acceptor.clone(), app.clone(), drain_rx.clone());
                connections.spawn(async move {
                    connection(tcp, peer, acceptor, app, drain).await;
                    drop(permit);
                });
            }
            Err(error) => {
                // Out of file descriptors and the like: pause instead of spinning.
                warn!(%error, "webhook cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = drain_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            open = connections.len(),
            "webhook connections still open after {DRAIN_TIMEOUT:?}; closing them"
        );
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    mut drain: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            debug!(%peer, %error, "webhook TLS handshake failed");
            return;
        }
        Err(_) => {
            debug!(%peer, "webhook TLS handshake timed out");
            return;
        }
    };
    let service = service_fn(move |request| handle(request, app.clone()));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    let draining = tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                debug!(%peer, %error, "webhook connection ended with an error");
            }
            false
        }
        _ = drain.wait_for(|d| *d) => true,
    };
    if draining {
        // Finishes the request in flight, if any, and closes the connection.
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

async fn handle(
    request: Request<Incoming>,
    app: Arc<App>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = match (request.method(), request.uri().path()) {
        (&Method::POST, CONVERT_PATH) => convert(request, &app).await,
        (_, CONVERT_PATH) => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            response
        }
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    if app.stopping.load(Ordering::SeqCst) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

/// One ConversionReview. Its span carries the review's uid, its object count and the first
/// object (`namespace/name`), and so does every log line below it.
#[instrument(
    name = "convert",
    skip_all,
    fields(uid = field::Empty, objects = field::Empty, object = field::Empty)
)]
async fn convert(request: Request<Incoming>, app: &App) -> Response<Full<Bytes>> {
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES);
    let reviewed = match body.collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            match tokio::task::spawn_blocking(move || review(&bytes)).await {
                Ok(reviewed) => reviewed,
                Err(error) => refused(format!("internal error while converting: {error}")),
            }
        }
        Err(error) => refused(format!(
            "cannot read the request body (limit {MAX_BODY_BYTES} bytes): {error}"
        )),
    };
    let span = Span::current();
    span.record("uid", reviewed.uid.as_str());
    span.record("objects", reviewed.objects);
    span.record("object", reviewed.first_object.as_str());
    record(app, &reviewed);
    let mut response = Response::new(Full::new(Bytes::from(reviewed.body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn record(app: &App, reviewed: &Reviewed) {
    app.metrics.conversion_review(reviewed.failure.is_none());
    match &reviewed.failure {
        None => debug!("converted"),
        Some(message) => {
            let message: String = message.chars().take(LOGGED_MESSAGE_CHARS).collect();
            warn!(%message, "conversion refused");
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
