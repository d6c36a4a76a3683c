//! `locust.io/v1alpha1` LocustTestSchedule: LocustTests run on a cron schedule.
//!
//! Each run is a plain LocustTest created from `spec.template`, owned by the schedule and
//! labelled [`LABEL_SCHEDULE`]. Field documentation here becomes `kubectl explain` text. The
//! version is alpha: fields may still change.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names::{LABEL_SCHEDULE, MAX_SCHEDULE_NAME_LENGTH};
use super::status::Phase;
use super::v2::LocustTestSpec;

/// Default of `successfulRunsHistoryLimit`.
pub const DEFAULT_SUCCESSFUL_RUNS_HISTORY_LIMIT: i32 = 3;
/// Default of `failedRunsHistoryLimit`.
pub const DEFAULT_FAILED_RUNS_HISTORY_LIMIT: i32 = 1;
/// Most finished runs a history limit may keep.
pub const MAX_HISTORY_LIMIT: i32 = 100;

/// Runs LocustTests on a cron schedule: each run is a LocustTest made from spec.template.
// Each printcolumn repeats `type_ = ...`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "locust.io",
    version = "v1alpha1",
    kind = "LocustTestSchedule",
    namespaced,
    shortname = "lotestsched",
    status = "LocustTestScheduleStatus",
    derive = "PartialEq",
    doc = "LocustTestSchedule runs LocustTests on a cron schedule: each run is a LocustTest made from spec.template, owned by the schedule and labelled locust.io/schedule=<name>.",
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule",
        description = "Cron pattern"
    ),
    printcolumn(
        name = "Suspend",
        type_ = "boolean",
        json_path = ".spec.suspend",
        description = "No scheduled runs while true"
    ),
    printcolumn(
        name = "Last Run",
        type_ = "string",
        json_path = ".status.lastRun.name",
        description = "The newest run"
    ),
    printcolumn(
        name = "Last Phase",
        type_ = "string",
        json_path = ".status.lastRun.phase",
        description = "Phase of the newest run"
    ),
    // A string, not a date: kubectl shows a date as an age, and a time to come as <invalid>.
    printcolumn(
        name = "Next",
        type_ = "string",
        json_path = ".status.nextScheduleTime",
        description = "When the next run is due"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestScheduleSpec {
    /// When runs start: a cron pattern of five fields (minute hour day-of-month month
    /// day-of-week), for example `0 3 * * *` (03:00 every day) or `*/30 9-17 * * MON-FRI`, or a
    /// nickname: @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually).
    #[schemars(length(min = 1, max = 256))]
    pub schedule: String,

    /// IANA time zone the schedule is read in, for example Europe/Berlin. Default UTC. A time
    /// that a daylight-saving jump skips runs right after the jump; a time that repeats runs
    /// once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "UTC"), length(min = 1, max = 64))]
    pub time_zone: Option<String>,

    /// What to do when a run is due while an earlier run is still active: Forbid (default)
    /// skips the new run, Replace deletes the active runs and starts the new one, Allow starts
    /// it alongside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Forbid"))]
    pub concurrency_policy: Option<ConcurrencyPolicy>,

    /// A run missed by more than this many seconds (the operator was down, or the schedule
    /// suspended) is skipped. Unset: a missed run starts as soon as the operator sees it. When
    /// several runs were missed, only the latest starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub starting_deadline_seconds: Option<i64>,

    /// Succeeded runs to keep; older ones are deleted. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = DEFAULT_SUCCESSFUL_RUNS_HISTORY_LIMIT), range(min = 0, max = MAX_HISTORY_LIMIT))]
    pub successful_runs_history_limit: Option<i32>,

    /// Failed runs to keep; older ones are deleted. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = DEFAULT_FAILED_RUNS_HISTORY_LIMIT), range(min = 0, max = MAX_HISTORY_LIMIT))]
    pub failed_runs_history_limit: Option<i32>,

    /// Stop starting scheduled runs; active runs go on. A manual trigger
    /// (annotation locust.io/trigger) still starts a run. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub suspend: Option<bool>,

    /// The LocustTest each run is made from.
    pub template: RunTemplate,
}

/// What a schedule does when a run is due and another is active.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Skip the new run.
    Forbid,
    /// Delete the active runs, then start the new one.
    Replace,
    /// Start the new run alongside.
    Allow,
}

impl ConcurrencyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyPolicy::Forbid => "Forbid",
            ConcurrencyPolicy::Replace => "Replace",
            ConcurrencyPolicy::Allow => "Allow",
        }
    }
}

/// The LocustTest a run is made from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunTemplate {
    /// Labels and annotations for each run. The operator adds locust.io/schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,

    /// The spec of each run: a LocustTest (locust.io/v2) spec.
    pub spec: LocustTestSpec,
}

/// Labels and annotations of each run.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Labels of each run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Annotations of each run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Observed state of a LocustTestSchedule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestScheduleStatus {
    /// The metadata.generation this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The scheduled time of the newest scheduled run (manual runs do not move it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,

    /// When the next scheduled run is due; unset while suspended or when the pattern never
    /// matches again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,

    /// Runs that have not finished (not Succeeded or Failed), oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<Vec<String>>,

    /// The newest run, scheduled or manual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunSummary>,

    /// The newest run that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_run: Option<String>,

    /// The last value of the locust.io/trigger annotation the operator acted on; a value
    /// equal to it starts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trigger: Option<String>,

    /// Ready: the schedule is valid and runs are started (reason Scheduled or Suspended), or
    /// why not (InvalidSchedule, RunRejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
}

/// One run as the schedule reports it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Name of the LocustTest.
    pub name: String,

    /// Its phase; unset until the operator first reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Why it ended as it did: the message of its TestCompleted condition, or of its
    /// ThresholdsMet condition when thresholds decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

impl LocustTestScheduleSpec {
    /// `concurrencyPolicy`, defaulted.
    pub fn concurrency(&self) -> ConcurrencyPolicy {
        self.concurrency_policy.unwrap_or(ConcurrencyPolicy::Forbid)
    }

    /// `suspend`, defaulted.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }

    /// `successfulRunsHistoryLimit`, defaulted.
    pub fn successful_limit(&self) -> usize {
        limit(
            self.successful_runs_history_limit,
            DEFAULT_SUCCESSFUL_RUNS_HISTORY_LIMIT,
        )
    }

    /// `failedRunsHistoryLimit`, defaulted.
    pub fn failed_limit(&self) -> usize {
        limit(
            self.failed_runs_history_limit,
            DEFAULT_FAILED_RUNS_HISTORY_LIMIT,
        )
    }
}

fn limit(value: Option<i32>, default: i32) -> usize {
    usize::try_from(value.unwrap_or(default)).unwrap_or(0)
}

/// The CEL rule on the schedule's name, and its message.
pub fn name_length_rule() -> (String, String) {
    (
        format!("self.metadata.name.size() <= {MAX_SCHEDULE_NAME_LENGTH}"),
        format!(
            "metadata.name may be at most {MAX_SCHEDULE_NAME_LENGTH} characters, so that each run's name <name>-<unix minutes> fits a LocustTest name; choose a shorter name"
        ),
    )
}

/// The label selector of a schedule's runs.
pub fn runs_selector(schedule: &str) -> String {
    format!("{LABEL_SCHEDULE}={schedule}")
}
