//! Environment of the Locust containers.

use serde_json::json;

use super::{base, build, build_err, env, json, locust, test_with};
use crate::config::Config;
use crate::resources::BuildError;

#[test]
fn no_env_without_opentelemetry_or_variables_and_never_kafka() {
    let children = build(&base());
    assert_eq!(locust(&children.master_job).env, None);
    assert_eq!(locust(&children.worker_job).env, None);
    assert_eq!(locust(&children.master_job).env_from, None);
}

#[test]
fn otel_variables_then_extra_vars_in_key_order_then_user_variables_which_shadow_them() {
    let test = test_with(
        r#"
observability:
  openTelemetry:
    enabled: true
    endpoint: http://otel-collector.monitoring:4317
    insecure: true
    extraEnvVars: {OTEL_SERVICE_NAME: shop, OTEL_METRIC_EXPORT_INTERVAL: "2000"}
env:
  variables:
    - {name: TARGET_TOKEN, valueFrom: {secretKeyRef: {name: tokens, key: shop}}}
    - {name: OTEL_SERVICE_NAME, value: override}
"#,
    );
    let children = build(&test);
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(
            env(job),
            [
                ("OTEL_TRACES_EXPORTER", Some("otlp")),
                ("OTEL_METRICS_EXPORTER", Some("otlp")),
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    Some("http://otel-collector.monitoring:4317")
                ),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", Some("grpc")),
                ("OTEL_EXPORTER_OTLP_INSECURE", Some("true")),
                ("OTEL_METRIC_EXPORT_INTERVAL", Some("2000")),
                // Shadowed by the user's variable of the same name: left out (one
                // variable per name).
                ("TARGET_TOKEN", None),
                ("OTEL_SERVICE_NAME", Some("override")),
            ]
        );
    }
}

#[test]
fn otel_protocol_is_passed_and_insecure_only_when_true() {
    for (overlay, protocol) in [
        ("protocol: http/protobuf, insecure: false", "http/protobuf"),
        ("protocol: grpc", "grpc"),
        ("{}", "grpc"),
    ] {
        let overlay = if overlay == "{}" { "" } else { overlay };
        let test = test_with(&format!(
            "observability: {{openTelemetry: {{enabled: true, endpoint: http://c:4318, {overlay}}}}}"
        ));
        let env = env(&build(&test).master_job)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect::<Vec<_>>();
        assert!(env.contains(&(
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_string(),
            Some(protocol.to_string())
        )));
        assert!(!env.iter().any(|(k, _)| k == "OTEL_EXPORTER_OTLP_INSECURE"));
    }
}

#[test]
fn user_variables_pass_unchanged_including_value_from() {
    let test = test_with(
        r#"
env:
  variables:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: LOCUST_LOGLEVEL, value: DEBUG}
"#,
    );
    let children = build(&test);
    assert_eq!(
        json(&locust(&children.worker_job).env),
        json!([
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "LOCUST_LOGLEVEL", "value": "DEBUG"},
        ])
    );
    assert_eq!(
        locust(&children.master_job).env,
        locust(&children.worker_job).env
    );
}

#[test]
fn env_from_lists_config_maps_then_secrets_with_their_prefixes() {
    let test = test_with(
        r#"
env:
  secretRefs: [{name: api-keys, prefix: KEY_}]
  configMapRefs: [{name: targets}, {name: tuning, prefix: TUNE_}, {name: blank, prefix: ""}]
"#,
    );
    let children = build(&test);
    let expected = json!([
        {"configMapRef": {"name": "targets"}},
        {"configMapRef": {"name": "tuning"}, "prefix": "TUNE_"},
        {"configMapRef": {"name": "blank"}},
        {"secretRef": {"name": "api-keys"}, "prefix": "KEY_"},
    ]);
    assert_eq!(json(&locust(&children.master_job).env_from), expected);
    assert_eq!(json(&locust(&children.worker_job).env_from), expected);
}

#[test]
fn disabled_opentelemetry_settings_are_inert() {
    let test =
        test_with("observability: {openTelemetry: {enabled: false, endpoint: http://c:4317}}");
    assert_eq!(build(&test), build(&base()));
}

#[test]
fn opentelemetry_without_endpoint_is_refused() {
    let config = Config::default();
    for overlay in [
        "observability: {openTelemetry: {enabled: true}}",
        "observability: {openTelemetry: {enabled: true, endpoint: ''}}",
    ] {
        assert_eq!(
            build_err(&test_with(overlay), &config),
            BuildError::MissingOtelEndpoint
        );
    }
}
