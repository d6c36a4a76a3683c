//! The controller's own Kubernetes client, built when leader election is on or a client-side
//! rate limit is set ([`super::rate_limit`]). Under leader election every write is checked
//! against the leader [`Fence`] as the request leaves the process, right before the HTTP
//! connection, below the retry, rate-limit and authentication layers. A reconcile checks the fence before
//! it starts writing too, but a replica frozen in the middle of a reconcile (a long pause, a
//! partition) would otherwise send the rest of that reconcile's writes when it wakes, after a
//! standby has taken over. Retries pass the check again, one by one.
//!
//! What is left is the time between the check and the request's bytes reaching the socket
//! (one poll of the HTTP client, on a pooled connection).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ConfigExt};
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::{BoxError, Layer, Service, ServiceBuilder};

use super::leader::Fence;
use super::rate_limit::{RateLimitLayer, TokenBucket};

/// A write refused because this replica's leader lease may have passed to another.
#[derive(Debug, thiserror::Error)]
#[error("not sending {method} {path}: this replica may no longer hold the leader lease")]
pub struct NotLeading {
    method: Method,
    path: String,
}

/// The stack of `kube::Client::try_from(config)` (base URI, retries of 429/503/504,
/// authentication, extra headers, connect/read/write timeouts, rustls), with the rate limit
/// (if any) below the retries, so that each retry waits for a token too, and [`FenceLayer`]
/// (if any) innermost, so that a write waiting for a token is checked after its wait.
pub fn client(
    config: Config,
    fence: Option<Arc<Fence>>,
    limit: Option<Arc<TokenBucket>>,
) -> Result<Client, kube::Error> {
    let mut connector = hyper_timeout::TimeoutConnector::new(config.rustls_https_connector()?);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http: HttpClient<_, Body> = HttpClient::builder(TokioExecutor::new()).build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(limit.map(RateLimitLayer::new))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .option_layer(fence.map(|fence| FenceLayer { fence }))
        .map_err(BoxError::from)
        .service(http);
    Ok(Client::new(service, config.default_namespace))
}

/// Refuses writes (anything but GET, HEAD and OPTIONS; lists and watches are GETs) while the
/// fence does not hold.
#[derive(Clone)]
pub struct FenceLayer {
    fence: Arc<Fence>,
}

impl<S> Layer<S> for FenceLayer {
    type Service = Fenced<S>;

    fn layer(&self, inner: S) -> Fenced<S> {
        Fenced {
            inner,
            fence: self.fence.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Fenced<S> {
    inner: S,
    fence: Arc<Fence>,
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

type Pending<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

impl<S, B> Service<Request<B>> for Fenced<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pending<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if is_write(request.method()) && !self.fence.holds() {
            let refused = NotLeading {
                method: request.method().clone(),
                path: request.uri().path().to_string(),
            };
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        let sent = self.inner.call(request);
        Box::pin(async move { sent.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::{Duration, Instant};

    use tower::ServiceExt;

    use super::*;
    use crate::controller::counting_service::Counter;

    async fn send(service: &Fenced<Counter>, method: Method) -> Result<(), BoxError> {
        let request = Request::builder()
            .method(method)
            .uri("/apis/batch/v1/namespaces/ns/jobs")
            .body(())?;
        service.clone().oneshot(request).await
    }

    #[tokio::test]
    async fn writes_pass_only_while_the_fence_holds_and_reads_always() {
        let fence = Arc::new(Fence::default());
        let counter = Counter::default();
        let service = FenceLayer {
            fence: fence.clone(),
        }
        .layer(counter.clone());
        let through = || counter.count();

        // Not leading yet: reads pass, writes are refused before they reach the connection.
        assert!(send(&service, Method::GET).await.is_ok());
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let error = send(&service, method.clone())
                .await
                .expect_err("a write without the lease");
            assert!(error.is::<NotLeading>(), "{error}");
            assert!(error.to_string().contains(method.as_str()), "{error}");
        }
        assert_eq!(through(), 1);

        fence.extend(Instant::now() + Duration::from_secs(10));
        assert!(send(&service, Method::PATCH).await.is_ok());
        assert_eq!(through(), 2);

        // A renewal that came too late: the deadline has passed, the fence is closed.
        fence.extend(Instant::now());
        assert!(send(&service, Method::POST).await.is_err());
        assert!(send(&service, Method::HEAD).await.is_ok());
        assert_eq!(through(), 3);
    }
}
