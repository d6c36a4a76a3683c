//! Observed state of a LocustTest, shared by both served versions (v1 shows the v2 status).
//!
//! Field documentation here becomes `kubectl explain` text.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a LocustTest.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestStatus {
    /// Pending (created, waiting for the master pod), Running, Succeeded or Failed. Moves only
    /// forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// The metadata.generation this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Locust workers the master waits for: worker.replicas times the worker processes per pod
    /// (worker.processes or --processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_workers: Option<i32>,

    /// Workers connected to the master, as the master reports them; while the master's web API
    /// does not answer, an estimate: running worker pods times the worker processes per pod (the
    /// StatsAvailable condition says which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_workers: Option<i32>,

    /// When the test started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the test reached Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// Ready, WorkersConnected, TestCompleted, PodsHealthy, StatsAvailable and, when
    /// spec.thresholds is set, ThresholdsMet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,

    /// Live figures read from the Locust master's web API while the test runs. Updated when a
    /// figure changes noticeably, at most every few seconds; the last figures stay after the
    /// test ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_stats: Option<LiveStats>,

    /// Final statistics of the test, read from the Locust master once it reports the test
    /// stopped (or, marked partial, the last live figures when the master quit first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TestResult>,
}

/// Phase of a test.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }

    /// Succeeded and Failed are final.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// What the Locust master reports while the test runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveStats {
    /// Locust's state: ready (waiting for workers), spawning, running, stopped, ...
    pub state: String,
    /// Simulated users.
    pub users: i64,
    /// Requests per second now (0 once the test stopped).
    pub requests_per_second: f64,
    /// Failed requests in percent of all requests so far, 0 to 100.
    pub fail_percent: f64,
    /// Median response time of the last seconds, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_response_time: Option<f64>,
    /// 95th percentile response time of the last seconds, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_response_time: Option<f64>,
    /// Requests sent so far.
    pub requests: i64,
    /// Requests failed so far.
    pub failures: i64,
    /// When the operator read these figures.
    pub updated_at: Time,
}

/// Aggregated statistics of a finished test.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Requests sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_requests: Option<i64>,
    /// Requests that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_requests: Option<i64>,
    /// Mean response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_response_time: Option<f64>,
    /// Mean requests per second over the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Failed requests divided by requests, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_ratio: Option<f64>,
    /// Median response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_response_time: Option<f64>,
    /// 95th percentile response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_response_time: Option<f64>,
    /// 99th percentile response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_response_time: Option<f64>,
    /// Slowest response in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_time: Option<f64>,
    /// Seconds between the first and the last request (requests divided by the mean rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// The endpoints with the most failed requests, most first (at most 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_failures: Option<Vec<EndpointFailures>>,
    /// True when these are the last live figures rather than the master's final ones (the
    /// master quit before the operator read them); partialReason says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Why the result is partial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_reason: Option<String>,
    /// When the operator read these figures from the master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<Time>,
    /// ConfigMap in the test's namespace holding the report: the final statistics as JSON, the
    /// request and failure CSVs and the gzipped HTML report (`locust-k8s-operator report`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_config_map: Option<String>,
}

/// Failed requests of one endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointFailures {
    /// Request method (GET, POST, ...) or request type as Locust reports it.
    pub method: String,
    /// Request name (the path, or the name given in the locustfile).
    pub name: String,
    /// Requests sent to this endpoint.
    pub requests: i64,
    /// Requests to this endpoint that failed.
    pub failures: i64,
    /// The most frequent error of this endpoint, as Locust reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
