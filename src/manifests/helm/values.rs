//! The chart's values, as a Rust type: `values.yaml` is its default rendered with the doc
//! comments as YAML comments, and `values.schema.json` is its JSON schema, so a typo or a wrong
//! type fails `helm install` and `helm lint` with a message naming the key.
//!
//! The keys are a superset of the Go operator's chart (2.3.0): its `locustPods.*` values map to
//! the same environment variables, and its other keys are still accepted so that an existing
//! values file installs unchanged.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifests::deployment::{self, METRICS_PORT, WEBHOOK_PORT};
use crate::manifests::release;

use super::Object;
use super::locust_pods::QuantitySchema;
pub use super::locust_pods::{LegacyConfig, LocustPods};
use crate::api::v2::PullPolicy;
use crate::contract::LogFormat;

/// Free-form Kubernetes object (validated by the API server, not by the chart).
fn object_of<T: Serialize>(value: &T) -> Object {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Object::new(),
    }
}

/// Values of the locust-k8s-operator chart.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Values {
    /// The operator image.
    pub image: Image,
    /// Operator replicas. Every replica serves the conversion webhook; with leader election on,
    /// one replica at a time reconciles.
    #[schemars(range(min = 1))]
    pub replica_count: u32,
    /// Replaces the chart name in object names.
    pub name_override: String,
    /// Replaces the whole name prefix of every object (default: the release name, followed by the
    /// chart name unless the release name contains it).
    pub fullname_override: String,
    /// Leader election: one replica reconciles, the others stand by.
    pub leader_election: LeaderElection,
    /// Log format of the operator: `json` (one object per line) or `text`.
    pub log_format: LogFormat,
    /// Requests and limits of the operator container.
    pub resources: ContainerResources,
    /// Pod security context of the operator. The default passes the `restricted` Pod Security
    /// Standard and OpenShift's restricted-v2 SCC (no fixed UID: the image runs as 65532 and
    /// OpenShift assigns one).
    #[schemars(with = "Object")]
    pub pod_security_context: Object,
    /// Security context of the operator container (the root filesystem stays read-only; an
    /// emptyDir is mounted at /tmp).
    #[schemars(with = "Object")]
    pub container_security_context: Object,
    /// Extra environment variables of the operator container, appended last (EnvVar objects).
    pub extra_env: Vec<EnvVarValue>,
    /// Seconds a stopping operator has to hand over its lease.
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: u32,
    /// Annotations of the operator pods.
    pub pod_annotations: BTreeMap<String, String>,
    /// Extra labels of the operator pods.
    pub pod_labels: BTreeMap<String, String>,
    /// Node selector of the operator pods.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the operator pods.
    pub tolerations: Vec<Object>,
    /// Affinity of the operator pods.
    #[schemars(with = "Object")]
    pub affinity: Object,
    /// Topology spread constraints of the operator pods. An entry without `labelSelector` gets
    /// the operator's pod labels. The default spreads replicas over nodes when it can.
    pub topology_spread_constraints: Vec<Object>,
    /// PriorityClass of the operator pods.
    pub priority_class_name: String,
    /// RuntimeClass of the operator pods (empty: the cluster default).
    #[schemars(regex(
        pattern = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub runtime_class_name: String,
    /// The operator's ServiceAccount.
    pub service_account: ServiceAccount,
    /// Permissions (the Go operator chart's key): a ClusterRole watching every namespace, or a
    /// Role in the release namespace, which the operator then watches alone.
    pub k8s: K8s,
    /// PodDisruptionBudget of the operator pods.
    pub pod_disruption_budget: PodDisruptionBudget,
    /// The metrics endpoint (Prometheus text format at /metrics).
    pub metrics: Metrics,
    /// The conversion webhook (v1 <-> v2). It always runs: the API server calls it whenever a
    /// client reads or writes `locust.io/v1`.
    pub webhook: Webhook,
    /// A NetworkPolicy admitting only the webhook, metrics and health ports of the operator pods.
    pub network_policy: NetworkPolicy,
    /// How the operator reads each Locust master's web API for live stats, the result, the
    /// threshold verdict and the report.
    pub live_stats: LiveStats,
    /// How the operator builds Locust pods: the Go operator chart's keys, mapped to the same
    /// environment variables (docs/configuration.md).
    pub locust_pods: LocustPods,
    /// An OpenTelemetry Collector that tests can send traces and metrics to
    /// (`spec.observability.openTelemetry.endpoint: http://<fullname>-otel-collector.<namespace>:4317`).
    pub otel_collector: OtelCollector,
    /// The same collector in the layout of the project's original design
    /// (`openTelemetry.collector.{deploy, externalEndpoint, image, resources, exporters}`). Each
    /// key set here wins over its `otelCollector` counterpart (`deploy` over `enabled`); keys
    /// left out come from `otelCollector`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_telemetry: Option<OpenTelemetryValues>,
    /// Deprecated (Go operator chart): Kafka settings are no longer injected into Locust pods.
    /// Accepted and ignored; set them per test in `spec.env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub kafka: Option<Object>,
    /// Deprecated (Java operator chart): `config.loadGenerationJobs` and
    /// `config.loadGenerationPods`, used where the matching `locustPods` value is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<LegacyConfig>,
    /// Values shared with parent charts.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub global: Option<Object>,
}

/// The operator image.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Image {
    /// Registry and repository.
    #[schemars(length(min = 1))]
    pub repository: String,
    /// Tag (empty: the chart's appVersion).
    pub tag: String,
    /// Digest such as `sha256:...`; when set it pins the image and the tag is ignored.
    #[schemars(regex(pattern = r"^$|^sha256:[a-f0-9]{64}$"))]
    pub digest: String,
    /// Pull policy.
    pub pull_policy: PullPolicy,
    /// Image pull secrets: names, or `{name: ...}` objects.
    pub pull_secrets: Vec<PullSecret>,
}

/// An image pull secret: a name or a LocalObjectReference.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum PullSecret {
    Name(String),
    Reference { name: String },
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LeaderElection {
    /// Run leader election (needed with more than one replica).
    pub enabled: bool,
}

/// Requests and limits of a container (cpu, memory, ephemeral-storage, ...).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ContainerResources {
    /// Requests by resource name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, QuantitySchema>")]
    pub requests: BTreeMap<String, Value>,
    /// Limits by resource name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, QuantitySchema>")]
    pub limits: BTreeMap<String, Value>,
}

impl ContainerResources {
    fn from_requirements(r: &k8s_openapi::api::core::v1::ResourceRequirements) -> Self {
        let map = |m: &Option<
            BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
        >| {
            m.iter()
                .flatten()
                .map(|(k, q)| (k.clone(), Value::String(q.0.clone())))
                .collect()
        };
        Self {
            requests: map(&r.requests),
            limits: map(&r.limits),
        }
    }
}

/// An EnvVar: a name with a value or a valueFrom.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVarValue {
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub value_from: Option<Object>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServiceAccount {
    /// Create the ServiceAccount (otherwise `name` must exist).
    pub create: bool,
    /// Its name (empty: the full name of the release).
    pub name: String,
    /// Its annotations (for example for workload identity).
    pub annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct K8s {
    pub cluster_role: ClusterRole,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClusterRole {
    /// `true`: a ClusterRole; the operator watches every namespace. `false`: a Role in the
    /// release namespace; the operator watches only that namespace (WATCH_NAMESPACE). The CRD
    /// is cluster-wide either way.
    pub enabled: bool,
}

impl Default for ClusterRole {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PodDisruptionBudget {
    /// Create a PodDisruptionBudget.
    pub enabled: bool,
    /// Pods a voluntary disruption may take down at once (a number or a percentage).
    #[schemars(schema_with = "int_or_percent_schema")]
    pub max_unavailable: Value,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Metrics {
    /// Create the metrics Service.
    pub enabled: bool,
    /// Port of the metrics endpoint.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Deprecated (Go operator chart): the endpoint is plain HTTP; protect it with the
    /// NetworkPolicy. Accepted and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// A Prometheus Operator ServiceMonitor for the metrics Service.
    pub service_monitor: ServiceMonitor,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServiceMonitor {
    /// Create the ServiceMonitor (needs the monitoring.coreos.com CRDs).
    pub enabled: bool,
    /// Scrape interval.
    pub interval: String,
    /// Extra labels, for example the one your Prometheus selects ServiceMonitors by.
    pub labels: BTreeMap<String, String>,
}

/// Who provides the webhook's TLS certificate (see `Webhook::certificates`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateMode {
    SelfManaged,
    CertManager,
    Secret,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Webhook {
    /// Who provides the webhook's TLS certificate. `self-managed`: the operator creates a CA and
    /// a serving certificate, keeps them in a Secret in the release namespace, injects the CA
    /// into the CRD and rotates them; needs nothing else. `cert-manager`: the chart creates an
    /// Issuer and a Certificate and cert-manager injects the CA into the CRD. `secret`: you
    /// provide a `kubernetes.io/tls` Secret (`secretName`) and the CA (`caBundle`, or an
    /// injector of your own).
    pub certificates: CertificateMode,
    /// Container port of the webhook (the Service listens on 443).
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// The TLS Secret (keys `tls.crt` and `tls.key`) in the release namespace (empty:
    /// `<fullname>-webhook-certs`). Self-managed mode writes it; the other modes mount it.
    pub secret_name: String,
    /// Base64 PEM CA bundle put into the CRD's conversion webhook (secret mode).
    pub ca_bundle: String,
    /// cert-manager mode.
    pub cert_manager: CertManager,
    /// Deprecated (Go operator chart): the conversion webhook cannot be switched off. Accepted
    /// and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CertManager {
    /// An existing Issuer or ClusterIssuer to use instead of the self-signed Issuer the chart
    /// creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_ref: Option<IssuerRef>,
    /// Deprecated (Go operator chart): use `webhook.certificates: cert-manager`. Accepted and
    /// ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerRef {
    #[schemars(length(min = 1))]
    pub name: String,
    /// `Issuer` (in the release namespace) or `ClusterIssuer`.
    pub kind: IssuerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerKind {
    Issuer,
    ClusterIssuer,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NetworkPolicy {
    /// Create the NetworkPolicy. The webhook port stays open to every source: the API server's
    /// address differs between clusters.
    pub enabled: bool,
    /// Who may scrape the metrics port (NetworkPolicyPeer objects; empty: anyone).
    pub metrics_from: Vec<Object>,
    /// Namespaces where LocustTests run behind a default-deny ingress policy: the chart adds a
    /// NetworkPolicy `<fullname>-locust-master-stats` in each, admitting the operator pods to the
    /// Locust masters' web port (`liveStats.access: direct` needs it there). Independent of
    /// `enabled`.
    pub locust_namespaces: Vec<String>,
}

/// How the operator reads Locust masters.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LiveStats {
    /// `direct`: HTTP from the operator pod to each master Service's web port (see
    /// `networkPolicy.locustNamespaces`); `apiserver-proxy`: through the API server's service
    /// proxy (grants the operator `get` on services/proxy); `off`: no live stats, result or
    /// report, and thresholds cannot be checked.
    pub access: LiveStatsAccess,
    /// Time between two reads of one master, such as 5s.
    #[schemars(regex(pattern = r"^[1-9][0-9]*[smh]?$"))]
    pub poll_interval: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveStatsAccess {
    #[serde(rename = "direct")]
    Direct,
    #[serde(rename = "apiserver-proxy")]
    ApiServerProxy,
    #[serde(rename = "off")]
    Off,
}

impl Default for LiveStats {
    fn default() -> Self {
        Self {
            access: LiveStatsAccess::Direct,
            poll_interval: "5s".to_string(),
        }
    }
}

fn int_or_percent_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": r"^[0-9]+%$" }
        ]
    })
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OtelCollector {
    /// Deploy the collector (a Deployment, a Service `<fullname>-otel-collector` on 4317 and
    /// 4318, and its configuration).
    pub enabled: bool,
    /// Collector image.
    pub image: String,
    /// Collector replicas.
    #[schemars(range(min = 1))]
    pub replicas: u32,
    /// Requests and limits of the collector container.
    pub resources: ContainerResources,
    /// Where the collector sends what it receives; used to write its configuration unless
    /// `config` is set. With no exporter it logs what it gets.
    pub exporters: OtelExporters,
    /// Collector configuration (YAML), replacing the one written from `exporters` (which then
    /// only open the Prometheus port).
    pub config: String,
    /// Pod security context of the collector.
    #[schemars(with = "Object")]
    pub pod_security_context: Object,
    /// Security context of the collector container.
    #[schemars(with = "Object")]
    pub container_security_context: Object,
}

/// Exporters of the chart's collector.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OtelExporters {
    /// Forward traces and metrics over OTLP (gRPC).
    pub otlp: OtlpExporter,
    /// Serve the metrics for Prometheus to scrape, on a port of the collector's Service.
    pub prometheus: PrometheusExporter,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OtlpExporter {
    /// `host:port` of your backend's OTLP gRPC receiver (empty: off). For TLS settings or other
    /// exporters, write `config` instead.
    pub endpoint: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PrometheusExporter {
    pub enabled: bool,
    /// Port of the `/metrics` endpoint (container and Service port `prometheus`).
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
}

impl Default for PrometheusExporter {
    fn default() -> Self {
        Self {
            enabled: false,
            port: OTEL_PROMETHEUS_PORT,
        }
    }
}

/// `openTelemetry`: the original design's layout of the collector values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OpenTelemetryValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<CollectorValues>,
}

/// `openTelemetry.collector`; every key optional, each one set wins over `otelCollector`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CollectorValues {
    /// `otelCollector.enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<bool>,
    /// A collector of your own that tests send to. Nothing is deployed for it and it is not
    /// injected into tests (their endpoint is `spec.observability.openTelemetry.endpoint`);
    /// the install notes show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_endpoint: Option<String>,
    /// `otelCollector.image`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `otelCollector.resources`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ContainerResources>,
    /// `otelCollector.exporters`, key by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporters: Option<CollectorExporters>,
}

/// `openTelemetry.collector.exporters`: like [`OtelExporters`], every key optional.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CollectorExporters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp: Option<CollectorOtlp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<CollectorPrometheus>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CollectorOtlp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CollectorPrometheus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
}

/// OTLP over gRPC.
pub const OTLP_GRPC_PORT: u16 = 4317;
/// OTLP over HTTP.
pub const OTLP_HTTP_PORT: u16 = 4318;
/// The collector's health_check extension.
pub const OTEL_HEALTH_PORT: u16 = 13133;
/// The collector's Prometheus exporter (the port OpenTelemetry uses for it by convention).
pub const OTEL_PROMETHEUS_PORT: u16 = 9464;

impl Default for Values {
    fn default() -> Self {
        Self {
            image: Image::default(),
            replica_count: deployment::REPLICAS.unsigned_abs(),
            name_override: String::new(),
            fullname_override: String::new(),
            leader_election: LeaderElection { enabled: true },
            log_format: deployment::LOG_FORMAT,
            resources: ContainerResources::from_requirements(&deployment::default_resources()),
            pod_security_context: object_of(&deployment::pod_security_context()),
            container_security_context: object_of(&deployment::container_security_context()),
            extra_env: Vec::new(),
            termination_grace_period_seconds: deployment::TERMINATION_GRACE_PERIOD_SECONDS
                .unsigned_abs() as u32,
            pod_annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: Object::new(),
            topology_spread_constraints: vec![object_of(&deployment::spread_over_nodes(None))],
            priority_class_name: String::new(),
            runtime_class_name: String::new(),
            service_account: ServiceAccount::default(),
            k8s: K8s::default(),
            pod_disruption_budget: PodDisruptionBudget::default(),
            metrics: Metrics::default(),
            webhook: Webhook::default(),
            network_policy: NetworkPolicy::default(),
            live_stats: LiveStats::default(),
            locust_pods: LocustPods::default(),
            otel_collector: OtelCollector::default(),
            open_telemetry: None,
            kafka: None,
            config: None,
            global: None,
        }
    }
}

impl Default for Image {
    fn default() -> Self {
        Self {
            repository: release::OPERATOR_IMAGE_REPOSITORY.to_string(),
            tag: String::new(),
            digest: String::new(),
            pull_policy: PullPolicy::IfNotPresent,
            pull_secrets: Vec::new(),
        }
    }
}

impl Default for LeaderElection {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for ServiceAccount {
    fn default() -> Self {
        Self {
            create: true,
            name: String::new(),
            annotations: BTreeMap::new(),
        }
    }
}

impl Default for PodDisruptionBudget {
    fn default() -> Self {
        Self {
            enabled: true,
            max_unavailable: Value::from(1),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            enabled: true,
            port: METRICS_PORT,
            secure: None,
            service_monitor: ServiceMonitor::default(),
        }
    }
}

impl Default for ServiceMonitor {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: "30s".to_string(),
            labels: BTreeMap::new(),
        }
    }
}

impl Default for Webhook {
    fn default() -> Self {
        Self {
            certificates: CertificateMode::SelfManaged,
            port: WEBHOOK_PORT,
            secret_name: String::new(),
            ca_bundle: String::new(),
            cert_manager: CertManager::default(),
            enabled: None,
        }
    }
}

impl Default for OtelCollector {
    fn default() -> Self {
        let mut container = object_of(&deployment::container_security_context());
        container.remove("runAsNonRoot");
        Self {
            enabled: false,
            image: "otel/opentelemetry-collector-contrib:0.145.0".to_string(),
            replicas: 1,
            resources: ContainerResources {
                requests: BTreeMap::from([
                    ("cpu".to_string(), Value::from("50m")),
                    ("memory".to_string(), Value::from("64Mi")),
                ]),
                limits: BTreeMap::from([
                    ("cpu".to_string(), Value::from("200m")),
                    ("memory".to_string(), Value::from("256Mi")),
                ]),
            },
            exporters: OtelExporters::default(),
            config: String::new(),
            pod_security_context: object_of(&deployment::pod_security_context()),
            container_security_context: container,
        }
    }
}

/// The JSON schema of the values (`values.schema.json`): subschemas inlined, no `default`
/// keywords (values.yaml shows them), unknown keys refused everywhere.
pub fn schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Values>().to_value();
    strip_defaults(&mut schema);
    schema
}

fn strip_defaults(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.contains_key("type") || map.contains_key("anyOf") || map.contains_key("$ref") {
                map.remove("default");
            }
            map.values_mut().for_each(strip_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_defaults),
        _ => {}
    }
}
