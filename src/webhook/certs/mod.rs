//! The serving certificate of the webhook and where it comes from.
//!
//! [`CertStore`] is the rustls certificate resolver: every TLS handshake asks it for the current
//! certificate, so a renewed or rotated certificate is served from the next handshake on, with
//! no restart and no dropped connection. The sources ([`directory`], [`self_managed`]) only ever
//! call [`CertStore::install`].

pub mod authority;
pub mod directory;
pub mod rotation;
pub mod secret;
pub mod self_managed;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use authority::CertificateInfo;

/// A cause kept whole, so that whoever logs the error can walk its chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a certificate and key could not be served.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("no PEM certificate found")]
    NoCertificate,
    #[error("the certificate is not valid PEM: {0}")]
    CertificatePem(#[source] rustls::pki_types::pem::Error),
    #[error("the private key is not a valid PEM key (PKCS#8, PKCS#1 or SEC1): {0}")]
    KeyPem(#[source] Cause),
    #[error("the private key cannot be used: {0}")]
    Key(#[source] rustls::Error),
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("cannot read the certificate: {0}")]
    Parse(#[source] Cause),
    #[error("cannot read the certificate: the CA certificate is not a CA")]
    NotACa,
    #[error("cannot create a certificate: {0}")]
    Generate(#[source] Cause),
}

/// The crypto provider of the webhook: ring, the one kube's client already uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain (leaf first) and its private key, as PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct PemPair {
    pub cert: String,
    pub key: String,
}

impl fmt::Debug for PemPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a private key.
        f.debug_struct("PemPair")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

/// What is being served, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    pub info: CertificateInfo,
    /// The leaf certificate, DER.
    pub leaf: Vec<u8>,
}

/// The certificate the webhook serves, swapped atomically.
#[derive(Default)]
pub struct CertStore {
    current: RwLock<Option<(Arc<CertifiedKey>, Served)>>,
    loaded: AtomicBool,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("loaded", &self.is_loaded())
            .finish()
    }
}

impl CertStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Whether a certificate has been loaded (the webhook can complete a handshake).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::SeqCst)
    }

    /// What is served now.
    pub fn served(&self) -> Option<Served> {
        self.read().as_ref().map(|(_, served)| served.clone())
    }

    /// Checks `pair` (PEM parses, the key matches the leaf) and serves it from the next
    /// handshake on. On error the previous certificate stays. Returns whether the served
    /// certificate changed.
    pub fn install(&self, pair: &PemPair) -> Result<bool, CertError> {
        let (key, served) = certified_key(pair)?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let changed = current.as_ref().is_none_or(|(_, old)| *old != served);
        if changed {
            *current = Some((Arc::new(key), served));
        }
        self.loaded.store(true, Ordering::SeqCst);
        Ok(changed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<(Arc<CertifiedKey>, Served)>> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.read().as_ref().map(|(key, _)| key.clone())
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Every certificate in a PEM text, in order.
pub fn parse_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(CertError::CertificatePem)?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate);
    }
    Ok(certs)
}

fn certified_key(pair: &PemPair) -> Result<(CertifiedKey, Served), CertError> {
    let chain = parse_certificates(&pair.cert)?;
    let key = PrivateKeyDer::from_pem_slice(pair.key.as_bytes())
        .map_err(|e| CertError::KeyPem(e.into()))?;
    let provider = provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(CertError::Key)?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => return Err(CertError::KeyMismatch),
    }
    let leaf = certified
        .end_entity_cert()
        .map_err(|e| CertError::Parse(e.into()))?
        .to_vec();
    let info = authority::inspect_der(&leaf)?;
    Ok((certified, Served { info, leaf }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::{Duration, SystemTime};

    use super::authority::{new_ca, new_serving};
    use super::*;

    fn pair(name: &str) -> PemPair {
        let now = SystemTime::now();
        let ca = new_ca(now, Duration::from_secs(3600)).unwrap();
        new_serving(&ca, &[name.to_string()], now, Duration::from_secs(600)).unwrap()
    }

    #[test]
    fn install_swaps_the_served_certificate() {
        let store = CertStore::new();
        assert!(!store.is_loaded());
        assert!(store.served().is_none());
        let first = pair("first.example");
        assert!(store.install(&first).unwrap());
        assert!(!store.install(&first).unwrap(), "same pair, no change");
        assert!(store.is_loaded());
        let second = pair("second.example");
        assert!(store.install(&second).unwrap());
        assert!(
            store
                .served()
                .unwrap()
                .info
                .names
                .contains("second.example")
        );
    }

    #[test]
    fn a_bad_pair_keeps_the_previous_certificate() {
        let store = CertStore::new();
        let good = pair("good.example");
        store.install(&good).unwrap();
        let other = pair("other.example");
        let mismatched = PemPair {
            cert: good.cert.clone(),
            key: other.key.clone(),
        };
        assert!(matches!(
            store.install(&mismatched),
            Err(CertError::KeyMismatch)
        ));
        let garbage = PemPair {
            cert: "not a certificate".into(),
            key: good.key.clone(),
        };
        assert!(matches!(
            store.install(&garbage),
            Err(CertError::NoCertificate)
        ));
        let no_key = PemPair {
            cert: good.cert.clone(),
            key: String::new(),
        };
        assert!(matches!(store.install(&no_key), Err(CertError::KeyPem(_))));
        assert!(store.served().unwrap().info.names.contains("good.example"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let pair = pair("secret.example");
        assert!(!format!("{pair:?}").contains("PRIVATE KEY"));
    }
}
