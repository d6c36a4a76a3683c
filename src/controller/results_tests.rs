//! Status derivation with what the operator read from the master, on payloads recorded from a
//! real Locust 2.46.7 master.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::{ReportOutcome, StatsView};
use crate::api::v2::{LocustTestStatus, Phase, ThresholdsSpec};
use crate::controller::conditions::{condition, reason};
use crate::controller::diagnosis::reason as pod_reason;
use crate::controller::status::{Observed, derive};
use crate::resources::report::ReportParts;
use crate::resources::web_ui::{Unreadable, WebUi};
use crate::stats::payload::recorded::*;
use crate::stats::{Access, Capture, Reading, Sample};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn pod(role: &str, phase: &str, exit_code: Option<i32>) -> Pod {
    let state = match exit_code {
        Some(code) => json!({"terminated": {"exitCode": code}}),
        None => json!({"running": {}}),
    };
    serde_json::from_value(json!({
        "metadata": {"name": format!("demo-{role}-x"), "labels": {"app.kubernetes.io/component": role},
            "creationTimestamp": "2027-01-15T07:00:00Z"},
        "spec": {"containers": [{"name": "locust"}]},
        "status": {"phase": phase, "containerStatuses": [{"name": "locust", "image": "x",
            "imageID": "", "ready": exit_code.is_none(), "restartCount": 0, "state": state}]},
    }))
    .unwrap()
}

fn job(type_: &str) -> Job {
    serde_json::from_value(json!({"metadata": {"name": "demo-master"},
        "status": {"conditions": [{"type": type_, "status": "True"}]}}))
    .unwrap()
}

fn sample(text: &str, secs: i64) -> Arc<Sample> {
    Arc::new(Sample {
        payload: payload(text),
        at: at(secs),
    })
}

fn capture(text: &str, secs: i64) -> Arc<Capture> {
    Arc::new(Capture {
        payload: payload(text),
        parts: ReportParts::default(),
        at: at(secs),
    })
}

fn thresholds(value: serde_json::Value) -> ThresholdsSpec {
    serde_json::from_value(value).unwrap()
}

struct Case<'a> {
    now: i64,
    pods: Vec<&'a Pod>,
    master_job: Option<&'a Job>,
    reading: Option<&'a Reading>,
    thresholds: Option<&'a ThresholdsSpec>,
    ui: WebUi,
    report: Option<&'a ReportOutcome>,
}

impl<'a> Case<'a> {
    fn new(now: i64, pods: Vec<&'a Pod>) -> Self {
        Self {
            now,
            pods,
            master_job: None,
            reading: None,
            thresholds: None,
            ui: WebUi::default(),
            report: None,
        }
    }

    fn observed(&self) -> Observed<'a> {
        Observed {
            generation: Some(1),
            expected_workers: 2,
            processes_per_pod: 1,
            master_job: self.master_job,
            worker_job: None,
            pods: self.pods.clone(),
            now: at(self.now),
            grace: Duration::from_secs(120),
            exposure: None,
            stats: StatsView {
                access: Access::ApiServerProxy,
                ui: self.ui.clone(),
                thresholds: self.thresholds,
                reading: self.reading,
                report: self.report,
                freshness: Duration::from_secs(13),
                grace: Duration::from_secs(60),
                live_write_interval: Duration::from_secs(10),
            },
        }
    }
}

fn condition_of<'a>(
    status: &'a LocustTestStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"))
}

fn running() -> LocustTestStatus {
    LocustTestStatus {
        phase: Some(Phase::Running),
        ..Default::default()
    }
}

#[test]
fn answering_master_fills_live_stats_and_connected_workers() {
    let master = pod("master", "Running", None);
    let reading = Reading {
        since: Some(at(0)),
        last: Some(sample(OK_RUNNING, 10)),
        ..Default::default()
    };
    let mut case = Case::new(11, vec![&master]);
    case.reading = Some(&reading);
    let out = derive(&running(), &case.observed());
    let live = out.status.live_stats.as_ref().unwrap();
    assert_eq!((live.state.as_str(), live.users), ("running", 6));
    assert_eq!(live.updated_at.0, at(10));
    // The master says 2 workers; no worker pod is even in the cache.
    assert_eq!(out.status.connected_workers, Some(2));
    let workers = condition_of(&out.status, condition::WORKERS_CONNECTED);
    assert_eq!(workers.message, "2/2 workers connected");
    let stats = condition_of(&out.status, condition::STATS_AVAILABLE);
    assert_eq!(
        (stats.status.as_str(), stats.reason.as_str()),
        ("True", reason::MASTER_ANSWERING)
    );
}

#[test]
fn live_stats_are_not_rewritten_for_every_read() {
    let master = pod("master", "Running", None);
    let first = Reading {
        last: Some(sample(OK_RUNNING, 10)),
        ..Default::default()
    };
    let mut case = Case::new(10, vec![&master]);
    case.reading = Some(&first);
    let out = derive(&running(), &case.observed());

    // A read 5 s later: same state and users, totals grown. Nothing worth a write.
    let mut later = payload(OK_RUNNING);
    later.stats.last_mut().unwrap().num_requests = Some(5000.0);
    let second = Reading {
        last: Some(Arc::new(Sample {
            payload: later,
            at: at(15),
        })),
        ..Default::default()
    };
    let mut case = Case::new(15, vec![&master]);
    case.reading = Some(&second);
    let again = derive(&out.status, &case.observed());
    assert_eq!(again.status, out.status);
}

#[test]
fn silent_master_is_waited_for_then_reported() {
    let master = pod("master", "Running", None);
    let reading = Reading {
        since: Some(at(0)),
        error: Some((at(30), "connection refused".to_string())),
        ..Default::default()
    };
    let mut case = Case::new(30, vec![&master]);
    case.reading = Some(&reading);
    let early = derive(&running(), &case.observed());
    let stats = condition_of(&early.status, condition::STATS_AVAILABLE);
    assert_eq!(
        (stats.status.as_str(), stats.reason.as_str()),
        ("Unknown", reason::WAITING_FOR_MASTER)
    );
    assert!(
        condition_of(&early.status, condition::WORKERS_CONNECTED)
            .message
            .ends_with("(estimated from running worker pods)")
    );

    case.now = 61;
    let late = derive(&early.status, &case.observed());
    let stats = condition_of(&late.status, condition::STATS_AVAILABLE);
    assert_eq!(
        (stats.status.as_str(), stats.reason.as_str()),
        ("False", reason::MASTER_NOT_ANSWERING)
    );
    assert!(
        stats.message.contains("connection refused"),
        "{}",
        stats.message
    );
    assert_eq!(late.status.phase, Some(Phase::Running));
}

#[test]
fn headless_and_login_are_said_in_the_condition() {
    let master = pod("master", "Running", None);
    let mut case = Case::new(0, vec![&master]);
    case.ui.unreadable = Some(Unreadable::Headless);
    let out = derive(&running(), &case.observed());
    let stats = condition_of(&out.status, condition::STATS_AVAILABLE);
    assert_eq!(
        (stats.status.as_str(), stats.reason.as_str()),
        ("False", reason::WEB_UI_DISABLED)
    );
    case.ui.unreadable = Some(Unreadable::Unsupported("--web-login"));
    let out = derive(&running(), &case.observed());
    let stats = condition_of(&out.status, condition::STATS_AVAILABLE);
    assert_eq!(stats.reason, reason::WEB_UI_UNSUPPORTED);
    assert!(stats.message.contains("--web-login"));
}

#[test]
fn final_figures_are_recorded_once_with_the_report() {
    let master = pod("master", "Running", None);
    let reading = Reading {
        last: Some(sample(FAILING_STOPPED, 40)),
        capture: Some(capture(FAILING_STOPPED, 43)),
        ..Default::default()
    };
    let stored = ReportOutcome::Stored("demo-report".to_string());
    let mut case = Case::new(43, vec![&master]);
    case.reading = Some(&reading);
    case.report = Some(&stored);
    let out = derive(&running(), &case.observed());
    let result = out.status.result.as_ref().unwrap();
    assert!(!result.partial);
    assert_eq!(result.report_config_map.as_deref(), Some("demo-report"));
    assert!(result.failed_requests.unwrap() > 0);
    assert_eq!(
        out.status.phase,
        Some(Phase::Running),
        "the master still runs"
    );
    let recorded: Vec<_> = out
        .events
        .iter()
        .filter(|e| e.reason == reason::RESULT_RECORDED)
        .collect();
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].message.contains("requests,"),
        "{}",
        recorded[0].message
    );
    assert_eq!(
        condition_of(&out.status, condition::STATS_AVAILABLE).reason,
        reason::FINAL_FIGURES_READ
    );

    // The next reconcile (the capture is still in memory) records nothing twice.
    let again = derive(&out.status, &case.observed());
    assert!(again.events.is_empty(), "{:?}", again.events);
    assert_eq!(again.status.result, out.status.result);
}

#[test]
fn without_thresholds_exit_code_one_still_fails_the_test() {
    let master = pod("master", "Failed", Some(1));
    let reading = Reading {
        last: Some(sample(FAILING_STOPPED, 40)),
        capture: Some(capture(FAILING_STOPPED, 43)),
        ..Default::default()
    };
    let failed = job("Failed");
    let mut case = Case::new(100, vec![&master]);
    case.reading = Some(&reading);
    case.master_job = Some(&failed);
    let out = derive(&running(), &case.observed());
    assert_eq!(out.status.phase, Some(Phase::Failed));
    assert_eq!(
        condition_of(&out.status, condition::TEST_COMPLETED).reason,
        pod_reason::MASTER_FAILED
    );
    assert!(out.status.result.is_some());
}

#[test]
fn relative_thresholds_show_both_figures_or_that_there_was_no_baseline() {
    let master = pod("master", "Running", None);
    let reading = Reading {
        last: Some(sample(OK_STOPPED, 40)),
        capture: Some(capture(OK_STOPPED, 43)),
        ..Default::default()
    };
    let mut case = Case::new(43, vec![&master]);
    case.reading = Some(&reading);
    // A baseline slower than this run: met, and the message shows both figures.
    let with_baseline = thresholds(json!({"baseline": {
        "maxP95ResponseTimeRatio": 1.2,
        "reference": {"run": "nightly-1", "p95ResponseTime": 100000},
    }}));
    case.thresholds = Some(&with_baseline);
    let met = derive(&running(), &case.observed());
    let condition = condition_of(&met.status, condition::THRESHOLDS_MET);
    assert_eq!(condition.status, "True");
    assert!(
        condition
            .message
            .starts_with("every threshold met (1 checked); aggregate p95 response time ")
            && condition
                .message
                .contains(" ms <= 120000 ms (1.2 x baseline 100000 ms of nightly-1)"),
        "{}",
        condition.message
    );
    // A baseline ten times faster: breached, both figures in the message.
    let faster = thresholds(json!({"baseline": {
        "maxP95ResponseTimeRatio": 1.2,
        "reference": {"run": "nightly-1", "p95ResponseTime": 0.1},
    }}));
    case.thresholds = Some(&faster);
    let breached = derive(&running(), &case.observed());
    let condition = condition_of(&breached.status, condition::THRESHOLDS_MET);
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", reason::THRESHOLDS_BREACHED)
    );
    assert!(
        condition
            .message
            .contains("> 0.12 ms (1.2 x baseline 0.1 ms of nightly-1)"),
        "{}",
        condition.message
    );
    // No baseline yet: met, and said so.
    let first = thresholds(json!({"baseline": {"maxP95ResponseTimeRatio": 1.2}}));
    case.thresholds = Some(&first);
    let first_run = derive(&running(), &case.observed());
    let condition = condition_of(&first_run.status, condition::THRESHOLDS_MET);
    assert_eq!(condition.status, "True");
    assert!(
        condition
            .message
            .contains("no baseline to compare with (1.2 x baseline), passes"),
        "{}",
        condition.message
    );
}

#[test]
fn thresholds_decide_even_when_locust_exits_one() {
    let master = pod("master", "Failed", Some(1));
    let failed = job("Failed");
    let reading = Reading {
        last: Some(sample(FAILING_STOPPED, 40)),
        capture: Some(capture(FAILING_STOPPED, 43)),
        ..Default::default()
    };
    // Generous: the 19% failures are accepted.
    let generous = thresholds(json!({"aggregate": {"maxFailRatio": 0.5, "minRequests": 10}}));
    let running_master = pod("master", "Running", None);
    let mut case = Case::new(43, vec![&running_master]);
    case.reading = Some(&reading);
    case.thresholds = Some(&generous);
    let recorded = derive(&running(), &case.observed());
    let met = condition_of(&recorded.status, condition::THRESHOLDS_MET);
    assert_eq!(
        (met.status.as_str(), met.reason.as_str()),
        ("True", reason::THRESHOLDS_MET)
    );
    assert_eq!(recorded.status.phase, Some(Phase::Running));

    case.pods = vec![&master];
    case.master_job = Some(&failed);
    case.now = 100;
    let end = derive(&recorded.status, &case.observed());
    assert_eq!(end.status.phase, Some(Phase::Succeeded));
    let completed = condition_of(&end.status, condition::TEST_COMPLETED);
    assert_eq!(completed.reason, reason::TEST_SUCCEEDED);
    assert!(
        completed.message.starts_with("every threshold met"),
        "{}",
        completed.message
    );

    // Strict: the same figures fail, with measured and limit in the message.
    let strict = thresholds(json!({"aggregate": {"maxFailRatio": 0.01}}));
    case.thresholds = Some(&strict);
    let end = derive(&running(), &case.observed());
    assert_eq!(end.status.phase, Some(Phase::Failed));
    let completed = condition_of(&end.status, condition::TEST_COMPLETED);
    assert_eq!(completed.reason, reason::THRESHOLDS_BREACHED);
    assert!(
        completed.message.contains("aggregate fail ratio 0.19"),
        "{}",
        completed.message
    );
    assert!(
        completed.message.contains("> 0.01"),
        "{}",
        completed.message
    );
    assert!(
        end.events
            .iter()
            .any(|e| e.reason == reason::THRESHOLDS_BREACHED && e.warning)
    );
}

#[test]
fn a_test_stopped_on_breach_fails_at_once() {
    let master = pod("master", "Running", None);
    let strict = thresholds(json!({"aggregate": {"maxFailRatio": 0.01}, "stopOnBreach": true}));
    let reading = Reading {
        last: Some(sample(FAILING_STOPPED, 40)),
        capture: Some(capture(FAILING_STOPPED, 43)),
        stopped_on_breach: Some((at(38), "aggregate fail ratio 0.2 > 0.01".to_string())),
        ..Default::default()
    };
    let mut case = Case::new(43, vec![&master]);
    case.reading = Some(&reading);
    case.thresholds = Some(&strict);
    let out = derive(&running(), &case.observed());
    assert_eq!(out.status.phase, Some(Phase::Failed));
    let completed = condition_of(&out.status, condition::TEST_COMPLETED);
    assert_eq!(completed.reason, reason::THRESHOLDS_BREACHED);
    assert!(
        completed
            .message
            .starts_with("stopped the test: aggregate fail ratio"),
        "{}",
        completed.message
    );
    assert!(out.status.result.is_some());
}

#[test]
fn a_master_gone_before_its_final_figures_leaves_a_partial_result() {
    let master = pod("master", "Succeeded", Some(0));
    let complete = job("Complete");
    let reading = Reading {
        last: Some(sample(OK_RUNNING, 40)),
        ..Default::default()
    };
    let limits = thresholds(json!({"aggregate": {"maxFailRatio": 0.01}}));
    let mut case = Case::new(52, vec![&master]);
    case.master_job = Some(&complete);
    case.reading = Some(&reading);
    case.thresholds = Some(&limits);
    let out = derive(&running(), &case.observed());
    assert_eq!(out.status.phase, Some(Phase::Succeeded));
    let result = out.status.result.as_ref().unwrap();
    assert!(result.partial);
    assert!(
        result
            .partial_reason
            .as_deref()
            .unwrap()
            .contains("12s before"),
        "{result:?}"
    );
    let met = condition_of(&out.status, condition::THRESHOLDS_MET);
    assert!(met.message.contains("last live figures"), "{}", met.message);
}

#[test]
fn thresholds_that_could_never_be_checked_fail_the_test() {
    let master = pod("master", "Succeeded", Some(0));
    let complete = job("Complete");
    let limits = thresholds(json!({"aggregate": {"maxFailRatio": 0.01}}));
    let mut case = Case::new(52, vec![&master]);
    case.master_job = Some(&complete);
    case.thresholds = Some(&limits);
    let out = derive(&running(), &case.observed());
    assert_eq!(out.status.phase, Some(Phase::Failed));
    assert_eq!(
        condition_of(&out.status, condition::TEST_COMPLETED).reason,
        reason::THRESHOLDS_UNEVALUATED
    );

    // A lost master is the better reason when nothing was read.
    let evicted: Pod = serde_json::from_value(json!({
        "metadata": {"name": "demo-master-x", "labels": {"app.kubernetes.io/component": "master"}},
        "status": {"phase": "Failed", "reason": "Evicted", "message": "node drained"}}))
    .unwrap();
    let mut case = Case::new(52, vec![&evicted]);
    case.thresholds = Some(&limits);
    let out = derive(&running(), &case.observed());
    assert_eq!(
        condition_of(&out.status, condition::TEST_COMPLETED).reason,
        pod_reason::MASTER_EVICTED
    );
}

#[test]
fn workers_leaving_after_the_test_stopped_do_not_lower_connected_workers() {
    // Seen on a real node: with a short autoquit the master's final figures are read after the
    // workers quit, and report worker_count 0 for a test that ran with all its workers.
    let mut left: serde_json::Value = serde_json::from_str(OK_STOPPED).unwrap();
    left["worker_count"] = json!(0);
    left["workers"] = json!([]);
    let left = left.to_string();
    let master = pod("master", "Running", None);
    let reading = Reading {
        last: Some(sample(&left, 40)),
        capture: Some(capture(&left, 41)),
        ..Default::default()
    };
    let mut case = Case::new(41, vec![&master]);
    case.reading = Some(&reading);
    let before = LocustTestStatus {
        connected_workers: Some(2),
        ..running()
    };
    let out = derive(&before, &case.observed());
    assert_eq!(out.status.connected_workers, Some(2));
    let connected = condition_of(&out.status, condition::WORKERS_CONNECTED);
    assert_eq!(connected.status, "True", "{connected:?}");

    // While the test runs, the master's count is taken as it is (a worker lost is shown).
    let mut running_left: serde_json::Value = serde_json::from_str(OK_RUNNING).unwrap();
    running_left["worker_count"] = json!(1);
    let running_left = running_left.to_string();
    let reading = Reading {
        last: Some(sample(&running_left, 40)),
        ..Default::default()
    };
    let mut case = Case::new(41, vec![&master]);
    case.reading = Some(&reading);
    let out = derive(&before, &case.observed());
    assert_eq!(out.status.connected_workers, Some(1));
}
