//! Labels and annotations.

use std::collections::BTreeMap;

use super::{base, build, pod_meta, test_with};
use crate::api::names::{
    LABEL_K8S_COMPONENT, LABEL_K8S_INSTANCE, LABEL_K8S_MANAGED_BY, LABEL_K8S_NAME,
    LABEL_K8S_PART_OF, OPERATOR_NAME, managed_children_selector,
};

fn labels(map: &Option<BTreeMap<String, String>>) -> Vec<(&str, &str)> {
    map.iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn every_child_and_pod_carries_the_label_the_watches_select_on() {
    let children = build(&base());
    let (key, value) = {
        let selector = managed_children_selector();
        let (k, v) = selector.split_once('=').unwrap();
        (k.to_string(), v.to_string())
    };
    for map in [
        &children.service.metadata.labels,
        &children.master_job.metadata.labels,
        &children.worker_job.metadata.labels,
        &pod_meta(&children.master_job).labels,
        &pod_meta(&children.worker_job).labels,
    ] {
        assert_eq!(map.as_ref().unwrap().get(&key), Some(&value));
    }
}

#[test]
fn service_carries_recommended_labels_and_jobs_their_pods_labels() {
    let children = build(&base());
    let expected = |component| {
        vec![
            (LABEL_K8S_COMPONENT, component),
            (LABEL_K8S_INSTANCE, "demo"),
            (LABEL_K8S_MANAGED_BY, OPERATOR_NAME),
            (LABEL_K8S_NAME, "locust"),
        ]
    };
    // The Service fronts the master pod, so it is part of the master component.
    assert_eq!(
        labels(&children.service.metadata.labels),
        expected("master")
    );
    // A Go Job carried its pod template's labels (the API server copied them): so do ours.
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(job.metadata.labels, pod_meta(job).labels);
    }
    let master_job = labels(&children.master_job.metadata.labels);
    for label in expected("master") {
        assert!(master_job.contains(&label), "{label:?} in {master_job:?}");
    }
    assert!(
        !children
            .service
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(LABEL_K8S_PART_OF)
    );
}

#[test]
fn jobs_and_pods_carry_the_go_operator_labels() {
    let mut test = base();
    test.metadata.name = Some("team.checkout".to_string());
    let children = build(&test);
    for (job, pod_name, component) in [
        (&children.master_job, "team-checkout-master", "master"),
        (&children.worker_job, "team-checkout-worker", "worker"),
    ] {
        assert_eq!(labels(&job.metadata.labels), labels(&pod_meta(job).labels));
        assert_eq!(
            labels(&pod_meta(job).labels),
            vec![
                ("app", "team.checkout"),
                (LABEL_K8S_COMPONENT, component),
                (LABEL_K8S_INSTANCE, "team.checkout"),
                (LABEL_K8S_MANAGED_BY, OPERATOR_NAME),
                (LABEL_K8S_NAME, "locust"),
                ("managed-by", OPERATOR_NAME),
                ("performance-test-name", "team.checkout"),
                ("performance-test-pod-name", pod_name),
            ]
        );
    }
}

#[test]
fn user_labels_never_override_selector_labels() {
    let hostile = r#"{
        performance-test-pod-name: x, performance-test-name: x, managed-by: x,
        app.kubernetes.io/managed-by: x, app.kubernetes.io/instance: x,
        app.kubernetes.io/component: x
    }"#;
    let test = test_with(&format!(
        "{{master: {{labels: {hostile}}}, worker: {{labels: {hostile}}}}}"
    ));
    let children = build(&test);
    assert_eq!(
        pod_meta(&children.master_job).labels,
        pod_meta(&build(&base()).master_job).labels
    );
    assert_eq!(
        pod_meta(&children.worker_job).labels,
        pod_meta(&build(&base()).worker_job).labels
    );
}

#[test]
fn user_labels_are_merged_into_their_role_and_may_set_app_and_name() {
    let test = test_with(
        r#"
master: {labels: {team: payments, app: checkout, app.kubernetes.io/name: shop-load}}
worker: {labels: {pool: spot}}
"#,
    );
    let children = build(&test);
    let master = pod_meta(&children.master_job).labels.clone().unwrap();
    assert_eq!(master["team"], "payments");
    assert_eq!(master["app"], "checkout");
    assert_eq!(master[LABEL_K8S_NAME], "shop-load");
    assert!(!master.contains_key("pool"));
    let worker = pod_meta(&children.worker_job).labels.clone().unwrap();
    assert_eq!(worker["pool"], "spot");
    assert_eq!(worker["app"], "demo");
    assert!(!worker.contains_key("team"));
    // Job objects carry their pods' labels, the user's included, as Go Jobs did.
    assert_eq!(children.master_job.metadata.labels, Some(master));
    assert_eq!(children.worker_job.metadata.labels, Some(worker));
}

#[test]
fn prometheus_annotations_are_on_the_master_pod_only_while_the_exporter_runs() {
    let children = build(&base());
    assert_eq!(
        labels(&pod_meta(&children.master_job).annotations),
        vec![
            ("prometheus.io/path", "/metrics"),
            ("prometheus.io/port", "9646"),
            ("prometheus.io/scrape", "true"),
        ]
    );
    assert_eq!(pod_meta(&children.worker_job).annotations, None);

    let otel = build(&test_with(
        "observability: {openTelemetry: {enabled: true, endpoint: http://c:4317}}",
    ));
    assert_eq!(pod_meta(&otel.master_job).annotations, None);
}

#[test]
fn user_annotations_reach_their_role_and_win_over_prometheus_annotations() {
    let test = test_with(
        r#"
master: {annotations: {prometheus.io/scrape: "false", owner: alice}}
worker: {annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: "false"}}
"#,
    );
    let children = build(&test);
    let master = pod_meta(&children.master_job).annotations.clone().unwrap();
    assert_eq!(master["prometheus.io/scrape"], "false");
    assert_eq!(master["prometheus.io/port"], "9646");
    assert_eq!(master["owner"], "alice");
    assert!(!master.contains_key("cluster-autoscaler.kubernetes.io/safe-to-evict"));
    assert_eq!(
        labels(&pod_meta(&children.worker_job).annotations),
        vec![("cluster-autoscaler.kubernetes.io/safe-to-evict", "false")]
    );
}
