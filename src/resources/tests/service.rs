//! The master Service.

use serde_json::json;

use super::{base, build, json, test_with};

#[test]
fn master_service_selects_the_master_pod_and_exposes_zmq_web_and_metrics() {
    let service = build(&base()).service;
    assert_eq!(
        json(&service.spec),
        json!({
            "type": "ClusterIP",
            "selector": {"performance-test-pod-name": "demo-master"},
            "ports": [
                {"name": "port5557", "port": 5557, "targetPort": 5557, "protocol": "TCP"},
                {"name": "port5558", "port": 5558, "targetPort": 5558, "protocol": "TCP"},
                {"name": "web-ui", "port": 8089, "targetPort": 8089, "protocol": "TCP"},
                {"name": "prometheus-metrics", "port": 9646, "targetPort": 9646, "protocol": "TCP"},
            ],
        })
    );
    assert_eq!(json(&service)["apiVersion"], "v1");
    assert_eq!(json(&service)["kind"], "Service");
}

#[test]
fn metrics_port_is_absent_when_the_exporter_does_not_run() {
    let service = build(&test_with(
        "observability: {openTelemetry: {enabled: true, endpoint: http://c:4317}}",
    ))
    .service;
    let ports: Vec<_> = service
        .spec
        .unwrap()
        .ports
        .unwrap()
        .into_iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, [5557, 5558, 8089]);
}

#[test]
fn service_selector_matches_the_master_pod_labels() {
    let mut test = base();
    test.metadata.name = Some("a.b".to_string());
    let children = build(&test);
    let selector = children.service.spec.unwrap().selector.unwrap();
    let labels = super::pod_meta(&children.master_job)
        .labels
        .clone()
        .unwrap();
    for (key, value) in &selector {
        assert_eq!(labels.get(key), Some(value));
    }
    let worker_labels = super::pod_meta(&children.worker_job)
        .labels
        .clone()
        .unwrap();
    assert!(
        selector
            .iter()
            .any(|(k, v)| worker_labels.get(k) != Some(v))
    );
}
