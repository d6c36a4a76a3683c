#![allow(dead_code)]
//! The webhook this test binary runs in-process, in directory mode, and certificate
//! directories laid out the way the kubelet mounts a Secret (`tls.crt -> ..data/tls.crt`,
//! `..data -> ..<generation>`, updated by renaming a new `..data` over the old one).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use locust_operator::telemetry::Metrics;
use locust_operator::webhook::certs::PemPair;
use locust_operator::webhook::certs::authority::{new_ca, new_serving};
use locust_operator::webhook::{CertMode, Webhook, WebhookArgs};
use tokio::sync::OnceCell;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::common::install_crd_calling;
use crate::support::Cluster;
use crate::support::wait;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A certificate directory the way a Secret volume looks.
pub struct CertDir {
    pub path: PathBuf,
    generation: AtomicU32,
}

impl CertDir {
    pub fn new(path: PathBuf) -> Self {
        std::fs::create_dir_all(&path).unwrap();
        Self {
            path,
            generation: AtomicU32::new(0),
        }
    }

    /// Publishes `pair` atomically, as the kubelet updates a Secret volume.
    pub fn publish(&self, pair: &PemPair) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst);
        let data = format!("..{generation}");
        let dir = self.path.join(&data);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tls.crt"), &pair.cert).unwrap();
        std::fs::write(dir.join("tls.key"), &pair.key).unwrap();
        let temporary = self.path.join("..data_tmp");
        let _ = std::fs::remove_file(&temporary);
        std::os::unix::fs::symlink(&data, &temporary).unwrap();
        std::fs::rename(&temporary, self.path.join("..data")).unwrap();
        for file in ["tls.crt", "tls.key"] {
            let link = self.path.join(file);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(file), &link).unwrap();
            }
        }
    }
}

/// A CA and certificates it signs for 127.0.0.1.
pub struct TestCa {
    pub ca: PemPair,
}

impl TestCa {
    pub fn new() -> Self {
        Self {
            ca: new_ca(SystemTime::now(), 30 * DAY).unwrap(),
        }
    }

    pub fn serving(&self) -> PemPair {
        new_serving(&self.ca, &["127.0.0.1".to_string()], SystemTime::now(), DAY).unwrap()
    }
}

/// An in-process webhook in directory mode.
pub struct InProcess {
    pub webhook: Webhook,
    pub dir: CertDir,
    pub metrics: Arc<Metrics>,
    _stop: DropGuard,
}

impl InProcess {
    /// Starts a webhook on a free loopback port reading `dir`.
    pub async fn start(cluster: &Cluster, dir: CertDir) -> Self {
        let args = WebhookArgs {
            webhook_bind_address: "127.0.0.1:0".parse().unwrap(),
            webhook_cert_mode: CertMode::Directory,
            webhook_cert_dir: dir.path.clone(),
            webhook_service_name: None,
            webhook_secret_name: None,
            webhook_extra_sans: Vec::new(),
            webhook_ca_validity: 30 * DAY,
            webhook_cert_validity: DAY,
            webhook_shutdown_delay: Duration::ZERO,
        };
        let metrics = Arc::new(Metrics::new());
        let stop = CancellationToken::new();
        let webhook = Webhook::start(
            &args,
            None,
            &cluster.client(),
            metrics.clone(),
            stop.clone(),
        )
        .await
        .unwrap()
        .expect("directory mode starts a server");
        Self {
            webhook,
            dir,
            metrics,
            _stop: stop.drop_guard(),
        }
    }

    pub async fn until_loaded(&self) {
        let status = self.webhook.status();
        wait::until(
            "the webhook to load its certificate",
            Duration::from_secs(15),
            async || status.ready().ok(),
        )
        .await;
    }

    pub fn url(&self) -> String {
        format!("https://{}/convert", self.webhook.local_addr())
    }
}

/// The webhook the CRD calls in this binary, with its CA.
pub struct Shared {
    pub server: InProcess,
    pub ca: TestCa,
}

/// Starts the shared webhook and points the CRD at it, once per binary.
pub async fn shared(cluster: &'static Cluster) -> &'static Shared {
    static SHARED: OnceCell<Shared> = OnceCell::const_new();
    SHARED
        .get_or_init(|| async {
            let ca = TestCa::new();
            let dir = CertDir::new(cluster.dir.join("webhook-certs"));
            dir.publish(&ca.serving());
            let server = InProcess::start(cluster, dir).await;
            server.until_loaded().await;
            install_crd_calling(cluster, &server.url(), Some(&ca.ca.cert)).await;
            Shared { server, ca }
        })
        .await
}
