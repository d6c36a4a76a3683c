//! The optional OpenTelemetry Collector: its settings from either values layout
//! (`otelCollector.*`, or `openTelemetry.collector.*` of the original design, which wins key by
//! key), its configuration written from `exporters`, and its ConfigMap, Deployment and Service.

use super::helpers::inc;
use super::values::{OTEL_HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT};
use super::{CHART, TEMPLATE_HEADER};

/// `_helpers.tpl` part: `<chart>.otelCollector`, the collector's settings as YAML.
pub fn collector_helper() -> String {
    r#"{{/* The OpenTelemetry Collector's settings: otelCollector, with each key set under
openTelemetry.collector winning (deploy over enabled, exporters key by key); config written from
the exporters unless it is set. */}}
{{- define "CHART.otelCollector" -}}
{{- $c := deepCopy .Values.otelCollector }}
{{- $seed := dig "collector" dict (.Values.openTelemetry | default dict) }}
{{- if hasKey $seed "deploy" }}{{ $_ := set $c "enabled" $seed.deploy }}{{ end }}
{{- if hasKey $seed "image" }}{{ $_ := set $c "image" $seed.image }}{{ end }}
{{- if hasKey $seed "resources" }}{{ $_ := set $c "resources" $seed.resources }}{{ end }}
{{- $otlp := $c.exporters.otlp }}
{{- $prometheus := $c.exporters.prometheus }}
{{- $seedOtlp := dig "exporters" "otlp" dict $seed }}
{{- if hasKey $seedOtlp "endpoint" }}{{ $_ := set $otlp "endpoint" $seedOtlp.endpoint }}{{ end }}
{{- $seedPrometheus := dig "exporters" "prometheus" dict $seed }}
{{- if hasKey $seedPrometheus "enabled" }}{{ $_ := set $prometheus "enabled" $seedPrometheus.enabled }}{{ end }}
{{- if hasKey $seedPrometheus "port" }}{{ $_ := set $prometheus "port" $seedPrometheus.port }}{{ end }}
{{- $_ := set $prometheus "port" (int $prometheus.port) }}
{{- if not $c.config }}
{{- $exporters := dict }}
{{- $traces := list }}
{{- $metrics := list }}
{{- if $otlp.endpoint }}
{{- $_ := set $exporters "otlp" (dict "endpoint" $otlp.endpoint) }}
{{- $traces = append $traces "otlp" }}
{{- $metrics = append $metrics "otlp" }}
{{- end }}
{{- if $prometheus.enabled }}
{{- $_ := set $exporters "prometheus" (dict "endpoint" (printf "0.0.0.0:%d" $prometheus.port)) }}
{{- $metrics = append $metrics "prometheus" }}
{{- end }}
{{- if or (not $traces) (not $metrics) }}
{{- $_ := set $exporters "debug" (dict "verbosity" "basic") }}
{{- end }}
{{- if not $traces }}{{ $traces = list "debug" }}{{ end }}
{{- if not $metrics }}{{ $metrics = list "debug" }}{{ end }}
{{- $grpc := dict "endpoint" "0.0.0.0:GRPC_PORT" }}
{{- $http := dict "endpoint" "0.0.0.0:HTTP_PORT" }}
{{- $receivers := dict "otlp" (dict "protocols" (dict "grpc" $grpc "http" $http)) }}
{{- $pipelines := dict "traces" (dict "receivers" (list "otlp") "processors" (list "batch") "exporters" $traces) "metrics" (dict "receivers" (list "otlp") "processors" (list "batch") "exporters" $metrics) }}
{{- $service := dict "extensions" (list "health_check") "pipelines" $pipelines }}
{{- $extensions := dict "health_check" (dict "endpoint" "0.0.0.0:HEALTH_PORT") }}
{{- $config := dict "extensions" $extensions "receivers" $receivers "processors" (dict "batch" (dict)) "exporters" $exporters "service" $service }}
{{- $_ := set $c "config" (toYaml $config) }}
{{- end }}
{{- toYaml $c }}
{{- end }}
"#
    .replace("CHART", CHART)
    .replace("GRPC_PORT", &OTLP_GRPC_PORT.to_string())
    .replace("HTTP_PORT", &OTLP_HTTP_PORT.to_string())
    .replace("HEALTH_PORT", &OTEL_HEALTH_PORT.to_string())
}

/// The NOTES lines about the collector: where tests send to.
pub fn notes() -> String {
    r#"{{- $otel := include "CHART.otelCollector" . | fromYaml }}
{{- if $otel.enabled }}

OpenTelemetry Collector: tests send to it with
  spec.observability.openTelemetry: {enabled: true, endpoint: "http://{{ printf "%s-otel-collector" $fullname | trunc 63 | trimSuffix "-" }}.{{ .Release.Namespace }}:GRPC_PORT", insecure: true}
{{- else if (dig "collector" "externalEndpoint" "" (.Values.openTelemetry | default dict)) }}

OpenTelemetry: no collector deployed. Tests send to yours with
  spec.observability.openTelemetry: {enabled: true, endpoint: {{ .Values.openTelemetry.collector.externalEndpoint | quote }}}
(openTelemetry.collector.externalEndpoint is not injected into tests: the endpoint is per test).
{{- end }}
"#
    .replace("CHART", CHART)
    .replace("GRPC_PORT", &OTLP_GRPC_PORT.to_string())
}

/// The collector: its configuration, a Deployment and a Service, all `<fullname>-otel-collector`.
pub fn otel_collector() -> String {
    format!(
        r#"{TEMPLATE_HEADER}
{{{{- $otel := {settings} | fromYaml }}}}
{{{{- if $otel.enabled }}}}
{{{{- $name := printf "%s-otel-collector" ({fullname}) | trunc 63 | trimSuffix "-" }}}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{{{ $name }}}}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {common} | nindent 4 }}}}
    app.kubernetes.io/component: otel-collector
data:
  config.yaml: |
    {{{{- $otel.config | nindent 4 }}}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ $name }}}}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {common} | nindent 4 }}}}
    app.kubernetes.io/component: otel-collector
spec:
  replicas: {{{{ $otel.replicas }}}}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{{{ $name }}}}
      app.kubernetes.io/instance: {{{{ .Release.Name }}}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{{{ $name }}}}
        app.kubernetes.io/instance: {{{{ .Release.Name }}}}
        app.kubernetes.io/component: otel-collector
      annotations:
        checksum/config: {{{{ $otel.config | sha256sum }}}}
    spec:
      securityContext:
        {{{{- toYaml $otel.podSecurityContext | nindent 8 }}}}
      containers:
        - name: otel-collector
          image: {{{{ $otel.image }}}}
          args:
            - --config=/conf/config.yaml
          ports:
            - name: otlp-grpc
              containerPort: {OTLP_GRPC_PORT}
              protocol: TCP
            - name: otlp-http
              containerPort: {OTLP_HTTP_PORT}
              protocol: TCP
            - name: health
              containerPort: {OTEL_HEALTH_PORT}
              protocol: TCP
            {{{{- if $otel.exporters.prometheus.enabled }}}}
            - name: prometheus
              containerPort: {{{{ $otel.exporters.prometheus.port }}}}
              protocol: TCP
            {{{{- end }}}}
          livenessProbe:
            httpGet:
              path: /
              port: health
          readinessProbe:
            httpGet:
              path: /
              port: health
          resources:
            {{{{- toYaml $otel.resources | nindent 12 }}}}
          securityContext:
            {{{{- toYaml $otel.containerSecurityContext | nindent 12 }}}}
          volumeMounts:
            - name: config
              mountPath: /conf
              readOnly: true
      volumes:
        - name: config
          configMap:
            name: {{{{ $name }}}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{{{ $name }}}}
  namespace: {{{{ .Release.Namespace }}}}
  labels:
    {{{{- {common} | nindent 4 }}}}
    app.kubernetes.io/component: otel-collector
spec:
  selector:
    app.kubernetes.io/name: {{{{ $name }}}}
    app.kubernetes.io/instance: {{{{ .Release.Name }}}}
  ports:
    - name: otlp-grpc
      port: {OTLP_GRPC_PORT}
      targetPort: otlp-grpc
      protocol: TCP
    - name: otlp-http
      port: {OTLP_HTTP_PORT}
      targetPort: otlp-http
      protocol: TCP
    {{{{- if $otel.exporters.prometheus.enabled }}}}
    - name: prometheus
      port: {{{{ $otel.exporters.prometheus.port }}}}
      targetPort: prometheus
      protocol: TCP
    {{{{- end }}}}
{{{{- end }}}}
"#,
        settings = inc("otelCollector"),
        fullname = inc("fullname"),
        common = inc("commonLabels"),
    )
}
