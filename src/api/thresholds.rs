//! `spec.thresholds` (v2): pass/fail criteria checked against the Locust master's figures.
//!
//! Field documentation here becomes `kubectl explain` text, and the CEL rules sit on the types
//! they check. Evaluation lives in `crate::stats::verdict`.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CEL: `self` (a Limits object) sets at least one maximum.
macro_rules! any_maximum {
    ($limits:literal) => {
        concat!(
            "has(",
            $limits,
            ".maxFailRatio) || has(",
            $limits,
            ".maxAverageResponseTime) || has(",
            $limits,
            ".maxP50ResponseTime) || has(",
            $limits,
            ".maxP95ResponseTime) || has(",
            $limits,
            ".maxP99ResponseTime)"
        )
    };
}

/// Pass/fail criteria. When set, the test succeeds only if every limit is met by the master's
/// final figures, and Locust's own exit code (1 when any request failed) no longer fails the
/// test by itself. Response times are in milliseconds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.aggregate) || (has(self.endpoints) && self.endpoints.size() > 0) || has(self.baseline)")
        .message("spec.thresholds needs limits: set aggregate, endpoints, baseline or several"),
    validation = Rule::new(concat!(
        "!has(self.stopOnBreach) || !self.stopOnBreach || (has(self.aggregate) && (",
        any_maximum!("self.aggregate"),
        ")) || (has(self.endpoints) && self.endpoints.exists(e, ",
        any_maximum!("e.limits"),
        "))"
    ))
    .message("spec.thresholds.stopOnBreach watches maximums (maxFailRatio or a response time) and none is set: add one or remove stopOnBreach")
)]
pub struct ThresholdsSpec {
    /// Limits on all requests together (Locust's Aggregated row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Limits>,

    /// Limits on single endpoints, matched by name (and method when given) as Locust reports
    /// them. An endpoint that received no request breaches its limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub endpoints: Option<Vec<EndpointLimits>>,

    /// Stop the load as soon as a maximum (failure ratio or a response time) has been breached
    /// on the live figures for stopGracePeriodSeconds: the operator calls the master's /stop
    /// endpoint and fails the test with ThresholdsBreached. Minimums (requests, requests per
    /// second) are only judged at the end. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_breach: Option<bool>,

    /// How long a breach must last on the live figures before stopOnBreach stops the test.
    /// Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 30), range(min = 0, max = 86400))]
    pub stop_grace_period_seconds: Option<i32>,

    /// Limits relative to a baseline: the figures of an earlier run (all requests together),
    /// for example maxP95ResponseTimeRatio 1.2 (p95 at most 1.2 times the baseline's) or
    /// minRequestsPerSecondRatio 0.9. A LocustTestSchedule fills in the reference from its
    /// last succeeded run; without a reference these limits pass and the verdict says so.
    /// Judged on the final figures only (not by stopOnBreach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineSpec>,
}

/// Limits relative to a baseline run's figures, and those figures.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.maxAverageResponseTimeRatio) || has(self.maxP50ResponseTimeRatio) || has(self.maxP95ResponseTimeRatio) || has(self.maxP99ResponseTimeRatio) || has(self.minRequestsPerSecondRatio)")
    .message("spec.thresholds.baseline needs a ratio: maxAverageResponseTimeRatio, maxP50ResponseTimeRatio, maxP95ResponseTimeRatio, maxP99ResponseTimeRatio or minRequestsPerSecondRatio"))]
pub struct BaselineSpec {
    /// Highest mean response time, as a multiple of the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_average_response_time_ratio: Option<f64>,

    /// Highest median response time, as a multiple of the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_p50_response_time_ratio: Option<f64>,

    /// Highest 95th percentile response time, as a multiple of the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_p95_response_time_ratio: Option<f64>,

    /// Highest 99th percentile response time, as a multiple of the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_p99_response_time_ratio: Option<f64>,

    /// Lowest mean requests per second, as a multiple of the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub min_requests_per_second_ratio: Option<f64>,

    /// The figures compared against. A schedule sets them on each run from its last succeeded
    /// run; set them by hand to compare a single test with known figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<BaselineReference>,
}

/// The figures of a baseline run (all requests together). Response times in milliseconds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BaselineReference {
    /// The LocustTest the figures come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub run: Option<String>,
    /// Its mean response time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub average_response_time: Option<f64>,
    /// Its median response time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub p50_response_time: Option<f64>,
    /// Its 95th percentile response time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub p95_response_time: Option<f64>,
    /// Its 99th percentile response time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub p99_response_time: Option<f64>,
    /// Its mean requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub requests_per_second: Option<f64>,
}

/// Limits on one row of Locust's statistics. Every limit set must be met.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(concat!(
    any_maximum!("self"),
    " || has(self.minRequestsPerSecond) || has(self.minRequests)"
))
.message("a limits block needs at least one limit: maxFailRatio, maxAverageResponseTime, maxP50ResponseTime, maxP95ResponseTime, maxP99ResponseTime, minRequestsPerSecond or minRequests"))]
pub struct Limits {
    /// Highest share of failed requests, 0 to 1 (0.01 is 1%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_fail_ratio: Option<f64>,

    /// Highest mean response time, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_average_response_time: Option<f64>,

    /// Highest median response time, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_p50_response_time: Option<f64>,

    /// Highest 95th percentile response time, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_p95_response_time: Option<f64>,

    /// Highest 99th percentile response time, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub max_p99_response_time: Option<f64>,

    /// Lowest mean requests per second over the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub min_requests_per_second: Option<f64>,

    /// Fewest requests sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_requests: Option<i64>,
}

/// Limits on one endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointLimits {
    /// Request name as Locust reports it: the path, or the `name=` given in the locustfile.
    #[schemars(length(min = 1, max = 1024))]
    pub name: String,

    /// Request method (GET, POST, ...) or request type. Unset: every method of that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub method: Option<String>,

    /// The limits of this endpoint.
    pub limits: Limits,
}

impl Limits {
    /// Any maximum is set: these can be watched on live figures.
    pub fn has_maximum(&self) -> bool {
        self.max_fail_ratio.is_some()
            || self.max_average_response_time.is_some()
            || self.max_p50_response_time.is_some()
            || self.max_p95_response_time.is_some()
            || self.max_p99_response_time.is_some()
    }

    /// Any limit is set.
    pub fn is_empty(&self) -> bool {
        !self.has_maximum() && self.min_requests_per_second.is_none() && self.min_requests.is_none()
    }
}

impl ThresholdsSpec {
    /// Default of `stopGracePeriodSeconds`.
    pub const DEFAULT_STOP_GRACE_PERIOD_SECONDS: i32 = 30;

    /// Every limit block with the endpoint it applies to (`None`: the aggregate).
    pub fn blocks(&self) -> impl Iterator<Item = (Option<&EndpointLimits>, &Limits)> {
        self.aggregate.iter().map(|l| (None, l)).chain(
            self.endpoints
                .iter()
                .flatten()
                .map(|e| (Some(e), &e.limits)),
        )
    }

    /// stopOnBreach is on.
    pub fn stops_on_breach(&self) -> bool {
        self.stop_on_breach.unwrap_or(false)
    }

    /// stopGracePeriodSeconds, defaulted.
    pub fn stop_grace_period(&self) -> std::time::Duration {
        let secs = self
            .stop_grace_period_seconds
            .unwrap_or(Self::DEFAULT_STOP_GRACE_PERIOD_SECONDS);
        std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }
}
