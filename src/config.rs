//! Operator configuration: how Locust pods are built, read once from the environment at start-up.
//!
//! The variable names are the Go operator's, so existing Helm values and manifests map over.
//! A bad value stops start-up with an error naming the variable.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

use crate::api::names::{DEFAULT_EXPORTER_PORT, Role};
use crate::api::v2::PullPolicy;

/// One operator-level resource value.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantitySetting {
    /// Not configured at this level: the next level decides (role -> unified -> built-in).
    Inherit,
    /// This quantity.
    Set(Quantity),
    /// Explicitly no value (the variable was set to `none`): for example no CPU limit, since CPU
    /// limits throttle load generators.
    Off,
}

/// The six resource values of a container.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSettings {
    pub cpu_request: QuantitySetting,
    pub memory_request: QuantitySetting,
    pub ephemeral_request: QuantitySetting,
    pub cpu_limit: QuantitySetting,
    pub memory_limit: QuantitySetting,
    pub ephemeral_limit: QuantitySetting,
}

impl ResourceSettings {
    /// Every value inherited.
    pub fn inherit() -> Self {
        Self {
            cpu_request: QuantitySetting::Inherit,
            memory_request: QuantitySetting::Inherit,
            ephemeral_request: QuantitySetting::Inherit,
            cpu_limit: QuantitySetting::Inherit,
            memory_limit: QuantitySetting::Inherit,
            ephemeral_limit: QuantitySetting::Inherit,
        }
    }

    /// Fixed values, as `(cpu, memory, ephemeral)` requests and limits.
    pub fn fixed(requests: [&str; 3], limits: [&str; 3]) -> Self {
        let q = |s: &str| QuantitySetting::Set(Quantity(s.to_string()));
        Self {
            cpu_request: q(requests[0]),
            memory_request: q(requests[1]),
            ephemeral_request: q(requests[2]),
            cpu_limit: q(limits[0]),
            memory_limit: q(limits[1]),
            ephemeral_limit: q(limits[2]),
        }
    }
}

/// The Prometheus exporter sidecar of the master pod.
#[derive(Clone, Debug, PartialEq)]
pub struct ExporterConfig {
    pub image: String,
    pub port: i32,
    pub pull_policy: PullPolicy,
    pub resources: ResourceSettings,
}

/// Operator configuration for building Locust pods.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `POD_*`: applies to both roles unless a role-specific value is set.
    pub pod_resources: ResourceSettings,
    /// `MASTER_POD_*`.
    pub master_resources: ResourceSettings,
    /// `WORKER_POD_*`.
    pub worker_resources: ResourceSettings,
    /// `METRICS_EXPORTER_*`.
    pub exporter: ExporterConfig,
    /// `JOB_TTL_SECONDS_AFTER_FINISHED`: delete finished Jobs after this many seconds.
    pub job_ttl_seconds_after_finished: Option<i32>,
    /// `ENABLE_AFFINITY_CR_INJECTION`: allow `spec.scheduling.affinity`.
    pub affinity_injection: bool,
    /// `ENABLE_TAINT_TOLERATIONS_CR_INJECTION`: allow `spec.scheduling.tolerations`.
    pub tolerations_injection: bool,
    /// `DEFAULT_RUNTIME_CLASS_NAME`: runtime class for tests that do not set one.
    pub default_runtime_class_name: Option<String>,
}

/// Built-in Locust pod resources (the Go operator's defaults).
pub const DEFAULT_POD_REQUESTS: [&str; 3] = ["250m", "128Mi", "30M"];
pub const DEFAULT_POD_LIMITS: [&str; 3] = ["1000m", "1024Mi", "50M"];
/// Built-in exporter resources (the Go operator chart's values).
pub const DEFAULT_EXPORTER_REQUESTS: [&str; 3] = ["100m", "64Mi", "30M"];
pub const DEFAULT_EXPORTER_LIMITS: [&str; 3] = ["250m", "128Mi", "50M"];
pub const DEFAULT_EXPORTER_IMAGE: &str = "containersol/locust_exporter:v0.5.0";

impl Default for Config {
    fn default() -> Self {
        Self {
            pod_resources: ResourceSettings::fixed(DEFAULT_POD_REQUESTS, DEFAULT_POD_LIMITS),
            master_resources: ResourceSettings::inherit(),
            worker_resources: ResourceSettings::inherit(),
            exporter: ExporterConfig {
                image: DEFAULT_EXPORTER_IMAGE.to_string(),
                port: DEFAULT_EXPORTER_PORT,
                pull_policy: PullPolicy::IfNotPresent,
                resources: ResourceSettings::fixed(
                    DEFAULT_EXPORTER_REQUESTS,
                    DEFAULT_EXPORTER_LIMITS,
                ),
            },
            job_ttl_seconds_after_finished: None,
            affinity_injection: false,
            tolerations_injection: false,
            default_runtime_class_name: None,
        }
    }
}

impl Config {
    /// Resources of the Locust container of `role` when the test does not set its own:
    /// per value, the role-specific setting, else the unified one; `Off` leaves the value out.
    pub fn locust_resources(&self, role: Role) -> ResourceRequirements {
        let specific = match role {
            Role::Master => &self.master_resources,
            Role::Worker => &self.worker_resources,
        };
        resolve(&[specific, &self.pod_resources])
    }

    /// Resources of the exporter sidecar.
    pub fn exporter_resources(&self) -> ResourceRequirements {
        resolve(&[&self.exporter.resources])
    }
}

fn resolve(levels: &[&ResourceSettings]) -> ResourceRequirements {
    let pick = |get: fn(&ResourceSettings) -> &QuantitySetting| {
        levels
            .iter()
            .map(|l| get(l))
            .find(|s| **s != QuantitySetting::Inherit)
            .and_then(|s| match s {
                QuantitySetting::Set(q) => Some(q.clone()),
                _ => None,
            })
    };
    let map = |entries: [(&str, Option<Quantity>); 3]| {
        let m: BTreeMap<String, Quantity> = entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
        (!m.is_empty()).then_some(m)
    };
    ResourceRequirements {
        requests: map([
            ("cpu", pick(|s| &s.cpu_request)),
            ("memory", pick(|s| &s.memory_request)),
            ("ephemeral-storage", pick(|s| &s.ephemeral_request)),
        ]),
        limits: map([
            ("cpu", pick(|s| &s.cpu_limit)),
            ("memory", pick(|s| &s.memory_limit)),
            ("ephemeral-storage", pick(|s| &s.ephemeral_limit)),
        ]),
        ..Default::default()
    }
}
