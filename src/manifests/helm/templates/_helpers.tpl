{{/* The chart name, or nameOverride. */}}
{{- define "[[CHART]].name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name: fullnameOverride, else the release name, followed by the
chart name unless the release name contains it. */}}
{{- define "[[CHART]].fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "[[CHART]].chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object, without the component. */}}
{{- define "[[CHART]].commonLabels" -}}
helm.sh/chart: {{ include "[[CHART]].chart" . }}
[[LABEL_K8S_NAME]]: {{ include "[[CHART]].name" . }}
[[LABEL_K8S_INSTANCE]]: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
[[LABEL_K8S_PART_OF]]: [[OPERATOR_NAME]]
{{- end }}

{{/* What selects the operator's pods: the Go operator chart's selector, so that `helm upgrade`
of a release of that chart keeps its Deployment (a selector cannot change). */}}
{{- define "[[CHART]].selectorLabels" -}}
[[LABEL_K8S_NAME]]: {{ include "[[CHART]].name" . }}
[[LABEL_K8S_INSTANCE]]: {{ .Release.Name }}
{{- end }}

{{- define "[[CHART]].labels" -}}
{{ include "[[CHART]].commonLabels" . }}
[[LABEL_K8S_COMPONENT]]: [[COMPONENT]]
{{- end }}

{{- define "[[CHART]].serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "[[CHART]].fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "[[CHART]].image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "[[CHART]].webhookServiceName" -}}
{{- printf "%s[[WEBHOOK_SERVICE_SUFFIX]]" (include "[[CHART]].fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "[[CHART]].metricsServiceName" -}}
{{- printf "%s[[METRICS_SERVICE_SUFFIX]]" (include "[[CHART]].fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "[[CHART]].webhookSecretName" -}}
{{- default (printf "%s[[WEBHOOK_SECRET_SUFFIX]]" (include "[[CHART]].fullname" .)) .Values.webhook.secretName }}
{{- end }}

{{- define "[[CHART]].certificateName" -}}
{{- printf "%s-serving-cert" (include "[[CHART]].fullname" .) }}
{{- end }}

{{/* One environment variable: the first candidate value that is set and not empty. */}}
{{- define "[[CHART]].env" -}}
{{- $name := first . }}
{{- $value := "" }}
{{- range rest . }}
{{- if and (eq $value "") (not (kindIs "invalid" .)) }}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}
{{- $value = printf "%d" (int64 .) }}
{{- else }}
{{- $value = toString . }}
{{- end }}
{{- end }}
{{- end }}
{{- if ne $value "" -}}
- name: {{ $name }}
  value: {{ $value | quote }}
{{ end }}
{{- end }}

{{/* The operator configuration (docs/configuration.md) from locustPods, else the Java
operator chart's config block. */}}
{{- define "[[CHART]].locustPodsEnv" -}}
{{- $pods := .Values.locustPods | default dict }}
{{- $legacy := .Values.config | default dict }}
[[LOCUST_PODS_ENV]]
{{- end }}

[[OTEL_COLLECTOR]]
