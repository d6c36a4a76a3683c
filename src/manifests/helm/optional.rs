//! Templates that values switch on or off: PodDisruptionBudget, ServiceMonitor, NetworkPolicy,
//! the cert-manager Issuer and Certificate (the OpenTelemetry Collector is in `otel.rs`).

use crate::api::names::{
    LABEL_K8S_COMPONENT, LABEL_K8S_MANAGED_BY, OPERATOR_NAME, PORT_NAME_WEB, Role,
};
use crate::manifests::deployment::{PORT_NAME_HEALTH, PORT_NAME_METRICS, PORT_NAME_WEBHOOK};
use crate::manifests::yaml::RenderError;

use super::CHART;
use super::fill::source;

pub fn pod_disruption_budget() -> Result<String, RenderError> {
    source!("pdb.yaml").fill(&[("CHART", &CHART)])
}

pub fn service_monitor() -> Result<String, RenderError> {
    source!("servicemonitor.yaml")
        .fill(&[("CHART", &CHART), ("PORT_NAME_METRICS", &PORT_NAME_METRICS)])
}

/// The operator's own NetworkPolicy (`networkPolicy.enabled`), and one per namespace of
/// `networkPolicy.locustNamespaces` letting the operator reach the Locust masters there.
pub fn network_policy() -> Result<String, RenderError> {
    source!("networkpolicy.yaml").fill(&[
        ("CHART", &CHART),
        ("LABEL_K8S_MANAGED_BY", &LABEL_K8S_MANAGED_BY),
        ("OPERATOR_NAME", &OPERATOR_NAME),
        ("LABEL_K8S_COMPONENT", &LABEL_K8S_COMPONENT),
        ("MASTER", &Role::Master.as_str()),
        ("PORT_NAME_WEB", &PORT_NAME_WEB),
        ("PORT_NAME_WEBHOOK", &PORT_NAME_WEBHOOK),
        ("PORT_NAME_HEALTH", &PORT_NAME_HEALTH),
        ("PORT_NAME_METRICS", &PORT_NAME_METRICS),
    ])
}

/// cert-manager mode: a self-signed Issuer (unless `issuerRef` names one) and the serving
/// Certificate for the webhook Service, written to the Secret the operator mounts.
pub fn certificate() -> Result<String, RenderError> {
    source!("certificate.yaml").fill(&[("CHART", &CHART)])
}
