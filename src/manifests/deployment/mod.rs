//! The operator's Deployment and Services, defined once.
//!
//! `config/` and the CSV take the whole [`OperatorDeployment`]; the Helm chart splices the same
//! pieces (ports, probes, security contexts, resources, volumes, environment) into its template
//! and takes its defaults from here, and a test renders the chart and compares.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PodSpec, PodTemplateSpec, Service, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::api::names::{LABEL_K8S_COMPONENT, LABEL_K8S_NAME, LABEL_K8S_PART_OF, OPERATOR_NAME};

use super::release;

mod pieces;
pub use pieces::*;

/// Name of the operator container.
pub const CONTAINER_NAME: &str = "operator";
/// The subcommand the container runs.
pub const RUN_ARGS: [&str; 1] = ["run"];
/// Value of `app.kubernetes.io/component` on the operator's pods.
pub const COMPONENT: &str = "operator";

pub use crate::contract::{
    CERT_DIR, CONVERT_PATH, CertMode, ENV_HEALTH_PROBE_BIND_ADDRESS, ENV_LEADER_ELECT,
    ENV_LOG_FORMAT, ENV_METRICS_BIND_ADDRESS, ENV_POD_NAME, ENV_POD_NAMESPACE, ENV_WATCH_NAMESPACE,
    ENV_WEBHOOK_BIND_ADDRESS, ENV_WEBHOOK_CERT_DIR, ENV_WEBHOOK_CERT_MODE, ENV_WEBHOOK_SECRET_NAME,
    ENV_WEBHOOK_SERVICE_NAME, HEALTH_PORT, HEALTHZ_PATH, LogFormat, METRICS_PORT, READYZ_PATH,
    WEBHOOK_PORT,
};

/// The webhook Service's port, which the API server calls.
pub const WEBHOOK_SERVICE_PORT: i32 = 443;
pub const PORT_NAME_HEALTH: &str = "health";
pub const PORT_NAME_METRICS: &str = "metrics";
pub const PORT_NAME_WEBHOOK: &str = "webhook";
/// Writable scratch space: the root filesystem is read-only.
pub const TMP_DIR: &str = "/tmp";
pub const TMP_VOLUME: &str = "tmp";
/// Volume of a mounted certificate Secret (cert-manager and secret modes of the chart).
pub const CERT_VOLUME: &str = "webhook-certs";
/// Suffix of the webhook Service's name.
pub const WEBHOOK_SERVICE_SUFFIX: &str = "-webhook";
/// Suffix of the metrics Service's name.
pub const METRICS_SERVICE_SUFFIX: &str = "-metrics";
/// Suffix of the Secret holding the webhook CA and certificate.
pub const WEBHOOK_SECRET_SUFFIX: &str = "-webhook-certs";
/// Seconds a stopping operator has to release its lease.
pub const TERMINATION_GRACE_PERIOD_SECONDS: i64 = 10;
/// Replicas: every replica serves the conversion webhook; leader election picks who reconciles.
pub const REPLICAS: i32 = 2;

/// Log format of deployed operators (one JSON object per line).
pub const LOG_FORMAT: LogFormat = LogFormat::Json;
/// The pod annotation through which OLM passes the namespaces to watch ("" = all).
pub const OLM_TARGET_NAMESPACES: &str = "metadata.annotations['olm.targetNamespaces']";

/// `port` on every interface, as a bind-address variable's value.
pub fn bind_address(port: u16) -> String {
    crate::contract::bind_address(port).to_string()
}

/// Who provides the webhook's certificates outside Helm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Certificates {
    /// The operator issues them for the Service `service` and keeps them in Secret `secret`.
    SelfManaged { service: String, secret: String },
    /// OLM mounts them in [`CERT_DIR`] (it adds the volume itself).
    FromOlm,
}

/// Which namespaces the operator watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    AllNamespaces,
    /// The namespaces of the OperatorGroup, from the pod annotation OLM sets.
    OlmTargetNamespaces,
}

/// A complete operator Deployment, as `config/` and the CSV install it.
#[derive(Clone, Debug)]
pub struct OperatorDeployment {
    pub name: String,
    pub namespace: Option<String>,
    pub image: String,
    pub service_account: String,
    pub certificates: Certificates,
    pub watch: Watch,
    /// Operator configuration variables (src/config.rs) set on top of the built-in defaults.
    pub config_env: Vec<EnvVar>,
}

impl OperatorDeployment {
    /// Labels that select the operator's pods.
    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        selector_labels(&self.name)
    }

    /// Labels on every object of the distribution.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels();
        labels.insert(LABEL_K8S_PART_OF.to_string(), OPERATOR_NAME.to_string());
        labels.insert(
            "app.kubernetes.io/version".to_string(),
            release::VERSION.to_string(),
        );
        labels
    }

    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: self.namespace.clone(),
            labels: Some(self.labels()),
            ..Default::default()
        }
    }

    pub fn cert_mode(&self) -> CertMode {
        match self.certificates {
            Certificates::SelfManaged { .. } => CertMode::SelfManaged,
            Certificates::FromOlm => CertMode::Directory,
        }
    }

    fn env(&self) -> Vec<EnvVar> {
        let mut env = downward_api_env();
        if self.watch == Watch::OlmTargetNamespaces {
            env.push(field_env(ENV_WATCH_NAMESPACE, OLM_TARGET_NAMESPACES));
        }
        env.extend(fixed_env(true));
        env.extend(bind_address_env(METRICS_PORT, WEBHOOK_PORT));
        env.push(value_env(ENV_WEBHOOK_CERT_MODE, self.cert_mode().as_str()));
        match &self.certificates {
            Certificates::SelfManaged { service, secret } => {
                env.push(value_env(ENV_WEBHOOK_SERVICE_NAME, service));
                env.push(value_env(ENV_WEBHOOK_SECRET_NAME, secret));
            }
            Certificates::FromOlm => env.push(value_env(ENV_WEBHOOK_CERT_DIR, CERT_DIR)),
        }
        env.extend(self.config_env.iter().cloned());
        env
    }

    pub fn container(&self) -> Container {
        Container {
            name: CONTAINER_NAME.to_string(),
            image: Some(self.image.clone()),
            image_pull_policy: Some("IfNotPresent".to_string()),
            args: Some(RUN_ARGS.iter().map(|s| s.to_string()).collect()),
            ports: Some(container_ports(METRICS_PORT, WEBHOOK_PORT)),
            env: Some(self.env()),
            liveness_probe: Some(liveness_probe()),
            readiness_probe: Some(readiness_probe()),
            resources: Some(default_resources()),
            security_context: Some(container_security_context()),
            volume_mounts: Some(vec![tmp_mount()]),
            ..Default::default()
        }
    }

    pub fn pod_spec(&self) -> PodSpec {
        PodSpec {
            service_account_name: Some(self.service_account.clone()),
            security_context: Some(pod_security_context()),
            termination_grace_period_seconds: Some(TERMINATION_GRACE_PERIOD_SECONDS),
            topology_spread_constraints: Some(vec![spread_over_nodes(Some(LabelSelector {
                match_labels: Some(self.selector_labels()),
                ..Default::default()
            }))]),
            containers: vec![self.container()],
            volumes: Some(vec![tmp_volume()]),
            ..Default::default()
        }
    }

    pub fn deployment_spec(&self) -> DeploymentSpec {
        DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: LabelSelector {
                match_labels: Some(self.selector_labels()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(self.labels()),
                    ..Default::default()
                }),
                spec: Some(self.pod_spec()),
            },
            ..Default::default()
        }
    }

    pub fn deployment(&self) -> Deployment {
        Deployment {
            metadata: self.meta(self.name.clone()),
            spec: Some(self.deployment_spec()),
            ..Default::default()
        }
    }

    /// The Service the API server calls for conversions.
    pub fn webhook_service(&self) -> Service {
        Service {
            metadata: self.meta(webhook_service_name(&self.name)),
            spec: Some(ServiceSpec {
                selector: Some(self.selector_labels()),
                ports: Some(vec![webhook_service_port()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The Service Prometheus scrapes.
    pub fn metrics_service(&self) -> Service {
        Service {
            metadata: self.meta(metrics_service_name(&self.name)),
            spec: Some(ServiceSpec {
                selector: Some(self.selector_labels()),
                ports: Some(vec![metrics_service_port(METRICS_PORT)]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// `app.kubernetes.io/name` and `component`: what selects the operator's pods.
pub fn selector_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_K8S_NAME.to_string(), name.to_string()),
        (LABEL_K8S_COMPONENT.to_string(), COMPONENT.to_string()),
    ])
}

pub fn webhook_service_name(operator: &str) -> String {
    format!("{operator}{WEBHOOK_SERVICE_SUFFIX}")
}

pub fn metrics_service_name(operator: &str) -> String {
    format!("{operator}{METRICS_SERVICE_SUFFIX}")
}

pub fn webhook_secret_name(operator: &str) -> String {
    format!("{operator}{WEBHOOK_SECRET_SUFFIX}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::operator::RunArgs;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn operator_env_names() -> Vec<String> {
        Run::command()
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn deployment_sets_only_variables_the_operator_reads() {
        let known = operator_env_names();
        for name in [
            ENV_WATCH_NAMESPACE,
            ENV_LEADER_ELECT,
            ENV_LOG_FORMAT,
            ENV_HEALTH_PROBE_BIND_ADDRESS,
            ENV_METRICS_BIND_ADDRESS,
            ENV_POD_NAMESPACE,
            ENV_WEBHOOK_BIND_ADDRESS,
            ENV_WEBHOOK_CERT_MODE,
            ENV_WEBHOOK_CERT_DIR,
            ENV_WEBHOOK_SERVICE_NAME,
            ENV_WEBHOOK_SECRET_NAME,
        ] {
            assert!(known.iter().any(|k| k == name), "run has no {name}");
        }
    }

    #[test]
    fn ports_match_the_operator_defaults() {
        let run = Run::try_parse_from(["run"]).unwrap();
        assert_eq!(
            run.args.health_probe_bind_address.to_string(),
            bind_address(HEALTH_PORT)
        );
        assert_eq!(
            run.args.metrics_bind_address.to_string(),
            bind_address(METRICS_PORT)
        );
        assert_eq!(
            run.args.webhook.webhook_bind_address.to_string(),
            bind_address(WEBHOOK_PORT)
        );
        assert_eq!(
            run.args.webhook.webhook_cert_dir.to_string_lossy(),
            CERT_DIR
        );
        for mode in [CertMode::SelfManaged, CertMode::Directory] {
            let parsed = Run::try_parse_from(["run", "--webhook-cert-mode", mode.as_str()]);
            assert!(
                parsed.is_ok(),
                "run refuses WEBHOOK_CERT_MODE={}",
                mode.as_str()
            );
        }
    }
}
