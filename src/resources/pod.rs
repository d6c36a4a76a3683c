//! The pod template shared by the master and worker Jobs: the Locust container, security,
//! scheduling and resources.

use k8s_openapi::api::core::v1::{
    Affinity, Container, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecurityContext, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::names::{
    DEFAULT_IMAGE_PULL_POLICY, MASTER_BIND_PORT, MASTER_SECONDARY_PORT, PORT_NAME_MASTER,
    PORT_NAME_MASTER_SECONDARY, PORT_NAME_WEB, Role, WORKER_PORT,
};
use crate::api::v2::{LocustTest, LocustTestSpec};
use crate::config::Config;

use super::args::{master_args, worker_args};
use super::container::{container_port, drop_all_capabilities, resources_or_none};
use super::env::{locust_env, locust_env_from};
use super::exporter::exporter_sidecar;
use super::labels::{pod_annotations, pod_labels};
use super::volumes::pod_volumes;
use super::web_ui::master_web_ui;
use super::{BuildError, Owner, exporter_runs, non_empty};

/// The pod template of `role`.
pub(crate) fn locust_pod_template(
    test: &LocustTest,
    owner: &Owner<'_>,
    config: &Config,
    role: Role,
) -> Result<PodTemplateSpec, BuildError> {
    let spec = &test.spec;
    let (labels, annotations) = match role {
        Role::Master => (
            spec.master.labels.as_ref(),
            spec.master.annotations.as_ref(),
        ),
        Role::Worker => (
            spec.worker.labels.as_ref(),
            spec.worker.annotations.as_ref(),
        ),
    };
    let exporter = role == Role::Master && exporter_runs(spec);
    let scheduling = Scheduling::of(spec, config)?;
    let volumes = pod_volumes(spec, owner.name, role)?;
    let mut container = locust_container(spec, owner, config, role)?;
    container.volume_mounts = non_empty(volumes.mounts);

    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels(owner.name, role, labels)),
            annotations: pod_annotations(annotations, exporter.then_some(config.exporter.port)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            init_containers: exporter.then(|| vec![exporter_sidecar(spec, config)]),
            volumes: non_empty(volumes.volumes),
            image_pull_secrets: spec.image_pull_secrets.clone().and_then(non_empty),
            restart_policy: Some("Never".to_string()),
            security_context: Some(pod_security_context(spec)),
            affinity: scheduling.affinity,
            tolerations: scheduling.tolerations,
            node_selector: scheduling.node_selector,
            runtime_class_name: scheduling.runtime_class_name,
            // Service links put `<SERVICE>_PORT=tcp://...` variables into the environment and
            // Locust reads `LOCUST_*` variables as options: a Service named `locust-web` in the
            // namespace would become `LOCUST_WEB_PORT=tcp://...`, which Locust refuses as
            // --web-port. Workers find the master through cluster DNS.
            enable_service_links: Some(false),
            // Locust never talks to the Kubernetes API; a token would only be a credential to leak.
            automount_service_account_token: Some(false),
            ..PodSpec::default()
        }),
    })
}

fn locust_container(
    spec: &LocustTestSpec,
    owner: &Owner<'_>,
    config: &Config,
    role: Role,
) -> Result<Container, BuildError> {
    let (args, ports, resources) = match role {
        Role::Master => (
            master_args(spec)?,
            vec![
                container_port(Some(PORT_NAME_MASTER), MASTER_BIND_PORT),
                container_port(Some(PORT_NAME_MASTER_SECONDARY), MASTER_SECONDARY_PORT),
                container_port(Some(PORT_NAME_WEB), master_web_ui(spec).port),
            ],
            spec.master.resources.as_ref(),
        ),
        Role::Worker => (
            worker_args(spec, owner.name)?,
            vec![container_port(None, WORKER_PORT)],
            spec.worker.resources.as_ref(),
        ),
    };
    let pull_policy = spec.image_pull_policy.unwrap_or(DEFAULT_IMAGE_PULL_POLICY);
    Ok(Container {
        // The child name, as in the Go operator (`kubectl logs` scripts use it).
        name: owner.child_name(role),
        image: Some(spec.image.clone()),
        image_pull_policy: Some(pull_policy.as_str().to_string()),
        args: Some(args),
        ports: Some(ports),
        env: locust_env(spec)?,
        env_from: locust_env_from(spec),
        resources: locust_resources(resources, config, role),
        security_context: Some(container_security_context(spec)),
        ..Container::default()
    })
}

/// The test's resources when they set any request or limit (a complete override, so a test
/// can leave a limit out), else the operator's for `role`.
fn locust_resources(
    from_spec: Option<&ResourceRequirements>,
    config: &Config,
    role: Role,
) -> Option<ResourceRequirements> {
    let sets_any = |r: &&ResourceRequirements| {
        r.requests.as_ref().is_some_and(|m| !m.is_empty())
            || r.limits.as_ref().is_some_and(|m| !m.is_empty())
    };
    match from_spec.filter(sets_any) {
        Some(resources) => Some(resources.clone()),
        None => resources_or_none(config.locust_resources(role)),
    }
}

/// The test's pod security context, or the default: seccomp RuntimeDefault only. No fixed UID
/// (OpenShift assigns one) and no runAsNonRoot (the official image's user is not numeric, so
/// the kubelet could not verify it and the pod would never start).
fn pod_security_context(spec: &LocustTestSpec) -> PodSecurityContext {
    spec.security
        .as_ref()
        .and_then(|s| s.pod_security_context.clone())
        .unwrap_or_else(|| PodSecurityContext {
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        })
}

/// The test's container security context for the Locust container, or the default.
fn container_security_context(spec: &LocustTestSpec) -> SecurityContext {
    spec.security
        .as_ref()
        .and_then(|s| s.container_security_context.clone())
        .unwrap_or_else(drop_all_capabilities)
}

/// Placement of the Locust pods, the same for both roles.
struct Scheduling {
    affinity: Option<Affinity>,
    tolerations: Option<Vec<Toleration>>,
    node_selector: Option<std::collections::BTreeMap<String, String>>,
    runtime_class_name: Option<String>,
}

impl Scheduling {
    /// Affinity and tolerations need their injection switch; a test that sets them while the
    /// switch is off is refused rather than run without them. An empty affinity or toleration
    /// list sets nothing, so it is not refused (and not applied).
    fn of(spec: &LocustTestSpec, config: &Config) -> Result<Self, BuildError> {
        let scheduling = spec.scheduling.as_ref();
        let affinity = scheduling
            .and_then(|s| s.affinity.clone())
            .filter(|a| *a != Affinity::default());
        if affinity.is_some() && !config.affinity_injection {
            return Err(BuildError::ForbiddenField {
                field: "spec.scheduling.affinity",
                switch: "ENABLE_AFFINITY_CR_INJECTION",
            });
        }
        let tolerations = scheduling
            .and_then(|s| s.tolerations.clone())
            .and_then(non_empty);
        if tolerations.is_some() && !config.tolerations_injection {
            return Err(BuildError::ForbiddenField {
                field: "spec.scheduling.tolerations",
                switch: "ENABLE_TAINT_TOLERATIONS_CR_INJECTION",
            });
        }
        let node_selector = scheduling
            .and_then(|s| s.node_selector.clone())
            .filter(|m| !m.is_empty());
        // Set and non-empty wins; "" opts out of the operator default; absent takes it.
        let runtime_class_name = match scheduling.and_then(|s| s.runtime_class_name.as_deref()) {
            Some(name) => Some(name.to_string()),
            None => config.default_runtime_class_name.clone(),
        }
        .filter(|name| !name.is_empty());
        Ok(Self {
            affinity,
            tolerations,
            node_selector,
            runtime_class_name,
        })
    }
}
