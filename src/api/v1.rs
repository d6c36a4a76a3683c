//! `locust.io/v1` LocustTest: deprecated, still served and converted to v2.
//!
//! The shape of the Go operator's v1 (and the Java operator's CRD before it), so manifests
//! written for them are accepted unchanged.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::crd::MAX_V2_SPEC_LENGTH;
pub use super::v2::LocustTestStatus;
use super::v2::PullPolicy;

/// Deprecated: use locust.io/v2. A distributed Locust load test.
// Each printcolumn repeats `type_ = ...`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "locust.io",
    version = "v1",
    kind = "LocustTest",
    namespaced,
    shortname = "lotest",
    status = "LocustTestStatus",
    derive = "PartialEq",
    storage = false,
    deprecated = "locust.io/v1 LocustTest is deprecated; move to locust.io/v2 (kubectl get lotest NAME -o yaml shows it as v2)",
    doc = "Deprecated: use locust.io/v2. LocustTest runs a distributed Locust load test.",
    printcolumn(
        name = "master_cmd",
        type_ = "string",
        json_path = ".spec.masterCommandSeed",
        description = "Master command seed"
    ),
    printcolumn(
        name = "worker_replica_count",
        type_ = "integer",
        json_path = ".spec.workerReplicas",
        description = "Worker pods"
    ),
    printcolumn(
        name = "Image",
        type_ = "string",
        json_path = ".spec.image",
        description = "Locust image"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestSpec {
    /// Command seed of the master, split on whitespace. In v2: master.command.
    pub master_command_seed: String,

    /// Command seed of each worker, split on whitespace. In v2: worker.command.
    pub worker_command_seed: String,

    /// Number of worker pods, 1 to 500. Default 1. In v2: worker.replicas.
    #[serde(default = "default_worker_replicas")]
    #[schemars(range(min = 1, max = 500))]
    pub worker_replicas: i32,

    /// Locust container image.
    pub image: String,

    /// Image pull policy: Always, IfNotPresent (default) or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "IfNotPresent"))]
    pub image_pull_policy: Option<PullPolicy>,

    /// Names of Secrets holding registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<String>>,

    /// ConfigMap holding the locustfile. In v2: testFiles.configMapRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,

    /// ConfigMap holding library code. In v2: testFiles.libConfigMapRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lib_config_map: Option<String>,

    /// Extra pod labels per role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<RoleMaps>,

    /// Extra pod annotations per role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<RoleMaps>,

    /// Node affinity of the Locust pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<LegacyAffinity>,

    /// Tolerations of the Locust pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<LegacyToleration>>,

    /// Written by the operator, never by hand: when a test that uses locust.io/v2 fields is
    /// read as v1, its whole v2 spec as JSON, so that a v1 client writing the test back loses
    /// nothing. Keep it exactly as read; a v1 write that changes or drops it is refused (the
    /// spec is immutable). To see or change those fields, use locust.io/v2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_V2_SPEC_LENGTH))]
    pub v2_spec: Option<String>,
}

fn default_worker_replicas() -> i32 {
    1
}

/// A map per Locust role.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct RoleMaps {
    /// Entries for the master pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<BTreeMap<String, String>>,
    /// Entries for the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<BTreeMap<String, String>>,
}

/// Node affinity in the v1 shape.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyAffinity {
    /// Node affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<LegacyNodeAffinity>,
}

/// Required node labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyNodeAffinity {
    /// Node label key to required value; each entry becomes an `In` requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<BTreeMap<String, String>>,
}

/// A toleration in the v1 shape.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct LegacyToleration {
    /// Taint key.
    pub key: String,
    /// Exists or Equal.
    pub operator: TolerationOperator,
    /// Taint value (with Equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// NoSchedule, PreferNoSchedule or NoExecute.
    pub effect: TaintEffect,
}

/// Toleration operator.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TolerationOperator {
    Exists,
    Equal,
}

impl TolerationOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            TolerationOperator::Exists => "Exists",
            TolerationOperator::Equal => "Equal",
        }
    }
}

/// Taint effect.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}
