//! The metrics exporter sidecar.

use serde_json::json;

use super::{base, build, build_with, json, pod, pod_meta, test_with};
use crate::api::v2::PullPolicy;
use crate::config::{Config, ResourceSettings};

const OTEL: &str = "observability: {openTelemetry: {enabled: true, endpoint: http://c:4317}}";

#[test]
fn exporter_is_a_native_sidecar_only_without_otel() {
    let children = build(&base());
    let master = pod(&children.master_job);
    let sidecars = master.init_containers.as_ref().unwrap();
    assert_eq!(sidecars.len(), 1);
    assert_eq!(sidecars[0].name, "locust-metrics-exporter");
    assert_eq!(sidecars[0].restart_policy.as_deref(), Some("Always"));
    // Not a regular container: the master Job must be able to complete.
    assert_eq!(master.containers.len(), 1);
    assert_eq!(pod(&children.worker_job).init_containers, None);

    let otel = build(&test_with(OTEL));
    assert_eq!(pod(&otel.master_job).init_containers, None);
    assert_eq!(pod(&otel.master_job).containers.len(), 1);
}

#[test]
fn exporter_image_port_pull_policy_and_resources_come_from_the_config() {
    let mut config = Config::default();
    config.exporter.image = "registry.local/locust_exporter:v0.5.0".to_string();
    config.exporter.port = 9999;
    config.exporter.pull_policy = PullPolicy::Always;
    config.exporter.resources =
        ResourceSettings::fixed(["10m", "16Mi", "1M"], ["20m", "32Mi", "2M"]);
    let children = build_with(&base(), &config);
    let exporter = &pod(&children.master_job).init_containers.as_ref().unwrap()[0];
    assert_eq!(
        json(exporter),
        json!({
            "name": "locust-metrics-exporter",
            "image": "registry.local/locust_exporter:v0.5.0",
            "imagePullPolicy": "Always",
            "restartPolicy": "Always",
            "env": [
                {"name": "LOCUST_EXPORTER_URI", "value": "http://localhost:8089"},
                {"name": "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "value": ":9999"},
            ],
            "ports": [{"name": "metrics", "containerPort": 9999, "protocol": "TCP"}],
            "resources": {
                "requests": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "1M"},
                "limits": {"cpu": "20m", "memory": "32Mi", "ephemeral-storage": "2M"},
            },
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": true,
            },
        })
    );
    // The scrape annotation and the Service follow the configured port.
    let annotations = pod_meta(&children.master_job).annotations.clone().unwrap();
    assert_eq!(annotations["prometheus.io/port"], "9999");
    let ports = children.service.spec.unwrap().ports.unwrap();
    assert!(
        ports
            .iter()
            .any(|p| p.port == 9999 && p.name.as_deref() == Some("prometheus-metrics"))
    );
}

#[test]
fn container_port_names_fit_the_fifteen_character_limit() {
    let children = build(&base());
    for job in [&children.master_job, &children.worker_job] {
        let spec = pod(job);
        let containers = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten());
        for port in containers.flat_map(|c| c.ports.iter().flatten()) {
            let name = port.name.as_deref().unwrap_or_default();
            assert!(
                name.len() <= 15,
                "container port name {name:?} is longer than 15"
            );
        }
    }
}
