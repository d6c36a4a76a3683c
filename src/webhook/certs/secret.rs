//! The self-managed material as a Secret: which key holds what, and the conversions both ways.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use super::PemPair;
use super::authority::{check_ca, parse_rfc3339, rfc3339};
use super::rotation::{Material, split_certificates};
use crate::api::names::{LABEL_K8S_MANAGED_BY, OPERATOR_NAME};

/// Secret keys. `tls.crt`/`tls.key` and `ca.crt` follow the `kubernetes.io/tls` convention.
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_KEY_KEY: &str = "tls.key";
pub const CA_CERT_KEY: &str = "ca.crt";
pub const CA_KEY_KEY: &str = "ca.key";
pub const NEXT_CA_CERT_KEY: &str = "next-ca.crt";
pub const NEXT_CA_KEY_KEY: &str = "next-ca.key";
/// Every CA the API server must trust (what goes into the CRD's `caBundle`).
pub const BUNDLE_KEY: &str = "ca-bundle.crt";
/// When a replica saw the CRD hold the current bundle, while a new CA is staged.
pub const PUBLISHED_ANNOTATION: &str = "locust.io/webhook-ca-bundle-published-at";

/// The Secret's material, or why it cannot be used.
pub fn material_from_secret(secret: &Secret) -> Result<Material, String> {
    let data = secret.data.as_ref().ok_or("the Secret has no data")?;
    let text = |key: &str| -> Result<Option<String>, String> {
        data.get(key)
            .map(|bytes| {
                String::from_utf8(bytes.0.clone()).map_err(|_| format!("{key} is not text"))
            })
            .transpose()
    };
    let required = |key: &str| text(key)?.ok_or_else(|| format!("the Secret has no {key}"));
    let pair = |cert: &str, key: &str| -> Result<Option<PemPair>, String> {
        Ok(match (text(cert)?, text(key)?) {
            (Some(cert), Some(key)) => Some(PemPair { cert, key }),
            _ => None,
        })
    };
    let ca = PemPair {
        cert: required(CA_CERT_KEY)?,
        key: required(CA_KEY_KEY)?,
    };
    check_ca(&ca).map_err(|e| format!("{CA_CERT_KEY}/{CA_KEY_KEY}: {e}"))?;
    let serving = PemPair {
        cert: required(TLS_CERT_KEY)?,
        key: required(TLS_KEY_KEY)?,
    };
    let bundle = split_certificates(&text(BUNDLE_KEY)?.unwrap_or_default());
    // A broken staged CA is dropped; the next pass stages a new one.
    let next_ca = pair(NEXT_CA_CERT_KEY, NEXT_CA_KEY_KEY)?.filter(|next| check_ca(next).is_ok());
    Ok(Material {
        ca,
        serving,
        next_ca,
        bundle,
        published_at: secret
            .annotations()
            .get(PUBLISHED_ANNOTATION)
            .and_then(|t| parse_rfc3339(t)),
    })
}

/// The Secret holding `material`, keeping `base`'s metadata (resourceVersion included).
pub fn secret_for(
    material: &Material,
    name: &str,
    namespace: &str,
    base: Option<&Secret>,
) -> Secret {
    let mut data = BTreeMap::new();
    let mut put = |key: &str, value: &str| {
        data.insert(key.to_string(), ByteString(value.as_bytes().to_vec()));
    };
    put(TLS_CERT_KEY, &material.serving.cert);
    put(TLS_KEY_KEY, &material.serving.key);
    put(CA_CERT_KEY, &material.ca.cert);
    put(CA_KEY_KEY, &material.ca.key);
    put(BUNDLE_KEY, &material.bundle_pem());
    if let Some(next) = &material.next_ca {
        put(NEXT_CA_CERT_KEY, &next.cert);
        put(NEXT_CA_KEY_KEY, &next.key);
    }
    let mut metadata = base
        .map(|s| s.metadata.clone())
        .unwrap_or_else(|| ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        });
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_K8S_MANAGED_BY.to_string(), OPERATOR_NAME.to_string());
    let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
    match material.published_at {
        Some(at) => {
            annotations.insert(PUBLISHED_ANNOTATION.to_string(), rfc3339(at));
        }
        None => {
            annotations.remove(PUBLISHED_ANNOTATION);
        }
    }
    Secret {
        metadata,
        data: Some(data),
        type_: Some("kubernetes.io/tls".to_string()),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::{Duration, SystemTime};

    use super::super::rotation::{Policy, fresh};
    use super::*;

    fn material() -> Material {
        let policy = Policy {
            ca_validity: Duration::from_secs(3600),
            serving_validity: Duration::from_secs(600),
            names: vec!["webhook.ops.svc".into()],
        };
        fresh(&policy, SystemTime::now()).unwrap()
    }

    #[test]
    fn material_survives_the_secret_both_ways() {
        let mut original = material();
        original.next_ca = Some(material().ca);
        original.published_at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let secret = secret_for(&original, "certs", "ops", None);
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(secret.metadata.name.as_deref(), Some("certs"));
        assert_eq!(material_from_secret(&secret).unwrap(), original);

        original.next_ca = None;
        original.published_at = None;
        let rewritten = secret_for(&original, "certs", "ops", Some(&secret));
        assert!(!rewritten.annotations().contains_key(PUBLISHED_ANNOTATION));
        assert!(
            !rewritten
                .data
                .as_ref()
                .unwrap()
                .contains_key(NEXT_CA_CERT_KEY)
        );
        assert_eq!(material_from_secret(&rewritten).unwrap(), original);
    }

    #[test]
    fn a_secret_without_a_usable_ca_is_refused() {
        let mut secret = secret_for(&material(), "certs", "ops", None);
        let data = secret.data.as_mut().unwrap();
        let other = material();
        data.insert(CA_KEY_KEY.into(), ByteString(other.ca.key.into_bytes()));
        assert!(
            material_from_secret(&secret)
                .unwrap_err()
                .contains("ca.crt/ca.key")
        );
        let mut no_serving = secret_for(&material(), "certs", "ops", None);
        no_serving.data.as_mut().unwrap().remove(TLS_CERT_KEY);
        assert!(
            material_from_secret(&no_serving)
                .unwrap_err()
                .contains(TLS_CERT_KEY)
        );
        assert!(material_from_secret(&Secret::default()).is_err());
    }
}
