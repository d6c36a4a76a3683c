//! From the master's payload to the figures the status shows. Pure.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::payload::StatsPayload;
use crate::api::text::shorten;
use crate::api::v2::{EndpointFailures, LiveStats, TestResult};

/// Endpoints listed in `result.topFailures`.
pub const TOP_FAILURES: usize = 5;
/// Longest error text kept per endpoint in `result.topFailures`.
const MAX_ERROR_LENGTH: usize = 256;

/// Live figures as `status.liveStats` shows them.
pub fn live_stats(payload: &StatsPayload, read_at: Timestamp) -> LiveStats {
    let aggregate = payload.aggregate();
    LiveStats {
        state: payload.state.clone(),
        users: count(payload.user_count),
        // Locust keeps the last rate after the test stopped; nothing is sent any more.
        requests_per_second: if payload.is_running() {
            round(payload.current_rps.unwrap_or(0.0), 2)
        } else {
            0.0
        },
        fail_percent: round(payload.fail_ratio.unwrap_or(0.0) * 100.0, 2),
        p50_response_time: payload.current_percentile("0.5").map(|v| round(v, 1)),
        p95_response_time: payload.current_percentile("0.95").map(|v| round(v, 1)),
        requests: count(aggregate.num_requests),
        failures: count(aggregate.num_failures),
        updated_at: Time(read_at),
    }
}

/// Workers connected to the master, as it reports them.
pub fn connected_workers(payload: &StatsPayload) -> Option<i32> {
    payload
        .worker_count
        .map(|n| i32::try_from(count(Some(n))).unwrap_or(i32::MAX))
}

/// `status.result` from the master's figures. `partial` says why these are not the final ones.
pub fn test_result(
    payload: &StatsPayload,
    read_at: Timestamp,
    partial: Option<String>,
) -> TestResult {
    let aggregate = payload.aggregate();
    let requests = aggregate.num_requests.unwrap_or(0.0);
    let failures = aggregate.num_failures.unwrap_or(0.0);
    let rps = aggregate.total_rps.or(payload.total_rps);
    let mut failing: Vec<_> = payload
        .endpoints()
        .filter(|e| e.num_failures.unwrap_or(0.0) > 0.0)
        .collect();
    failing.sort_by(|a, b| {
        b.num_failures
            .unwrap_or(0.0)
            .total_cmp(&a.num_failures.unwrap_or(0.0))
            .then_with(|| a.name.cmp(&b.name))
    });
    let top_failures: Vec<EndpointFailures> = failing
        .into_iter()
        .take(TOP_FAILURES)
        .map(|e| EndpointFailures {
            method: e.method.clone(),
            name: e.name.clone(),
            requests: count(e.num_requests),
            failures: count(e.num_failures),
            error: payload
                .errors
                .iter()
                .filter(|err| err.name == e.name && err.method == e.method)
                .max_by(|a, b| {
                    a.occurrences
                        .unwrap_or(0.0)
                        .total_cmp(&b.occurrences.unwrap_or(0.0))
                })
                .map(|err| shorten(&err.error, MAX_ERROR_LENGTH, "...")),
        })
        .collect();
    TestResult {
        total_requests: Some(count(Some(requests))),
        failed_requests: Some(count(Some(failures))),
        average_response_time: aggregate.avg_response_time.map(|v| round(v, 2)),
        requests_per_second: rps.map(|v| round(v, 2)),
        failure_ratio: Some(if requests > 0.0 {
            round(failures / requests, 4)
        } else {
            0.0
        }),
        p50_response_time: aggregate.median_response_time.map(|v| round(v, 1)),
        p95_response_time: aggregate.p95_response_time.map(|v| round(v, 1)),
        p99_response_time: aggregate.p99_response_time.map(|v| round(v, 1)),
        max_response_time: aggregate.max_response_time.map(|v| round(v, 1)),
        duration_seconds: rps.filter(|r| *r > 0.0).map(|r| round(requests / r, 1)),
        top_failures: (!top_failures.is_empty()).then_some(top_failures),
        partial: partial.is_some(),
        partial_reason: partial,
        recorded_at: Some(Time(read_at)),
        report_config_map: None,
    }
}

/// Whether `new` differs from what the status shows enough to be worth a status write: a
/// state, user or failure-percent change at once; a rate or response-time change of more than
/// 10 % once `min_interval` has passed since the last write.
pub fn worth_writing(old: Option<&LiveStats>, new: &LiveStats, min_interval: Duration) -> bool {
    let Some(old) = old else { return true };
    if old.state != new.state || old.users != new.users {
        return true;
    }
    let since = new.updated_at.0.duration_since(old.updated_at.0);
    let elapsed = Duration::try_from(since).unwrap_or(Duration::ZERO);
    if elapsed < min_interval {
        return false;
    }
    let moved = |a: f64, b: f64, relative: f64, absolute: f64| {
        let d = (a - b).abs();
        d > absolute && d > relative * a.abs().max(b.abs())
    };
    let opt = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => moved(a, b, 0.10, 1.0),
        (a, b) => a.is_some() != b.is_some(),
    };
    moved(old.requests_per_second, new.requests_per_second, 0.10, 0.5)
        || (old.fail_percent - new.fail_percent).abs() >= 0.1
        || opt(old.p50_response_time, new.p50_response_time)
        || opt(old.p95_response_time, new.p95_response_time)
}

fn count(value: Option<f64>) -> i64 {
    // Counts are whole numbers in Locust's JSON; a negative or absurd one reads as 0.
    let v = value.unwrap_or(0.0);
    if (0.0..9.0e15).contains(&v) {
        v.round() as i64
    } else {
        0
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::payload::recorded::*;
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn live_stats_of_a_running_test() {
        let p = payload(OK_RUNNING);
        let live = live_stats(&p, at(0));
        assert_eq!(live.state, "running");
        assert_eq!(live.users, 6);
        // Locust's current rate (0 in this early sample: it averages the last seconds).
        assert_eq!(
            live.requests_per_second,
            round(p.current_rps.unwrap_or(-1.0), 2)
        );
        assert_eq!(live.fail_percent, 0.0);
        assert!(live.requests > 50);
        assert!(live.p95_response_time.is_some());
    }

    #[test]
    fn a_stopped_test_sends_nothing_per_second() {
        let p = payload(FAILING_STOPPED);
        assert!(
            p.current_rps.unwrap_or(0.0) > 0.0,
            "Locust keeps a stale rate"
        );
        let live = live_stats(&p, at(0));
        assert_eq!(live.requests_per_second, 0.0);
        assert!(live.fail_percent > 1.0 && live.fail_percent < 100.0);
    }

    #[test]
    fn result_of_a_failing_run_lists_the_failing_endpoint_with_its_error() {
        let p = payload(FAILING_STOPPED);
        let result = test_result(&p, at(0), None);
        let aggregate = p.aggregate();
        assert_eq!(
            result.total_requests,
            Some(aggregate.num_requests.unwrap_or(0.0) as i64)
        );
        assert!(result.failed_requests.unwrap_or(0) > 0);
        let top = result.top_failures.unwrap_or_default();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].name, "/checkout");
        assert_eq!(top[0].method, "GET");
        assert!(top[0].error.as_deref().unwrap_or("").contains("500"));
        assert!(!result.partial);
        assert!(result.duration_seconds.unwrap_or(0.0) > 1.0);
        assert!(result.p99_response_time >= result.p95_response_time);
    }

    #[test]
    fn result_of_a_clean_run_has_no_failures_listed() {
        let result = test_result(&payload(OK_STOPPED), at(0), None);
        assert_eq!(result.failed_requests, Some(0));
        assert_eq!(result.failure_ratio, Some(0.0));
        assert_eq!(result.top_failures, None);
    }

    #[test]
    fn partial_result_says_why() {
        let result = test_result(&payload(OK_RUNNING), at(0), Some("gone".into()));
        assert!(result.partial);
        assert_eq!(result.partial_reason.as_deref(), Some("gone"));
    }

    #[test]
    fn writes_are_rate_limited_unless_the_state_or_users_change() {
        let mut running = live_stats(&payload(OK_RUNNING), at(0));
        running.requests_per_second = 40.0;
        let mut same_soon = running.clone();
        same_soon.updated_at = Time(at(3));
        same_soon.requests_per_second *= 2.0;
        let interval = Duration::from_secs(10);
        assert!(worth_writing(None, &running, interval));
        assert!(!worth_writing(Some(&running), &same_soon, interval));
        let mut later = same_soon.clone();
        later.updated_at = Time(at(12));
        assert!(worth_writing(Some(&running), &later, interval));
        let mut steady = running.clone();
        steady.updated_at = Time(at(30));
        steady.requests_per_second += 0.1;
        steady.requests += 1000;
        assert!(!worth_writing(Some(&running), &steady, interval));
        let mut stopped = running.clone();
        stopped.updated_at = Time(at(1));
        stopped.state = "stopped".into();
        assert!(worth_writing(Some(&running), &stopped, interval));
    }
}
