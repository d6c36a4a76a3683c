//! The master Job and the worker Job.
//!
//! Both run their pods once (`backoffLimit: 0`, `restartPolicy: Never`): a Locust process that
//! fails has lost its state, and a restarted master would start a second test. `completions`
//! is left unset, as in the Go operator: with it unset the Job completes once its pods have
//! all terminated after one succeeded, which is how Locust ends (the master quits, the workers
//! exit 0 with it), and it keeps the Job spec the Go operator's users know.

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};

use crate::api::names::Role;
use crate::api::v2::LocustTest;
use crate::config::Config;

use super::pod::locust_pod_template;
use super::{BuildError, Owner};

/// `<name>-master`: one master pod. Its exit code is the test's verdict (Locust exits 1 when a
/// request failed), and a lost master fails the Job, so the test fails with a reason.
pub fn master_job(test: &LocustTest, config: &Config) -> Result<Job, BuildError> {
    job(test, config, Role::Master, 1, None)
}

/// `<name>-worker`: `worker.replicas` pods. A worker lost to an eviction, a preemption or a
/// node drain (pod condition `DisruptionTarget`) is replaced instead of failing the Job.
pub fn worker_job(test: &LocustTest, config: &Config) -> Result<Job, BuildError> {
    let replace_disrupted = PodFailurePolicy {
        rules: vec![PodFailurePolicyRule {
            action: "Ignore".to_string(),
            on_exit_codes: None,
            on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                type_: "DisruptionTarget".to_string(),
                status: "True".to_string(),
            }]),
        }],
    };
    job(
        test,
        config,
        Role::Worker,
        test.spec.worker.replicas,
        Some(replace_disrupted),
    )
}

fn job(
    test: &LocustTest,
    config: &Config,
    role: Role,
    parallelism: i32,
    pod_failure_policy: Option<PodFailurePolicy>,
) -> Result<Job, BuildError> {
    let owner = Owner::of(test)?;
    let template = locust_pod_template(test, &owner, config, role)?;
    // The Jobs carry their pods' labels. The Go operator left a Job's labels empty and the API
    // server copied the pod template's onto it, so selectors written against Go Jobs
    // (`kubectl get jobs -l performance-test-pod-name=<name>-master`, a user label) match.
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    Ok(Job {
        metadata: owner.child_metadata(role, labels),
        spec: Some(JobSpec {
            parallelism: Some(parallelism),
            backoff_limit: Some(0),
            ttl_seconds_after_finished: config.job_ttl_seconds_after_finished,
            pod_failure_policy,
            template,
            ..JobSpec::default()
        }),
        status: None,
    })
}
