{{/* The OpenTelemetry Collector's settings: otelCollector, with each key set under
openTelemetry.collector winning (deploy over enabled, exporters key by key); config written from
the exporters unless it is set. */}}
{{- define "[[CHART]].otelCollector" -}}
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
{{- $grpc := dict "endpoint" "0.0.0.0:[[OTLP_GRPC_PORT]]" }}
{{- $http := dict "endpoint" "0.0.0.0:[[OTLP_HTTP_PORT]]" }}
{{- $receivers := dict "otlp" (dict "protocols" (dict "grpc" $grpc "http" $http)) }}
{{- $pipelines := dict "traces" (dict "receivers" (list "otlp") "processors" (list "batch") "exporters" $traces) "metrics" (dict "receivers" (list "otlp") "processors" (list "batch") "exporters" $metrics) }}
{{- $service := dict "extensions" (list "health_check") "pipelines" $pipelines }}
{{- $extensions := dict "health_check" (dict "endpoint" "0.0.0.0:[[OTEL_HEALTH_PORT]]") }}
{{- $config := dict "extensions" $extensions "receivers" $receivers "processors" (dict "batch" (dict)) "exporters" $exporters "service" $service }}
{{- $_ := set $c "config" (toYaml $config) }}
{{- end }}
{{- toYaml $c }}
{{- end }}
