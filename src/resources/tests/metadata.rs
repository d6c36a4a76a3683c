//! Names, namespaces, owner references, the complete shape of a minimal child, and errors.

use serde_json::json;

use super::{base, build, build_err, json, test_with};
use crate::api::names::OPERATOR_NAME;
use crate::config::Config;
use crate::resources::{BuildError, build_children, master_job, master_service, worker_job};

const UID: &str = "6f1c2a9e-3b7d-4c1e-9a55-0d2b8f7e4a10";

#[test]
fn children_are_named_after_the_test_with_dots_as_dashes() {
    let mut test = base();
    test.metadata.name = Some("team.checkout".to_string());
    let children = build(&test);
    assert_eq!(
        children.service.metadata.name.as_deref(),
        Some("team-checkout-master")
    );
    assert_eq!(
        children.master_job.metadata.name.as_deref(),
        Some("team-checkout-master")
    );
    assert_eq!(
        children.worker_job.metadata.name.as_deref(),
        Some("team-checkout-worker")
    );
    for namespace in [
        &children.service.metadata.namespace,
        &children.master_job.metadata.namespace,
        &children.worker_job.metadata.namespace,
    ] {
        assert_eq!(namespace.as_deref(), Some("load"));
    }
}

#[test]
fn every_child_is_controlled_by_the_test() {
    let children = build(&base());
    let expected = json!([{
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "name": "demo",
        "uid": UID,
        "controller": true,
    }]);
    for owners in [
        &children.service.metadata.owner_references,
        &children.master_job.metadata.owner_references,
        &children.worker_job.metadata.owner_references,
    ] {
        assert_eq!(json(owners), expected);
    }
}

#[test]
fn test_without_name_namespace_or_uid_is_refused_not_a_panic() {
    let config = Config::default();
    for (field, clear) in [
        (
            "name",
            (|t| t.metadata.name = None) as fn(&mut crate::api::v2::LocustTest),
        ),
        ("name", |t| t.metadata.name = Some(String::new())),
        ("namespace", |t| t.metadata.namespace = None),
        ("uid", |t| t.metadata.uid = None),
    ] {
        let mut test = base();
        clear(&mut test);
        let expected = BuildError::MissingMetadata { field };
        assert_eq!(build_err(&test, &config), expected);
        assert_eq!(master_service(&test, &config), Err(expected.clone()));
        assert_eq!(master_job(&test, &config), Err(expected.clone()));
        assert_eq!(worker_job(&test, &config), Err(expected));
    }
}

#[test]
fn build_children_is_the_three_builders_together() {
    let test =
        test_with("observability: {openTelemetry: {enabled: true, endpoint: http://c:4317}}");
    let config = Config::default();
    let children = build_children(&test, &config).unwrap();
    assert_eq!(children.service, master_service(&test, &config).unwrap());
    assert_eq!(children.master_job, master_job(&test, &config).unwrap());
    assert_eq!(children.worker_job, worker_job(&test, &config).unwrap());
}

#[test]
fn build_errors_name_the_field_and_what_to_do() {
    let forbidden = BuildError::ForbiddenField {
        field: "spec.scheduling.affinity",
        switch: "ENABLE_AFFINITY_CR_INJECTION",
    };
    assert_eq!(
        forbidden.to_string(),
        "spec.scheduling.affinity is set but the operator runs with ENABLE_AFFINITY_CR_INJECTION=false; remove the field or enable the switch"
    );
    let flag = BuildError::OperatorFlag {
        field: "spec.worker.extraArgs",
        flag: "--master-host=x".to_string(),
    };
    assert!(
        flag.to_string()
            .starts_with("spec.worker.extraArgs contains --master-host=x")
    );
    let missing = BuildError::MissingMetadata { field: "uid" };
    assert!(missing.to_string().contains("metadata.uid"));
}

/// The whole master Job of a minimal test with the operator defaults, field by field.
#[test]
fn minimal_master_job_is_exactly_this() {
    let job = build(&base()).master_job;
    let labels = json!({
        "app.kubernetes.io/managed-by": OPERATOR_NAME,
        "app.kubernetes.io/name": "locust",
        "app.kubernetes.io/instance": "demo",
        "app.kubernetes.io/component": "master",
    });
    let mut pod_labels = labels.clone();
    pod_labels.as_object_mut().unwrap().extend(
        json!({
            "app": "demo",
            "performance-test-name": "demo",
            "performance-test-pod-name": "demo-master",
            "managed-by": OPERATOR_NAME,
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let no_escalation =
        json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "demo-master",
            "namespace": "load",
            "labels": pod_labels,
            "ownerReferences": [{
                "apiVersion": "locust.io/v2", "kind": "LocustTest", "name": "demo",
                "uid": UID, "controller": true,
            }],
        },
        "spec": {
            "parallelism": 1,
            "backoffLimit": 0,
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/path": "/metrics",
                        "prometheus.io/port": "9646",
                    },
                },
                "spec": {
                    "restartPolicy": "Never",
                    "enableServiceLinks": false,
                    "automountServiceAccountToken": false,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "initContainers": [{
                        "name": "locust-metrics-exporter",
                        "image": "containersol/locust_exporter:v0.5.0",
                        "imagePullPolicy": "IfNotPresent",
                        "restartPolicy": "Always",
                        "env": [
                            {"name": "LOCUST_EXPORTER_URI", "value": "http://localhost:8089"},
                            {"name": "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "value": ":9646"},
                        ],
                        "ports": [{"name": "metrics", "containerPort": 9646, "protocol": "TCP"}],
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "30M"},
                            "limits": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "50M"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": true,
                        },
                    }],
                    "containers": [{
                        "name": "demo-master",
                        "image": "locustio/locust:2.43.3",
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            "--locustfile", "/lotest/src/demo.py", "--host", "https://shop.example",
                            "--users", "10", "--master", "--master-bind-port=5557",
                            "--expect-workers=3", "--autostart", "--autoquit", "60",
                            "--enable-rebalancing", "--only-summary",
                        ],
                        "ports": [
                            {"name": "port5557", "containerPort": 5557, "protocol": "TCP"},
                            {"name": "port5558", "containerPort": 5558, "protocol": "TCP"},
                            {"name": "web-ui", "containerPort": 8089, "protocol": "TCP"},
                        ],
                        "resources": {
                            "requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "30M"},
                            "limits": {"cpu": "1000m", "memory": "1024Mi", "ephemeral-storage": "50M"},
                        },
                        "securityContext": no_escalation,
                    }],
                },
            },
        },
    });
    assert_eq!(json(&job), expected);
}
