//! The LocustTest CRD as each distribution ships it: the same schema from
//! [`crate::api::crd::locust_test_crd`], plus the conversion webhook stanza pointing at the
//! distribution's webhook Service.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig,
    WebhookConversion,
};

use crate::api::crd::{CrdError, locust_test_crd};

use super::deployment::{CONVERT_PATH, WEBHOOK_SERVICE_PORT};

/// Versions of ConversionReview the webhook understands.
pub const CONVERSION_REVIEW_VERSIONS: [&str; 1] = ["v1"];

/// The CRD with `spec.conversion` calling the webhook Service `service` in `namespace`. The
/// caBundle is left out: the operator (self-managed mode), cert-manager or OLM fill it in.
pub fn crd_with_conversion(
    service: &str,
    namespace: &str,
) -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = locust_test_crd()?;
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".to_string(),
        webhook: Some(WebhookConversion {
            client_config: Some(WebhookClientConfig {
                ca_bundle: None,
                service: Some(ServiceReference {
                    name: service.to_string(),
                    namespace: namespace.to_string(),
                    path: Some(CONVERT_PATH.to_string()),
                    port: Some(WEBHOOK_SERVICE_PORT),
                }),
                url: None,
            }),
            conversion_review_versions: CONVERSION_REVIEW_VERSIONS
                .iter()
                .map(|v| v.to_string())
                .collect(),
        }),
    });
    Ok(crd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_calls_the_webhook_service_on_convert() {
        let crd = crd_with_conversion("svc", "ns").unwrap_or_default();
        let conversion = crd
            .spec
            .conversion
            .unwrap_or_else(|| CustomResourceConversion {
                strategy: String::new(),
                webhook: None,
            });
        assert_eq!(conversion.strategy, "Webhook");
        let service = conversion
            .webhook
            .and_then(|w| w.client_config)
            .and_then(|c| c.service);
        assert_eq!(
            service.map(|s| (s.name, s.namespace, s.path, s.port)),
            Some((
                "svc".to_string(),
                "ns".to_string(),
                Some("/convert".to_string()),
                Some(443)
            ))
        );
        assert_eq!(crd.spec.preserve_unknown_fields, None);
    }
}
