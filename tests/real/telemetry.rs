//! Metrics, both ways: without OpenTelemetry the exporter runs as a native sidecar beside the
//! master and the master Job still completes; with OpenTelemetry Locust exports over OTLP to a
//! receiver in the cluster and no sidecar runs.
//!
//! The exporter image is a stand-in (hack/images/exporter_standin.py): the module proxy refuses
//! every version of containersol/locust_exporter, so the real one cannot be built here. It keeps
//! the exporter's contract (variables, port, metric names, runs until stopped).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::Api;
use serde_json::json;

use locust_operator::api::v2::Phase;

use crate::support::{Cluster, wait};

use super::common::{
    apply, ensure_operator, follow_to_end, master_log, namespace_with_target, pods_of,
};
use super::failures::{plan, test_manifest};

/// The exporter sidecar (an init container with restartPolicy Always) serves metrics scraped
/// from the running master; when Locust exits the sidecar is stopped and the Job completes.
pub async fn exporter_sidecar_serves_metrics_and_the_master_job_completes(
    cluster: &'static Cluster,
) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "exporter").await;
    plan(cluster, &ns, "/").await;
    let mut test = test_manifest(cluster, "exporter", &target, "");
    test["spec"]["master"]["command"] = json!(format!(
        "--locustfile /lotest/src/locustfile.py --host {target} --users 2 --spawn-rate 2 --run-time 15s"
    ));
    apply(cluster, &ns, &test);
    let client = cluster.client();
    let scraped = wait::until_ok(
        "the exporter sidecar to report a running test",
        Duration::from_secs(90),
        async || {
            let pod = pods_of(cluster, &ns, "exporter", "master")
                .await
                .into_iter()
                .next()
                .ok_or("no master pod")?;
            let name = pod.metadata.name.clone().unwrap_or_default();
            let uri = format!("/api/v1/namespaces/{ns}/pods/{name}:9646/proxy/metrics");
            let text = client
                .request_text(http::Request::get(&uri).body(Vec::new()).unwrap())
                .await
                .map_err(|e| e.to_string())?;
            if text.contains("locust_up 1") && text.contains("locust_users 2") {
                Ok((pod, text))
            } else {
                Err(text)
            }
        },
    )
    .await;
    let (pod, metrics) = scraped;
    let spec = pod.spec.unwrap();
    let sidecar = spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .next()
        .expect("an init container");
    assert_eq!(
        sidecar.restart_policy.as_deref(),
        Some("Always"),
        "a native sidecar"
    );
    assert_eq!(
        sidecar.image.as_deref(),
        Some(cluster.image("exporter").as_str())
    );
    assert!(metrics.contains("locust_workers_count 1"), "{metrics}");

    let (phases, _) = follow_to_end(cluster, &ns, "exporter", Duration::from_secs(120)).await;
    assert_eq!(
        phases.last(),
        Some(&Phase::Succeeded),
        "{phases:?}\n{}",
        master_log(cluster, &ns, "exporter").await
    );
    let job = Api::<Job>::namespaced(cluster.client(), &ns)
        .get("exporter-master")
        .await
        .unwrap();
    assert_eq!(
        job.status.and_then(|s| s.succeeded),
        Some(1),
        "the master Job completed"
    );
    let pod = pods_of(cluster, &ns, "exporter", "master").await.remove(0);
    let statuses = pod
        .status
        .unwrap()
        .init_container_statuses
        .unwrap_or_default();
    assert!(
        statuses.iter().all(|s| s
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some()),
        "the sidecar was stopped with the pod: {statuses:?}"
    );
}

/// `observability.openTelemetry` on: Locust runs with `--otel` and the OTEL_* variables and
/// exports to the receiver (gRPC); the receiver got metrics and traces from the test's
/// services; no exporter sidecar.
pub async fn open_telemetry_exports_to_an_in_cluster_receiver(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "otel").await;
    cluster.start_otlp_receiver(&ns).await;
    plan(cluster, &ns, "/").await;
    let mut test = test_manifest(cluster, "otel", &target, "");
    test["spec"]["observability"] = json!({"openTelemetry": {
        "enabled": true,
        "endpoint": format!("http://otel-collector.{ns}:4317"),
        "protocol": "grpc",
        "insecure": true,
        // Export every 2 s instead of every minute, so a short test exports while it runs.
        "extraEnvVars": {"OTEL_METRIC_EXPORT_INTERVAL": "2000"},
    }});
    apply(cluster, &ns, &test);
    let (phases, _) = follow_to_end(cluster, &ns, "otel", Duration::from_secs(150)).await;
    let log = master_log(cluster, &ns, "otel").await;
    assert_eq!(phases.last(), Some(&Phase::Succeeded), "{phases:?}\n{log}");
    let master = pods_of(cluster, &ns, "otel", "master").await.remove(0);
    let spec = master.spec.unwrap();
    assert!(
        spec.init_containers.unwrap_or_default().is_empty(),
        "no exporter sidecar with OTel"
    );
    assert!(
        spec.containers[0]
            .args
            .as_ref()
            .unwrap()
            .iter()
            .any(|a| a == "--otel")
    );
    let received = cluster.otlp_received(&ns).await;
    assert!(
        received["metrics"]["requests"].as_i64().unwrap_or(0) > 0,
        "no metrics reached the receiver: {received}\nmaster log:\n{log}"
    );
    assert_eq!(
        received["metrics"]["protocols"],
        json!(["grpc"]),
        "{received}"
    );
    let names = received["metrics"]["names"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        names.contains(&json!("locust.client.duration")),
        "Locust's request metric is missing: {received}"
    );
    assert!(
        received["traces"]["requests"].as_i64().unwrap_or(0) > 0,
        "no traces: {received}"
    );
    eprintln!("OTLP receiver got: {received}");
}
