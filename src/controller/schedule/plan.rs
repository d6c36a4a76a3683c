//! What a schedule does now, decided without a client: which run to start (a due scheduled
//! time or a new manual trigger), which active runs to replace, which finished runs to prune,
//! and when to look again. The clock is passed in.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::cron::CronSchedule;
use crate::api::schedule::{ConcurrencyPolicy, LocustTestScheduleSpec};
use crate::api::status::Phase;

use super::run_names::{manual_run_name, scheduled_run_name};

/// Missed times counted before the count stops (reported only).
const MISSED_COUNT_CAP: usize = 100;
/// Look again at least this often, so a schedule far in the future still notices a clock jump.
const MAX_REQUEUE: Duration = Duration::from_secs(3600);

/// A run of the schedule as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    pub name: String,
    pub phase: Option<Phase>,
    /// When it was created (orders the history).
    pub created: Timestamp,
    /// The scheduled time it was started for (scheduled runs).
    pub scheduled_at: Option<Timestamp>,
    /// The trigger value that started it (manual runs).
    pub trigger: Option<String>,
}

impl RunView {
    pub fn is_finished(&self) -> bool {
        self.phase.is_some_and(Phase::is_terminal)
    }
}

/// What the planner reads.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub name: &'a str,
    pub spec: &'a LocustTestScheduleSpec,
    pub cron: &'a CronSchedule,
    /// The schedule's creation: no time before it is due.
    pub created: Timestamp,
    /// status.lastScheduleTime.
    pub last_schedule_time: Option<Timestamp>,
    /// status.lastTrigger.
    pub last_trigger: Option<&'a str>,
    /// The locust.io/trigger annotation.
    pub trigger: Option<&'a str>,
    pub runs: &'a [RunView],
    pub now: Timestamp,
}

/// Why a run was started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A scheduled time came.
    Scheduled(Timestamp),
    /// A new trigger value.
    Manual(String),
}

/// A run to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    pub name: String,
    pub start: Start,
}

/// Why a due run was not started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// concurrencyPolicy Forbid and these runs are active.
    Active { start: Start, active: Vec<String> },
    /// The newest missed time is older than startingDeadlineSeconds.
    MissedDeadline { scheduled: Timestamp, missed: usize },
}

/// What to do now.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// The run to create.
    pub create: Option<NewRun>,
    /// Active runs to delete before creating (concurrencyPolicy Replace).
    pub replace: Vec<String>,
    pub skipped: Option<Skip>,
    /// Finished runs beyond the history limits, oldest first.
    pub prune: Vec<String>,
    /// status.lastScheduleTime after this plan.
    pub last_schedule_time: Option<Timestamp>,
    /// status.lastTrigger after this plan.
    pub last_trigger: Option<String>,
    /// Missed scheduled times behind the one handled (more than one after downtime).
    pub missed: usize,
    /// status.nextScheduleTime.
    pub next: Option<Timestamp>,
    /// When to look again.
    pub requeue: Option<Duration>,
}

/// Decides what the schedule does at `inputs.now`.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let mut plan = Plan {
        last_schedule_time: newest_scheduled(inputs),
        last_trigger: inputs.last_trigger.map(str::to_string),
        ..Plan::default()
    };
    let active: Vec<&RunView> = inputs.runs.iter().filter(|r| !r.is_finished()).collect();

    // A new trigger value first; a due scheduled time waits for the next reconcile.
    let due = match inputs.trigger.filter(|t| Some(*t) != inputs.last_trigger) {
        Some(trigger) => {
            plan.last_trigger = Some(trigger.to_string());
            let started = inputs
                .runs
                .iter()
                .any(|r| r.trigger.as_deref() == Some(trigger));
            (!started).then(|| NewRun {
                name: manual_run_name(inputs.name, trigger),
                start: Start::Manual(trigger.to_string()),
            })
        }
        None => due_scheduled_run(inputs, &mut plan),
    };

    if let Some(run) = due {
        match inputs.spec.concurrency() {
            ConcurrencyPolicy::Forbid if !active.is_empty() => {
                plan.skipped = Some(Skip::Active {
                    start: run.start,
                    active: active.iter().map(|r| r.name.clone()).collect(),
                });
            }
            ConcurrencyPolicy::Replace => {
                plan.replace = active.iter().map(|r| r.name.clone()).collect();
                plan.create = Some(run);
            }
            _ => plan.create = Some(run),
        }
    }

    plan.prune = prune(
        inputs.runs,
        inputs.spec.successful_limit(),
        inputs.spec.failed_limit(),
    );
    if !inputs.spec.suspended() {
        plan.next = inputs.cron.next_after(inputs.now);
    }
    plan.requeue = Some(match plan.next {
        Some(next) => next
            .duration_since(inputs.now)
            .try_into()
            .unwrap_or(Duration::ZERO)
            .min(MAX_REQUEUE)
            // Land just after the scheduled second, not a hair before it.
            .saturating_add(Duration::from_millis(200)),
        None => MAX_REQUEUE,
    });
    plan
}

/// The newest scheduled time handled so far: the status's, or a run's that the status does not
/// show yet (a status write lost before a restart).
fn newest_scheduled(inputs: &Inputs<'_>) -> Option<Timestamp> {
    inputs
        .runs
        .iter()
        .filter_map(|r| r.scheduled_at)
        .chain(inputs.last_schedule_time)
        .max()
}

/// The latest scheduled time missed since the last one handled (or since the schedule was
/// created), unless suspended; a time older than the starting deadline is skipped.
fn due_scheduled_run(inputs: &Inputs<'_>, plan: &mut Plan) -> Option<NewRun> {
    if inputs.spec.suspended() {
        return None;
    }
    let since = plan.last_schedule_time.unwrap_or(inputs.created);
    let (latest, count) = inputs
        .cron
        .latest_between(since, inputs.now, MISSED_COUNT_CAP);
    let scheduled = latest?;
    plan.last_schedule_time = Some(scheduled);
    plan.missed = count.saturating_sub(1);
    if let Some(deadline) = inputs.spec.starting_deadline_seconds {
        let late = inputs.now.duration_since(scheduled).as_secs();
        if late > deadline {
            plan.skipped = Some(Skip::MissedDeadline {
                scheduled,
                missed: count,
            });
            return None;
        }
    }
    let name = scheduled_run_name(inputs.name, scheduled);
    // Created already (the status write before a restart was lost): nothing to start.
    if inputs.runs.iter().any(|r| r.name == name) {
        return None;
    }
    Some(NewRun {
        name,
        start: Start::Scheduled(scheduled),
    })
}

/// Finished runs beyond the limits: succeeded and failed ones counted apart, the newest kept.
pub fn prune(runs: &[RunView], successful: usize, failed: usize) -> Vec<String> {
    let mut doomed = Vec::new();
    for (phase, keep) in [(Phase::Succeeded, successful), (Phase::Failed, failed)] {
        let mut finished: Vec<&RunView> = runs.iter().filter(|r| r.phase == Some(phase)).collect();
        // Newest first; the name breaks ties of the same second.
        finished.sort_by(|a, b| (b.created, &b.name).cmp(&(a.created, &a.name)));
        doomed.extend(finished.into_iter().skip(keep));
    }
    doomed.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    doomed.into_iter().map(|r| r.name.clone()).collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
