//! The optional OpenTelemetry Collector: its settings from either values layout
//! (`otelCollector.*`, or `openTelemetry.collector.*` of the original design, which wins key by
//! key), its configuration written from `exporters`, and its ConfigMap, Deployment and Service.

use crate::manifests::yaml::RenderError;

use super::CHART;
use super::fill::source;
use super::values::{OTEL_HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT};

/// `_helpers.tpl` part: `<chart>.otelCollector`, the collector's settings as YAML.
pub fn collector_helper() -> Result<String, RenderError> {
    source!("parts/otel-collector-helper.tpl").fill(&[
        ("CHART", &CHART),
        ("OTLP_GRPC_PORT", &OTLP_GRPC_PORT),
        ("OTLP_HTTP_PORT", &OTLP_HTTP_PORT),
        ("OTEL_HEALTH_PORT", &OTEL_HEALTH_PORT),
    ])
}

/// The NOTES lines about the collector: where tests send to.
pub fn notes() -> Result<String, RenderError> {
    source!("parts/otel-notes.txt").fill(&[("CHART", &CHART), ("OTLP_GRPC_PORT", &OTLP_GRPC_PORT)])
}

/// The collector: its configuration, a Deployment and a Service, all `<fullname>-otel-collector`.
pub fn otel_collector() -> Result<String, RenderError> {
    source!("otel-collector.yaml").fill(&[
        ("CHART", &CHART),
        ("OTLP_GRPC_PORT", &OTLP_GRPC_PORT),
        ("OTLP_HTTP_PORT", &OTLP_HTTP_PORT),
        ("OTEL_HEALTH_PORT", &OTEL_HEALTH_PORT),
    ])
}
