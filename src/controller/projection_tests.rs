#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::config::Config;
use crate::controller::diagnosis::{self, diagnose, role_of};
use crate::controller::{labelled_test, owning_test};
use crate::resources::build_children;
use kube::ResourceExt;

fn test() -> LocustTest {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/valid/v2-full.yaml"
    ))
    .unwrap();
    let mut test: LocustTest = serde_yaml::from_str(&text).unwrap();
    test.metadata.namespace = Some("load".into());
    test.metadata.uid = Some("0000-1111".into());
    test
}

fn config() -> Config {
    Config {
        affinity_injection: true,
        tolerations_injection: true,
        ..Config::default()
    }
}

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

/// A pod of `job` as the API server would send it, stuck creating for 200 s.
fn pod_of(job: &Job) -> Pod {
    let template = job.spec.clone().unwrap().template;
    let mut pod = Pod {
        metadata: template.metadata.unwrap_or_default(),
        spec: template.spec,
        status: serde_json::from_value(json!({
            "phase": "Pending",
            "containerStatuses": [{
                "name": "x", "image": "locust", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }],
        }))
        .unwrap(),
    };
    pod.metadata.name = Some(format!("{}-abcde", job.metadata.name.clone().unwrap()));
    pod.metadata.namespace = job.metadata.namespace.clone();
    pod.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        now() - jiff::SignedDuration::from_secs(200),
    ));
    pod.metadata.annotations = Some([("kwok.x-k8s.io/node".to_string(), "n".to_string())].into());
    pod
}

#[test]
fn a_projected_pod_gives_the_same_diagnosis_role_and_test() {
    let children = build_children(&test(), &config()).unwrap();
    for job in [&children.master_job, &children.worker_job] {
        let full = pod_of(job);
        let mut projected = full.clone();
        projected.project();

        let grace = Duration::from_secs(120);
        let before = diagnose(&[&full], now(), grace);
        let after = diagnose(&[&projected], now(), grace);
        assert!(before.fatal.is_some(), "{before:?}");
        assert_eq!(before, after);
        assert_eq!(role_of(&full), role_of(&projected));
        assert!(role_of(&projected).is_some());
        assert_eq!(labelled_test(&full), labelled_test(&projected));
        assert!(labelled_test(&projected).is_some());

        // What went: everything of the containers but their names, annotations.
        let spec = projected.spec.as_ref().unwrap();
        assert!(spec.containers.iter().all(|c| c.env.is_none()
            && c.image.is_none()
            && c.args.is_none()
            && c.resources.is_none()));
        assert!(
            projected
                .annotations()
                .keys()
                .all(|k| k == diagnosis::MOUNTS_ANNOTATION)
        );
        let size = |p: &Pod| serde_json::to_vec(p).unwrap().len();
        assert!(
            size(&projected) * 2 < size(&full),
            "{} of {} bytes kept",
            size(&projected),
            size(&full)
        );
    }
}

#[test]
fn a_projected_stuck_pod_still_names_every_configmap_and_secret_it_mounts() {
    let children = build_children(&test(), &config()).unwrap();
    let mut pod = pod_of(&children.worker_job);
    pod.spec.as_mut().unwrap().volumes = Some(
        serde_json::from_value(json!([
            {"name": "a", "configMap": {"name": "plan", "defaultMode": 420}},
            {"name": "b", "secret": {"secretName": "tls", "defaultMode": 420}},
            {"name": "c", "emptyDir": {}},
            {"name": "d", "projected": {"sources": []}},
        ]))
        .unwrap(),
    );
    let full = pod.clone();
    pod.project();
    assert_eq!(pod.spec.as_ref().unwrap().volumes, None);
    assert_eq!(
        diagnosis::mounted(&pod),
        ["ConfigMap \"plan\"", "Secret \"tls\""],
        "only ConfigMaps and Secrets, by name"
    );
    assert_eq!(diagnosis::mounted(&pod), diagnosis::mounted(&full));
    let grace = Duration::from_secs(120);
    let message = diagnose(&[&pod], now(), grace).fatal.unwrap().message;
    assert!(
        message.contains("it mounts ConfigMap \"plan\", Secret \"tls\";"),
        "{message}"
    );
}

#[test]
fn a_projected_job_keeps_its_owner_labels_and_status() {
    let children = build_children(&test(), &config()).unwrap();
    let mut job = children.master_job.clone();
    job.status = serde_json::from_value(json!({
        "active": 1,
        "conditions": [{"type": "Complete", "status": "True"}],
    }))
    .unwrap();
    let mut projected = job.clone();
    projected.project();
    assert_eq!(projected.spec, None);
    assert_eq!(projected.status, job.status);
    assert_eq!(projected.metadata.labels, job.metadata.labels);
    assert_eq!(owning_test(&projected), owning_test(&job));
    assert!(owning_test(&projected).is_some());

    let mut service = children.service.clone();
    service.project();
    assert_eq!(service.spec, None);
    assert_eq!(owning_test(&service), owning_test(&children.service));
    assert!(owning_test(&service).is_some());
}

#[test]
fn a_projected_test_loses_only_its_managed_fields_and_kubectls_copy() {
    let mut test = test();
    test.metadata.managed_fields = Some(vec![Default::default()]);
    let copy = serde_json::to_string(&test).unwrap();
    test.metadata.annotations = Some(
        [
            ("a".to_string(), "b".to_string()),
            (LAST_APPLIED.to_string(), copy),
        ]
        .into(),
    );
    let mut projected = test.clone();
    projected.project();
    test.metadata.managed_fields = None;
    test.metadata.annotations = Some([("a".to_string(), "b".to_string())].into());
    assert_eq!(
        serde_json::to_value(&projected).unwrap(),
        serde_json::to_value(&test).unwrap()
    );
}
