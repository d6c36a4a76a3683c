//! What the operator read from the Locust master, turned into status: live figures, connected
//! workers, the StatsAvailable condition, the result, the ThresholdsMet condition and the
//! verdict of a test with thresholds. Pure; `status::derive` calls it.

use std::time::Duration;

use jiff::Timestamp;

use super::conditions::{EventNote, condition, reason};
use crate::api::v2::{LocustTestStatus, ThresholdsSpec};
use crate::resources::web_ui::{Unreadable, WebUi};
use crate::stats::figures::{connected_workers, live_stats, test_result, worth_writing};
use crate::stats::payload::StatsPayload;
use crate::stats::verdict::{self, Scope};
use crate::stats::{Access, Reading, Sample};

/// What happened to the report ConfigMap in this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Stored under this name.
    Stored(String),
    /// Could not be stored; why.
    Failed(String),
}

/// What derive needs to know about reading the master.
#[derive(Clone, Debug)]
pub struct StatsView<'a> {
    pub access: Access,
    pub ui: WebUi,
    pub thresholds: Option<&'a ThresholdsSpec>,
    pub reading: Option<&'a Reading>,
    pub report: Option<&'a ReportOutcome>,
    /// How old an answer may be and still count.
    pub freshness: Duration,
    /// How long a running master may stay silent before StatsAvailable says so.
    pub grace: Duration,
    /// Minimum time between two live-stats writes (state or user changes excepted).
    pub live_write_interval: Duration,
}

impl StatsView<'_> {
    /// Nothing read: the operator does not read masters.
    pub fn off(ui: WebUi) -> Self {
        Self {
            access: Access::Off,
            ui,
            thresholds: None,
            reading: None,
            report: None,
            freshness: Duration::ZERO,
            grace: Duration::ZERO,
            live_write_interval: Duration::ZERO,
        }
    }

    /// The last answer, if recent enough to stand for the master's current word.
    fn fresh(&self, now: Timestamp) -> Option<&Sample> {
        let sample = self.reading?.last.as_deref()?;
        (age(now, sample.at) <= self.freshness).then_some(sample)
    }
}

/// Condition status values.
pub const TRUE: &str = "True";
pub const FALSE: &str = "False";
pub const UNKNOWN: &str = "Unknown";

/// A condition to set: type, status, reason, message.
pub type ConditionUpdate = (&'static str, &'static str, &'static str, String);

/// What reading the master changed, for derive to merge.
#[derive(Debug, Default)]
pub struct Applied {
    /// Connected workers as the master reports them (None: estimate from pods).
    pub connected: Option<i32>,
    pub conditions: Vec<ConditionUpdate>,
    pub events: Vec<EventNote>,
}

/// Workers the master reports. Once the test has stopped, the workers leave as the master quits
/// (autoquit), and the final figures may be read after they left: from then on the count only
/// keeps or raises what the status says, so it tells how many workers took part.
fn reported_workers(payload: &StatsPayload, before: Option<i32>) -> Option<i32> {
    let reported = connected_workers(payload)?;
    Some(if payload.is_stopped() {
        reported.max(before.unwrap_or(0))
    } else {
        reported
    })
}

/// Live figures, connected workers, the final result and the StatsAvailable and ThresholdsMet
/// conditions, from what was read. `master_running`: the master pod runs.
pub fn apply_reading(
    status: &mut LocustTestStatus,
    view: &StatsView<'_>,
    now: Timestamp,
    master_running: bool,
) -> Applied {
    let mut applied = Applied::default();
    let recorded_before = status.result.is_some();
    let fresh = view.fresh(now);

    if !recorded_before && let Some(sample) = fresh {
        let candidate = live_stats(&sample.payload, sample.at);
        if worth_writing(
            status.live_stats.as_ref(),
            &candidate,
            view.live_write_interval,
        ) {
            status.live_stats = Some(candidate);
        }
        applied.connected = reported_workers(&sample.payload, status.connected_workers);
    }

    // The final figures, once read: recorded once, with the report's name.
    if !recorded_before && let Some(capture) = view.reading.and_then(|r| r.capture.as_deref()) {
        let mut result = test_result(&capture.payload, capture.at, None);
        match view.report {
            Some(ReportOutcome::Stored(name)) => result.report_config_map = Some(name.clone()),
            Some(ReportOutcome::Failed(why)) => applied.events.push(EventNote {
                warning: true,
                reason: reason::REPORT_NOT_STORED,
                message: format!("the report could not be stored: {why}"),
            }),
            None => {}
        }
        applied.events.push(EventNote {
            warning: false,
            reason: reason::RESULT_RECORDED,
            message: result_summary(&result),
        });
        status.result = Some(result);
        status.live_stats = Some(live_stats(&capture.payload, capture.at));
        applied.connected = reported_workers(&capture.payload, status.connected_workers);
        if let Some(thresholds) = view.thresholds {
            let checks = verdict::evaluate(thresholds, &capture.payload, Scope::All);
            let breached = verdict::breaches(&checks);
            let stopped = view.reading.and_then(|r| r.stopped_on_breach.as_ref());
            let (value, code, message) = match (stopped, breached.is_empty()) {
                (Some((_, live)), _) => (
                    FALSE,
                    reason::THRESHOLDS_BREACHED,
                    format!(
                        "stopped the test: {live} for longer than {}s on the live figures; final figures: {}",
                        thresholds.stop_grace_period().as_secs(),
                        if breached.is_empty() {
                            "every limit met".to_string()
                        } else {
                            breached
                        }
                    ),
                ),
                (None, true) => (
                    TRUE,
                    reason::THRESHOLDS_MET,
                    with_notes(
                        format!("every threshold met ({} checked)", checks.len()),
                        &verdict::baseline_notes(&checks),
                    ),
                ),
                (None, false) => (FALSE, reason::THRESHOLDS_BREACHED, breached),
            };
            if value == FALSE {
                applied.events.push(EventNote {
                    warning: true,
                    reason: reason::THRESHOLDS_BREACHED,
                    message: message.clone(),
                });
            }
            applied
                .conditions
                .push((condition::THRESHOLDS_MET, value, code, message));
        }
    }

    applied.conditions.push(stats_available(
        status,
        view,
        now,
        master_running,
        fresh.is_some(),
    ));
    if view.thresholds.is_some() && !has_condition(status, condition::THRESHOLDS_MET) {
        let recorded = applied
            .conditions
            .iter()
            .any(|c| c.0 == condition::THRESHOLDS_MET);
        if !recorded {
            applied.conditions.push((
                condition::THRESHOLDS_MET,
                UNKNOWN,
                reason::THRESHOLDS_PENDING,
                "thresholds are checked when the master reports the test stopped".to_string(),
            ));
        }
    }
    applied
}

fn stats_available(
    status: &LocustTestStatus,
    view: &StatsView<'_>,
    now: Timestamp,
    master_running: bool,
    fresh: bool,
) -> ConditionUpdate {
    let c = condition::STATS_AVAILABLE;
    if view.access == Access::Off {
        return (
            c,
            FALSE,
            reason::STATS_READING_OFF,
            "the operator runs with --stats-access=off: no live stats, result or report; connectedWorkers is estimated from running worker pods".to_string(),
        );
    }
    match &view.ui.unreadable {
        Some(Unreadable::Headless) => {
            return (
                c,
                FALSE,
                reason::WEB_UI_DISABLED,
                "--headless turns the master's web UI off: no live stats, result or report; connectedWorkers is estimated from running worker pods (use the operator's default --autostart instead of --headless to keep them)".to_string(),
            );
        }
        Some(Unreadable::Unsupported(flag)) => {
            return (
                c,
                FALSE,
                reason::WEB_UI_UNSUPPORTED,
                format!(
                    "the master's web UI runs with {flag}, which the operator cannot read (not supported): no live stats, result or report; connectedWorkers is estimated from running worker pods"
                ),
            );
        }
        None => {}
    }
    if status.result.as_ref().is_some_and(|r| !r.partial) {
        return (
            c,
            TRUE,
            reason::FINAL_FIGURES_READ,
            "the master's final figures are recorded in status.result".to_string(),
        );
    }
    if fresh {
        return (
            c,
            TRUE,
            reason::MASTER_ANSWERING,
            "the master's web API answers".to_string(),
        );
    }
    if !master_running {
        return (
            c,
            UNKNOWN,
            reason::WAITING_FOR_MASTER,
            "the master pod is not running yet".to_string(),
        );
    }
    let reading = view.reading;
    let silent_since = reading
        .and_then(|r| r.last.as_ref().map(|s| s.at))
        .or_else(|| reading.and_then(|r| r.since));
    match (silent_since, reading.and_then(|r| r.error.as_ref())) {
        (Some(since), Some((_, error))) if age(now, since) > view.grace => (
            c,
            FALSE,
            reason::MASTER_NOT_ANSWERING,
            format!(
                "no answer for more than {}s: {error}; the test goes on, connectedWorkers is estimated from running worker pods",
                view.grace.as_secs()
            ),
        ),
        _ => (
            c,
            UNKNOWN,
            reason::WAITING_FOR_MASTER,
            "waiting for the master's web API to answer".to_string(),
        ),
    }
}

/// The verdict of a test with thresholds whose master has ended (or that the operator stopped
/// on a breach): `Some((succeeded, reason, message))`, or None when thresholds do not decide.
/// A verdict followed by the notes of its relative limits, when there are any.
fn with_notes(verdict: String, notes: &str) -> String {
    if notes.is_empty() {
        verdict
    } else {
        format!("{verdict}; {notes}")
    }
}

/// Records a partial result and the ThresholdsMet condition when the final figures were never
/// read.
pub fn thresholds_verdict(
    status: &mut LocustTestStatus,
    view: &StatsView<'_>,
    master_ended: bool,
    applied: &mut Applied,
) -> Option<(bool, &'static str, String)> {
    let thresholds = view.thresholds?;
    let stopped = view
        .reading
        .is_some_and(|r| r.stopped_on_breach.is_some() && r.capture.is_some());
    if !(master_ended || stopped) {
        return None;
    }
    let recorded = condition_of(status, applied, condition::THRESHOLDS_MET);
    let (value, message) = match recorded {
        Some((value, message)) if value != UNKNOWN => (value, message),
        _ => match view.reading.and_then(|r| r.last.as_deref()) {
            Some(sample) => {
                let checks = verdict::evaluate(thresholds, &sample.payload, Scope::All);
                let breached = verdict::breaches(&checks);
                let (value, code, message) = if breached.is_empty() {
                    (
                        TRUE,
                        reason::THRESHOLDS_MET,
                        with_notes(
                            format!(
                                "every threshold met ({} checked) on the last live figures: the master quit before its final figures were read",
                                checks.len()
                            ),
                            &verdict::baseline_notes(&checks),
                        ),
                    )
                } else {
                    let message = format!(
                        "{breached} (last live figures: the master quit before its final figures were read)"
                    );
                    applied.events.push(EventNote {
                        warning: true,
                        reason: reason::THRESHOLDS_BREACHED,
                        message: message.clone(),
                    });
                    (FALSE, reason::THRESHOLDS_BREACHED, message)
                };
                applied
                    .conditions
                    .push((condition::THRESHOLDS_MET, value, code, message.clone()));
                (value, message)
            }
            None => {
                let why = "the operator never read the master's figures (see the StatsAvailable condition)";
                applied.conditions.push((
                    condition::THRESHOLDS_MET,
                    FALSE,
                    reason::THRESHOLDS_UNEVALUATED,
                    why.to_string(),
                ));
                return Some((
                    false,
                    reason::THRESHOLDS_UNEVALUATED,
                    format!("spec.thresholds could not be checked: {why}"),
                ));
            }
        },
    };
    Some(if value == TRUE {
        (true, reason::THRESHOLDS_MET, message)
    } else {
        (false, reason::THRESHOLDS_BREACHED, message)
    })
}

/// At the end of a test whose final figures were never read: the last live figures, marked
/// partial with the reason.
pub fn partial_result(
    status: &mut LocustTestStatus,
    view: &StatsView<'_>,
    now: Timestamp,
) -> Option<EventNote> {
    if status.result.is_some() {
        return None;
    }
    let sample = view.reading?.last.as_deref()?;
    let why = format!(
        "the master quit before the operator read its final figures; these are the figures it reported {}s before the test ended",
        age(now, sample.at).as_secs()
    );
    let result = test_result(&sample.payload, sample.at, Some(why));
    let note = EventNote {
        warning: false,
        reason: reason::RESULT_RECORDED,
        message: format!("{} (partial)", result_summary(&result)),
    };
    status.result = Some(result);
    Some(note)
}

/// `1234 requests, 12 failed (0.97%), 45.3 req/s, p95 120 ms`.
fn result_summary(result: &crate::api::v2::TestResult) -> String {
    let mut text = format!(
        "{} requests, {} failed ({:.2}%)",
        result.total_requests.unwrap_or(0),
        result.failed_requests.unwrap_or(0),
        result.failure_ratio.unwrap_or(0.0) * 100.0
    );
    if let Some(rps) = result.requests_per_second {
        text.push_str(&format!(", {rps} req/s"));
    }
    if let Some(p95) = result.p95_response_time {
        text.push_str(&format!(", p95 {p95} ms"));
    }
    text
}

fn has_condition(status: &LocustTestStatus, type_: &str) -> bool {
    status.conditions.iter().flatten().any(|c| c.type_ == type_)
}

/// The value and message of a condition: set in this reconcile, else already in the status.
fn condition_of(
    status: &LocustTestStatus,
    applied: &Applied,
    type_: &str,
) -> Option<(&'static str, String)> {
    if let Some((_, value, _, message)) = applied.conditions.iter().rev().find(|c| c.0 == type_) {
        return Some((value, message.clone()));
    }
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| {
            let value = match c.status.as_str() {
                "True" => TRUE,
                "False" => FALSE,
                _ => UNKNOWN,
            };
            (value, c.message.clone())
        })
}

fn age(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[path = "results_tests.rs"]
mod tests;
