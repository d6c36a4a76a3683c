//! The controller's optional client-side rate limit (`--kube-api-qps`, `--kube-api-burst`): a
//! token bucket that every request of the controller's client passes before it is sent,
//! retries included. Lists and watches count as one request each when they start; a watch's
//! stream is not limited after that.
//!
//! The bucket holds up to `burst` tokens and gains `qps` tokens per second. A request takes one
//! token; when none is left it reserves the next one and waits until that token is due, so
//! waiting requests go out in the order they arrived, `1/qps` apart.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use tokio::time::Instant;
use tower::{BoxError, Layer, Service};

/// A token bucket shared by every request of one client.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens left at `at`; below zero when requests wait for tokens not yet due.
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// `qps` tokens a second, up to `burst` at once (a `burst` of 0 is `qps` rounded up, at
    /// least 1). `None` when `qps` is 0 (or not a positive finite number): no limit.
    pub fn new(qps: f32, burst: u32) -> Option<Arc<Self>> {
        let qps = f64::from(qps);
        if !(qps.is_finite() && qps > 0.0) {
            return None;
        }
        let burst = if burst == 0 {
            qps.ceil().max(1.0)
        } else {
            f64::from(burst)
        };
        Some(Arc::new(Self {
            qps,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            }),
        }))
    }

    /// Takes one token and returns how long to wait until it is due (zero when one was left).
    pub fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut bucket = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let gained = now.saturating_duration_since(bucket.at).as_secs_f64() * self.qps;
        bucket.tokens = (bucket.tokens + gained).min(self.burst) - 1.0;
        bucket.at = now;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.qps)
        }
    }

    /// Waits for one token. A caller dropped while it waits does not give its token back.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Makes every request wait for a token of the bucket before it goes to the inner service.
#[derive(Clone)]
pub struct RateLimitLayer {
    bucket: Arc<TokenBucket>,
}

impl RateLimitLayer {
    pub fn new(bucket: Arc<TokenBucket>) -> Self {
        Self { bucket }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner,
            bucket: self.bucket.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimited<S> {
    inner: S,
    bucket: Arc<TokenBucket>,
}

type Pending<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

impl<S, B> Service<Request<B>> for RateLimited<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pending<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service made ready by poll_ready is the one that sends; a fresh clone takes its
        // place (tower's usual pattern for a call that waits before sending).
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let bucket = self.bucket.clone();
        Box::pin(async move {
            bucket.acquire().await;
            ready.call(request).await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use tower::ServiceExt;

    use super::*;
    use crate::controller::counting_service::Counter;

    #[test]
    fn zero_qps_is_no_limit_and_zero_burst_is_qps_rounded_up() {
        assert!(TokenBucket::new(0.0, 10).is_none());
        assert!(TokenBucket::new(-1.0, 10).is_none());
        assert!(TokenBucket::new(f32::NAN, 10).is_none());
        assert_eq!(TokenBucket::new(2.5, 0).unwrap().burst, 3.0);
        assert_eq!(TokenBucket::new(0.2, 0).unwrap().burst, 1.0);
        assert_eq!(TokenBucket::new(5.0, 7).unwrap().burst, 7.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_applies() {
        let bucket = TokenBucket::new(10.0, 5).unwrap();
        // Five tokens at once, then one every 100 ms, in order.
        for _ in 0..5 {
            assert_eq!(bucket.reserve(), Duration::ZERO);
        }
        for i in 1..=3u64 {
            assert_eq!(bucket.reserve(), Duration::from_millis(100 * i));
        }
        // 300 ms later the three reservations are due and the bucket is empty again.
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(bucket.reserve(), Duration::from_millis(100));
        // An idle second refills it up to the burst, no further.
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..5 {
            assert_eq!(bucket.reserve(), Duration::ZERO);
        }
        assert_eq!(bucket.reserve(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_wait_for_their_token() {
        let counter = Counter::default();
        let service = RateLimitLayer::new(TokenBucket::new(2.0, 3).unwrap()).layer(counter.clone());
        let start = Instant::now();
        let sent: Vec<_> = (0..7)
            .map(|_| {
                let service = service.clone();
                tokio::spawn(async move {
                    service.oneshot(Request::new(())).await.unwrap();
                    Instant::now() - start
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in sent {
            times.push(task.await.unwrap());
        }
        times.sort();
        let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        // Three at once (the burst), then one every 500 ms.
        assert_eq!(ms, [0, 0, 0, 500, 1000, 1500, 2000]);
        assert_eq!(counter.count(), 7);
    }
}
