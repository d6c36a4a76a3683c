#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

const GRACE: Duration = Duration::from_secs(120);

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn job(conditions: serde_json::Value) -> Job {
    serde_json::from_value(
        json!({"metadata": {"name": "demo-worker"}, "status": {"conditions": conditions}}),
    )
    .unwrap()
}

fn pod(role: &str, phase: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("demo-{role}-x"), "labels": {"app.kubernetes.io/component": role},
            "creationTimestamp": "2026-11-22T09:59:00Z"},
        "spec": {"containers": [{"name": format!("demo-{role}")}]},
        "status": {"phase": phase},
    }))
    .unwrap()
}

fn observed<'a>(
    pods: Vec<&'a Pod>,
    master: Option<&'a Job>,
    worker: Option<&'a Job>,
) -> Observed<'a> {
    Observed {
        generation: Some(1),
        expected_workers: 2,
        processes_per_pod: 1,
        master_job: master,
        worker_job: worker,
        pods,
        now: now(),
        grace: GRACE,
        exposure: None,
        stats: StatsView::off(WebUi::default()),
    }
}

fn condition<'a>(status: &'a LocustTestStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap()
}

#[test]
fn new_test_is_pending_with_all_conditions() {
    let out = derive(&LocustTestStatus::default(), &observed(vec![], None, None));
    assert_eq!(out.status.phase, Some(Phase::Pending));
    assert_eq!(out.status.expected_workers, Some(2));
    assert_eq!(out.status.connected_workers, Some(0));
    for type_ in [
        condition::READY,
        condition::WORKERS_CONNECTED,
        condition::TEST_COMPLETED,
        condition::PODS_HEALTHY,
    ] {
        condition(&out.status, type_);
    }
    assert_eq!(
        condition(&out.status, condition::TEST_COMPLETED).status,
        "False"
    );
    // The Go operator's reasons, where they mean the same.
    let reasons: Vec<(&str, &str)> = [
        condition::READY,
        condition::WORKERS_CONNECTED,
        condition::TEST_COMPLETED,
        condition::PODS_HEALTHY,
    ]
    .iter()
    .map(|t| {
        let c = condition(&out.status, t);
        (c.status.as_str(), c.reason.as_str())
    })
    .collect();
    assert_eq!(
        reasons,
        [
            ("True", "ResourcesCreated"),
            ("False", "WorkersMissing"),
            ("False", "TestInProgress"),
            ("True", "PodsStarting"),
        ]
    );
    assert!(out.events.is_empty());
}

#[test]
fn running_master_pod_moves_to_running_once() {
    let master = pod("master", "Running");
    let w1 = pod("worker", "Running");
    let out = derive(
        &LocustTestStatus::default(),
        &observed(vec![&master, &w1], None, None),
    );
    assert_eq!(out.status.phase, Some(Phase::Running));
    assert_eq!(out.status.start_time, Some(Time(now())));
    assert_eq!(out.status.connected_workers, Some(1));
    assert_eq!(
        condition(&out.status, condition::WORKERS_CONNECTED).message,
        "1/2 workers connected (estimated from running worker pods)"
    );
    assert!(out.events.iter().any(|e| e.reason == reason::TEST_STARTED));

    // The master pod is gone for a moment (recreated Job): Running does not flap back.
    let again = derive(&out.status, &observed(vec![], None, None));
    assert_eq!(again.status.phase, Some(Phase::Running));
    assert!(
        again
            .events
            .iter()
            .all(|e| e.reason != reason::TEST_STARTED)
    );
}

#[test]
fn all_workers_connected_is_announced_once() {
    let master = pod("master", "Running");
    let (w1, w2) = (pod("worker", "Running"), pod("worker", "Running"));
    let out = derive(
        &LocustTestStatus::default(),
        &observed(vec![&master, &w1, &w2], None, None),
    );
    assert_eq!(
        condition(&out.status, condition::WORKERS_CONNECTED).status,
        "True"
    );
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == reason::ALL_WORKERS_CONNECTED)
    );
    let again = derive(&out.status, &observed(vec![&master, &w1, &w2], None, None));
    assert!(again.events.is_empty());
    assert_eq!(
        condition(&again.status, condition::WORKERS_CONNECTED).last_transition_time,
        condition(&out.status, condition::WORKERS_CONNECTED).last_transition_time
    );
}

#[test]
fn processes_multiply_connected_workers() {
    let w1 = pod("worker", "Running");
    let mut seen = observed(vec![&w1], None, None);
    seen.processes_per_pod = 4;
    seen.expected_workers = 8;
    let out = derive(&LocustTestStatus::default(), &seen);
    assert_eq!(out.status.connected_workers, Some(4));
}

#[test]
fn processes_field_counts_in_expected_and_estimated_connected_workers() {
    let spec: crate::api::v2::LocustTestSpec = serde_json::from_value(json!({
        "image": "locustio/locust",
        "master": {"command": "-f a.py"},
        "worker": {"command": "-f a.py", "replicas": 2, "processes": 3},
    }))
    .unwrap();
    let (w1, w2) = (pod("worker", "Running"), pod("worker", "Running"));
    let mut seen = observed(vec![&w1, &w2], None, None);
    seen.expected_workers = crate::resources::expected_workers(&spec);
    seen.processes_per_pod = crate::resources::processes_per_pod(&spec);
    let out = derive(&LocustTestStatus::default(), &seen);
    assert_eq!(out.status.expected_workers, Some(6));
    assert_eq!(out.status.connected_workers, Some(6));
    assert_eq!(
        condition(&out.status, condition::WORKERS_CONNECTED).status,
        "True"
    );
}

#[test]
fn completed_master_job_succeeds_and_is_final() {
    let master_job = job(json!([{"type": "Complete", "status": "True"}]));
    let out = derive(
        &LocustTestStatus::default(),
        &observed(vec![], Some(&master_job), None),
    );
    assert_eq!(out.status.phase, Some(Phase::Succeeded));
    assert_eq!(out.status.completion_time, Some(Time(now())));
    let completed = condition(&out.status, condition::TEST_COMPLETED);
    assert_eq!(
        (completed.status.as_str(), completed.reason.as_str()),
        ("True", reason::TEST_SUCCEEDED)
    );
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == reason::TEST_COMPLETED && !e.warning)
    );

    // Children vanish afterwards (TTL): nothing changes any more.
    let later = derive(&out.status, &observed(vec![], None, None));
    assert_eq!(later.status, out.status);
    assert!(later.events.is_empty());
}

#[test]
fn failed_master_job_fails_with_reason() {
    let master_job =
        job(json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]));
    let out = derive(
        &LocustTestStatus::default(),
        &observed(vec![], Some(&master_job), None),
    );
    assert_eq!(out.status.phase, Some(Phase::Failed));
    let completed = condition(&out.status, condition::TEST_COMPLETED);
    assert_eq!(completed.reason, pod_reason::MASTER_FAILED);
    assert!(completed.message.contains("BackoffLimitExceeded"));
    assert!(
        out.events
            .iter()
            .any(|e| e.warning && e.reason == reason::TEST_FAILED)
    );
}

#[test]
fn pod_problem_inside_grace_requeues_at_its_end() {
    let mut stuck = pod("worker", "Pending");
    stuck.status = serde_json::from_value(json!({"phase": "Pending", "containerStatuses": [{
        "name": "demo-worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull"}}}]}))
    .unwrap();
    let out = derive(
        &LocustTestStatus::default(),
        &observed(vec![&stuck], None, None),
    );
    assert_eq!(out.status.phase, Some(Phase::Pending));
    assert_eq!(
        condition(&out.status, condition::PODS_HEALTHY).status,
        "False"
    );
    // Created 60 s before `now` with a 120 s grace: look again in a minute.
    assert_eq!(out.requeue_after, Some(Duration::from_secs(61)));
}

#[test]
fn fail_is_final_and_names_the_reason() {
    let out = fail(
        &LocustTestStatus::default(),
        Some(1),
        reason::FORBIDDEN_BY_CONFIG,
        "spec.scheduling.affinity is set but ...".to_string(),
        now(),
    );
    assert_eq!(out.status.phase, Some(Phase::Failed));
    assert_eq!(
        condition(&out.status, condition::TEST_COMPLETED).reason,
        reason::FORBIDDEN_BY_CONFIG
    );
    let again = fail(
        &out.status,
        Some(1),
        reason::INVALID_SPEC,
        "other".to_string(),
        now(),
    );
    assert_eq!(again.status, out.status);
    assert!(again.events.is_empty());
}

#[test]
fn a_pod_is_the_tests_when_its_label_namespace_and_owner_all_match() {
    let pod_with = |label: &str, namespace: &str, owner_uid: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "p", "namespace": namespace,
                "labels": {LABEL_TEST_NAME: label},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
                                     "uid": owner_uid}],
            },
        }))
        .unwrap()
    };
    let uids = ["master-uid".to_string(), "worker-uid".to_string()];
    assert!(is_pod_of(
        &pod_with("t", "ns", "worker-uid"),
        "ns",
        "t",
        &uids
    ));
    assert!(!is_pod_of(
        &pod_with("other", "ns", "worker-uid"),
        "ns",
        "t",
        &uids
    ));
    assert!(!is_pod_of(
        &pod_with("t", "ns2", "worker-uid"),
        "ns",
        "t",
        &uids
    ));
    // A previous test of the same name: its Jobs had other uids.
    assert!(!is_pod_of(
        &pod_with("t", "ns", "old-uid"),
        "ns",
        "t",
        &uids
    ));
    assert!(!is_pod_of(&Pod::default(), "ns", "t", &uids));
}
