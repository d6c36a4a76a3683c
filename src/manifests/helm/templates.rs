//! The chart's core templates: the operator Deployment, its ServiceAccount and RBAC, the CRD and
//! the two Services. Fixed parts (probes, volumes, port names, environment names, rules) come
//! from [`crate::manifests::deployment`] and [`crate::manifests::rbac`]; values fill the rest.

use crate::api::names::CRD_NAME;
use crate::manifests::crd::crd_with_conversion;
use crate::manifests::deployment::{
    self, CERT_DIR, CERT_VOLUME, CONTAINER_NAME, CertMode, ENV_LEADER_ELECT, ENV_LOG_FORMAT,
    ENV_METRICS_BIND_ADDRESS, ENV_WATCH_NAMESPACE, ENV_WEBHOOK_BIND_ADDRESS, ENV_WEBHOOK_CERT_DIR,
    ENV_WEBHOOK_CERT_MODE, ENV_WEBHOOK_SECRET_NAME, ENV_WEBHOOK_SERVICE_NAME, HEALTH_PORT,
    PORT_NAME_HEALTH, PORT_NAME_METRICS, PORT_NAME_WEBHOOK, RUN_ARGS, WEBHOOK_SERVICE_PORT,
};
use crate::manifests::rbac::{RoleSet, Scope, When, role_sets};
use crate::manifests::yaml::{self, RenderError, indent};
use crate::operator::{ENV_STATS_ACCESS, ENV_STATS_POLL_INTERVAL};

use super::TEMPLATE_HEADER;
use super::helpers::{inc, inc_root};

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

/// `metadata:` with the name, the release namespace (when namespaced) and the operator labels.
fn metadata(name: &str, namespaced: bool) -> String {
    let namespace = if namespaced {
        "\n  namespace: {{ .Release.Namespace }}"
    } else {
        ""
    };
    format!(
        "metadata:\n  name: {name}{namespace}\n  labels:\n    {{{{- {} | nindent 4 }}}}",
        inc("labels")
    )
}

fn fullname() -> String {
    format!("{{{{ {} }}}}", inc("fullname"))
}

pub fn deployment() -> Result<String, RenderError> {
    let fixed_env = {
        let mut env = deployment::downward_api_env();
        env.extend(
            deployment::fixed_env(true)
                .into_iter()
                .filter(|e| e.name != ENV_LEADER_ELECT && e.name != ENV_LOG_FORMAT),
        );
        indent(&yaml::plain(&env)?, 12)
    };
    let probes = format!(
        "{}\n{}",
        yaml::field("livenessProbe", &deployment::liveness_probe(), 10)?,
        yaml::field("readinessProbe", &deployment::readiness_probe(), 10)?
    );
    let tmp_mount = indent(
        &yaml::list_item(&yaml::plain(&deployment::tmp_mount())?),
        12,
    );
    let tmp_volume = indent(
        &yaml::list_item(&yaml::plain(&deployment::tmp_volume())?),
        8,
    );
    let cert_mount = indent(
        &yaml::list_item(&yaml::plain(&deployment::cert_mount())?),
        12,
    );
    let args = indent(&yaml::plain(&RUN_ARGS)?, 12);
    let not_self_managed = format!("not ({})", self_managed());
    Ok(format!(
        r#"{TEMPLATE_HEADER}
apiVersion: apps/v1
kind: Deployment
{metadata}
spec:
  replicas: {{{{ .Values.replicaCount }}}}
  selector:
    matchLabels:
      {{{{- {selector} | nindent 6 }}}}
  template:
    metadata:
      labels:
        {{{{- {labels} | nindent 8 }}}}
        {{{{- with .Values.podLabels }}}}
        {{{{- toYaml . | nindent 8 }}}}
        {{{{- end }}}}
      {{{{- with .Values.podAnnotations }}}}
      annotations:
        {{{{- toYaml . | nindent 8 }}}}
      {{{{- end }}}}
    spec:
      serviceAccountName: {{{{ {service_account} }}}}
      {{{{- with .Values.image.pullSecrets }}}}
      imagePullSecrets:
        {{{{- range . }}}}
        - name: {{{{ if kindIs "string" . }}}}{{{{ . }}}}{{{{ else }}}}{{{{ .name }}}}{{{{ end }}}}
        {{{{- end }}}}
      {{{{- end }}}}
      securityContext:
        {{{{- toYaml .Values.podSecurityContext | nindent 8 }}}}
      terminationGracePeriodSeconds: {{{{ .Values.terminationGracePeriodSeconds }}}}
      {{{{- with .Values.priorityClassName }}}}
      priorityClassName: {{{{ . }}}}
      {{{{- end }}}}
      {{{{- with .Values.runtimeClassName }}}}
      runtimeClassName: {{{{ . }}}}
      {{{{- end }}}}
      {{{{- with .Values.nodeSelector }}}}
      nodeSelector:
        {{{{- toYaml . | nindent 8 }}}}
      {{{{- end }}}}
      {{{{- with .Values.tolerations }}}}
      tolerations:
        {{{{- toYaml . | nindent 8 }}}}
      {{{{- end }}}}
      {{{{- with .Values.affinity }}}}
      affinity:
        {{{{- toYaml . | nindent 8 }}}}
      {{{{- end }}}}
      {{{{- with .Values.topologySpreadConstraints }}}}
      topologySpreadConstraints:
        {{{{- range . }}}}
        {{{{- $constraint := deepCopy . }}}}
        {{{{- if not $constraint.labelSelector }}}}
        {{{{- $_ := set $constraint "labelSelector" (dict "matchLabels" ({selector_root} | fromYaml)) }}}}
        {{{{- end }}}}
        {{{{- toYaml (list $constraint) | nindent 8 }}}}
        {{{{- end }}}}
      {{{{- end }}}}
      containers:
        - name: {CONTAINER_NAME}
          image: {{{{ {image} }}}}
          imagePullPolicy: {{{{ .Values.image.pullPolicy }}}}
          args:
{args}
          ports:
            - name: {PORT_NAME_HEALTH}
              containerPort: {HEALTH_PORT}
              protocol: TCP
            - name: {PORT_NAME_METRICS}
              containerPort: {{{{ .Values.metrics.port }}}}
              protocol: TCP
            - name: {PORT_NAME_WEBHOOK}
              containerPort: {{{{ .Values.webhook.port }}}}
              protocol: TCP
          env:
{fixed_env}
            {{{{- if not .Values.k8s.clusterRole.enabled }}}}
            - name: {ENV_WATCH_NAMESPACE}
              value: {{{{ .Release.Namespace }}}}
            {{{{- end }}}}
            - name: {ENV_LEADER_ELECT}
              value: {{{{ .Values.leaderElection.enabled | quote }}}}
            - name: {ENV_LOG_FORMAT}
              value: {{{{ .Values.logFormat }}}}
            - name: {ENV_METRICS_BIND_ADDRESS}
              value: "0.0.0.0:{{{{ .Values.metrics.port }}}}"
            - name: {ENV_WEBHOOK_BIND_ADDRESS}
              value: "0.0.0.0:{{{{ .Values.webhook.port }}}}"
            {{{{- if {self_managed} }}}}
            - name: {ENV_WEBHOOK_CERT_MODE}
              value: {self_managed_mode}
            - name: {ENV_WEBHOOK_SERVICE_NAME}
              value: {{{{ {webhook_service} }}}}
            - name: {ENV_WEBHOOK_SECRET_NAME}
              value: {{{{ {webhook_secret} }}}}
            {{{{- else }}}}
            - name: {ENV_WEBHOOK_CERT_MODE}
              value: {directory_mode}
            - name: {ENV_WEBHOOK_CERT_DIR}
              value: {CERT_DIR}
            {{{{- end }}}}
            - name: {ENV_STATS_ACCESS}
              value: {{{{ .Values.liveStats.access }}}}
            - name: {ENV_STATS_POLL_INTERVAL}
              value: {{{{ .Values.liveStats.pollInterval }}}}
            {{{{- {locust_pods_env} | trimSuffix "\n" | nindent 12 }}}}
            {{{{- with .Values.extraEnv }}}}
            {{{{- toYaml . | nindent 12 }}}}
            {{{{- end }}}}
{probes}
          resources:
            {{{{- toYaml .Values.resources | nindent 12 }}}}
          securityContext:
            {{{{- toYaml .Values.containerSecurityContext | nindent 12 }}}}
          volumeMounts:
{tmp_mount}
            {{{{- if {not_self_managed} }}}}
{cert_mount}
            {{{{- end }}}}
      volumes:
{tmp_volume}
        {{{{- if {not_self_managed} }}}}
        - name: {CERT_VOLUME}
          secret:
            secretName: {{{{ {webhook_secret} }}}}
        {{{{- end }}}}
"#,
        metadata = metadata(&fullname(), true),
        selector = inc("selectorLabels"),
        selector_root = inc_root("selectorLabels"),
        labels = inc("labels"),
        service_account = inc("serviceAccountName"),
        image = inc("image"),
        self_managed = self_managed(),
        self_managed_mode = CertMode::SelfManaged.as_str(),
        directory_mode = CertMode::Directory.as_str(),
        webhook_service = inc("webhookServiceName"),
        webhook_secret = inc("webhookSecretName"),
        locust_pods_env = inc("locustPodsEnv"),
    ))
}

pub fn service_account() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- if .Values.serviceAccount.create }}}}
apiVersion: v1
kind: ServiceAccount
{metadata}
  {{{{- with .Values.serviceAccount.annotations }}}}
  annotations:
    {{{{- toYaml . | nindent 4 }}}}
  {{{{- end }}}}
{{{{- end }}}}
"#,
        metadata = metadata(&format!("{{{{ {} }}}}", inc("serviceAccountName")), true)
    )
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

fn role_and_binding(set: &RoleSet, namespaced: bool) -> Result<String, RenderError> {
    let name = format!("{{{{ {} }}}}{}", inc("fullname"), set.suffix);
    let (role, binding) = if namespaced {
        ("Role", "RoleBinding")
    } else {
        ("ClusterRole", "ClusterRoleBinding")
    };
    Ok(format!(
        r#"---
apiVersion: rbac.authorization.k8s.io/v1
kind: {role}
{metadata}
{rules}---
apiVersion: rbac.authorization.k8s.io/v1
kind: {binding}
{metadata}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {role}
  name: {name}
subjects:
  - kind: ServiceAccount
    name: {{{{ {service_account} }}}}
    namespace: {{{{ .Release.Namespace }}}}
"#,
        metadata = metadata(&name, namespaced),
        rules = yaml::rules(&set.rules, condition)?,
        service_account = inc("serviceAccountName"),
    ))
}

/// ClusterRoles and Roles from [`role_sets`], each with the rules its choices need.
pub fn rbac() -> Result<String, RenderError> {
    let mut out = format!("{TEMPLATE_HEADER}\n");
    for set in role_sets() {
        let body = match set.scope {
            Scope::Watched => format!(
                "{{{{- if .Values.k8s.clusterRole.enabled }}}}\n{}{{{{- else }}}}\n{}{{{{- end }}}}\n",
                role_and_binding(&set, false)?,
                role_and_binding(&set, true)?
            ),
            Scope::Cluster => role_and_binding(&set, false)?,
            Scope::OwnNamespace => role_and_binding(&set, true)?,
        };
        match role_condition(&set) {
            Some(c) => out.push_str(&format!("{{{{- if {c} }}}}\n{body}{{{{- end }}}}\n")),
            None => out.push_str(&body),
        }
    }
    Ok(out)
}

/// Placeholders in the CRD's conversion stanza, replaced by Helm expressions.
const SERVICE_PLACEHOLDER: &str = "HELM-WEBHOOK-SERVICE";
const NAMESPACE_PLACEHOLDER: &str = "HELM-RELEASE-NAMESPACE";

/// The CRD in templates/, so that `helm upgrade` updates it; kept on uninstall so that tests
/// survive. cert-manager injects the CA in that mode, the operator in self-managed mode.
pub fn crd() -> Result<String, RenderError> {
    let crd = crd_with_conversion(SERVICE_PLACEHOLDER, NAMESPACE_PLACEHOLDER)?;
    let spec = format!("spec:\n{}\n", indent(&yaml::plain(&crd.spec)?, 2));
    let mut lines = Vec::new();
    let mut in_client_config = None;
    for line in spec.lines() {
        let depth = line.len() - line.trim_start().len();
        let text = line
            .replace(
                &format!("name: {SERVICE_PLACEHOLDER}"),
                &format!("name: {{{{ {} }}}}", inc("webhookServiceName")),
            )
            .replace(
                &format!("namespace: {NAMESPACE_PLACEHOLDER}"),
                "namespace: {{ .Release.Namespace }}",
            );
        // Secret mode's caBundle goes first in clientConfig.
        if let Some(parent) = in_client_config.take()
            && depth > parent
        {
            let pad = " ".repeat(depth);
            lines.push(format!("{pad}{{{{- with .Values.webhook.caBundle }}}}"));
            lines.push(format!("{pad}caBundle: {{{{ . }}}}"));
            lines.push(format!("{pad}{{{{- end }}}}"));
        }
        if line.trim() == "clientConfig:" {
            in_client_config = Some(depth);
        }
        lines.push(text);
    }
    let spec = lines.join("\n");
    Ok(format!(
        r#"{TEMPLATE_HEADER}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {CRD_NAME}
  labels:
    {{{{- {labels} | nindent 4 }}}}
  annotations:
    helm.sh/resource-policy: keep
    {{{{- if eq .Values.webhook.certificates "cert-manager" }}}}
    cert-manager.io/inject-ca-from: {{{{ .Release.Namespace }}}}/{{{{ {certificate} }}}}
    {{{{- end }}}}
{spec}"#,
        labels = inc("labels"),
        certificate = inc("certificateName"),
    ))
}

pub fn webhook_service() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
apiVersion: v1
kind: Service
{metadata}
spec:
  selector:
    {{{{- {selector} | nindent 4 }}}}
  ports:
    - name: {PORT_NAME_WEBHOOK}
      port: {WEBHOOK_SERVICE_PORT}
      targetPort: {PORT_NAME_WEBHOOK}
      protocol: TCP
"#,
        metadata = metadata(&format!("{{{{ {} }}}}", inc("webhookServiceName")), true),
        selector = inc("selectorLabels"),
    )
}

pub fn metrics_service() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- if or .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled }}}}
apiVersion: v1
kind: Service
{metadata}
spec:
  selector:
    {{{{- {selector} | nindent 4 }}}}
  ports:
    - name: {PORT_NAME_METRICS}
      port: {{{{ .Values.metrics.port }}}}
      targetPort: {PORT_NAME_METRICS}
      protocol: TCP
{{{{- end }}}}
"#,
        metadata = metadata(&format!("{{{{ {} }}}}", inc("metricsServiceName")), true),
        selector = inc("selectorLabels"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::CHART;
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
