//! Templates that values switch on or off: PodDisruptionBudget, ServiceMonitor, NetworkPolicy,
//! the cert-manager Issuer and Certificate (the OpenTelemetry Collector is in `otel.rs`).

use crate::manifests::deployment::{PORT_NAME_HEALTH, PORT_NAME_METRICS, PORT_NAME_WEBHOOK};

use super::TEMPLATE_HEADER;
use super::helpers::{inc, inc_root};
use crate::api::names::{
    LABEL_K8S_COMPONENT, LABEL_K8S_MANAGED_BY, OPERATOR_NAME, PORT_NAME_WEB, Role,
};

fn named(helper: &str) -> String {
    format!("{{{{ {} }}}}", inc(helper))
}

pub fn pod_disruption_budget() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- if .Values.podDisruptionBudget.enabled }}}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {fullname}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {labels} | nindent 4 }}}}
spec:
  maxUnavailable: {{{{ .Values.podDisruptionBudget.maxUnavailable }}}}
  selector:
    matchLabels:
      {{{{- {selector} | nindent 6 }}}}
{{{{- end }}}}
"#,
        fullname = named("fullname"),
        labels = inc("labels"),
        selector = inc("selectorLabels"),
    )
}

pub fn service_monitor() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- if .Values.metrics.serviceMonitor.enabled }}}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {fullname}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {labels} | nindent 4 }}}}
    {{{{- with .Values.metrics.serviceMonitor.labels }}}}
    {{{{- toYaml . | nindent 4 }}}}
    {{{{- end }}}}
spec:
  selector:
    matchLabels:
      {{{{- {selector} | nindent 6 }}}}
  endpoints:
    - port: {PORT_NAME_METRICS}
      path: /metrics
      interval: {{{{ .Values.metrics.serviceMonitor.interval }}}}
{{{{- end }}}}
"#,
        fullname = named("fullname"),
        labels = inc("labels"),
        selector = inc("selectorLabels"),
    )
}

pub fn network_policy() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- $operator := {selector} | fromYaml }}}}
{{{{- range .Values.networkPolicy.locustNamespaces }}}}
# Lets the operator read the Locust masters' web API in a namespace whose ingress is denied by
# default (live stats, result and report with liveStats.access: direct).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{{{ {fullname_root} }}}}-locust-master-stats
  namespace: {{{{ . }}}}
  labels:
    {{{{- {labels_root} | nindent 4 }}}}
spec:
  podSelector:
    matchLabels:
      {LABEL_K8S_MANAGED_BY}: {OPERATOR_NAME}
      {LABEL_K8S_COMPONENT}: {master}
  policyTypes:
    - Ingress
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{{{ $.Release.Namespace }}}}
          podSelector:
            matchLabels:
              {{{{- toYaml $operator | nindent 14 }}}}
      ports:
        - port: {PORT_NAME_WEB}
          protocol: TCP
---
{{{{- end }}}}
{{{{- if .Values.networkPolicy.enabled }}}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {fullname}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {labels} | nindent 4 }}}}
spec:
  podSelector:
    matchLabels:
      {{{{- {selector} | nindent 6 }}}}
  policyTypes:
    - Ingress
  ingress:
    # The API server calls the conversion webhook; its address differs between clusters.
    - ports:
        - port: {PORT_NAME_WEBHOOK}
          protocol: TCP
    # Kubelet probes.
    - ports:
        - port: {PORT_NAME_HEALTH}
          protocol: TCP
    - ports:
        - port: {PORT_NAME_METRICS}
          protocol: TCP
      {{{{- with .Values.networkPolicy.metricsFrom }}}}
      from:
        {{{{- toYaml . | nindent 8 }}}}
      {{{{- end }}}}
{{{{- end }}}}
"#,
        fullname = named("fullname"),
        labels = inc("labels"),
        selector = inc("selectorLabels"),
        master = Role::Master.as_str(),
        fullname_root = inc_root("fullname"),
        labels_root = inc_root("labels"),
    )
}

/// cert-manager mode: a self-signed Issuer (unless `issuerRef` names one) and the serving
/// Certificate for the webhook Service, written to the Secret the operator mounts.
pub fn certificate() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- if eq .Values.webhook.certificates "cert-manager" }}}}
{{{{- $service := {service} }}}}
{{{{- if not .Values.webhook.certManager.issuerRef }}}}
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {fullname}-selfsigned
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {labels} | nindent 4 }}}}
spec:
  selfSigned: {{}}
---
{{{{- end }}}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {certificate}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {labels} | nindent 4 }}}}
spec:
  secretName: {secret}
  dnsNames:
    - {{{{ $service }}}}.{{{{ .Release.Namespace }}}}.svc
    - {{{{ $service }}}}.{{{{ .Release.Namespace }}}}.svc.cluster.local
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  issuerRef:
    {{{{- with .Values.webhook.certManager.issuerRef }}}}
    name: {{{{ .name }}}}
    kind: {{{{ .kind }}}}
    group: {{{{ .group | default "cert-manager.io" }}}}
    {{{{- else }}}}
    name: {fullname}-selfsigned
    kind: Issuer
    group: cert-manager.io
    {{{{- end }}}}
{{{{- end }}}}
"#,
        service = inc("webhookServiceName"),
        fullname = named("fullname"),
        certificate = named("certificateName"),
        secret = named("webhookSecretName"),
        labels = inc("labels"),
    )
}
