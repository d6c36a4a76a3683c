//! Waiting for the cluster to get somewhere: poll, never sleep a fixed time.

use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, and returns that. Panics after `timeout`, naming
/// `what` (a test failure, not a hang).
pub async fn until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(INTERVAL).await;
    }
}

/// Like [`until`], but `check` explains where things stand (`Err(state)`), and the panic
/// message shows the last explanation.
pub async fn until_ok<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; last state: {state}"
            ),
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
