//! `spec.thresholds` checked against the master's figures. Pure.

use super::payload::{EndpointStats, StatsPayload};
use crate::api::v2::{BaselineSpec, Limits, ThresholdsSpec};

/// A figure a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    FailRatio,
    AverageResponseTime,
    P50ResponseTime,
    P95ResponseTime,
    P99ResponseTime,
    RequestsPerSecond,
    Requests,
}

impl Figure {
    fn label(self) -> &'static str {
        match self {
            Figure::FailRatio => "fail ratio",
            Figure::AverageResponseTime => "average response time",
            Figure::P50ResponseTime => "p50 response time",
            Figure::P95ResponseTime => "p95 response time",
            Figure::P99ResponseTime => "p99 response time",
            Figure::RequestsPerSecond => "requests per second",
            Figure::Requests => "requests",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Figure::AverageResponseTime
            | Figure::P50ResponseTime
            | Figure::P95ResponseTime
            | Figure::P99ResponseTime => " ms",
            _ => "",
        }
    }

    /// A maximum (true) or a minimum (false).
    fn is_maximum(self) -> bool {
        !matches!(self, Figure::RequestsPerSecond | Figure::Requests)
    }

    fn of(self, row: &EndpointStats) -> Option<f64> {
        match self {
            Figure::FailRatio => {
                let requests = row.num_requests.unwrap_or(0.0);
                Some(if requests > 0.0 {
                    row.num_failures.unwrap_or(0.0) / requests
                } else {
                    0.0
                })
            }
            Figure::AverageResponseTime => row.avg_response_time,
            Figure::P50ResponseTime => row.median_response_time,
            Figure::P95ResponseTime => row.p95_response_time,
            Figure::P99ResponseTime => row.p99_response_time,
            Figure::RequestsPerSecond => row.total_rps,
            Figure::Requests => row.num_requests,
        }
    }
}

/// One limit checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// `aggregate` or `GET /checkout`.
    pub scope: String,
    pub figure: Figure,
    /// None: the figure was not reported (for an endpoint: it received no request).
    pub measured: Option<f64>,
    pub limit: f64,
    pub met: bool,
    /// A limit relative to a baseline (spec.thresholds.baseline): its ratio and reference.
    pub relative: Option<Relative>,
}

/// How a relative limit was derived: `ratio` times the baseline's figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Relative {
    pub ratio: f64,
    /// The baseline's figure; `None`: no baseline, so the limit passes.
    pub reference: Option<f64>,
    /// The run the baseline figures come from.
    pub run: Option<String>,
}

impl Check {
    /// `aggregate p95 response time 812 ms > 500 ms`.
    pub fn describe(&self) -> String {
        let unit = self.figure.unit();
        let label = self.figure.label();
        let measured = self.measured.map_or("not reported".to_string(), |m| {
            format!("{}{unit}", number(m))
        });
        match &self.relative {
            Some(Relative {
                ratio,
                reference: None,
                ..
            }) => {
                return format!(
                    "{} {label} {measured}: no baseline to compare with ({} x baseline), passes",
                    self.scope,
                    number(*ratio)
                );
            }
            Some(Relative {
                ratio,
                reference: Some(reference),
                run,
            }) => {
                let of = run.as_ref().map(|r| format!(" of {r}")).unwrap_or_default();
                return format!(
                    "{} ({} x baseline {}{unit}{of})",
                    self.absolute(),
                    number(*ratio),
                    number(*reference)
                );
            }
            None => {}
        }
        self.absolute()
    }

    /// The check against its limit, without the baseline.
    fn absolute(&self) -> String {
        let unit = self.figure.unit();
        let label = self.figure.label();
        match self.measured {
            None => format!(
                "{} {label}: not reported (limit {}{unit})",
                self.scope,
                number(self.limit)
            ),
            Some(measured) => {
                let op = match (self.figure.is_maximum(), self.met) {
                    (true, true) => "<=",
                    (true, false) => ">",
                    (false, true) => ">=",
                    (false, false) => "<",
                };
                format!(
                    "{} {label} {}{unit} {op} {}{unit}",
                    self.scope,
                    number(measured),
                    number(self.limit)
                )
            }
        }
    }
}

/// Which limits to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every limit: the test ended.
    All,
    /// Maximums only (failure ratio, response times): the test is still running, minimums are
    /// judged at the end.
    MaximumsOnly,
}

/// Checks every limit of `thresholds` against `payload`.
pub fn evaluate(thresholds: &ThresholdsSpec, payload: &StatsPayload, scope: Scope) -> Vec<Check> {
    let mut checks = Vec::new();
    for (endpoint, limits) in thresholds.blocks() {
        match endpoint {
            None => check_row(
                &mut checks,
                "aggregate".to_string(),
                Some(&payload.aggregate()),
                limits,
                scope,
            ),
            Some(e) => {
                let rows: Vec<&EndpointStats> = payload
                    .endpoints()
                    .filter(|row| {
                        row.name == e.name && e.method.as_ref().is_none_or(|m| *m == row.method)
                    })
                    .collect();
                if rows.is_empty() {
                    let label = match &e.method {
                        Some(m) => format!("{m} {}", e.name),
                        None => e.name.clone(),
                    };
                    check_row(&mut checks, label, None, limits, scope);
                }
                for row in rows {
                    check_row(
                        &mut checks,
                        format!("{} {}", row.method, row.name),
                        Some(row),
                        limits,
                        scope,
                    );
                }
            }
        }
    }
    if scope == Scope::All
        && let Some(baseline) = &thresholds.baseline
    {
        check_baseline(&mut checks, &payload.aggregate(), baseline);
    }
    checks
}

/// The limits relative to the baseline, on all requests together. Without a reference figure
/// a limit passes (and says so).
fn check_baseline(checks: &mut Vec<Check>, row: &EndpointStats, baseline: &BaselineSpec) {
    let reference = baseline.reference.clone().unwrap_or_default();
    let wanted = [
        (
            Figure::AverageResponseTime,
            baseline.max_average_response_time_ratio,
            reference.average_response_time,
        ),
        (
            Figure::P50ResponseTime,
            baseline.max_p50_response_time_ratio,
            reference.p50_response_time,
        ),
        (
            Figure::P95ResponseTime,
            baseline.max_p95_response_time_ratio,
            reference.p95_response_time,
        ),
        (
            Figure::P99ResponseTime,
            baseline.max_p99_response_time_ratio,
            reference.p99_response_time,
        ),
        (
            Figure::RequestsPerSecond,
            baseline.min_requests_per_second_ratio,
            reference.requests_per_second,
        ),
    ];
    for (figure, ratio, figure_of_baseline) in wanted {
        let Some(ratio) = ratio else { continue };
        let measured = figure.of(row);
        let limit = figure_of_baseline.map_or(0.0, |b| ratio * b);
        let met = match (figure_of_baseline, measured) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(m)) if figure.is_maximum() => m <= limit,
            (Some(_), Some(m)) => m >= limit,
        };
        checks.push(Check {
            scope: "aggregate".to_string(),
            figure,
            measured,
            limit,
            met,
            relative: Some(Relative {
                ratio,
                reference: figure_of_baseline,
                run: reference.run.clone(),
            }),
        });
    }
}

/// The relative checks that were met, described and joined with `; ` (a verdict that passed
/// still shows both figures of each, or that there was no baseline).
pub fn baseline_notes(checks: &[Check]) -> String {
    checks
        .iter()
        .filter(|c| c.met && c.relative.is_some())
        .map(Check::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_row(
    checks: &mut Vec<Check>,
    scope_label: String,
    row: Option<&EndpointStats>,
    limits: &Limits,
    scope: Scope,
) {
    let wanted = [
        (Figure::FailRatio, limits.max_fail_ratio),
        (
            Figure::AverageResponseTime,
            limits.max_average_response_time,
        ),
        (Figure::P50ResponseTime, limits.max_p50_response_time),
        (Figure::P95ResponseTime, limits.max_p95_response_time),
        (Figure::P99ResponseTime, limits.max_p99_response_time),
        (Figure::RequestsPerSecond, limits.min_requests_per_second),
        (Figure::Requests, limits.min_requests.map(|n| n as f64)),
    ];
    for (figure, limit) in wanted {
        let Some(limit) = limit else { continue };
        if scope == Scope::MaximumsOnly && !figure.is_maximum() {
            continue;
        }
        let measured = row.and_then(|r| figure.of(r));
        let met = match measured {
            None => false,
            Some(m) if figure.is_maximum() => m <= limit,
            Some(m) => m >= limit,
        };
        checks.push(Check {
            scope: scope_label.clone(),
            figure,
            measured,
            limit,
            met,
            relative: None,
        });
    }
}

/// The breached checks, described and joined with `; `; empty when every limit is met.
pub fn breaches(checks: &[Check]) -> String {
    checks
        .iter()
        .filter(|c| !c.met)
        .map(Check::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A number without noise: integers as integers, others with up to 4 significant decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::payload::recorded::*;
    use super::*;
    use serde_json::json;

    fn thresholds(value: serde_json::Value) -> ThresholdsSpec {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_clean_run_meets_generous_limits() {
        let t = thresholds(json!({"aggregate": {
            "maxFailRatio": 0.01, "maxP95ResponseTime": 1000, "minRequests": 10,
            "minRequestsPerSecond": 1
        }}));
        let checks = evaluate(&t, &payload(OK_STOPPED), Scope::All);
        assert_eq!(checks.len(), 4);
        assert!(checks.iter().all(|c| c.met), "{}", breaches(&checks));
        assert_eq!(breaches(&checks), "");
    }

    #[test]
    fn failing_endpoint_breaches_with_measured_and_limit() {
        let t = thresholds(json!({
            "aggregate": {"maxFailRatio": 0.05},
            "endpoints": [
                {"method": "GET", "name": "/checkout", "limits": {"maxFailRatio": 0}},
                {"name": "/cart", "limits": {"maxP99ResponseTime": 100000}}
            ]
        }));
        let checks = evaluate(&t, &payload(FAILING_STOPPED), Scope::All);
        let text = breaches(&checks);
        assert!(text.contains("aggregate fail ratio 0.19"), "{text}");
        assert!(text.contains("> 0.05"), "{text}");
        assert!(text.contains("GET /checkout fail ratio 1 > 0"), "{text}");
        assert!(!text.contains("/cart"), "{text}");
    }

    #[test]
    fn an_endpoint_without_requests_breaches() {
        let t = thresholds(json!({"endpoints": [
            {"method": "POST", "name": "/login", "limits": {"maxP95ResponseTime": 500}}
        ]}));
        let checks = evaluate(&t, &payload(OK_STOPPED), Scope::All);
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].met);
        assert_eq!(
            checks[0].describe(),
            "POST /login p95 response time: not reported (limit 500 ms)"
        );
    }

    #[test]
    fn live_checks_leave_minimums_for_the_end() {
        let t = thresholds(json!({"aggregate": {"minRequests": 1000000, "maxFailRatio": 0.5}}));
        let live = evaluate(&t, &payload(FAILING_RUNNING), Scope::MaximumsOnly);
        assert_eq!(live.len(), 1);
        assert!(live[0].met);
        let end = evaluate(&t, &payload(FAILING_STOPPED), Scope::All);
        assert!(breaches(&end).contains("aggregate requests"), "{end:?}");
        assert!(breaches(&end).contains("< 1000000"));
    }

    #[test]
    fn relative_limits_compare_with_the_baseline_and_show_both_figures() {
        let aggregate = payload(OK_STOPPED).aggregate();
        let p95 = aggregate.p95_response_time.unwrap();
        let rps = aggregate.total_rps.unwrap();
        // A baseline twice as fast and with twice the throughput: both relative limits breach.
        let t = thresholds(json!({"baseline": {
            "maxP95ResponseTimeRatio": 1.2, "minRequestsPerSecondRatio": 0.9,
            "reference": {"run": "nightly-1", "p95ResponseTime": p95 / 2.0, "requestsPerSecond": rps * 2.0},
        }}));
        let checks = evaluate(&t, &payload(OK_STOPPED), Scope::All);
        assert_eq!(checks.len(), 2);
        let text = breaches(&checks);
        assert!(
            text.contains(&format!(
                "aggregate p95 response time {} ms > {} ms (1.2 x baseline {} ms of nightly-1)",
                number(p95),
                number(1.2 * p95 / 2.0),
                number(p95 / 2.0)
            )),
            "{text}"
        );
        assert!(text.contains("requests per second"), "{text}");
        assert!(text.contains("(0.9 x baseline"), "{text}");
        // The same run as its own baseline meets both, and the notes show both figures.
        let t = thresholds(json!({"baseline": {
            "maxP95ResponseTimeRatio": 1.2, "minRequestsPerSecondRatio": 0.9,
            "reference": {"run": "nightly-1", "p95ResponseTime": p95, "requestsPerSecond": rps},
        }}));
        let checks = evaluate(&t, &payload(OK_STOPPED), Scope::All);
        assert_eq!(breaches(&checks), "");
        let notes = baseline_notes(&checks);
        assert!(notes.contains("<= "), "{notes}");
        assert!(
            notes.contains(&format!("baseline {} ms of nightly-1", number(p95))),
            "{notes}"
        );
        // Relative limits wait for the end: nothing on the live figures.
        assert!(evaluate(&t, &payload(OK_STOPPED), Scope::MaximumsOnly).is_empty());
    }

    #[test]
    fn relative_limits_without_a_baseline_pass_and_say_so() {
        let t = thresholds(json!({"baseline": {"maxP95ResponseTimeRatio": 1.2}}));
        let checks = evaluate(&t, &payload(FAILING_STOPPED), Scope::All);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].met);
        let notes = baseline_notes(&checks);
        assert!(
            notes.starts_with("aggregate p95 response time ")
                && notes.ends_with(": no baseline to compare with (1.2 x baseline), passes"),
            "{notes}"
        );
    }

    #[test]
    fn response_times_read_in_milliseconds() {
        let t = thresholds(json!({"aggregate": {"maxAverageResponseTime": 0.5}}));
        let checks = evaluate(&t, &payload(OK_STOPPED), Scope::All);
        let text = breaches(&checks);
        assert!(
            text.starts_with("aggregate average response time "),
            "{text}"
        );
        assert!(text.ends_with(" ms > 0.5 ms"), "{text}");
    }
}
