//! `locust.io/v2` LocustTest: the storage version and the conversion hub.
//!
//! Field documentation here becomes `kubectl explain` text. Defaults live in the CRD schema
//! (the API server fills them); fields stay `Option` so conversion can tell "unset" from "set".

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements,
    SecurityContext, Toleration, Volume,
};
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::crd::{
    MAX_ARG_LENGTH, MAX_ARGS, MAX_LIST_ITEMS, MAX_PATH_LENGTH, MAX_SECRET_MOUNT_NAME_LENGTH,
    MAX_VOLUME_NAME_LENGTH, TOPOLOGY_FLAGS,
};
pub use super::status::{EndpointFailures, LiveStats, LocustTestStatus, Phase, TestResult};
pub use super::thresholds::{
    BaselineReference, BaselineSpec, EndpointLimits, Limits, ThresholdsSpec,
};

/// CEL on a ResourceRequirements: no request above the limit of the same resource. Values that
/// are not quantities are left to the quantity rule of their map.
const REQUESTS_WITHIN_LIMITS: &str = "!has(self.limits) || !has(self.requests) || self.requests.all(k, !(k in self.limits) || !isQuantity(string(self.requests[k])) || !isQuantity(string(self.limits[k])) || quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)";

/// Most Locust worker processes one worker pod may run (`spec.worker.processes`).
pub const MAX_WORKER_PROCESSES: i32 = 64;

/// CEL on a WorkerSpec: `processes` and a `--processes` flag (bare or `--processes=P`) in the
/// command seed or extraArgs are not set together. The seed is split on whitespace, so the flag
/// counts there only as a whole word.
const PROCESSES_SET_ONCE: &str = "!has(self.processes) || !(self.command.matches('(^|[[:space:]])--processes(=|[[:space:]]|$)') || (has(self.extraArgs) && self.extraArgs.exists(a, a == '--processes' || a.startsWith('--processes='))))";
const PROCESSES_SET_ONCE_MESSAGE: &str = "spec.worker.processes may not be combined with --processes in spec.worker.command or spec.worker.extraArgs: both would set the worker processes per pod; keep spec.worker.processes and remove --processes from the command line";

/// A distributed Locust load test: one master and a number of workers, run to completion.
// Each printcolumn repeats `type_ = ...`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "locust.io",
    version = "v2",
    kind = "LocustTest",
    namespaced,
    shortname = "lotest",
    status = "LocustTestStatus",
    derive = "PartialEq",
    doc = "LocustTest runs a distributed Locust load test: a master Job, a worker Job and a master Service, followed to the end and reported in status.",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Phase of the test"
    ),
    printcolumn(
        name = "Workers",
        type_ = "integer",
        json_path = ".spec.worker.replicas",
        description = "Requested worker pods"
    ),
    printcolumn(
        name = "Connected",
        type_ = "integer",
        json_path = ".status.connectedWorkers",
        description = "Workers connected to the master"
    ),
    printcolumn(
        name = "Users",
        type_ = "integer",
        json_path = ".status.liveStats.users",
        description = "Simulated users now"
    ),
    printcolumn(
        name = "RPS",
        type_ = "number",
        json_path = ".status.liveStats.requestsPerSecond",
        description = "Requests per second now"
    ),
    printcolumn(
        name = "Fail%",
        type_ = "number",
        json_path = ".status.liveStats.failPercent",
        description = "Failed requests so far, percent"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Image",
        type_ = "string",
        json_path = ".spec.image",
        description = "Locust image",
        priority = "1"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestSpec {
    /// Container image that runs Locust on the master and on every worker, for example
    /// `locustio/locust:2.43.3`.
    #[schemars(length(min = 1))]
    pub image: String,

    /// When the kubelet pulls the image: Always, IfNotPresent (default) or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "IfNotPresent"))]
    pub image_pull_policy: Option<PullPolicy>,

    /// Secrets in the test's namespace holding credentials for a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,

    /// The master: runs the test plan, collects statistics and serves the web UI on port 8089.
    pub master: MasterSpec,

    /// The workers: generate the load.
    pub worker: WorkerSpec,

    /// Where the locustfile and optional library code come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_files: Option<TestFilesSpec>,

    /// Where the Locust pods may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingSpec>,

    /// Environment of the Locust containers: variables, ConfigMaps, Secrets and Secret files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvSpec>,

    /// Extra volumes for the Locust pods. A volume is added to a pod only when a volumeMount
    /// targeting that pod's role references it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub volumes: Option<Vec<Volume>>,

    /// Where the extra volumes are mounted, and in which role (master, worker or both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub volume_mounts: Option<Vec<TargetedVolumeMount>>,

    /// Security contexts of the Locust pods. When set, they replace the operator's defaults
    /// entirely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySpec>,

    /// Telemetry export from Locust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<ObservabilitySpec>,

    /// Pass/fail criteria checked against the master's figures: failure ratio, response times,
    /// requests per second, requests; for all requests or per endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<ThresholdsSpec>,
}

/// Image pull policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The Locust master.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.autostart) && !self.autostart && has(self.autoquit) && has(self.autoquit.enabled) && self.autoquit.enabled)")
    .message("spec.master.autoquit needs spec.master.autostart: Locust refuses --autoquit without --autostart; set autoquit.enabled to false or autostart to true"))]
#[x_kube(validation = Rule::new(BASE_PATH_SET_ONCE).message(BASE_PATH_SET_ONCE_MESSAGE))]
pub struct MasterSpec {
    /// Command seed of the master, split on whitespace (no shell quoting), for example
    /// `--locustfile /lotest/src/locustfile.py --host https://example.com --users 100
    /// --spawn-rate 10 --run-time 5m`. The operator appends the flags that connect the master
    /// to its workers.
    #[schemars(length(min = 1))]
    pub command: String,

    /// CPU, memory and ephemeral-storage of the master container. When any value is set this
    /// block replaces the operator's defaults completely; leave a limit out to run without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(REQUESTS_WITHIN_LIMITS).message("spec.master.resources: a request may not exceed its limit"))]
    pub resources: Option<ResourceRequirements>,

    /// Extra labels for the master pod. They never override the labels the operator selects on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Extra annotations for the master pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Start the test as soon as the expected workers are connected (`--autostart`).
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub autostart: Option<bool>,

    /// Quit the master a number of seconds after the test ends (`--autoquit`), so the Job
    /// completes. Requires autostart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoquit: Option<AutoquitSpec>,

    /// Extra Locust arguments appended to the master's command line. Flags that would break
    /// the master/worker topology are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "Option<Vec<MasterArg>>",
        length(max = MAX_ARGS),
        inner(length(max = MAX_ARG_LENGTH))
    )]
    pub extra_args: Option<Vec<String>>,

    /// The master's web UI.
    #[serde(rename = "webUI", default, skip_serializing_if = "Option::is_none")]
    pub web_ui: Option<WebUiSpec>,
}

/// CEL on a MasterSpec: `webUI.basePath` and a `--web-base-path` flag (bare or with `=`) in the
/// command or `extraArgs` would both set the path.
const BASE_PATH_SET_ONCE: &str = "!has(self.webUI) || !has(self.webUI.basePath) || !(self.command.matches('(^|[[:space:]])--web-base-path(=|[[:space:]]|$)') || (has(self.extraArgs) && self.extraArgs.exists(a, a == '--web-base-path' || a.startsWith('--web-base-path='))))";
const BASE_PATH_SET_ONCE_MESSAGE: &str = "spec.master.webUI.basePath may not be combined with --web-base-path in spec.master.command or spec.master.extraArgs: both would set the web UI's path; keep spec.master.webUI.basePath and remove --web-base-path from the command line";

/// The master's web UI.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiSpec {
    /// Path prefix the web UI is served under (Locust's `--web-base-path`), for example
    /// `/locust` when an Ingress forwards that path to the master. Starts with `/`, no trailing
    /// `/`. The operator passes it to the master, and its live-stats reader, the exporter
    /// sidecar and the `ui` command follow it. May not be combined with --web-base-path in
    /// master.command or master.extraArgs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(/[A-Za-z0-9._~-]+)+$"), length(max = 256))]
    pub base_path: Option<String>,

    /// An Ingress (networking.k8s.io/v1) the operator creates for the web UI: named like the
    /// master Service, owned by the test and deleted with it, routing the base path (or `/`) as
    /// a prefix to the master Service's web-ui port. Created once with the test's other
    /// children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<WebUiIngress>,

    /// A Gateway API HTTPRoute (gateway.networking.k8s.io/v1) the operator creates for the web
    /// UI, attached to the given Gateways: named like the master Service, owned by the test and
    /// deleted with it, matching the base path (or `/`) as a prefix and forwarding to the master
    /// Service's web-ui port. Needs the Gateway API CRDs in the cluster; without them the
    /// WebUIExposed condition says so and the test runs anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<WebUiHttpRoute>,
}

/// DNS host name, optionally with a leading `*.` wildcard label (as Ingress and HTTPRoute take).
const HOSTNAME_PATTERN: &str =
    r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// DNS subdomain name (most object names).
const SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// DNS label (namespace names).
const LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// The Ingress for the web UI.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiIngress {
    /// Host the Ingress rule matches, for example `locust.example.com` (a leading `*.` is
    /// allowed).
    #[schemars(regex(pattern = HOSTNAME_PATTERN), length(min = 1, max = 253))]
    pub host: String,

    /// IngressClass to use (`spec.ingressClassName`); the cluster's default class when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SUBDOMAIN_PATTERN), length(max = 253))]
    pub class_name: Option<String>,

    /// Secret in the test's namespace holding the TLS certificate for the host; the Ingress
    /// then serves HTTPS for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SUBDOMAIN_PATTERN), length(max = 253))]
    pub tls_secret_name: Option<String>,

    /// Annotations of the Ingress, for the controller that serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The HTTPRoute for the web UI.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiHttpRoute {
    /// The Gateways (or their listeners) the route attaches to.
    #[schemars(length(min = 1, max = 8))]
    pub parent_refs: Vec<GatewayRef>,

    /// Host names the route matches; every host the Gateway's listener accepts when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 16),
        inner(regex(pattern = HOSTNAME_PATTERN), length(min = 1, max = 253))
    )]
    pub hostnames: Option<Vec<String>>,
}

/// A Gateway the HTTPRoute attaches to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRef {
    /// Name of the Gateway.
    #[schemars(regex(pattern = SUBDOMAIN_PATTERN), length(min = 1, max = 253))]
    pub name: String,

    /// Namespace of the Gateway; the test's namespace when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = LABEL_PATTERN), length(min = 1, max = 63))]
    pub namespace: Option<String>,

    /// Listener of the Gateway to attach to (its `sectionName`); every listener that allows the
    /// route when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SUBDOMAIN_PATTERN), length(min = 1, max = 253))]
    pub section_name: Option<String>,
}

/// When the master quits after the test.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoquitSpec {
    /// Quit automatically after the test ends. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,

    /// Seconds to wait after the test ends before quitting. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 60), range(min = 0))]
    pub timeout: Option<i32>,
}

/// The Locust workers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(PROCESSES_SET_ONCE).message(PROCESSES_SET_ONCE_MESSAGE))]
pub struct WorkerSpec {
    /// Command seed of each worker, split on whitespace, usually the same locustfile as the
    /// master: `--locustfile /lotest/src/locustfile.py`. The operator appends the flags that
    /// connect the worker to the master.
    #[schemars(length(min = 1))]
    pub command: String,

    /// Number of worker pods, 1 to 500.
    #[schemars(range(min = 1, max = 500))]
    pub replicas: i32,

    /// Locust worker processes in each worker pod, 1 to 64 (Locust's `--processes`, which the
    /// operator appends to each worker's command line). Each process is a full Locust worker
    /// that connects to the master on its own, so the master waits for replicas times processes
    /// workers. Each process can use about one CPU core, and the worker resources are per pod
    /// and do not grow with this field: size worker.resources for all the processes. Unset: one
    /// process per pod. May not be combined with --processes in worker.command or
    /// worker.extraArgs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_WORKER_PROCESSES))]
    pub processes: Option<i32>,

    /// CPU, memory and ephemeral-storage of each worker container. When any value is set this
    /// block replaces the operator's defaults completely; leave a limit out to run without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(REQUESTS_WITHIN_LIMITS).message("spec.worker.resources: a request may not exceed its limit"))]
    pub resources: Option<ResourceRequirements>,

    /// Extra labels for the worker pods. They never override the labels the operator selects on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Extra annotations for the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Extra Locust arguments appended to each worker's command line. Flags that would break
    /// the master/worker topology are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "Option<Vec<WorkerArg>>",
        length(max = MAX_ARGS),
        inner(length(max = MAX_ARG_LENGTH))
    )]
    pub extra_args: Option<Vec<String>>,
}

/// Schema of one `spec.master.extraArgs` entry: a string that is neither a topology flag nor
/// `--processes`.
struct MasterArg;

impl JsonSchema for MasterArg {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "MasterArg".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "x-kubernetes-validations": [
                no_topology_flag("master"),
                {
                    "rule": "!(self == '--processes' || self.startsWith('--processes='))",
                    "message": "spec.master.extraArgs may not contain --processes: Locust refuses it on the master; set spec.worker.processes instead",
                },
            ],
        })
    }
}

/// Schema of one `spec.worker.extraArgs` entry: a string that is not a topology flag.
struct WorkerArg;

impl JsonSchema for WorkerArg {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "WorkerArg".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "x-kubernetes-validations": [no_topology_flag("worker")],
        })
    }
}

/// The CEL rule, with its message, that keeps [`TOPOLOGY_FLAGS`] (bare or `flag=value`) out of
/// `spec.<role>.extraArgs`.
fn no_topology_flag(role: &str) -> serde_json::Value {
    let quoted = TOPOLOGY_FLAGS
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    serde_json::json!({
        "rule": format!("![{quoted}].exists(f, self == f || self.startsWith(f + '='))"),
        "message": format!(
            "spec.{role}.extraArgs may not contain {}: the operator sets them to connect the master and its workers",
            TOPOLOGY_FLAGS.join(", ")
        ),
    })
}

/// Test code mounted into the Locust containers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestFilesSpec {
    /// ConfigMap holding the locustfile(s), mounted at srcMountPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<String>,

    /// ConfigMap holding library modules, mounted at libMountPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lib_config_map_ref: Option<String>,

    /// Mount path of the test files. Default /lotest/src.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "/lotest/src"), length(min = 1, max = MAX_PATH_LENGTH))]
    pub src_mount_path: Option<String>,

    /// Mount path of the library files. Default /opt/locust/lib.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "/opt/locust/lib"), length(min = 1, max = MAX_PATH_LENGTH))]
    pub lib_mount_path: Option<String>,
}

/// Placement of the Locust pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingSpec {
    /// Affinity rules for the Locust pods. Requires the operator setting
    /// ENABLE_AFFINITY_CR_INJECTION; without it the test fails with a condition naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Tolerations for the Locust pods. Requires the operator setting
    /// ENABLE_TAINT_TOLERATIONS_CR_INJECTION; without it the test fails with a condition naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub tolerations: Option<Vec<Toleration>>,

    /// Node labels the Locust pods must run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// RuntimeClass of the Locust pods (for example gVisor). Unset: the operator default
    /// (DEFAULT_RUNTIME_CLASS_NAME) applies; empty string: no runtime class at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(pattern = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub runtime_class_name: Option<String>,
}

/// Environment of the Locust containers (master and workers).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvSpec {
    /// ConfigMaps whose keys become environment variables, each name optionally prefixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub config_map_refs: Option<Vec<PrefixedSource>>,

    /// Secrets whose keys become environment variables, each name optionally prefixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub secret_refs: Option<Vec<PrefixedSource>>,

    /// Environment variables, literal or from a ConfigMap, Secret or field (valueFrom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    pub variables: Option<Vec<EnvVar>>,

    /// Secrets mounted as files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LIST_ITEMS))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, b.name == a.name))").message("spec.env.secretMounts: each Secret may be mounted only once"))]
    pub secret_mounts: Option<Vec<SecretMount>>,
}

/// A ConfigMap or Secret imported as environment variables.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrefixedSource {
    /// Name of the ConfigMap or Secret in the test's namespace.
    pub name: String,
    /// Prefix put in front of every variable name taken from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// A Secret mounted as files into the Locust containers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMount {
    /// Name of the Secret in the test's namespace.
    #[schemars(length(max = MAX_SECRET_MOUNT_NAME_LENGTH))]
    pub name: String,
    /// Directory the Secret's keys appear in, one file per key.
    #[schemars(length(min = 1, max = MAX_PATH_LENGTH))]
    pub mount_path: String,
    /// Mount read-only. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub read_only: Option<bool>,
}

/// Which Locust pods a volume mount applies to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountTarget {
    Master,
    Worker,
    Both,
}

/// A volume mount with the Locust role it applies to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetedVolumeMount {
    /// Name of a volume in spec.volumes.
    #[schemars(length(max = MAX_VOLUME_NAME_LENGTH))]
    pub name: String,
    /// Path inside the container. It may not equal, contain or sit inside the test file or
    /// library mount paths.
    #[schemars(length(min = 1, max = MAX_PATH_LENGTH))]
    pub mount_path: String,
    /// Path within the volume to mount instead of its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    /// Like subPath, with $(VAR) references expanded from the container environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path_expr: Option<String>,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// How mounts propagate between host and container (None, HostToContainer, Bidirectional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,
    /// Which pods get the mount: master, worker or both (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "both"))]
    pub target: Option<MountTarget>,
}

/// Security contexts of the Locust pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySpec {
    /// Pod security context. Replaces the operator default (seccomp RuntimeDefault) entirely.
    /// To pass the "restricted" Pod Security Standard with the official image, set
    /// `runAsNonRoot: true`, `runAsUser: 1000` and `seccompProfile: {type: RuntimeDefault}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,

    /// Security context of the Locust container. Replaces the operator default (no privilege
    /// escalation, all capabilities dropped) entirely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,
}

/// Telemetry settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilitySpec {
    /// Export traces and metrics with OpenTelemetry (`--otel`). When enabled, the Prometheus
    /// exporter sidecar is not added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_telemetry: Option<OpenTelemetrySpec>,
}

/// OpenTelemetry export from Locust.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.enabled || (has(self.endpoint) && self.endpoint.size() > 0)")
    .message("spec.observability.openTelemetry.endpoint is required when openTelemetry is enabled"))]
pub struct OpenTelemetrySpec {
    /// Turn OpenTelemetry on. Default false.
    #[serde(default)]
    pub enabled: bool,

    /// OTLP collector endpoint, for example `http://otel-collector.monitoring:4317`.
    /// Required when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,

    /// OTLP protocol: grpc (default) or http/protobuf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "grpc"))]
    pub protocol: Option<OtlpProtocol>,

    /// Connect to the collector without TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,

    /// More OTEL_* variables, added in key order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_env_vars: Option<BTreeMap<String, String>>,
}

/// OTLP transport.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OtlpProtocol {
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

impl OtlpProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}
