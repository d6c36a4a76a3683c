//! `locust-k8s-operator report NAME`: the result of a test as a table (or JSON), and its HTML
//! report written to a file. Works as a kubectl plugin too: installed as `kubectl-locust` on
//! the PATH, it runs as `kubectl locust report NAME`.

use std::io::Read;
use std::path::PathBuf;

use flate2::read::GzDecoder;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;
use serde_json::json;

use crate::api::v2::{LocustTest, LocustTestStatus};
use crate::client::{ClientError, TestRef};
use crate::controller::conditions::condition;
use crate::resources::report::{REPORT_KEY_HTML_GZ, REPORT_OMITTED_ANNOTATION};

/// Flags of `report`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub test: TestRef,
    /// Write the HTML report (from the test's report ConfigMap) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the phase, verdict and result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Why the report cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("LocustTest {name} not found in namespace {namespace}")]
    NotFound { name: String, namespace: String },
    #[error("cannot read LocustTest {name}: {source}")]
    Read {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "LocustTest {0} has no stored report yet: the operator stores it when the master reports the test stopped (status.result.reportConfigMap)"
    )]
    NoReport(String),
    #[error("cannot read ConfigMap {name}: {source}")]
    ReadReport {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("ConfigMap {name} holds no HTML report{why}")]
    NoHtml { name: String, why: String },
    #[error("the HTML report in ConfigMap {name} is not valid gzip: {source}")]
    Corrupt {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Runs `report`: returns what to print.
pub async fn run(args: &ReportArgs) -> Result<String, ReportError> {
    let (client, namespace) = args.test.client().await?;
    let name = &args.test.name;
    let tests: Api<LocustTest> = Api::namespaced(client.clone(), &namespace);
    let test = tests
        .get_opt(name)
        .await
        .map_err(|source| ReportError::Read {
            name: name.clone(),
            source,
        })?
        .ok_or_else(|| ReportError::NotFound {
            name: name.clone(),
            namespace: namespace.clone(),
        })?;
    let status = test.status.clone().unwrap_or_default();
    let mut out = if args.json {
        serde_json::to_string_pretty(&as_json(name, &namespace, &status))? + "\n"
    } else {
        table(name, &namespace, &status)
    };
    if let Some(path) = &args.html {
        let name = status
            .result
            .as_ref()
            .and_then(|r| r.report_config_map.clone())
            .ok_or_else(|| ReportError::NoReport(name.clone()))?;
        let maps: Api<ConfigMap> = Api::namespaced(client, &namespace);
        let map = maps
            .get(&name)
            .await
            .map_err(|source| ReportError::ReadReport {
                name: name.clone(),
                source,
            })?;
        let html = html_of(&map, &name)?;
        std::fs::write(path, &html).map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        })?;
        if !args.json {
            out.push_str(&format!(
                "\nHTML report written to {} ({} bytes)\n",
                path.display(),
                html.len()
            ));
        }
    }
    Ok(out)
}

/// The gunzipped HTML report of a report ConfigMap.
pub fn html_of(map: &ConfigMap, name: &str) -> Result<Vec<u8>, ReportError> {
    let Some(gz) = map
        .binary_data
        .as_ref()
        .and_then(|d| d.get(REPORT_KEY_HTML_GZ))
    else {
        let why = map
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REPORT_OMITTED_ANNOTATION))
            .map(|note| format!(" ({note})"))
            .unwrap_or_default();
        return Err(ReportError::NoHtml {
            name: name.to_string(),
            why,
        });
    };
    let mut html = Vec::new();
    GzDecoder::new(gz.0.as_slice())
        .read_to_end(&mut html)
        .map_err(|source| ReportError::Corrupt {
            name: name.to_string(),
            source,
        })?;
    Ok(html)
}

fn find<'a>(status: &'a LocustTestStatus, type_: &str) -> Option<&'a Condition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

fn as_json(name: &str, namespace: &str, status: &LocustTestStatus) -> serde_json::Value {
    let verdict = |type_: &str| {
        find(status, type_)
            .map(|c| json!({"status": c.status, "reason": c.reason, "message": c.message}))
    };
    json!({
        "name": name,
        "namespace": namespace,
        "phase": status.phase.map(|p| p.as_str()),
        "testCompleted": verdict(condition::TEST_COMPLETED),
        "thresholdsMet": verdict(condition::THRESHOLDS_MET),
        "result": status.result,
    })
}

/// The human-readable report.
pub fn table(name: &str, namespace: &str, status: &LocustTestStatus) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("Test".into(), format!("{namespace}/{name}")),
        (
            "Phase".into(),
            status.phase.map_or("-", |p| p.as_str()).to_string(),
        ),
    ];
    if let Some(c) = find(status, condition::TEST_COMPLETED)
        && c.status == "True"
    {
        rows.push(("Verdict".into(), format!("{}: {}", c.reason, c.message)));
    }
    if let Some(c) = find(status, condition::THRESHOLDS_MET) {
        rows.push((
            "Thresholds".into(),
            format!("{} ({}): {}", c.status, c.reason, c.message),
        ));
    }
    match &status.result {
        None => {
            let why = find(status, condition::STATS_AVAILABLE)
                .map(|c| format!(" ({})", c.message))
                .unwrap_or_default();
            rows.push(("Result".into(), format!("not recorded{why}")));
        }
        Some(r) => {
            let num =
                |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v}{unit}"));
            rows.push((
                "Requests".into(),
                format!(
                    "{} ({} failed, {:.2}%)",
                    r.total_requests.unwrap_or(0),
                    r.failed_requests.unwrap_or(0),
                    r.failure_ratio.unwrap_or(0.0) * 100.0
                ),
            ));
            rows.push(("Requests/s".into(), num(r.requests_per_second, "")));
            rows.push((
                "Response time".into(),
                format!(
                    "avg {}, p50 {}, p95 {}, p99 {}, max {}",
                    num(r.average_response_time, " ms"),
                    num(r.p50_response_time, " ms"),
                    num(r.p95_response_time, " ms"),
                    num(r.p99_response_time, " ms"),
                    num(r.max_response_time, " ms")
                ),
            ));
            rows.push(("Duration".into(), num(r.duration_seconds, " s")));
            for failure in r.top_failures.iter().flatten() {
                rows.push((
                    "Failing".into(),
                    format!(
                        "{} {}: {}/{} failed{}",
                        failure.method,
                        failure.name,
                        failure.failures,
                        failure.requests,
                        failure
                            .error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    ),
                ));
            }
            if r.partial {
                rows.push((
                    "Partial".into(),
                    r.partial_reason.clone().unwrap_or_default(),
                ));
            }
            rows.push((
                "Report".into(),
                r.report_config_map.as_ref().map_or_else(
                    || "not stored".to_string(),
                    |name| format!("ConfigMap {name} (--html FILE writes the HTML report)"),
                ),
            ));
        }
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn finished() -> LocustTestStatus {
        serde_json::from_value(json!({
            "phase": "Failed",
            "conditions": [
                {"type": "TestCompleted", "status": "True", "reason": "ThresholdsBreached",
                 "message": "aggregate fail ratio 0.19 > 0.01", "lastTransitionTime": "2026-11-24T10:00:00Z"},
                {"type": "ThresholdsMet", "status": "False", "reason": "ThresholdsBreached",
                 "message": "aggregate fail ratio 0.19 > 0.01", "lastTransitionTime": "2026-11-24T10:00:00Z"}
            ],
            "result": {"totalRequests": 1000, "failedRequests": 190, "failureRatio": 0.19,
                       "requestsPerSecond": 52.3, "averageResponseTime": 8.5, "p50ResponseTime": 8.0,
                       "p95ResponseTime": 17.0, "p99ResponseTime": 23.0, "maxResponseTime": 30.0,
                       "durationSeconds": 19.1, "reportConfigMap": "shop-report",
                       "topFailures": [{"method": "GET", "name": "/checkout", "requests": 190,
                                        "failures": 190, "error": "HTTPError(500)"}]}
        }))
        .unwrap()
    }

    #[test]
    fn table_shows_verdict_figures_and_failing_endpoints() {
        let text = table("shop", "load", &finished());
        assert!(text.contains("Test           load/shop\n"), "{text}");
        assert!(text.contains("Phase          Failed\n"), "{text}");
        assert!(
            text.contains("Verdict        ThresholdsBreached: aggregate fail ratio 0.19 > 0.01")
        );
        assert!(
            text.contains("Requests       1000 (190 failed, 19.00%)"),
            "{text}"
        );
        assert!(text.contains("p95 17 ms"), "{text}");
        assert!(text.contains("Failing        GET /checkout: 190/190 failed (HTTPError(500))"));
        assert!(text.contains("ConfigMap shop-report"));
    }

    #[test]
    fn table_of_a_test_without_result_says_why() {
        let status: LocustTestStatus = serde_json::from_value(json!({
            "phase": "Running",
            "conditions": [{"type": "StatsAvailable", "status": "False", "reason": "WebUIDisabled",
                            "message": "--headless turns the master's web UI off", "lastTransitionTime": "2026-11-24T10:00:00Z"}]
        }))
        .unwrap();
        let text = table("shop", "load", &status);
        assert!(
            text.contains("Result  not recorded (--headless turns the master's web UI off)"),
            "{text}"
        );
        assert!(!text.contains("Verdict"));
    }

    #[test]
    fn json_carries_phase_verdict_and_result() {
        let value = as_json("shop", "load", &finished());
        assert_eq!(value["phase"], "Failed");
        assert_eq!(value["testCompleted"]["reason"], "ThresholdsBreached");
        assert_eq!(value["thresholdsMet"]["status"], "False");
        assert_eq!(value["result"]["totalRequests"], 1000);
    }

    #[test]
    fn html_is_unzipped_or_its_absence_explained() {
        let html = b"<html>report</html>".to_vec();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &html).unwrap();
        let map = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                REPORT_KEY_HTML_GZ.to_string(),
                ByteString(encoder.finish().unwrap()),
            )])),
            ..Default::default()
        };
        assert_eq!(html_of(&map, "x").unwrap(), html);

        let mut omitted = ConfigMap::default();
        omitted.metadata.annotations = Some(BTreeMap::from([(
            REPORT_OMITTED_ANNOTATION.to_string(),
            "report.html.gz: 2000000 bytes do not fit".to_string(),
        )]));
        let error = html_of(&omitted, "x-report").unwrap_err().to_string();
        assert_eq!(
            error,
            "ConfigMap x-report holds no HTML report (report.html.gz: 2000000 bytes do not fit)"
        );
        let broken = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                REPORT_KEY_HTML_GZ.to_string(),
                ByteString(b"not gzip".to_vec()),
            )])),
            ..Default::default()
        };
        assert!(matches!(
            html_of(&broken, "x"),
            Err(ReportError::Corrupt { .. })
        ));
    }
}
