//! The `locustPods` values: the Go operator chart's keys for how Locust pods are built, each
//! mapped to an operator environment variable (see `helpers::locust_pods_env`), and the Java
//! operator chart's `config` block, the fallback where a `locustPods` value is empty.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{
    DEFAULT_EXPORTER_IMAGE, DEFAULT_EXPORTER_LIMITS, DEFAULT_EXPORTER_REQUESTS, DEFAULT_POD_LIMITS,
    DEFAULT_POD_REQUESTS,
};

use super::Object;
use crate::api::v2::PullPolicy;

/// A quantity (`500m`, `1Gi`, `2`), `none` (switch the value off) or empty (not set here).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(transparent)]
pub struct QuantitySchema(Value);

impl JsonSchema for QuantitySchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A Kubernetes quantity such as 500m, 2, 512Mi or 1Gi; \"none\" switches the value off; empty leaves it to the next level",
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^$|^(?i:none)$|^(\+)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
                },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
    fn inline_schema() -> bool {
        true
    }
}

fn ttl_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Seconds, \"none\" or empty",
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": r"^$|^[0-9]+$|^(?i:none)$" },
            { "type": "null" }
        ]
    })
}

fn empty() -> Value {
    Value::String(String::new())
}

/// CPU, memory and ephemeral storage.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ResourceTriple {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<QuantitySchema>")]
    pub cpu: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<QuantitySchema>")]
    pub memory: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<QuantitySchema>")]
    pub ephemeral_storage: Option<Value>,
}

impl ResourceTriple {
    fn of(values: [&str; 3]) -> Self {
        let q = |s: &str| Some(Value::String(s.to_string()));
        Self {
            cpu: q(values[0]),
            memory: q(values[1]),
            ephemeral_storage: q(values[2]),
        }
    }
}

/// Requests and limits of a Locust or exporter container.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LocustResources {
    /// Requests: cpu, memory, ephemeralStorage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceTriple>,
    /// Limits: cpu, memory, ephemeralStorage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceTriple>,
}

impl LocustResources {
    fn of(requests: [&str; 3], limits: [&str; 3]) -> Self {
        Self {
            requests: Some(ResourceTriple::of(requests)),
            limits: Some(ResourceTriple::of(limits)),
        }
    }
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LocustPods {
    /// Requests and limits of the Locust containers of both roles when a test sets none
    /// (POD_*). `none` leaves a value out, for example `limits.cpu: none` (CPU limits throttle
    /// load generators).
    pub resources: LocustResources,
    /// Master only (MASTER_POD_*); empty values fall back to `resources`.
    pub master_resources: LocustResources,
    /// Workers only (WORKER_POD_*); empty values fall back to `resources`.
    pub worker_resources: LocustResources,
    /// Let tests set `spec.scheduling.affinity` (ENABLE_AFFINITY_CR_INJECTION).
    pub affinity_injection: bool,
    /// Let tests set `spec.scheduling.tolerations` (ENABLE_TAINT_TOLERATIONS_CR_INJECTION).
    pub tolerations_injection: bool,
    /// RuntimeClass of Locust pods whose test sets none (DEFAULT_RUNTIME_CLASS_NAME).
    #[schemars(regex(
        pattern = r"^$|^(?i:none)$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub runtime_class_name: String,
    /// Delete finished Jobs after this many seconds (JOB_TTL_SECONDS_AFTER_FINISHED; empty:
    /// keep them).
    #[schemars(schema_with = "ttl_schema")]
    pub ttl_seconds_after_finished: Value,
    /// The Prometheus exporter sidecar of master pods (tests without OpenTelemetry).
    pub metrics_exporter: MetricsExporter,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MetricsExporter {
    /// METRICS_EXPORTER_IMAGE.
    pub image: String,
    /// METRICS_EXPORTER_PORT.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// METRICS_EXPORTER_IMAGE_PULL_POLICY.
    pub pull_policy: PullPolicy,
    /// METRICS_EXPORTER_{CPU,MEM,EPHEMERAL}_{REQUEST,LIMIT}.
    pub resources: LocustResources,
}

/// The Java operator chart's `config` block.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacyConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_generation_jobs: Option<LegacyJobs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_generation_pods: Option<LegacyPods>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacyJobs {
    #[schemars(schema_with = "ttl_schema")]
    pub ttl_seconds_after_finished: Value,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacyPods {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<LegacyResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<LegacySwitch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taint_tolerations: Option<LegacySwitch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_exporter: Option<LegacyExporter>,
    /// Ignored, as `kafka`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub kafka: Option<Object>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacyResource {
    #[schemars(with = "Option<QuantitySchema>")]
    pub cpu_request: Option<Value>,
    #[schemars(with = "Option<QuantitySchema>")]
    pub mem_request: Option<Value>,
    #[schemars(with = "Option<QuantitySchema>")]
    pub ephemeral_request: Option<Value>,
    #[schemars(with = "Option<QuantitySchema>")]
    pub cpu_limit: Option<Value>,
    #[schemars(with = "Option<QuantitySchema>")]
    pub mem_limit: Option<Value>,
    #[schemars(with = "Option<QuantitySchema>")]
    pub ephemeral_limit: Option<Value>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacySwitch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_cr_injection: Option<bool>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LegacyExporter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<LegacyResource>,
}

impl Default for LocustPods {
    fn default() -> Self {
        Self {
            resources: LocustResources::of(DEFAULT_POD_REQUESTS, DEFAULT_POD_LIMITS),
            master_resources: LocustResources::default(),
            worker_resources: LocustResources::default(),
            affinity_injection: true,
            tolerations_injection: true,
            runtime_class_name: String::new(),
            ttl_seconds_after_finished: empty(),
            metrics_exporter: MetricsExporter::default(),
        }
    }
}

impl Default for MetricsExporter {
    fn default() -> Self {
        Self {
            image: DEFAULT_EXPORTER_IMAGE.to_string(),
            port: crate::api::names::DEFAULT_EXPORTER_PORT.unsigned_abs() as u16,
            pull_policy: PullPolicy::IfNotPresent,
            resources: LocustResources::of(DEFAULT_EXPORTER_REQUESTS, DEFAULT_EXPORTER_LIMITS),
        }
    }
}
