#![allow(clippy::unwrap_used)]

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A schedule spec with the defaults, in UTC.
fn spec(pattern: &str) -> LocustTestScheduleSpec {
    serde_json::from_value(serde_json::json!({
        "schedule": pattern,
        "template": {"spec": {
            "image": "locustio/locust:2.43.3",
            "master": {"command": "--locustfile /lotest/src/locustfile.py"},
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
        }},
    }))
    .unwrap()
}

fn run(name: &str, phase: Option<Phase>, created: &str) -> RunView {
    RunView {
        name: name.to_string(),
        phase,
        created: at(created),
        scheduled_at: None,
        trigger: None,
    }
}

/// The plan for `spec` at `now`, for a schedule created at midnight with `runs`.
fn plan_at(spec: &LocustTestScheduleSpec, runs: &[RunView], now: &str) -> Plan {
    let cron = CronSchedule::parse(&spec.schedule, spec.time_zone.as_deref()).unwrap();
    plan(&Inputs {
        name: "nightly",
        spec,
        cron: &cron,
        created: at("2026-03-01T00:00:00Z"),
        last_schedule_time: None,
        last_trigger: None,
        trigger: None,
        runs,
        now: at(now),
    })
}

#[test]
fn nothing_is_due_before_the_first_time_and_the_requeue_lands_on_it() {
    let plan = plan_at(&spec("0 3 * * *"), &[], "2026-03-01T02:59:00Z");
    assert_eq!(plan.create, None);
    assert_eq!(plan.next, Some(at("2026-03-01T03:00:00Z")));
    assert_eq!(plan.requeue, Some(Duration::from_millis(60_200)));
}

#[test]
fn a_due_time_starts_a_run_named_after_it() {
    let plan = plan_at(&spec("0 3 * * *"), &[], "2026-03-01T03:00:05Z");
    let scheduled = at("2026-03-01T03:00:00Z");
    assert_eq!(
        plan.create,
        Some(NewRun {
            name: scheduled_run_name("nightly", scheduled),
            start: Start::Scheduled(scheduled),
        })
    );
    assert_eq!(plan.last_schedule_time, Some(scheduled));
    assert_eq!(plan.next, Some(at("2026-03-02T03:00:00Z")));
}

#[test]
fn after_downtime_only_the_latest_missed_time_runs() {
    // Hourly, the operator down from 00:00 to 05:30: five times missed, one run.
    let plan = plan_at(&spec("0 * * * *"), &[], "2026-03-01T05:30:00Z");
    let latest = at("2026-03-01T05:00:00Z");
    assert_eq!(plan.create.map(|r| r.start), Some(Start::Scheduled(latest)));
    assert_eq!(plan.missed, 4);
    assert_eq!(plan.skipped, None);
}

#[test]
fn a_starting_deadline_skips_a_time_missed_by_more_and_starts_one_within() {
    let mut with_deadline = spec("0 * * * *");
    with_deadline.starting_deadline_seconds = Some(600);
    // 05:30 is 30 minutes after 05:00: skipped, and counted as handled.
    let plan = plan_at(&with_deadline, &[], "2026-03-01T05:30:00Z");
    assert_eq!(plan.create, None);
    assert_eq!(
        plan.skipped,
        Some(Skip::MissedDeadline {
            scheduled: at("2026-03-01T05:00:00Z"),
            missed: 5
        })
    );
    assert_eq!(plan.last_schedule_time, Some(at("2026-03-01T05:00:00Z")));
    // 05:09 is within ten minutes of 05:00: it runs.
    let plan = plan_at(&with_deadline, &[], "2026-03-01T05:09:00Z");
    assert_eq!(
        plan.create.map(|r| r.start),
        Some(Start::Scheduled(at("2026-03-01T05:00:00Z")))
    );
}

#[test]
fn a_time_already_handled_or_already_started_is_not_started_again() {
    let spec = spec("0 3 * * *");
    let cron = CronSchedule::parse(&spec.schedule, None).unwrap();
    let scheduled = at("2026-03-01T03:00:00Z");
    let inputs = Inputs {
        name: "nightly",
        spec: &spec,
        cron: &cron,
        created: at("2026-03-01T00:00:00Z"),
        last_schedule_time: Some(scheduled),
        last_trigger: None,
        trigger: None,
        runs: &[],
        now: at("2026-03-01T03:30:00Z"),
    };
    assert_eq!(plan(&inputs).create, None);
    // The status lost the time but the run exists (a restart between create and status).
    let mut started = run(
        &scheduled_run_name("nightly", scheduled),
        None,
        "2026-03-01T03:00:01Z",
    );
    started.scheduled_at = Some(scheduled);
    let runs = [started];
    let plan = plan(&Inputs {
        last_schedule_time: None,
        runs: &runs,
        ..inputs
    });
    assert_eq!(plan.create, None);
    assert_eq!(plan.last_schedule_time, Some(scheduled));
}

#[test]
fn forbid_skips_while_a_run_is_active() {
    let active = [run(
        "nightly-1",
        Some(Phase::Running),
        "2026-02-28T03:00:00Z",
    )];
    let plan = plan_at(&spec("0 3 * * *"), &active, "2026-03-01T03:00:05Z");
    assert_eq!(plan.create, None);
    assert_eq!(
        plan.skipped,
        Some(Skip::Active {
            start: Start::Scheduled(at("2026-03-01T03:00:00Z")),
            active: vec!["nightly-1".to_string()],
        })
    );
    // Skipped means handled: the time is not started later.
    assert_eq!(plan.last_schedule_time, Some(at("2026-03-01T03:00:00Z")));
    // A run not yet reported by the operator (no phase) counts as active.
    let fresh = [run("nightly-1", None, "2026-02-28T03:00:00Z")];
    assert!(
        plan_at(&spec("0 3 * * *"), &fresh, "2026-03-01T03:00:05Z")
            .create
            .is_none()
    );
}

#[test]
fn replace_deletes_the_active_runs_then_creates() {
    let mut replace = spec("0 3 * * *");
    replace.concurrency_policy = Some(ConcurrencyPolicy::Replace);
    let runs = [
        run("nightly-1", Some(Phase::Running), "2026-02-28T03:00:00Z"),
        run("nightly-0", Some(Phase::Succeeded), "2026-02-27T03:00:00Z"),
    ];
    let plan = plan_at(&replace, &runs, "2026-03-01T03:00:05Z");
    assert_eq!(plan.replace, vec!["nightly-1".to_string()]);
    assert!(plan.create.is_some());
}

#[test]
fn allow_creates_alongside_the_active_run() {
    let mut allow = spec("0 3 * * *");
    allow.concurrency_policy = Some(ConcurrencyPolicy::Allow);
    let runs = [run(
        "nightly-1",
        Some(Phase::Running),
        "2026-02-28T03:00:00Z",
    )];
    let plan = plan_at(&allow, &runs, "2026-03-01T03:00:05Z");
    assert_eq!(plan.replace, Vec::<String>::new());
    assert!(plan.create.is_some());
    assert_eq!(plan.skipped, None);
}

#[test]
fn suspended_starts_nothing_has_no_next_time_and_catches_up_when_resumed() {
    let mut suspended = spec("0 3 * * *");
    suspended.suspend = Some(true);
    let plan = plan_at(&suspended, &[], "2026-03-01T03:00:05Z");
    assert_eq!((plan.create, plan.next), (None, None));
    // The time is not consumed: resumed without a deadline, the missed time starts.
    assert_eq!(plan.last_schedule_time, None);
    suspended.suspend = Some(false);
    let plan = plan_at(&suspended, &[], "2026-03-01T04:00:00Z");
    assert!(plan.create.is_some());
}

#[test]
fn a_new_trigger_starts_one_manual_run_even_when_suspended() {
    let mut suspended = spec("0 3 * * *");
    suspended.suspend = Some(true);
    let cron = CronSchedule::parse(&suspended.schedule, None).unwrap();
    let inputs = Inputs {
        name: "nightly",
        spec: &suspended,
        cron: &cron,
        created: at("2026-03-01T00:00:00Z"),
        last_schedule_time: None,
        last_trigger: Some("1"),
        trigger: Some("2"),
        runs: &[],
        now: at("2026-03-01T10:00:00Z"),
    };
    let plan = plan(&inputs);
    assert_eq!(
        plan.create,
        Some(NewRun {
            name: manual_run_name("nightly", "2"),
            start: Start::Manual("2".to_string()),
        })
    );
    assert_eq!(plan.last_trigger.as_deref(), Some("2"));
    // The same value again starts nothing.
    let again = super::plan(&Inputs {
        last_trigger: Some("2"),
        ..inputs.clone()
    });
    assert_eq!(again.create, None);
    // Nor does a value whose run exists while the status has not caught up.
    let mut started = run(
        &manual_run_name("nightly", "2"),
        None,
        "2026-03-01T10:00:00Z",
    );
    started.trigger = Some("2".to_string());
    let runs = [started];
    let recorded = super::plan(&Inputs {
        runs: &runs,
        ..inputs
    });
    assert_eq!(recorded.create, None);
    assert_eq!(recorded.last_trigger.as_deref(), Some("2"));
}

#[test]
fn history_pruning_deletes_the_oldest_finished_runs_beyond_each_limit() {
    let runs = [
        run("s1", Some(Phase::Succeeded), "2026-03-01T01:00:00Z"),
        run("f1", Some(Phase::Failed), "2026-03-01T02:00:00Z"),
        run("s2", Some(Phase::Succeeded), "2026-03-01T03:00:00Z"),
        run("f2", Some(Phase::Failed), "2026-03-01T04:00:00Z"),
        run("s3", Some(Phase::Succeeded), "2026-03-01T05:00:00Z"),
        run("active", Some(Phase::Running), "2026-03-01T00:00:00Z"),
        run("s4", Some(Phase::Succeeded), "2026-03-01T06:00:00Z"),
    ];
    // Defaults: 3 succeeded, 1 failed; oldest first; the active run is never pruned.
    assert_eq!(prune(&runs, 3, 1), ["s1", "f1"]);
    assert_eq!(prune(&runs, 1, 0), ["s1", "f1", "s2", "f2", "s3"]);
    assert_eq!(prune(&runs, 10, 10), Vec::<String>::new());
    let plan = plan_at(&spec("0 3 * * *"), &runs, "2026-03-01T06:30:00Z");
    assert_eq!(plan.prune, ["s1", "f1"]);
}

#[test]
fn time_zone_and_dst_reach_the_plan() {
    // 02:30 New York on the spring-forward day runs at 03:00 EDT (07:00 UTC).
    let mut new_york = spec("30 2 * * *");
    new_york.time_zone = Some("America/New_York".to_string());
    let plan = plan_at(&new_york, &[], "2026-03-08T06:59:00Z");
    assert_eq!(plan.next, Some(at("2026-03-08T07:00:00Z")));
    let plan = plan_at(&new_york, &[], "2026-03-08T07:00:01Z");
    assert_eq!(
        plan.create.map(|r| r.start),
        Some(Start::Scheduled(at("2026-03-08T07:00:00Z")))
    );
}
