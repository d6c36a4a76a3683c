//! The pieces of the operator's pod that every distribution shares: environment, ports,
//! probes, resources, security contexts, volumes, Service ports. The Helm chart splices these
//! into its template; [`super::OperatorDeployment`] assembles them for `config/` and the CSV.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodSecurityContext, Probe, ResourceRequirements, SeccompProfile,
    SecurityContext, ServicePort, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config::{AFFINITY_INJECTION_VAR, EXPORTER_IMAGE_VAR, TOLERATIONS_INJECTION_VAR};
use crate::manifests::release;

use super::*;

pub(super) fn value_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    }
}

pub(super) fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: path.to_string(),
            }),
            ..Default::default()
        }),
    }
}

/// POD_NAME (leader election identity) and POD_NAMESPACE (lease and Secret namespace).
pub fn downward_api_env() -> Vec<EnvVar> {
    vec![
        field_env(ENV_POD_NAME, "metadata.name"),
        field_env(ENV_POD_NAMESPACE, "metadata.namespace"),
    ]
}

/// Settings that do not vary between distributions (leader election is a Helm value).
pub fn fixed_env(leader_elect: bool) -> Vec<EnvVar> {
    vec![
        value_env(
            ENV_LEADER_ELECT,
            if leader_elect { "true" } else { "false" },
        ),
        value_env(ENV_LOG_FORMAT, LOG_FORMAT.as_str()),
        value_env(ENV_HEALTH_PROBE_BIND_ADDRESS, &bind_address(HEALTH_PORT)),
    ]
}

/// The two configurable listeners.
pub fn bind_address_env(metrics_port: u16, webhook_port: u16) -> Vec<EnvVar> {
    vec![
        value_env(ENV_METRICS_BIND_ADDRESS, &bind_address(metrics_port)),
        value_env(ENV_WEBHOOK_BIND_ADDRESS, &bind_address(webhook_port)),
    ]
}

/// The operator configuration `config/` and the CSV set, matching the Helm chart's defaults:
/// affinity and toleration injection on (as in the Go operator's chart), and the exporter image
/// spelled out so that it is the one listed in the CSV's relatedImages.
pub fn distribution_config_env() -> Vec<EnvVar> {
    vec![
        value_env(AFFINITY_INJECTION_VAR, "true"),
        value_env(TOLERATIONS_INJECTION_VAR, "true"),
        value_env(EXPORTER_IMAGE_VAR, release::exporter_image()),
    ]
}

fn port(name: &str, number: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: i32::from(number),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

pub fn container_ports(metrics_port: u16, webhook_port: u16) -> Vec<ContainerPort> {
    vec![
        port(PORT_NAME_HEALTH, HEALTH_PORT),
        port(PORT_NAME_METRICS, metrics_port),
        port(PORT_NAME_WEBHOOK, webhook_port),
    ]
}

fn http_probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(PORT_NAME_HEALTH.to_string()),
            scheme: Some("HTTP".to_string()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(5),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// /healthz: the process serves requests.
pub fn liveness_probe() -> Probe {
    http_probe(HEALTHZ_PATH, 20)
}

/// /readyz: caches synced (or standing by for the lease) and webhook certificates loaded.
pub fn readiness_probe() -> Probe {
    http_probe(READYZ_PATH, 10)
}

fn quantities(entries: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

/// The operator's own resources (the Go operator chart's figures).
pub fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(quantities(&[("cpu", "10m"), ("memory", "64Mi")])),
        limits: Some(quantities(&[("cpu", "500m"), ("memory", "256Mi")])),
        ..Default::default()
    }
}

/// Restricted Pod Security Standard and OpenShift restricted-v2: no fixed UID (the image runs
/// as 65532; OpenShift assigns one from the namespace range).
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            add: None,
            drop: Some(vec!["ALL".to_string()]),
        }),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        ..Default::default()
    }
}

/// Spread the replicas over nodes when possible, without blocking scheduling.
pub fn spread_over_nodes(selector: Option<LabelSelector>) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".to_string(),
        when_unsatisfiable: "ScheduleAnyway".to_string(),
        label_selector: selector,
        ..Default::default()
    }
}

pub fn tmp_volume() -> Volume {
    Volume {
        name: TMP_VOLUME.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: None,
            size_limit: Some(Quantity("64Mi".to_string())),
        }),
        ..Default::default()
    }
}

pub fn tmp_mount() -> VolumeMount {
    VolumeMount {
        name: TMP_VOLUME.to_string(),
        mount_path: TMP_DIR.to_string(),
        ..Default::default()
    }
}

/// The certificate Secret's mount in directory mode (Helm's cert-manager and secret modes).
pub fn cert_mount() -> VolumeMount {
    VolumeMount {
        name: CERT_VOLUME.to_string(),
        mount_path: CERT_DIR.to_string(),
        read_only: Some(true),
        ..Default::default()
    }
}

pub fn webhook_service_port() -> ServicePort {
    ServicePort {
        name: Some(PORT_NAME_WEBHOOK.to_string()),
        port: WEBHOOK_SERVICE_PORT,
        target_port: Some(IntOrString::String(PORT_NAME_WEBHOOK.to_string())),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

pub fn metrics_service_port(port: u16) -> ServicePort {
    ServicePort {
        name: Some(PORT_NAME_METRICS.to_string()),
        port: i32::from(port),
        target_port: Some(IntOrString::String(PORT_NAME_METRICS.to_string())),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}
