//! Certificates from a directory: `tls.crt` and `tls.key`, as OLM, cert-manager or a
//! hand-made Secret mount them (default `/tmp/k8s-webhook-server/serving-certs`).
//!
//! The files are polled, not watched: a Secret volume is updated by swapping a `..data` symlink,
//! which inotify-based watchers miss unless they watch the right inode, while reading two small
//! files every couple of seconds is cheap and always sees the truth. A pair that does not parse
//! or whose key does not match (caught half-way through a manual copy) is not served; the
//! previous certificate stays until a good pair appears.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tracing::{info, warn};

use super::authority::rfc3339;
use super::{CertStore, PemPair};

/// File name of the certificate chain (leaf first).
pub const CERT_FILE: &str = "tls.crt";
/// File name of the private key.
pub const KEY_FILE: &str = "tls.key";
/// How often the files are read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often the "still waiting" message repeats.
const WAITING_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Reads `tls.crt` and `tls.key` from `dir`; `None` while either is missing.
pub async fn read_pair(dir: &Path) -> std::io::Result<Option<PemPair>> {
    let read = |name: &str| {
        let path = dir.join(name);
        async move {
            match tokio::fs::read_to_string(&path).await {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }
    };
    let (cert, key) = (read(CERT_FILE).await?, read(KEY_FILE).await?);
    Ok(cert.zip(key).map(|(cert, key)| PemPair { cert, key }))
}

/// Keeps `store` serving the pair in `dir` until `stop` turns true.
pub async fn run(dir: PathBuf, store: Arc<CertStore>, mut stop: watch::Receiver<bool>) {
    let mut last: Option<PemPair> = None;
    let mut waiting_since: Option<Instant> = None;
    let mut last_waiting_log: Option<Instant> = None;
    let mut last_error: Option<String> = None;
    loop {
        match read_pair(&dir).await {
            Ok(None) => {
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if last_waiting_log.is_none_or(|t| t.elapsed() >= WAITING_LOG_INTERVAL) {
                    last_waiting_log = Some(Instant::now());
                    if store.is_loaded() {
                        warn!(
                            dir = %dir.display(),
                            "{CERT_FILE} or {KEY_FILE} disappeared; still serving the certificate loaded before"
                        );
                    } else {
                        info!(
                            dir = %dir.display(),
                            waited_seconds = since.elapsed().as_secs(),
                            "waiting for the webhook certificate: {CERT_FILE} and {KEY_FILE} are not there yet \
                             (mounted from a Secret by OLM, cert-manager or by hand); conversion is not served \
                             and /readyz reports not ready until they appear"
                        );
                    }
                }
            }
            Ok(Some(pair)) => {
                waiting_since = None;
                last_waiting_log = None;
                if last.as_ref() != Some(&pair) {
                    match store.install(&pair) {
                        Ok(changed) => {
                            last_error = None;
                            if changed && let Some(served) = store.served() {
                                let info = &served.info;
                                info!(
                                    dir = %dir.display(),
                                    subject = %info.subject,
                                    names = ?info.names,
                                    not_after = %rfc3339(info.not_after),
                                    "loaded the webhook certificate"
                                );
                                if info.expired(SystemTime::now()) {
                                    warn!(
                                        not_after = %rfc3339(info.not_after),
                                        "the webhook certificate in {} has expired; the API server will refuse it",
                                        dir.display()
                                    );
                                }
                            }
                        }
                        Err(error) => {
                            let message = error.to_string();
                            if last_error.as_ref() != Some(&message) {
                                warn!(
                                    dir = %dir.display(),
                                    %error,
                                    loaded = store.is_loaded(),
                                    "cannot use {CERT_FILE} and {KEY_FILE}; keeping the previous certificate, if any, and retrying when the files change"
                                );
                            }
                            last_error = Some(message);
                        }
                    }
                    last = Some(pair);
                }
            }
            Err(error) => {
                let message = error.to_string();
                if last_error.as_ref() != Some(&message) {
                    warn!(dir = %dir.display(), %error, "cannot read the webhook certificate files");
                }
                last_error = Some(message);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::authority::{new_ca, new_serving};
    use super::*;

    fn pair(name: &str) -> PemPair {
        let now = SystemTime::now();
        let ca = new_ca(now, Duration::from_secs(3600)).unwrap();
        new_serving(&ca, &[name.to_string()], now, Duration::from_secs(600)).unwrap()
    }

    fn write(dir: &Path, pair: &PemPair) {
        std::fs::write(dir.join(CERT_FILE), &pair.cert).unwrap();
        std::fs::write(dir.join(KEY_FILE), &pair.key).unwrap();
    }

    async fn until_serving(store: &CertStore, name: &str) {
        for _ in 0..100 {
            if store.served().is_some_and(|s| s.info.names.contains(name)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} was never served");
    }

    #[tokio::test]
    async fn waits_for_the_files_then_follows_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::new();
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(run(dir.path().to_path_buf(), store.clone(), stop));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!store.is_loaded());

        write(dir.path(), &pair("first.example"));
        until_serving(&store, "first.example").await;

        // A half-written update (new certificate, old key) is not served.
        let second = pair("second.example");
        std::fs::write(dir.path().join(CERT_FILE), &second.cert).unwrap();
        tokio::time::sleep(POLL_INTERVAL + Duration::from_millis(500)).await;
        assert!(store.served().unwrap().info.names.contains("first.example"));
        std::fs::write(dir.path().join(KEY_FILE), &second.key).unwrap();
        until_serving(&store, "second.example").await;

        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn missing_files_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_pair(dir.path()).await.unwrap().is_none());
        std::fs::write(dir.path().join(CERT_FILE), "x").unwrap();
        assert!(read_pair(dir.path()).await.unwrap().is_none());
    }
}
