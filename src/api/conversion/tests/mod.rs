//! Unit tests of the conversion, one file per concern; fixtures here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lossless;
mod mapping;
mod webhook;

use serde_json::json;

use super::*;
use crate::api::v1::{LegacyAffinity, LegacyNodeAffinity, RoleMaps, TolerationOperator};

fn v1_object(spec: Value) -> v1::LocustTest {
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "demo", "namespace": "load", "uid": "0d6c-11"},
        "spec": spec,
    }))
    .unwrap()
}

fn v2_object(spec: Value) -> v2::LocustTest {
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "demo", "namespace": "load", "uid": "0d6c-11"},
        "spec": spec,
    }))
    .unwrap()
}

/// A v1 object as the API server holds it: defaulted by its schema.
fn stored_v1(mut object: v1::LocustTest) -> v1::LocustTest {
    object.spec = defaulted_v1(&object.spec).unwrap();
    object
}

fn spec_json<T: Serialize>(spec: &T) -> Value {
    serde_json::to_value(spec).unwrap()
}

fn annotation<'a>(metadata: &'a ObjectMeta, key: &str) -> Option<&'a String> {
    metadata.annotations.as_ref()?.get(key)
}

fn minimal_v1() -> Value {
    json!({
        "masterCommandSeed": "--locustfile /lotest/src/demo.py --users 10",
        "workerCommandSeed": "--locustfile /lotest/src/demo.py",
        "workerReplicas": 3,
        "image": "locustio/locust:2.43.3",
    })
}

fn minimal_v2() -> Value {
    json!({
        "image": "locustio/locust:2.43.3",
        "master": {"command": "--locustfile /lotest/src/demo.py --users 10"},
        "worker": {"command": "--locustfile /lotest/src/demo.py", "replicas": 3},
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// A v2 spec using every field v1 cannot hold.
fn rich_v2() -> Value {
    with(
        minimal_v2(),
        json!({
            "imagePullSecrets": [{"name": "registry"}],
            "master": {
                "command": "--locustfile /lotest/src/demo.py --users 10",
                "resources": {"limits": {"memory": "1Gi"}},
                "labels": {"team": "checkout"},
                "autostart": true,
                "autoquit": {"enabled": true, "timeout": 120},
                "extraArgs": ["--only-summary"],
            },
            "worker": {
                "command": "--locustfile /lotest/src/demo.py",
                "replicas": 3,
                "processes": 4,
                "extraArgs": ["--stop-timeout", "10"],
            },
            "testFiles": {"configMapRef": "demo-src", "srcMountPath": "/tests"},
            "scheduling": {
                "nodeSelector": {"pool": "load"},
                "runtimeClassName": "gvisor",
                "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
            },
            "env": {"variables": [{"name": "TARGET", "value": "https://example.com"}]},
            "volumes": [{"name": "data", "emptyDir": {}}],
            "volumeMounts": [{"name": "data", "mountPath": "/data", "target": "worker"}],
            "security": {"podSecurityContext": {"runAsNonRoot": true, "runAsUser": 1000}},
            "observability": {"openTelemetry": {"enabled": true, "endpoint": "http://otel:4317"}},
        }),
    )
}
