#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

fn spec(extra: serde_json::Value) -> LocustTestSpec {
    let mut spec = json!({
        "image": "locustio/locust:2.43.3",
        "master": {"command": "--locustfile /lotest/src/locustfile.py"},
        "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
    });
    for (key, value) in extra.as_object().unwrap() {
        spec[key] = value.clone();
    }
    serde_json::from_value(spec).unwrap()
}

fn config_map(data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": "x"}, "data": data})).unwrap()
}

#[test]
fn every_required_config_map_is_found_with_its_field() {
    let spec = spec(json!({
        "testFiles": {"configMapRef": "plan", "libConfigMapRef": "plan-lib"},
        "env": {
            "configMapRefs": [{"name": "settings", "prefix": "APP_"}],
            "secretRefs": [{"name": "credentials"}],
            "variables": [
                {"name": "LITERAL", "value": "1"},
                {"name": "HOST", "valueFrom": {"configMapKeyRef": {"name": "hosts", "key": "host"}}},
                {"name": "SOFT", "valueFrom": {"configMapKeyRef": {"name": "soft", "key": "k", "optional": true}}},
            ],
            "secretMounts": [{"name": "tls", "mountPath": "/tls"}],
        },
        "volumes": [
            {"name": "data", "configMap": {"name": "data", "items": [{"key": "a.csv", "path": "a.csv"}]}},
            {"name": "unused", "configMap": {"name": "unused"}},
            {"name": "maybe", "configMap": {"name": "maybe", "optional": true}},
            {"name": "mixed", "projected": {"sources": [
                {"secret": {"name": "s"}},
                {"configMap": {"name": "projected"}},
            ]}},
            {"name": "secret-volume", "secret": {"secretName": "other"}},
        ],
        "volumeMounts": [
            {"name": "data", "mountPath": "/data", "target": "worker"},
            {"name": "maybe", "mountPath": "/maybe"},
            {"name": "mixed", "mountPath": "/mixed", "target": "master"},
            {"name": "secret-volume", "mountPath": "/other"},
        ],
    }));
    let found: Vec<(String, String, Option<String>)> = required_config_maps(&spec)
        .into_iter()
        .map(|r| (r.name, r.field, r.key))
        .collect();
    let expected = [
        ("plan", "spec.testFiles.configMapRef", None),
        ("plan-lib", "spec.testFiles.libConfigMapRef", None),
        ("settings", "spec.env.configMapRefs[0]", None),
        (
            "hosts",
            "spec.env.variables[1].valueFrom.configMapKeyRef",
            Some("host"),
        ),
        ("data", "spec.volumes[0].configMap", None),
        ("data", "spec.volumes[0].configMap.items[0]", Some("a.csv")),
        (
            "projected",
            "spec.volumes[3].projected.sources[1].configMap",
            None,
        ),
    ];
    let expected: Vec<(String, String, Option<String>)> = expected
        .iter()
        .map(|(n, f, k)| (n.to_string(), f.to_string(), k.map(str::to_string)))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_spec_without_config_maps_needs_none() {
    assert!(required_config_maps(&spec(json!({}))).is_empty());
}

#[test]
fn missing_names_each_object_once_with_every_field_and_missing_keys() {
    let spec = spec(json!({
        "testFiles": {"configMapRef": "plan", "libConfigMapRef": "plan-lib"},
        "env": {
            "configMapRefs": [{"name": "plan"}],
            "variables": [
                {"name": "HOST", "valueFrom": {"configMapKeyRef": {"name": "hosts", "key": "host"}}},
                {"name": "PORT", "valueFrom": {"configMapKeyRef": {"name": "hosts", "key": "port"}}},
            ],
        },
    }));
    let hosts = config_map(json!({"port": "80"}));
    let lib = config_map(json!({}));
    let lines = missing(&required_config_maps(&spec), |name| match name {
        "hosts" => Some(&hosts),
        "plan-lib" => Some(&lib),
        _ => None,
    });
    assert_eq!(
        lines,
        vec![
            "ConfigMap \"hosts\" has no key \"host\" (spec.env.variables[0].valueFrom.configMapKeyRef)",
            "ConfigMap \"plan\" does not exist (spec.testFiles.configMapRef, spec.env.configMapRefs[0])",
        ]
    );
}

#[test]
fn binary_data_keys_count() {
    let spec = spec(json!({
        "volumes": [{"name": "blob", "configMap": {"name": "blob", "items": [{"key": "b.bin", "path": "b"}]}}],
        "volumeMounts": [{"name": "blob", "mountPath": "/blob"}],
    }));
    let blob: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "blob"}, "binaryData": {"b.bin": "AAE="}}),
    )
    .unwrap();
    assert!(missing(&required_config_maps(&spec), |_| Some(&blob)).is_empty());
}

#[test]
fn the_wait_ends_with_the_grace_period_and_polls_sooner_at_first() {
    let created: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
    let grace = Duration::from_secs(120);
    let at = |secs: i64| created + jiff::SignedDuration::from_secs(secs);
    assert_eq!(
        wait_left(Some(created), at(2), grace),
        Some((Duration::from_secs(118), Duration::from_secs(1)))
    );
    assert_eq!(
        wait_left(Some(created), at(20), grace),
        Some((Duration::from_secs(100), Duration::from_secs(5)))
    );
    assert_eq!(
        wait_left(Some(created), at(115), grace),
        Some((Duration::from_secs(5), Duration::from_millis(5100)))
    );
    assert_eq!(wait_left(Some(created), at(120), grace), None);
    assert_eq!(wait_left(Some(created), at(500), grace), None);
    // No grace period: fail fast.
    assert_eq!(wait_left(Some(created), at(0), Duration::ZERO), None);
}

#[test]
fn the_check_runs_only_before_the_children_exist() {
    let status = |phase: Option<Phase>, ready_reason: Option<&str>| LocustTestStatus {
        phase,
        conditions: ready_reason.map(|r| {
            vec![
                serde_json::from_value(json!({
                    "type": "Ready", "status": "False", "reason": r, "message": "",
                    "lastTransitionTime": "2026-11-22T10:00:00Z",
                }))
                .unwrap(),
            ]
        }),
        ..LocustTestStatus::default()
    };
    assert!(before_children(&status(None, None)));
    assert!(before_children(&status(
        Some(Phase::Pending),
        Some(reason::WAITING_FOR_CONFIG_MAPS)
    )));
    assert!(!before_children(&status(
        Some(Phase::Pending),
        Some(reason::RESOURCES_CREATED)
    )));
    assert!(!before_children(&status(Some(Phase::Running), None)));
}

#[test]
fn waiting_is_pending_with_one_event_and_failing_is_final() {
    let now: Timestamp = "2026-11-22T10:00:05Z".parse().unwrap();
    let first = status::waiting(
        &LocustTestStatus::default(),
        Some(1),
        reason::WAITING_FOR_CONFIG_MAPS,
        "ConfigMap \"plan\" does not exist".into(),
        Duration::from_secs(1),
        now,
    );
    assert_eq!(first.status.phase, Some(Phase::Pending));
    assert_eq!(first.events.len(), 1);
    assert!(first.events[0].warning);
    assert_eq!(first.requeue_after, Some(Duration::from_secs(1)));
    assert!(before_children(&first.status));
    // The same wait again: the same status (no write), no new event.
    let later = now + jiff::SignedDuration::from_secs(3);
    let again = status::waiting(
        &first.status,
        Some(1),
        reason::WAITING_FOR_CONFIG_MAPS,
        "ConfigMap \"plan\" does not exist".into(),
        Duration::from_secs(1),
        later,
    );
    assert_eq!(again.status, first.status);
    assert!(again.events.is_empty());
}
