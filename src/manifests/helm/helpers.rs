//! `templates/_helpers.tpl`: names, labels, and the operator configuration variables built
//! from `locustPods.*` (with the Java chart's `config.*` as fallback).

use crate::api::names::{
    LABEL_K8S_COMPONENT, LABEL_K8S_INSTANCE, LABEL_K8S_NAME, LABEL_K8S_PART_OF, OPERATOR_NAME,
};
use crate::config::{
    AFFINITY_INJECTION_VAR, Bound, DEFAULT_RUNTIME_CLASS_VAR, EXPORTER_IMAGE_VAR,
    EXPORTER_PORT_VAR, EXPORTER_PREFIX, EXPORTER_PULL_POLICY_VAR, JOB_TTL_VAR, MASTER_POD_PREFIX,
    POD_PREFIX, ResourceKind, TOLERATIONS_INJECTION_VAR, WORKER_POD_PREFIX, resource_variable,
};
use crate::manifests::deployment::{
    COMPONENT, METRICS_SERVICE_SUFFIX, WEBHOOK_SECRET_SUFFIX, WEBHOOK_SERVICE_SUFFIX,
};

use super::{CHART, TEMPLATE_HEADER};

/// `include "<chart>.<name>" .`
pub fn inc(name: &str) -> String {
    format!("include \"{CHART}.{name}\" .")
}

/// `include "<chart>.<name>" $` (inside `range` or `with`).
pub fn inc_root(name: &str) -> String {
    format!("include \"{CHART}.{name}\" $")
}

/// Names of the resource keys: (variable part, `locustPods` key, Java chart key stem).
fn resource_keys(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::Cpu => ("cpu", "cpu"),
        ResourceKind::Memory => ("memory", "mem"),
        ResourceKind::EphemeralStorage => ("ephemeralStorage", "ephemeral"),
    }
}

fn bound_keys(bound: Bound) -> (&'static str, &'static str) {
    match bound {
        Bound::Request => ("requests", "Request"),
        Bound::Limit => ("limits", "Limit"),
    }
}

/// `dig "a" "b" "" $dict`
fn dig(path: &[&str], dict: &str) -> String {
    let keys: Vec<String> = path.iter().map(|k| format!("{k:?}")).collect();
    format!("(dig {} \"\" {dict})", keys.join(" "))
}

fn env_line(variable: &str, candidates: &[String]) -> String {
    format!(
        "{{{{- include \"{CHART}.env\" (list {variable:?} {}) }}}}\n",
        candidates.join(" ")
    )
}

/// A variable, its key path under `locustPods`, and its path under the Java chart's `config`.
type Source<'a> = (&'a str, &'a [&'a str], Option<&'a [&'a str]>);

/// One `include "<chart>.env"` per operator configuration variable the chart sets.
fn locust_pods_env() -> String {
    let mut out = String::new();
    let levels: [Source; 4] = [
        (
            POD_PREFIX,
            &["resources"],
            Some(&["loadGenerationPods", "resource"]),
        ),
        (MASTER_POD_PREFIX, &["masterResources"], None),
        (WORKER_POD_PREFIX, &["workerResources"], None),
        (
            EXPORTER_PREFIX,
            &["metricsExporter", "resources"],
            Some(&["loadGenerationPods", "metricsExporter", "resource"]),
        ),
    ];
    for (prefix, new_path, legacy_path) in levels {
        for bound in Bound::ALL {
            for kind in ResourceKind::ALL {
                let (new_kind, legacy_kind) = resource_keys(kind);
                let (new_bound, legacy_bound) = bound_keys(bound);
                let mut path = new_path.to_vec();
                path.extend([new_bound, new_kind]);
                let mut candidates = vec![dig(&path, "$pods")];
                if let Some(legacy) = legacy_path {
                    let key = format!("{legacy_kind}{legacy_bound}");
                    let mut path = legacy.to_vec();
                    path.push(&key);
                    candidates.push(dig(&path, "$legacy"));
                }
                out.push_str(&env_line(
                    &resource_variable(prefix, kind, bound),
                    &candidates,
                ));
            }
        }
    }
    let simple: [Source; 7] = [
        (
            EXPORTER_IMAGE_VAR,
            &["metricsExporter", "image"],
            Some(&["loadGenerationPods", "metricsExporter", "image"]),
        ),
        (
            EXPORTER_PORT_VAR,
            &["metricsExporter", "port"],
            Some(&["loadGenerationPods", "metricsExporter", "port"]),
        ),
        (
            EXPORTER_PULL_POLICY_VAR,
            &["metricsExporter", "pullPolicy"],
            Some(&["loadGenerationPods", "metricsExporter", "pullPolicy"]),
        ),
        (
            JOB_TTL_VAR,
            &["ttlSecondsAfterFinished"],
            Some(&["loadGenerationJobs", "ttlSecondsAfterFinished"]),
        ),
        (
            AFFINITY_INJECTION_VAR,
            &["affinityInjection"],
            Some(&["loadGenerationPods", "affinity", "enableCrInjection"]),
        ),
        (
            TOLERATIONS_INJECTION_VAR,
            &["tolerationsInjection"],
            Some(&[
                "loadGenerationPods",
                "taintTolerations",
                "enableCrInjection",
            ]),
        ),
        (DEFAULT_RUNTIME_CLASS_VAR, &["runtimeClassName"], None),
    ];
    for (variable, new_path, legacy_path) in simple {
        let mut candidates = vec![dig(new_path, "$pods")];
        if let Some(legacy) = legacy_path {
            candidates.push(dig(legacy, "$legacy"));
        }
        out.push_str(&env_line(variable, &candidates));
    }
    out
}

/// The whole `_helpers.tpl`.
pub fn helpers() -> String {
    let selector = format!(
        "{LABEL_K8S_NAME}: {{{{ include \"{CHART}.name\" . }}}}\n{LABEL_K8S_INSTANCE}: {{{{ .Release.Name }}}}"
    );
    format!(
        r#"{TEMPLATE_HEADER}
{{{{/* The chart name, or nameOverride. */}}}}
{{{{- define "{CHART}.name" -}}}}
{{{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{/* The prefix of every object name: fullnameOverride, else the release name, followed by the
chart name unless the release name contains it. */}}}}
{{{{- define "{CHART}.fullname" -}}}}
{{{{- if .Values.fullnameOverride }}}}
{{{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}}}
{{{{- else }}}}
{{{{- $name := default .Chart.Name .Values.nameOverride }}}}
{{{{- if contains $name .Release.Name }}}}
{{{{- .Release.Name | trunc 63 | trimSuffix "-" }}}}
{{{{- else }}}}
{{{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{- define "{CHART}.chart" -}}}}
{{{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{/* Labels of every object, without the component. */}}}}
{{{{- define "{CHART}.commonLabels" -}}}}
helm.sh/chart: {{{{ include "{CHART}.chart" . }}}}
{selector}
app.kubernetes.io/version: {{{{ .Chart.AppVersion | quote }}}}
app.kubernetes.io/managed-by: {{{{ .Release.Service }}}}
{LABEL_K8S_PART_OF}: {OPERATOR_NAME}
{{{{- end }}}}

{{{{/* What selects the operator's pods: the Go operator chart's selector, so that `helm upgrade`
of a release of that chart keeps its Deployment (a selector cannot change). */}}}}
{{{{- define "{CHART}.selectorLabels" -}}}}
{selector}
{{{{- end }}}}

{{{{- define "{CHART}.labels" -}}}}
{{{{ include "{CHART}.commonLabels" . }}}}
{LABEL_K8S_COMPONENT}: {COMPONENT}
{{{{- end }}}}

{{{{- define "{CHART}.serviceAccountName" -}}}}
{{{{- if .Values.serviceAccount.create }}}}
{{{{- default (include "{CHART}.fullname" .) .Values.serviceAccount.name }}}}
{{{{- else }}}}
{{{{- default "default" .Values.serviceAccount.name }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{- define "{CHART}.image" -}}}}
{{{{- if .Values.image.digest }}}}
{{{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}}}
{{{{- else }}}}
{{{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{- define "{CHART}.webhookServiceName" -}}}}
{{{{- printf "%s{WEBHOOK_SERVICE_SUFFIX}" (include "{CHART}.fullname" .) | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{- define "{CHART}.metricsServiceName" -}}}}
{{{{- printf "%s{METRICS_SERVICE_SUFFIX}" (include "{CHART}.fullname" .) | trunc 63 | trimSuffix "-" }}}}
{{{{- end }}}}

{{{{- define "{CHART}.webhookSecretName" -}}}}
{{{{- default (printf "%s{WEBHOOK_SECRET_SUFFIX}" (include "{CHART}.fullname" .)) .Values.webhook.secretName }}}}
{{{{- end }}}}

{{{{- define "{CHART}.certificateName" -}}}}
{{{{- printf "%s-serving-cert" (include "{CHART}.fullname" .) }}}}
{{{{- end }}}}

{{{{/* One environment variable: the first candidate value that is set and not empty. */}}}}
{{{{- define "{CHART}.env" -}}}}
{{{{- $name := first . }}}}
{{{{- $value := "" }}}}
{{{{- range rest . }}}}
{{{{- if and (eq $value "") (not (kindIs "invalid" .)) }}}}
{{{{- if and (kindIs "float64" .) (eq (floor .) .) }}}}
{{{{- $value = printf "%d" (int64 .) }}}}
{{{{- else }}}}
{{{{- $value = toString . }}}}
{{{{- end }}}}
{{{{- end }}}}
{{{{- end }}}}
{{{{- if ne $value "" -}}}}
- name: {{{{ $name }}}}
  value: {{{{ $value | quote }}}}
{{{{ end }}}}
{{{{- end }}}}

{{{{/* The operator configuration (docs/configuration.md) from locustPods, else the Java
operator chart's config block. */}}}}
{{{{- define "{CHART}.locustPodsEnv" -}}}}
{{{{- $pods := .Values.locustPods | default dict }}}}
{{{{- $legacy := .Values.config | default dict }}}}
{locust_pods_env}{{{{- end }}}}

{otel}"#,
        locust_pods_env = locust_pods_env(),
        otel = super::otel::collector_helper(),
    )
}
