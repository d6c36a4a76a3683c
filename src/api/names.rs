//! Every name, label key, port, path and annotation the operator uses, defined once.
//! Builders, validation rules, the controller and the generator all read them from here.

use super::v2::{MountTarget, OtlpProtocol, PullPolicy};

/// API group of the LocustTest resource.
pub const GROUP: &str = "locust.io";
/// Kind of the resource.
pub const KIND: &str = "LocustTest";
/// Plural resource name.
pub const PLURAL: &str = "locusttests";
/// Short name (`kubectl get lotest`).
pub const SHORT_NAME: &str = "lotest";
/// Name of the CustomResourceDefinition.
pub const CRD_NAME: &str = "locusttests.locust.io";

/// Name of the operator, used as `managed-by` label value, field manager and event reporter.
pub const OPERATOR_NAME: &str = "locust-k8s-operator";
/// Field manager of every write the operator sends (creates and server-side applies).
pub const FIELD_MANAGER: &str = OPERATOR_NAME;

/// Longest LocustTest name: `<name>-worker` must fit a 63-character label value.
pub const MAX_NAME_LENGTH: usize = 56;

/// LocustTestSchedule: kind, plural, short name, served version and CRD name.
pub const SCHEDULE_KIND: &str = "LocustTestSchedule";
pub const SCHEDULE_PLURAL: &str = "locusttestschedules";
pub const SCHEDULE_SHORT_NAME: &str = "lotestsched";
pub const SCHEDULE_VERSION: &str = "v1alpha1";
pub const SCHEDULE_CRD_NAME: &str = "locusttestschedules.locust.io";
/// Label on every LocustTest a schedule creates: the schedule's name
/// (`kubectl get lotest -l locust.io/schedule=NAME` lists its runs).
pub const LABEL_SCHEDULE: &str = "locust.io/schedule";
/// Annotation on a schedule: a new value starts one run now.
pub const ANNOTATION_TRIGGER: &str = "locust.io/trigger";
/// Annotation on a run: the time it was scheduled for (RFC 3339), or the trigger value that
/// started it ([`ANNOTATION_TRIGGER`]).
pub const ANNOTATION_SCHEDULED_AT: &str = "locust.io/scheduled-at";
/// Longest schedule name: `<name>-m<unix minutes>` (up to 11 more characters) must fit
/// [`MAX_NAME_LENGTH`].
pub const MAX_SCHEDULE_NAME_LENGTH: usize = MAX_NAME_LENGTH - 11;

// Labels the Go operator put on pods; kept so selectors, dashboards and scripts keep working.
/// Pod label: the LocustTest name, unmodified.
pub const LABEL_TEST_NAME: &str = "performance-test-name";
/// Pod label: `<name>-master` or `<name>-worker` (dots replaced); the Service selects on it.
pub const LABEL_POD_NAME: &str = "performance-test-pod-name";
/// Pod label: always [`OPERATOR_NAME`].
pub const LABEL_MANAGED_BY_LEGACY: &str = "managed-by";
/// Pod label: the LocustTest name (the Go operator's `app` label).
pub const LABEL_APP: &str = "app";
/// Recommended labels.
pub const LABEL_K8S_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_K8S_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_K8S_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_K8S_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_K8S_PART_OF: &str = "app.kubernetes.io/part-of";
/// Value of `app.kubernetes.io/name` on Locust pods.
pub const APP_NAME_LOCUST: &str = "locust";

/// The label selector that narrows the Job and Service watches to the operator's children.
pub fn managed_children_selector() -> String {
    format!("{LABEL_K8S_MANAGED_BY}={OPERATOR_NAME}")
}

/// The label selector of the pod watch: the Go operator's `managed-by` label, which every
/// Locust pod carries, ours and those of Jobs the Go operator created (a Job's pod template
/// cannot be relabelled, so those pods never get `app.kubernetes.io/managed-by`).
pub fn locust_pods_selector() -> String {
    format!("{LABEL_MANAGED_BY_LEGACY}={OPERATOR_NAME}")
}

/// Finalizer the Go operator put on every LocustTest; this operator only removes it.
pub const GO_FINALIZER: &str = "locust.io/cleanup";

// Ports.
/// Port the master binds for worker connections (`--master-bind-port`).
pub const MASTER_BIND_PORT: i32 = 5557;
/// Second port the Go operator exposed on the Service; kept for compatibility.
pub const MASTER_SECONDARY_PORT: i32 = 5558;
/// Locust web UI and stats API on the master.
pub const WEB_PORT: i32 = 8089;
/// Port of the Prometheus exporter sidecar (default, configurable).
pub const DEFAULT_EXPORTER_PORT: i32 = 9646;
/// Container port the Go operator declared on workers.
pub const WORKER_PORT: i32 = 8080;

// Port names: the Go operator's, so NetworkPolicies and ServiceMonitors written for it still match.
pub const PORT_NAME_MASTER: &str = "port5557";
pub const PORT_NAME_MASTER_SECONDARY: &str = "port5558";
pub const PORT_NAME_WEB: &str = "web-ui";
/// Service port of the exporter (the Go operator's name).
pub const PORT_NAME_METRICS: &str = "prometheus-metrics";
/// Container port of the exporter: container port names are limited to 15 characters.
pub const CONTAINER_PORT_NAME_METRICS: &str = "metrics";

// Volumes and mount paths.
/// Default mount path of the test files ConfigMap.
pub const DEFAULT_SRC_MOUNT_PATH: &str = "/lotest/src";
/// Default mount path of the library ConfigMap.
pub const DEFAULT_LIB_MOUNT_PATH: &str = "/opt/locust/lib";
/// Volume name of the library ConfigMap.
pub const LIB_VOLUME_NAME: &str = "locust-lib";
/// Prefix of the volume made for each `env.secretMounts` entry.
pub const SECRET_VOLUME_PREFIX: &str = "secret-";

/// Container name of the metrics exporter sidecar.
pub const EXPORTER_CONTAINER_NAME: &str = "locust-metrics-exporter";

// Conversion.
/// Annotation on a v1 object holding the v2 spec that v1 cannot express.
pub const V2_SPEC_ANNOTATION: &str = "locust.io/v2-spec";
/// Annotation on a v2 object holding the v1 spec that v2 cannot express (the mirror).
pub const V1_SPEC_ANNOTATION: &str = "locust.io/v1-spec";

// Labels a user may not set on Locust pods: the operator selects, watches or filters on them.
/// Keys of `master.labels` / `worker.labels` that the operator's own value always wins over.
pub const RESERVED_POD_LABEL_KEYS: [&str; 6] = [
    LABEL_POD_NAME,
    LABEL_TEST_NAME,
    LABEL_MANAGED_BY_LEGACY,
    LABEL_K8S_MANAGED_BY,
    LABEL_K8S_INSTANCE,
    LABEL_K8S_COMPONENT,
];

// Prometheus scrape annotations on the master pod while the exporter sidecar runs.
pub const ANNOTATION_PROMETHEUS_SCRAPE: &str = "prometheus.io/scrape";
pub const ANNOTATION_PROMETHEUS_PATH: &str = "prometheus.io/path";
pub const ANNOTATION_PROMETHEUS_PORT: &str = "prometheus.io/port";
/// Path the exporter serves its metrics on.
pub const METRICS_PATH: &str = "/metrics";

// Defaults the v2 CRD schema documents; builders resolve an absent field to the same value.
/// `spec.imagePullPolicy`.
pub const DEFAULT_IMAGE_PULL_POLICY: PullPolicy = PullPolicy::IfNotPresent;
/// `spec.master.autostart`.
pub const DEFAULT_AUTOSTART: bool = true;
/// `spec.master.autoquit.enabled` (also when `autoquit` is absent).
pub const DEFAULT_AUTOQUIT_ENABLED: bool = true;
/// `spec.master.autoquit.timeout`, seconds.
pub const DEFAULT_AUTOQUIT_TIMEOUT_SECONDS: i32 = 60;
/// `spec.env.secretMounts[].readOnly`.
pub const DEFAULT_SECRET_MOUNT_READ_ONLY: bool = true;
/// `spec.volumeMounts[].target`.
pub const DEFAULT_MOUNT_TARGET: MountTarget = MountTarget::Both;
/// `spec.observability.openTelemetry.protocol`.
pub const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = OtlpProtocol::Grpc;

// Locust command-line flags the operator writes.
pub const FLAG_MASTER: &str = "--master";
pub const FLAG_WORKER: &str = "--worker";
pub const FLAG_MASTER_BIND_PORT: &str = "--master-bind-port";
pub const FLAG_MASTER_PORT: &str = "--master-port";
pub const FLAG_MASTER_HOST: &str = "--master-host";
pub const FLAG_EXPECT_WORKERS: &str = "--expect-workers";
pub const FLAG_AUTOSTART: &str = "--autostart";
pub const FLAG_AUTOQUIT: &str = "--autoquit";
pub const FLAG_ENABLE_REBALANCING: &str = "--enable-rebalancing";
pub const FLAG_ONLY_SUMMARY: &str = "--only-summary";
pub const FLAG_OTEL: &str = "--otel";
/// Worker flag: fork this many worker processes per pod; each counts as a worker.
pub const FLAG_PROCESSES: &str = "--processes";

// Locust flags the operator reads (never writes): where the master's web UI is.
pub const FLAG_WEB_PORT: &str = "--web-port";
pub const FLAG_WEB_PORT_SHORT: &str = "-P";
pub const FLAG_WEB_BASE_PATH: &str = "--web-base-path";
/// No web UI at all: the operator cannot read the master's figures.
pub const FLAG_HEADLESS: &str = "--headless";
/// A login page in front of the web UI: the operator does not log in.
pub const FLAG_WEB_LOGIN: &str = "--web-login";
/// The web UI speaks HTTPS with a certificate the operator cannot verify.
pub const FLAG_TLS_CERT: &str = "--tls-cert";

// Environment variables the operator sets.
pub const ENV_OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
pub const ENV_OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
pub const ENV_OTEL_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const ENV_OTEL_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub const ENV_OTEL_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// Value of the OTEL_*_EXPORTER variables.
pub const OTEL_EXPORTER_OTLP: &str = "otlp";
/// Where the exporter sidecar reads Locust's stats (the master's web port, same pod).
pub const ENV_EXPORTER_URI: &str = "LOCUST_EXPORTER_URI";
/// Address the exporter sidecar listens on (`:<port>`).
pub const ENV_EXPORTER_LISTEN_ADDRESS: &str = "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS";

/// Role of a Locust pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Master,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Worker => "worker",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name of a child object (`<name>-master`, `<name>-worker`); dots become dashes so the result
/// is a valid DNS label for the Service and a valid label value.
pub fn child_name(test_name: &str, role: Role) -> String {
    format!("{}-{}", test_name.replace('.', "-"), role.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_names_replace_dots() {
        assert_eq!(
            child_name("team.checkout", Role::Master),
            "team-checkout-master"
        );
        assert_eq!(child_name("plain", Role::Worker), "plain-worker");
    }

    #[test]
    fn longest_name_fits_a_label_value() {
        let name = "a".repeat(MAX_NAME_LENGTH);
        assert_eq!(child_name(&name, Role::Worker).len(), 63);
    }
}
