//! Job specs.

use serde_json::json;

use super::{base, build, build_with, json, test_with};
use crate::config::Config;

#[test]
fn jobs_run_their_pods_once_without_completions() {
    let children = build(&base());
    for job in [&children.master_job, &children.worker_job] {
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.completions, None);
        assert_eq!(spec.ttl_seconds_after_finished, None);
        assert_eq!(spec.selector, None);
        assert_eq!(json(job)["apiVersion"], "batch/v1");
        assert_eq!(json(job)["kind"], "Job");
    }
}

#[test]
fn master_runs_one_pod_and_workers_run_replicas() {
    let children = build(&test_with("worker: {replicas: 7}"));
    assert_eq!(children.master_job.spec.unwrap().parallelism, Some(1));
    assert_eq!(children.worker_job.spec.unwrap().parallelism, Some(7));
}

#[test]
fn finished_jobs_are_deleted_after_the_configured_ttl() {
    let config = Config {
        job_ttl_seconds_after_finished: Some(3600),
        ..Config::default()
    };
    let children = build_with(&base(), &config);
    for job in [children.master_job, children.worker_job] {
        assert_eq!(job.spec.unwrap().ttl_seconds_after_finished, Some(3600));
    }
}

#[test]
fn evicted_worker_is_replaced_not_failed() {
    let children = build(&base());
    assert_eq!(
        json(
            &children
                .worker_job
                .spec
                .as_ref()
                .unwrap()
                .pod_failure_policy
        ),
        json!({"rules": [{
            "action": "Ignore",
            "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
        }]})
    );
    // A lost master fails the test.
    assert_eq!(children.master_job.spec.unwrap().pod_failure_policy, None);
}
