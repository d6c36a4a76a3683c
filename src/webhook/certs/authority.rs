//! Making and reading certificates: the self-managed CA, serving certificates it signs, and
//! what a certificate says (names, validity, issuer). Pure: the caller passes the clock.
//!
//! ECDSA P-256 throughout (every Kubernetes API server accepts it). Each CA carries its creation
//! time in its common name, so two CAs in one bundle are told apart by people as well as by
//! their key identifiers.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::{CertError, PemPair, parse_certificates};

/// Common name prefix of the self-managed CA.
pub const CA_COMMON_NAME: &str = "locust-k8s-operator webhook CA";

/// What a certificate says, as far as serving and rotation care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: BTreeSet<String>,
    pub is_ca: bool,
}

impl CertificateInfo {
    /// The whole validity period.
    pub fn lifetime(&self) -> Duration {
        self.not_after
            .duration_since(self.not_before)
            .unwrap_or(Duration::ZERO)
    }

    /// Time left at `now`; zero once expired.
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.not_after.duration_since(now).unwrap_or(Duration::ZERO)
    }

    /// Whether less than a third of the lifetime is left: time to renew.
    pub fn due_for_renewal(&self, now: SystemTime) -> bool {
        self.remaining(now) < self.lifetime() / 3
    }

    pub fn expired(&self, now: SystemTime) -> bool {
        self.remaining(now).is_zero()
    }
}

/// Reads the first certificate of a PEM text.
pub fn inspect_pem(pem: &str) -> Result<CertificateInfo, CertError> {
    let certs = parse_certificates(pem)?;
    let first = certs.first().ok_or(CertError::NoCertificate)?;
    inspect_der(first)
}

/// Reads one DER certificate.
pub fn inspect_der(der: &[u8]) -> Result<CertificateInfo, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Parse(e.into()))?;
    let validity = cert.validity();
    let mut names = BTreeSet::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => {
                    names.insert((*dns).to_string());
                }
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        names.insert(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        not_before: system_time(validity.not_before.timestamp()),
        not_after: system_time(validity.not_after.timestamp()),
        names,
        is_ca: cert.is_ca(),
    })
}

/// Whether the first certificate of `leaf_pem` carries a valid signature of the first
/// certificate of `ca_pem`.
pub fn is_signed_by(leaf_pem: &str, ca_pem: &str) -> bool {
    let (Ok(leaf), Ok(ca)) = (parse_certificates(leaf_pem), parse_certificates(ca_pem)) else {
        return false;
    };
    let (Some(leaf), Some(ca)) = (leaf.first(), ca.first()) else {
        return false;
    };
    let (Ok((_, leaf)), Ok((_, ca))) = (
        X509Certificate::from_der(leaf),
        X509Certificate::from_der(ca),
    ) else {
        return false;
    };
    leaf.issuer() == ca.subject() && leaf.verify_signature(Some(ca.public_key())).is_ok()
}

/// Checks that `ca` is a CA certificate with its own private key.
pub fn check_ca(ca: &PemPair) -> Result<(), CertError> {
    let certs = parse_certificates(&ca.cert)?;
    let der = certs.first().ok_or(CertError::NoCertificate)?;
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Parse(e.into()))?;
    if !cert.is_ca() {
        return Err(CertError::NotACa);
    }
    let key = KeyPair::from_pem(&ca.key).map_err(|e| CertError::KeyPem(e.into()))?;
    if key.der_bytes() != cert.public_key().subject_public_key.data.as_ref() {
        return Err(CertError::KeyMismatch);
    }
    Ok(())
}

/// A new self-signed CA valid from `now` (backdated a little for clock skew) for `validity`.
pub fn new_ca(now: SystemTime, validity: Duration) -> Result<PemPair, CertError> {
    let key = KeyPair::generate().map_err(generate)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    params.distinguished_name.push(
        DnType::CommonName,
        format!("{CA_COMMON_NAME} {}", rfc3339(now)),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, now, validity, None)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok(PemPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A serving certificate for `names` (DNS names or IP addresses) signed by `ca`. It never
/// outlives its CA.
pub fn new_serving(
    ca: &PemPair,
    names: &[String],
    now: SystemTime,
    validity: Duration,
) -> Result<PemPair, CertError> {
    let ca_info = inspect_pem(&ca.cert)?;
    let ca_key = KeyPair::from_pem(&ca.key).map_err(generate)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(generate)?;
    let key = KeyPair::generate().map_err(generate)?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(generate)?;
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, first);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, validity, Some(ca_info.not_after))?;
    let cert = params.signed_by(&key, &issuer).map_err(generate)?;
    Ok(PemPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Backdates by a tenth of the validity (at most a minute), so a client whose clock is a little
/// behind accepts a certificate made a moment ago.
fn set_validity(
    params: &mut CertificateParams,
    now: SystemTime,
    validity: Duration,
    cap: Option<SystemTime>,
) -> Result<(), CertError> {
    let backdate = (validity / 10).min(Duration::from_secs(60));
    let mut not_after = now + validity;
    if let Some(cap) = cap {
        not_after = not_after.min(cap);
    }
    params.not_before = offset_date_time(now - backdate)?;
    params.not_after = offset_date_time(not_after)?;
    Ok(())
}

fn generate(error: rcgen::Error) -> CertError {
    CertError::Generate(error.into())
}

fn offset_date_time(time: SystemTime) -> Result<OffsetDateTime, CertError> {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CertError::Generate("the clock is before 1970".into()))?
        .as_secs();
    let seconds = i64::try_from(seconds).map_err(|e| CertError::Generate(e.into()))?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| CertError::Generate(e.into()))
}

fn system_time(unix_seconds: i64) -> SystemTime {
    match u64::try_from(unix_seconds) {
        Ok(seconds) => UNIX_EPOCH + Duration::from_secs(seconds),
        Err(_) => UNIX_EPOCH,
    }
}

/// `2026-05-01T10:00:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(seconds)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| seconds.to_string())
}

/// Parses [`rfc3339`] output (any RFC 3339 timestamp).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    Some(system_time(timestamp.as_second()))
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn serving_certificate_names_the_service_and_chains_to_its_ca() {
        let now = SystemTime::now();
        let ca = new_ca(now, 24 * HOUR).unwrap();
        let names = vec![
            "webhook".to_string(),
            "webhook.ops.svc".to_string(),
            "127.0.0.1".to_string(),
        ];
        let serving = new_serving(&ca, &names, now, HOUR).unwrap();
        let info = inspect_pem(&serving.cert).unwrap();
        assert_eq!(info.names, names.iter().cloned().collect());
        assert!(!info.is_ca);
        assert!(is_signed_by(&serving.cert, &ca.cert));
        let ca_info = inspect_pem(&ca.cert).unwrap();
        assert!(ca_info.is_ca);
        assert!(ca_info.subject.contains(CA_COMMON_NAME));
        assert_eq!(info.issuer, ca_info.subject);
        // One hour plus a minute of backdating.
        assert_eq!(info.lifetime(), HOUR + Duration::from_secs(60));
    }

    #[test]
    fn a_serving_certificate_never_outlives_its_ca() {
        let now = SystemTime::now();
        let ca = new_ca(now, HOUR).unwrap();
        let serving = new_serving(&ca, &["svc".to_string()], now, 10 * HOUR).unwrap();
        assert_eq!(
            inspect_pem(&serving.cert).unwrap().not_after,
            inspect_pem(&ca.cert).unwrap().not_after
        );
    }

    #[test]
    fn another_ca_did_not_sign_it() {
        let now = SystemTime::now();
        let ca = new_ca(now, HOUR).unwrap();
        let other = new_ca(now, HOUR).unwrap();
        let serving = new_serving(&ca, &["svc".to_string()], now, HOUR).unwrap();
        assert!(!is_signed_by(&serving.cert, &other.cert));
        assert!(!is_signed_by("garbage", &ca.cert));
    }

    #[test]
    fn a_ca_is_checked_with_its_key() {
        let now = SystemTime::now();
        let ca = new_ca(now, HOUR).unwrap();
        let other = new_ca(now, HOUR).unwrap();
        check_ca(&ca).unwrap();
        let swapped = PemPair {
            cert: ca.cert.clone(),
            key: other.key.clone(),
        };
        assert!(matches!(check_ca(&swapped), Err(CertError::KeyMismatch)));
        let serving = new_serving(&ca, &["svc".to_string()], now, HOUR).unwrap();
        assert!(check_ca(&serving).is_err());
    }

    #[test]
    fn renewal_is_due_in_the_last_third() {
        let now = SystemTime::now();
        let ca = new_ca(now, 30 * HOUR).unwrap();
        let info = inspect_pem(&ca.cert).unwrap();
        assert!(!info.due_for_renewal(now));
        assert!(!info.due_for_renewal(now + 19 * HOUR));
        assert!(info.due_for_renewal(now + 21 * HOUR));
        assert!(info.expired(now + 31 * HOUR));
    }

    #[test]
    fn timestamps_round_trip() {
        let now = UNIX_EPOCH + Duration::from_secs(1_777_777_777);
        assert_eq!(parse_rfc3339(&rfc3339(now)), Some(now));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
