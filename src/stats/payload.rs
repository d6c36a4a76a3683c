//! What the Locust master's `/stats/requests` answers (Locust 2.4x), read leniently: a field
//! Locust leaves out or sends as `null` reads as absent, never as an error.
//!
//! The recorded payloads in `testdata/` come from a real Locust 2.46.7
//! (`hack/record-locust-stats.py`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Name of the row that sums every endpoint; Locust always sends it last.
pub const AGGREGATED: &str = "Aggregated";

/// The master's answer on `/stats/requests`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsPayload {
    /// ready, spawning, running, cleanup, stopping, stopped or missing.
    #[serde(default)]
    pub state: String,
    #[serde(default, deserialize_with = "lenient")]
    pub user_count: Option<f64>,
    /// Present on a master only.
    #[serde(default, deserialize_with = "lenient")]
    pub worker_count: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub total_rps: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub current_rps: Option<f64>,
    /// 0 to 1.
    #[serde(default, deserialize_with = "lenient")]
    pub fail_ratio: Option<f64>,
    /// Percentiles of the last seconds, keyed `response_time_percentile_0.5` and `..._0.95`.
    #[serde(default)]
    pub current_response_time_percentiles: BTreeMap<String, Option<f64>>,
    /// One row per endpoint, then the Aggregated row.
    #[serde(default)]
    pub stats: Vec<EndpointStats>,
    /// Distinct errors with their counts.
    #[serde(default)]
    pub errors: Vec<ErrorStats>,
}

/// One row of the statistics table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    #[serde(default, deserialize_with = "lenient_string")]
    pub method: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub num_requests: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub num_failures: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub avg_response_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub min_response_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_response_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub median_response_time: Option<f64>,
    #[serde(
        default,
        rename = "response_time_percentile_0.95",
        deserialize_with = "lenient"
    )]
    pub p95_response_time: Option<f64>,
    #[serde(
        default,
        rename = "response_time_percentile_0.99",
        deserialize_with = "lenient"
    )]
    pub p99_response_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub total_rps: Option<f64>,
}

/// One distinct error.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorStats {
    #[serde(default, deserialize_with = "lenient_string")]
    pub method: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub error: String,
    #[serde(default, deserialize_with = "lenient")]
    pub occurrences: Option<f64>,
}

impl StatsPayload {
    /// Parses the body of `/stats/requests`.
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The Aggregated row (the last row; an empty row when Locust sent none).
    pub fn aggregate(&self) -> EndpointStats {
        self.stats
            .iter()
            .rev()
            .find(|row| row.name == AGGREGATED && row.method.is_empty())
            .or_else(|| self.stats.last())
            .cloned()
            .unwrap_or_default()
    }

    /// The endpoint rows, without the Aggregated row.
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointStats> {
        self.stats
            .iter()
            .filter(|row| !(row.name == AGGREGATED && row.method.is_empty()))
    }

    /// A percentile of the last seconds (`0.5`, `0.95`).
    pub fn current_percentile(&self, percentile: &str) -> Option<f64> {
        self.current_response_time_percentiles
            .get(&format!("response_time_percentile_{percentile}"))
            .copied()
            .flatten()
    }

    /// The test is over: Locust stopped every user.
    pub fn is_stopped(&self) -> bool {
        self.state == "stopped"
    }

    /// Users are running (or being started).
    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "spawning")
    }
}

/// A number, or absent for `null`, a string or anything else that is not a finite number.
fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_f64().filter(|n| n.is_finite()))
}

/// A string, or empty for anything else.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_str().unwrap_or_default().to_string())
}

#[cfg(test)]
pub(crate) mod recorded {
    #![allow(clippy::panic)]
    //! Payloads recorded from a real Locust 2.46.7 master.
    pub const OK_READY: &str = include_str!("testdata/ok-ready.json");
    pub const OK_RUNNING: &str = include_str!("testdata/ok-running.json");
    pub const OK_STOPPED: &str = include_str!("testdata/ok-stopped.json");
    pub const FAILING_RUNNING: &str = include_str!("testdata/failing-running.json");
    pub const FAILING_STOPPED: &str = include_str!("testdata/failing-stopped.json");

    pub fn payload(text: &str) -> super::StatsPayload {
        super::StatsPayload::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::recorded::*;
    use super::*;

    #[test]
    fn ready_master_has_only_the_aggregated_row_and_null_percentiles() {
        let p = payload(OK_READY);
        assert_eq!(p.state, "ready");
        assert_eq!(p.worker_count, Some(0.0));
        assert_eq!(p.endpoints().count(), 0);
        assert_eq!(p.aggregate().num_requests, Some(0.0));
        assert_eq!(p.current_percentile("0.5"), None);
        assert!(!p.is_running() && !p.is_stopped());
    }

    #[test]
    fn running_master_reports_workers_users_and_endpoints() {
        let p = payload(OK_RUNNING);
        assert!(p.is_running());
        assert_eq!(p.worker_count, Some(2.0));
        assert_eq!(p.user_count, Some(6.0));
        let names: Vec<_> = p.endpoints().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["/", "/cart"]);
        assert!(p.aggregate().num_requests.unwrap_or(0.0) > 50.0);
        assert!(p.current_percentile("0.95").is_some());
    }

    #[test]
    fn stopped_master_keeps_the_final_figures_and_errors() {
        let p = payload(FAILING_STOPPED);
        assert!(p.is_stopped());
        let aggregate = p.aggregate();
        let failures = aggregate.num_failures.unwrap_or(0.0);
        assert!(failures > 0.0);
        let ratio = failures / aggregate.num_requests.unwrap_or(1.0);
        assert!((p.fail_ratio.unwrap_or(0.0) - ratio).abs() < 1e-9);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].name, "/checkout");
    }

    #[test]
    fn odd_values_read_as_absent() {
        let p = StatsPayload::parse(
            br#"{"state": "running", "user_count": null, "total_rps": "fast",
                 "stats": [{"name": "Aggregated", "method": null, "num_requests": 3}],
                 "unknown": {"nested": true}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.user_count, None);
        assert_eq!(p.total_rps, None);
        assert_eq!(p.aggregate().num_requests, Some(3.0));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(StatsPayload::parse(b"<html>login</html>").is_err());
        assert!(StatsPayload::parse(b"[1,2]").is_err());
    }
}
