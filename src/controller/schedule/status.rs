//! A schedule's status, derived without a client from its runs and the plan just carried out.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::plan::{Plan, Skip, Start};
use crate::api::schedule::{LocustTestScheduleStatus, RunSummary};
use crate::api::status::Phase;
use crate::api::v2::LocustTest;
use crate::controller::conditions::condition::{READY, TEST_COMPLETED, THRESHOLDS_MET};
use crate::controller::conditions::{EventNote, reason};

/// The Ready condition of a schedule: whether it starts runs, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Readiness {
    pub fn not_ready(reason: &'static str, message: String) -> Self {
        Readiness {
            ready: false,
            reason,
            message,
        }
    }
}

/// The Ready condition for a plan carried out without error.
pub fn readiness(suspended: bool, plan: &Plan) -> Readiness {
    let (reason, message) = match (suspended, plan.next) {
        (true, _) => (
            reason::SUSPENDED,
            "spec.suspend is true: no scheduled runs (a locust.io/trigger annotation still starts one)".to_string(),
        ),
        (false, Some(next)) => (reason::SCHEDULED, format!("next run at {next}")),
        (false, None) => (
            reason::SCHEDULED,
            "the schedule matches no future time".to_string(),
        ),
    };
    Readiness {
        ready: true,
        reason,
        message,
    }
}

/// The readiness to report: a run refused earlier (Ready=False, RunRejected) stays reported
/// until a run is created or the schedule is edited (a new generation), so a reconcile that
/// merely finds nothing due does not hide it.
pub fn kept_rejection(
    old: &LocustTestScheduleStatus,
    generation: Option<i64>,
    ready: Readiness,
    created: bool,
) -> Readiness {
    if !ready.ready || created {
        return ready;
    }
    let rejected = old.conditions.iter().flatten().find(|c| {
        c.type_ == READY
            && c.status == "False"
            && c.reason == reason::RUN_REJECTED
            && c.observed_generation == generation
    });
    match rejected {
        Some(c) => Readiness::not_ready(reason::RUN_REJECTED, c.message.clone()),
        None => ready,
    }
}

/// The events of a plan carried out: the run started, replaced or skipped.
pub fn events(plan: &Plan) -> Vec<EventNote> {
    let mut notes = Vec::new();
    if !plan.replace.is_empty() {
        notes.push(EventNote {
            warning: false,
            reason: reason::RUN_REPLACED,
            message: format!(
                "concurrencyPolicy Replace: deleted the active run(s) {}",
                plan.replace.join(", ")
            ),
        });
    }
    if let Some(run) = &plan.create {
        let why = match &run.start {
            Start::Scheduled(at) => format!("scheduled for {at}"),
            Start::Manual(value) => format!("triggered by locust.io/trigger={value:?}"),
        };
        let missed = if plan.missed > 0 {
            format!("; {} earlier missed time(s) were not run", plan.missed)
        } else {
            String::new()
        };
        notes.push(EventNote {
            warning: false,
            reason: reason::RUN_STARTED,
            message: format!("started {} ({why}){missed}", run.name),
        });
    }
    match &plan.skipped {
        Some(Skip::Active { start, active }) => notes.push(EventNote {
            warning: true,
            reason: reason::RUN_SKIPPED,
            message: format!(
                "concurrencyPolicy Forbid: {} not started because {} still active",
                match start {
                    Start::Scheduled(at) => format!("the run scheduled for {at}"),
                    Start::Manual(value) => format!("the run triggered by {value:?}"),
                },
                active.join(", ")
            ),
        }),
        Some(Skip::MissedDeadline { scheduled, missed }) => notes.push(EventNote {
            warning: true,
            reason: reason::RUN_SKIPPED,
            message: format!(
                "missed the starting deadline: the run scheduled for {scheduled} ({missed} missed time(s)) is older than startingDeadlineSeconds"
            ),
        }),
        None => {}
    }
    notes
}

/// The status: the plan's times and trigger, the runs that remain (pruned and replaced ones
/// removed, the new one added) and the Ready condition.
pub fn derive(
    old: &LocustTestScheduleStatus,
    generation: Option<i64>,
    plan: &Plan,
    runs: &[LocustTest],
    readiness: Readiness,
    now: Timestamp,
) -> LocustTestScheduleStatus {
    let mut ordered: Vec<&LocustTest> = runs.iter().collect();
    ordered.sort_by_key(|t| (created(t), t.metadata.name.clone()));
    let active: Vec<String> = ordered
        .iter()
        .filter(|t| !phase(t).is_some_and(Phase::is_terminal))
        .filter_map(|t| t.metadata.name.clone())
        .collect();
    let last_run = ordered.last().map(|t| summary(t)).or(old.last_run.clone());
    let last_successful_run = ordered
        .iter()
        .rev()
        .find(|t| phase(t) == Some(Phase::Succeeded))
        .and_then(|t| t.metadata.name.clone())
        .or(old.last_successful_run.clone());
    let mut conditions = old.conditions.clone().unwrap_or_default();
    set_condition(&mut conditions, readiness, generation, now);
    LocustTestScheduleStatus {
        observed_generation: generation,
        last_schedule_time: plan.last_schedule_time.map(Time),
        next_schedule_time: plan.next.map(Time),
        active: (!active.is_empty()).then_some(active),
        last_run,
        last_successful_run,
        last_trigger: plan.last_trigger.clone(),
        conditions: Some(conditions),
    }
}

fn phase(test: &LocustTest) -> Option<Phase> {
    test.status.as_ref().and_then(|s| s.phase)
}

fn created(test: &LocustTest) -> Timestamp {
    test.metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

/// A run's name, phase and verdict (its ThresholdsMet message when thresholds decided, else
/// its TestCompleted message once finished).
pub fn summary(test: &LocustTest) -> RunSummary {
    let conditions = test
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let message = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_ && !c.message.is_empty())
            .map(|c| c.message.clone())
    };
    let finished = phase(test).is_some_and(Phase::is_terminal);
    RunSummary {
        name: test.metadata.name.clone().unwrap_or_default(),
        phase: phase(test),
        verdict: finished
            .then(|| message(THRESHOLDS_MET).or_else(|| message(TEST_COMPLETED)))
            .flatten(),
    }
}

/// Sets the Ready condition, keeping its transition time while its status stays.
fn set_condition(
    conditions: &mut Vec<Condition>,
    readiness: Readiness,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if readiness.ready { "True" } else { "False" };
    let transition = conditions
        .iter()
        .find(|c| c.type_ == READY && c.status == status)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    let new = Condition {
        type_: READY.to_string(),
        status: status.to_string(),
        reason: readiness.reason.to_string(),
        message: readiness.message,
        last_transition_time: transition,
        observed_generation: generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == READY) {
        Some(existing) => *existing = new,
        None => conditions.push(new),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::v2::LocustTestStatus;
    use crate::manifests::sample_v2;

    fn test(name: &str, phase: Option<Phase>, created: &str, message: &str) -> LocustTest {
        let mut test = sample_v2();
        test.metadata.name = Some(name.to_string());
        test.metadata.creation_timestamp = Some(Time(created.parse().unwrap()));
        test.status = Some(LocustTestStatus {
            phase,
            conditions: Some(vec![Condition {
                type_: TEST_COMPLETED.to_string(),
                status: "True".to_string(),
                reason: "x".to_string(),
                message: message.to_string(),
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }]),
            ..LocustTestStatus::default()
        });
        test
    }

    #[test]
    fn status_lists_active_runs_and_the_newest_run_and_success() {
        let runs = [
            test("a", Some(Phase::Succeeded), "2026-03-01T01:00:00Z", "ok"),
            test(
                "b",
                Some(Phase::Failed),
                "2026-03-01T02:00:00Z",
                "master exited 1",
            ),
            test("c", Some(Phase::Running), "2026-03-01T03:00:00Z", ""),
            test("d", None, "2026-03-01T04:00:00Z", ""),
        ];
        let plan = Plan {
            next: Some("2026-03-02T03:00:00Z".parse().unwrap()),
            last_trigger: Some("7".to_string()),
            ..Plan::default()
        };
        let now: Timestamp = "2026-03-01T04:00:01Z".parse().unwrap();
        let status = derive(
            &LocustTestScheduleStatus::default(),
            Some(2),
            &plan,
            &runs,
            readiness(false, &plan),
            now,
        );
        assert_eq!(status.active, Some(vec!["c".to_string(), "d".to_string()]));
        assert_eq!(status.last_run.as_ref().map(|r| r.name.as_str()), Some("d"));
        assert_eq!(status.last_successful_run.as_deref(), Some("a"));
        assert_eq!(status.last_trigger.as_deref(), Some("7"));
        assert_eq!(status.observed_generation, Some(2));
        let ready = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Scheduled")
        );
        assert!(ready.message.contains("2026-03-02T03:00:00Z"));
        assert_eq!(
            summary(&runs[1]),
            RunSummary {
                name: "b".to_string(),
                phase: Some(Phase::Failed),
                verdict: Some("master exited 1".to_string()),
            }
        );
        assert_eq!(summary(&runs[2]).verdict, None);
    }

    #[test]
    fn a_rejection_stays_until_a_run_starts_or_the_schedule_changes() {
        let rejected = Readiness::not_ready(reason::RUN_REJECTED, "refused: x".to_string());
        let mut conditions = Vec::new();
        set_condition(&mut conditions, rejected, Some(3), Timestamp::UNIX_EPOCH);
        let old = LocustTestScheduleStatus {
            conditions: Some(conditions),
            ..LocustTestScheduleStatus::default()
        };
        let fine = readiness(false, &Plan::default());
        let kept = kept_rejection(&old, Some(3), fine.clone(), false);
        assert_eq!((kept.ready, kept.reason), (false, reason::RUN_REJECTED));
        assert_eq!(kept.message, "refused: x");
        assert_eq!(kept_rejection(&old, Some(3), fine.clone(), true), fine);
        assert_eq!(kept_rejection(&old, Some(4), fine.clone(), false), fine);
    }

    #[test]
    fn a_skip_and_a_start_are_announced() {
        let plan = Plan {
            create: Some(super::super::plan::NewRun {
                name: "n-1".to_string(),
                start: Start::Manual("x".to_string()),
            }),
            replace: vec!["n-0".to_string()],
            missed: 2,
            ..Plan::default()
        };
        let reasons: Vec<_> = events(&plan).iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [reason::RUN_REPLACED, reason::RUN_STARTED]);
        assert!(events(&plan)[1].message.contains("2 earlier missed"));
    }
}
