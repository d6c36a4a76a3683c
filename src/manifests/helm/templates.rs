//! The chart's core templates: the operator Deployment, its ServiceAccount and RBAC, the CRD and
//! the two Services. Fixed parts (probes, volumes, port names, environment names, rules) come
//! from [`crate::manifests::deployment`] and [`crate::manifests::rbac`]; values fill the rest.

use crate::api::names::{CRD_NAME, SCHEDULE_CRD_NAME};
use crate::api::schedule_crd::schedule_crd;
use crate::contract::{ENV_STATS_ACCESS, ENV_STATS_POLL_INTERVAL};
use crate::manifests::crd::crd_with_conversion;
use crate::manifests::deployment::{
    self, CERT_DIR, CERT_VOLUME, CONTAINER_NAME, CertMode, ENV_LEADER_ELECT, ENV_LOG_FORMAT,
    ENV_METRICS_BIND_ADDRESS, ENV_WATCH_NAMESPACE, ENV_WEBHOOK_BIND_ADDRESS, ENV_WEBHOOK_CERT_DIR,
    ENV_WEBHOOK_CERT_MODE, ENV_WEBHOOK_SECRET_NAME, ENV_WEBHOOK_SERVICE_NAME, HEALTH_PORT,
    PORT_NAME_HEALTH, PORT_NAME_METRICS, PORT_NAME_WEBHOOK, RUN_ARGS, WEBHOOK_SERVICE_PORT,
};
use crate::manifests::rbac::{RoleSet, Scope, When, role_sets};
use crate::manifests::yaml::{self, RenderError, indent};

use super::CHART;
use super::fill::source;

/// Helm condition of a rule's [`When`].
pub fn condition(when: When) -> Option<String> {
    match when {
        When::Always => None,
        When::LeaderElection => Some(".Values.leaderElection.enabled".to_string()),
        When::SelfManagedCertificates => Some(self_managed()),
        When::StatsThroughApiServer => Some(format!(
            "eq .Values.liveStats.access {:?}",
            crate::stats::Access::ApiServerProxy.as_str()
        )),
    }
}

/// True in the chart's default certificate mode.
pub fn self_managed() -> String {
    format!(
        "eq .Values.webhook.certificates {:?}",
        CertMode::SelfManaged.as_str()
    )
}

/// The operator Deployment: fixed environment, probes, volumes and ports from
/// [`crate::manifests::deployment`], the rest from values.
pub fn deployment() -> Result<String, RenderError> {
    let mut fixed_env = deployment::downward_api_env();
    fixed_env.extend(
        deployment::fixed_env(true)
            .into_iter()
            .filter(|e| e.name != ENV_LEADER_ELECT && e.name != ENV_LOG_FORMAT),
    );
    let fixed_env = yaml::plain(&fixed_env)?;
    let args = yaml::plain(&RUN_ARGS)?;
    let liveness_probe = yaml::plain(&deployment::liveness_probe())?;
    let readiness_probe = yaml::plain(&deployment::readiness_probe())?;
    let tmp_mount = yaml::plain(&deployment::tmp_mount())?;
    let cert_mount = yaml::plain(&deployment::cert_mount())?;
    let tmp_volume = yaml::plain(&deployment::tmp_volume())?;
    source!("deployment.yaml").fill(&[
        ("CHART", &CHART),
        ("CONTAINER_NAME", &CONTAINER_NAME),
        ("ARGS", &args),
        ("PORT_NAME_HEALTH", &PORT_NAME_HEALTH),
        ("HEALTH_PORT", &HEALTH_PORT),
        ("PORT_NAME_METRICS", &PORT_NAME_METRICS),
        ("PORT_NAME_WEBHOOK", &PORT_NAME_WEBHOOK),
        ("FIXED_ENV", &fixed_env),
        ("ENV_WATCH_NAMESPACE", &ENV_WATCH_NAMESPACE),
        ("ENV_LEADER_ELECT", &ENV_LEADER_ELECT),
        ("ENV_LOG_FORMAT", &ENV_LOG_FORMAT),
        ("ENV_METRICS_BIND_ADDRESS", &ENV_METRICS_BIND_ADDRESS),
        ("ENV_WEBHOOK_BIND_ADDRESS", &ENV_WEBHOOK_BIND_ADDRESS),
        ("SELF_MANAGED", &self_managed()),
        ("ENV_WEBHOOK_CERT_MODE", &ENV_WEBHOOK_CERT_MODE),
        ("SELF_MANAGED_MODE", &CertMode::SelfManaged.as_str()),
        ("ENV_WEBHOOK_SERVICE_NAME", &ENV_WEBHOOK_SERVICE_NAME),
        ("ENV_WEBHOOK_SECRET_NAME", &ENV_WEBHOOK_SECRET_NAME),
        ("DIRECTORY_MODE", &CertMode::Directory.as_str()),
        ("ENV_WEBHOOK_CERT_DIR", &ENV_WEBHOOK_CERT_DIR),
        ("CERT_DIR", &CERT_DIR),
        ("ENV_STATS_ACCESS", &ENV_STATS_ACCESS),
        ("ENV_STATS_POLL_INTERVAL", &ENV_STATS_POLL_INTERVAL),
        ("LIVENESS_PROBE", &liveness_probe),
        ("READINESS_PROBE", &readiness_probe),
        ("TMP_MOUNT", &tmp_mount),
        ("CERT_MOUNT", &cert_mount),
        ("TMP_VOLUME", &tmp_volume),
        ("CERT_VOLUME", &CERT_VOLUME),
    ])
}

pub fn service_account() -> Result<String, RenderError> {
    source!("serviceaccount.yaml").fill(&[("CHART", &CHART)])
}

/// The Helm condition under which a role set renders at all (None: always).
fn role_condition(set: &RoleSet) -> Option<String> {
    let mut conditions = Vec::new();
    for rule in &set.rules {
        match condition(rule.when) {
            None => return None,
            Some(c) if !conditions.contains(&c) => conditions.push(c),
            Some(_) => {}
        }
    }
    match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(format!(
            "or {}",
            conditions
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}

/// A role of `set` and its binding to the operator's ServiceAccount: a Role and RoleBinding in
/// the release namespace when `namespaced`, else a ClusterRole and ClusterRoleBinding.
fn role_and_binding(set: &RoleSet, namespaced: bool) -> Result<String, RenderError> {
    let source = if namespaced {
        source!("parts/role.yaml")
    } else {
        source!("parts/cluster-role.yaml")
    };
    source.fill(&[
        ("CHART", &CHART),
        ("SUFFIX", &set.suffix),
        ("RULES", &yaml::rules(&set.rules, condition)?),
    ])
}

/// ClusterRoles and Roles from [`role_sets`], each with the rules its choices need.
pub fn rbac() -> Result<String, RenderError> {
    let mut out = String::new();
    for set in role_sets() {
        let body = match set.scope {
            Scope::Watched => source!("parts/watched-roles.yaml").fill(&[
                ("CLUSTER_ROLE", &role_and_binding(&set, false)?),
                ("ROLE", &role_and_binding(&set, true)?),
            ])?,
            Scope::Cluster => role_and_binding(&set, false)?,
            Scope::OwnNamespace => role_and_binding(&set, true)?,
        };
        match role_condition(&set) {
            Some(c) => {
                out.push_str(&source!("parts/if.yaml").fill(&[("CONDITION", &c), ("BODY", &body)])?)
            }
            None => out.push_str(&body),
        }
    }
    Ok(out)
}

/// Placeholders in the CRD's conversion stanza, replaced by Helm expressions.
const SERVICE_PLACEHOLDER: &str = "HELM-WEBHOOK-SERVICE";
const NAMESPACE_PLACEHOLDER: &str = "HELM-RELEASE-NAMESPACE";

/// The conversion stanza's lines naming the webhook Service and namespace, and their Helm form.
fn conversion_lines() -> [(String, String); 2] {
    [
        (
            format!("name: {SERVICE_PLACEHOLDER}"),
            ["name: {{ include \"", CHART, ".webhookServiceName\" . }}"].concat(),
        ),
        (
            format!("namespace: {NAMESPACE_PLACEHOLDER}"),
            "namespace: {{ .Release.Namespace }}".to_string(),
        ),
    ]
}

/// The CRD's spec with the webhook Service named by Helm and, first in `clientConfig`, secret
/// mode's `caBundle`.
fn crd_spec() -> Result<String, RenderError> {
    let crd = crd_with_conversion(SERVICE_PLACEHOLDER, NAMESPACE_PLACEHOLDER)?;
    let spec = yaml::plain(&crd.spec)?;
    let replacements = conversion_lines();
    let ca_bundle = source!("parts/crd-ca-bundle.yaml").fill(&[])?;
    let mut lines = Vec::new();
    let mut in_client_config = None;
    for line in spec.lines() {
        let depth = line.len() - line.trim_start().len();
        if let Some(parent) = in_client_config.take()
            && depth > parent
        {
            lines.push(indent(&ca_bundle, depth));
        }
        if line.trim() == "clientConfig:" {
            in_client_config = Some(depth);
        }
        let text = replacements
            .iter()
            .fold(line.to_string(), |text, (from, to)| text.replace(from, to));
        lines.push(text);
    }
    Ok(lines.join("\n"))
}

/// The CRD in templates/, so that `helm upgrade` updates it; kept on uninstall so that tests
/// survive. cert-manager injects the CA in that mode, the operator in self-managed mode.
pub fn crd() -> Result<String, RenderError> {
    source!("crd.yaml").fill(&[
        ("CHART", &CHART),
        ("CRD_NAME", &CRD_NAME),
        ("SPEC", &crd_spec()?),
    ])
}

/// The LocustTestSchedule CRD in templates/, kept on uninstall like the LocustTest CRD. It
/// converts nothing, so it needs no webhook stanza.
pub fn crd_schedule() -> Result<String, RenderError> {
    let spec = yaml::plain(&schedule_crd()?.spec)?;
    source!("crd-schedule.yaml").fill(&[
        ("CHART", &CHART),
        ("CRD_NAME", &SCHEDULE_CRD_NAME),
        ("SPEC", &spec.trim_end()),
    ])
}

pub fn webhook_service() -> Result<String, RenderError> {
    source!("webhook-service.yaml").fill(&[
        ("CHART", &CHART),
        ("PORT_NAME_WEBHOOK", &PORT_NAME_WEBHOOK),
        ("WEBHOOK_SERVICE_PORT", &WEBHOOK_SERVICE_PORT),
    ])
}

pub fn metrics_service() -> Result<String, RenderError> {
    source!("metrics-service.yaml")
        .fill(&[("CHART", &CHART), ("PORT_NAME_METRICS", &PORT_NAME_METRICS)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_template_replaces_every_placeholder() {
        let text = crd().unwrap_or_default();
        assert!(!text.contains(SERVICE_PLACEHOLDER));
        assert!(!text.contains(NAMESPACE_PLACEHOLDER));
        assert!(text.contains("caBundle: {{ . }}"));
        assert!(text.contains(CHART));
    }
}
