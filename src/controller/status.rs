//! Status derivation: from what the cluster shows (children, pods) to the test's status, the
//! events that mark its transitions, and when to look again. Pure.
//!
//! The phase only moves forward: Pending -> Running -> Succeeded | Failed. Once terminal, the
//! status is final.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::conditions::{EventNote, condition, reason};
use super::diagnosis::{self, Diagnosis, reason as pod_reason, role_of};
use super::exposure::Exposure;
use super::results::{self, StatsView};
use crate::api::names::{LABEL_TEST_NAME, Role};
use crate::api::v2::{LocustTestStatus, Phase};
use crate::resources::web_ui::WebUi;

/// The new status, the events of this step, and when to reconcile again without a watch event.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: LocustTestStatus,
    pub events: Vec<EventNote>,
    pub requeue_after: Option<Duration>,
}

/// What the cluster shows about one test.
pub struct Observed<'a> {
    pub generation: Option<i64>,
    /// Locust workers the master waits for (replicas x processes per pod).
    pub expected_workers: i32,
    /// Locust worker processes per worker pod (`worker.processes` or `--processes`).
    pub processes_per_pod: i32,
    pub master_job: Option<&'a Job>,
    pub worker_job: Option<&'a Job>,
    pub pods: Vec<&'a Pod>,
    pub now: Timestamp,
    pub grace: Duration,
    /// How exposing the web UI went this round, when it was tried (exposure.rs).
    pub exposure: Option<Exposure>,
    /// What the operator read from the master.
    pub stats: StatsView<'a>,
}

impl Observed<'_> {
    /// Nothing observed yet (no Jobs, no pods, no stats): for a status decided before the
    /// children exist, a failure or a wait.
    fn nothing(old: &LocustTestStatus, generation: Option<i64>, now: Timestamp) -> Self {
        Observed {
            generation,
            expected_workers: old.expected_workers.unwrap_or(0),
            processes_per_pod: 1,
            master_job: None,
            worker_job: None,
            pods: Vec::new(),
            now,
            grace: Duration::ZERO,
            exposure: None,
            stats: StatsView::off(WebUi::default()),
        }
    }
}

/// Whether a cached pod is one of test `name`'s in `namespace`: labelled with the test's name
/// and owned by one of its Jobs (`job_uids`), so that a previous test of the same name whose
/// pods await garbage collection is left out. The reconcile asks this of every cached pod, so
/// the cheap checks come first and nothing is copied.
pub fn is_pod_of(pod: &Pod, namespace: &str, name: &str, job_uids: &[String]) -> bool {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(LABEL_TEST_NAME))
        .is_some_and(|test| test == name)
        && pod.metadata.namespace.as_deref() == Some(namespace)
        && pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| job_uids.contains(&o.uid))
}

/// Derives the next status of a running test.
pub fn derive(old: &LocustTestStatus, seen: &Observed<'_>) -> Outcome {
    let old_phase = old.phase.unwrap_or(Phase::Pending);
    if old_phase.is_terminal() {
        return Outcome {
            status: old.clone(),
            events: Vec::new(),
            requeue_after: None,
        };
    }
    let mut status = old.clone();
    let mut events = Vec::new();
    let now = seen.now;
    status.observed_generation = seen.generation;
    status.expected_workers = Some(seen.expected_workers);

    // Derive runs after every child exists or has just been applied.
    set_condition(
        &mut status,
        seen,
        condition::READY,
        true,
        reason::RESOURCES_CREATED,
        "the master Service, master Job and worker Job exist".to_string(),
    );

    if let Some(exposure) = &seen.exposure {
        set_condition(
            &mut status,
            seen,
            condition::WEB_UI_EXPOSED,
            exposure.exposed,
            exposure.reason,
            exposure.message.clone(),
        );
    }

    let diagnosis = diagnosis::diagnose(&seen.pods, now, seen.grace);
    let master_running = running_pods(seen, Role::Master) > 0;
    let mut applied = results::apply_reading(&mut status, &seen.stats, now, master_running);
    let (connected, estimated) = match (applied.connected, old.result.is_some()) {
        (Some(reported), _) => (reported, false),
        // The final figures are recorded and the master is no longer read: keep its last word.
        (None, true) => (old.connected_workers.unwrap_or(0), false),
        (None, false) => (
            running_pods(seen, Role::Worker) * seen.processes_per_pod,
            true,
        ),
    };
    status.connected_workers = Some(connected);
    let estimate_note = if estimated {
        " (estimated from running worker pods)"
    } else {
        ""
    };
    let all_connected = connected >= seen.expected_workers;
    let was_connected = is_true(old, condition::WORKERS_CONNECTED);
    set_condition(
        &mut status,
        seen,
        condition::WORKERS_CONNECTED,
        all_connected,
        if all_connected {
            reason::ALL_WORKERS_CONNECTED
        } else {
            reason::WORKERS_MISSING
        },
        format!(
            "{connected}/{} workers connected{estimate_note}",
            seen.expected_workers
        ),
    );
    if all_connected && !was_connected {
        events.push(EventNote {
            warning: false,
            reason: reason::ALL_WORKERS_CONNECTED,
            message: format!("{connected}/{} workers connected", seen.expected_workers),
        });
    }

    let (healthy, health_reason, health_message) = pods_health(&diagnosis, seen);
    set_condition(
        &mut status,
        seen,
        condition::PODS_HEALTHY,
        healthy,
        health_reason,
        health_message,
    );

    let master_ended = job_condition(seen.master_job, "Complete")
        || job_condition(seen.master_job, "Failed")
        || diagnosis.fatal.as_ref().is_some_and(|f| {
            f.reason == pod_reason::MASTER_FAILED || f.reason == pod_reason::MASTER_EVICTED
        });
    let verdict = results::thresholds_verdict(&mut status, &seen.stats, master_ended, &mut applied);
    let phase = match verdict {
        // Nothing was ever read and the master was lost or crashed: that is the better reason.
        Some((false, reason::THRESHOLDS_UNEVALUATED, _)) if diagnosis.fatal.is_some() => {
            next_phase(old_phase, &diagnosis, seen)
        }
        Some((true, _, message)) => Next::Succeeded(message),
        Some((false, code, message)) => Next::Failed(code, message),
        None => next_phase(old_phase, &diagnosis, seen),
    };
    if matches!(phase, Next::Succeeded(_) | Next::Failed(..))
        && let Some(note) = results::partial_result(&mut status, &seen.stats, now)
    {
        applied.events.push(note);
    }
    for (type_, value, code, message) in std::mem::take(&mut applied.conditions) {
        put_condition(&mut status, seen, type_, value, code, message);
    }
    events.append(&mut applied.events);
    match phase {
        Next::Succeeded(message) => {
            status.phase = Some(Phase::Succeeded);
            finish(&mut status, seen, true, reason::TEST_SUCCEEDED, message);
            events.push(EventNote {
                warning: false,
                reason: reason::TEST_COMPLETED,
                message: "the test finished successfully".to_string(),
            });
        }
        Next::Failed(reason_code, message) => {
            status.phase = Some(Phase::Failed);
            finish(&mut status, seen, false, reason_code, message.clone());
            events.push(EventNote {
                warning: true,
                reason: reason::TEST_FAILED,
                message: format!("{reason_code}: {message}"),
            });
        }
        Next::Running => {
            status.phase = Some(Phase::Running);
            if old_phase != Phase::Running {
                status.start_time = Some(Time(now));
                events.push(EventNote {
                    warning: false,
                    reason: reason::TEST_STARTED,
                    message: format!(
                        "the master is running; {connected}/{} workers connected",
                        seen.expected_workers
                    ),
                });
            }
            in_progress(&mut status, seen);
        }
        Next::Pending => {
            status.phase = Some(Phase::Pending);
            in_progress(&mut status, seen);
        }
    }

    let requeue_after = match (&status.phase, &diagnosis.pending) {
        (Some(p), Some((_, left))) if !p.is_terminal() => Some(*left + Duration::from_secs(1)),
        _ => None,
    };
    Outcome {
        status,
        events,
        requeue_after,
    }
}

/// Fails a test that cannot run (invalid spec, a field the operator configuration forbids, a
/// child the API server refuses). Final: the test is not retried.
pub fn fail(
    old: &LocustTestStatus,
    generation: Option<i64>,
    reason_code: &'static str,
    message: String,
    now: Timestamp,
) -> Outcome {
    if old.phase.is_some_and(Phase::is_terminal) {
        return Outcome {
            status: old.clone(),
            events: Vec::new(),
            requeue_after: None,
        };
    }
    let seen = Observed::nothing(old, generation, now);
    let mut status = old.clone();
    status.observed_generation = generation;
    status.phase = Some(Phase::Failed);
    set_condition(
        &mut status,
        &seen,
        condition::READY,
        false,
        reason_code,
        message.clone(),
    );
    finish(&mut status, &seen, false, reason_code, message.clone());
    Outcome {
        status,
        events: vec![EventNote {
            warning: true,
            reason: reason::TEST_FAILED,
            message: format!("{reason_code}: {message}"),
        }],
        requeue_after: None,
    }
}

/// A test that waits for something before its children are created: `Pending`, `Ready` False
/// with `reason_code` and `message`, looked at again after `requeue`. The first time, a
/// Warning event with the same reason says what it waits for.
pub fn waiting(
    old: &LocustTestStatus,
    generation: Option<i64>,
    reason_code: &'static str,
    message: String,
    requeue: Duration,
    now: Timestamp,
) -> Outcome {
    let seen = Observed::nothing(old, generation, now);
    let first = !old
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == condition::READY && c.reason == reason_code);
    let mut status = old.clone();
    status.observed_generation = generation;
    status.phase = Some(Phase::Pending);
    set_condition(
        &mut status,
        &seen,
        condition::READY,
        false,
        reason_code,
        message.clone(),
    );
    in_progress(&mut status, &seen);
    Outcome {
        status,
        events: first
            .then_some(EventNote {
                warning: true,
                reason: reason_code,
                message,
            })
            .into_iter()
            .collect(),
        requeue_after: Some(requeue),
    }
}

enum Next {
    Pending,
    Running,
    /// With the message of the TestCompleted condition.
    Succeeded(String),
    Failed(&'static str, String),
}

fn next_phase(old: Phase, diagnosis: &Diagnosis, seen: &Observed<'_>) -> Next {
    if job_condition(seen.master_job, "Complete") {
        return Next::Succeeded("the Locust master finished and exited 0".to_string());
    }
    if let Some(finding) = &diagnosis.fatal {
        return Next::Failed(finding.reason, finding.message.clone());
    }
    if job_condition(seen.master_job, "Failed") {
        return Next::Failed(
            pod_reason::MASTER_FAILED,
            format!(
                "the master Job failed: {}",
                job_condition_message(seen.master_job, "Failed")
            ),
        );
    }
    if job_condition(seen.worker_job, "Failed") {
        return Next::Failed(
            pod_reason::WORKER_FAILED,
            format!(
                "the worker Job failed: {}; see `kubectl logs job/{}`",
                job_condition_message(seen.worker_job, "Failed"),
                seen.worker_job
                    .and_then(|j| j.metadata.name.as_deref())
                    .unwrap_or("worker")
            ),
        );
    }
    if old == Phase::Running || running_pods(seen, Role::Master) > 0 {
        return Next::Running;
    }
    Next::Pending
}

fn pods_health(diagnosis: &Diagnosis, seen: &Observed<'_>) -> (bool, &'static str, String) {
    if let Some(f) = &diagnosis.fatal {
        return (false, f.reason, f.message.clone());
    }
    if let Some((f, left)) = &diagnosis.pending {
        return (
            false,
            f.reason,
            format!(
                "{} (the test fails if this lasts {}s more)",
                f.message,
                left.as_secs()
            ),
        );
    }
    if seen.pods.is_empty() || running_pods(seen, Role::Master) == 0 {
        (
            true,
            pod_reason::PODS_STARTING,
            "waiting for pods to start".to_string(),
        )
    } else {
        (
            true,
            pod_reason::PODS_HEALTHY,
            "pods are running".to_string(),
        )
    }
}

fn running_pods(seen: &Observed<'_>, role: Role) -> i32 {
    let count = seen
        .pods
        .iter()
        .filter(|p| role_of(p) == Some(role))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

fn job_condition(job: Option<&Job>, type_: &str) -> bool {
    job.and_then(|j| j.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

fn job_condition_message(job: Option<&Job>, type_: &str) -> String {
    job.and_then(|j| j.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .map(|c| {
            format!(
                "{} {}",
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )
            .trim()
            .to_string()
        })
        .unwrap_or_default()
}

fn in_progress(status: &mut LocustTestStatus, seen: &Observed<'_>) {
    set_condition(
        status,
        seen,
        condition::TEST_COMPLETED,
        false,
        reason::TEST_IN_PROGRESS,
        "the test has not finished".to_string(),
    );
}

fn finish(
    status: &mut LocustTestStatus,
    seen: &Observed<'_>,
    succeeded: bool,
    reason_code: &'static str,
    message: String,
) {
    status.completion_time = Some(Time(seen.now));
    if status.start_time.is_none() {
        status.start_time = Some(Time(seen.now));
    }
    set_condition(
        status,
        seen,
        condition::TEST_COMPLETED,
        true,
        reason_code,
        message,
    );
    if succeeded {
        set_condition(
            status,
            seen,
            condition::PODS_HEALTHY,
            true,
            pod_reason::PODS_HEALTHY,
            "the test finished".to_string(),
        );
    }
}

fn is_true(status: &LocustTestStatus, type_: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// Sets a True or False condition, keeping its lastTransitionTime unless its status changes.
fn set_condition(
    status: &mut LocustTestStatus,
    seen: &Observed<'_>,
    type_: &str,
    value: bool,
    reason_code: &str,
    message: String,
) {
    let value = if value { results::TRUE } else { results::FALSE };
    put_condition(status, seen, type_, value, reason_code, message);
}

/// Sets a condition to True, False or Unknown, keeping its lastTransitionTime unless its
/// status changes.
fn put_condition(
    status: &mut LocustTestStatus,
    seen: &Observed<'_>,
    type_: &str,
    value: &str,
    reason_code: &str,
    message: String,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let transition = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == value)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(seen.now));
    let new = Condition {
        type_: type_.to_string(),
        status: value.to_string(),
        reason: reason_code.to_string(),
        message,
        last_transition_time: transition,
        observed_generation: seen.generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => *existing = new,
        None => conditions.push(new),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
