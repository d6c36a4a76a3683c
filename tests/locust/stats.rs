//! The operator's stats reader (`stats::poller::read_master`, the function the poller runs for
//! each test) against a real Locust master started with the operator's arguments, over plain
//! HTTP on loopback: live figures, the capture of the final figures and the report, the report
//! ConfigMap's size, stopOnBreach, and `--web-base-path`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use locust_operator::api::v2::{LocustTest, LocustTestSpec, LocustTestStatus, Phase};
use locust_operator::controller::conditions::{condition, reason};
use locust_operator::controller::results::StatsView;
use locust_operator::controller::status::{Observed, derive};
use locust_operator::resources::report::{
    REPORT_BUDGET, REPORT_KEY_HTML_GZ, REPORT_OMITTED_ANNOTATION, report_config_map,
};
use locust_operator::resources::web_ui::master_web_ui;
use locust_operator::stats::figures::test_result;
use locust_operator::stats::poller::read_master;
use locust_operator::stats::reader::{MasterApi, ReadError, direct_client};
use locust_operator::stats::{Access, Reading};
use locust_operator::telemetry::Metrics;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use crate::{SERIAL, locustfile, spec, start, target, wait};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `spec` as a LocustTest read from the API server, with `overlay` merged into the spec.
fn test_object(spec: &LocustTestSpec, overlay: serde_json::Value) -> LocustTest {
    let mut value = serde_json::to_value(spec).unwrap();
    merge(&mut value, overlay);
    let mut test = LocustTest::new("demo", serde_json::from_value(value).unwrap());
    test.metadata.namespace = Some("load".to_string());
    test.metadata.uid = Some("6f1c2a9e-3b7d-4c1e-9a55-0d2b8f7e4a10".to_string());
    test
}

fn merge(target: &mut serde_json::Value, overlay: serde_json::Value) {
    match (target, overlay) {
        (serde_json::Value::Object(t), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                merge(t.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (t, o) => *t = o,
    }
}

/// The master's web API on loopback, at the UI the test's spec describes.
fn master_api(test: &LocustTest) -> MasterApi {
    let timeout = Duration::from_secs(3);
    MasterApi::direct(
        direct_client(timeout),
        "http://127.0.0.1:8089".to_string(),
        &master_web_ui(&test.spec),
        timeout,
    )
}

/// Reads every second, as the poller does every interval, until `done` or the deadline.
async fn read_until(
    api: &MasterApi,
    test: &LocustTest,
    limit: Duration,
    mut done: impl FnMut(&Reading) -> bool,
) -> Reading {
    let metrics = Metrics::new();
    let deadline = Instant::now() + limit;
    let mut reading = Reading::default();
    while Instant::now() < deadline {
        reading = read_master(api, test, reading, &metrics, |_| {}).await;
        if done(&reading) {
            return reading;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("not done within {limit:?}: {reading:?}");
}

fn terminate(child: &std::process::Child) {
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
}

#[test]
fn reader_follows_a_real_test_to_its_final_result_and_report() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, hits) = target();
    let mut base = spec(&locustfile(dir.path(), true), port, 2, &[]);
    // Long enough to be seen running; autoquit leaves the window in which the final figures
    // are read.
    base.master.command = base
        .master
        .command
        .replace("--run-time 4s", "--run-time 8s");
    let test = test_object(
        &base,
        json!({"master": {"autoquit": {"enabled": true, "timeout": 30}},
               "thresholds": {"aggregate": {"maxFailRatio": 0.01, "minRequests": 10},
                              "endpoints": [{"method": "GET", "name": "/", "limits": {"maxFailRatio": 0}}]}}),
    );
    let (mut master, mut workers) = start(&test.spec, dir.path());
    let api = master_api(&test);
    let started = Instant::now();
    let mut running_with_workers = None;
    let reading = runtime().block_on(read_until(&api, &test, Duration::from_secs(60), |r| {
        let last = r.last.as_ref().map(|s| &s.payload);
        if let Some(p) = last
            && p.is_running()
            && p.worker_count == Some(2.0)
        {
            running_with_workers.get_or_insert(p.user_count);
        }
        r.capture.is_some()
    }));
    let captured_after = started.elapsed();
    let target_hits = hits.load(Ordering::Relaxed) as i64;
    terminate(&master);
    assert_eq!(wait(&mut master, Duration::from_secs(30), "the master"), 1);
    for worker in &mut workers {
        assert_eq!(wait(worker, Duration::from_secs(30), "a worker"), 0);
    }

    assert_eq!(
        running_with_workers,
        Some(Some(4.0)),
        "seen running with 2 workers and 4 users"
    );
    let capture = reading.capture.as_deref().unwrap();
    assert!(capture.payload.is_stopped());
    let result = test_result(&capture.payload, capture.at, None);
    let total = result.total_requests.unwrap();
    // Requests in flight when the users stopped reach the target but are never counted.
    assert!(
        (target_hits - total).abs() <= 4,
        "Locust counted {total} requests, the target saw {target_hits}"
    );
    assert!(result.failed_requests.unwrap() > 0);
    assert_eq!(result.top_failures.as_ref().unwrap()[0].name, "/fail");
    assert!(
        result.top_failures.as_ref().unwrap()[0]
            .error
            .as_deref()
            .unwrap()
            .contains("500")
    );

    // The report: every part read, the HTML report gzipped into the ConfigMap.
    let parts = &capture.parts;
    assert!(parts.unreadable.is_empty(), "{:?}", parts.unreadable);
    let html = parts.report_html.as_deref().unwrap();
    assert!(
        html.contains("<html") && html.len() > 500_000,
        "{} bytes",
        html.len()
    );
    assert!(
        parts
            .requests_csv
            .as_deref()
            .unwrap()
            .starts_with("Type,Name,")
    );
    assert!(parts.failures_csv.as_deref().unwrap().contains("/fail"));
    let config_map = report_config_map(&test, parts).unwrap();
    let gz = config_map.binary_data.as_ref().unwrap()[REPORT_KEY_HTML_GZ]
        .0
        .len();
    let data: usize = config_map
        .data
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    assert!(data + gz <= REPORT_BUDGET);
    assert!(
        config_map
            .metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(REPORT_OMITTED_ANNOTATION))
    );

    // The verdict the status derivation gives on these figures.
    let mut status = LocustTestStatus {
        phase: Some(Phase::Running),
        ..Default::default()
    };
    let seen = Observed {
        generation: Some(1),
        expected_workers: 2,
        processes_per_pod: 1,
        master_job: None,
        worker_job: None,
        pods: Vec::new(),
        now: Timestamp::now(),
        grace: Duration::from_secs(120),
        exposure: None,
        stats: StatsView {
            access: Access::Direct,
            ui: master_web_ui(&test.spec),
            thresholds: test.spec.thresholds.as_ref(),
            reading: Some(&reading),
            report: None,
            freshness: Duration::from_secs(60),
            grace: Duration::from_secs(60),
            live_write_interval: Duration::from_secs(10),
        },
    };
    status = derive(&status, &seen).status;
    let met = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == condition::THRESHOLDS_MET)
        .unwrap();
    assert_eq!(
        (met.status.as_str(), met.reason.as_str()),
        ("False", reason::THRESHOLDS_BREACHED)
    );
    assert!(
        met.message.contains("aggregate fail ratio"),
        "{}",
        met.message
    );
    assert!(
        !met.message.contains("GET /"),
        "GET / never failed: {}",
        met.message
    );

    eprintln!(
        "FIGURES: final figures read {:.1}s after start; {total} requests ({target_hits} at the target); report: HTML {} bytes, gzipped {gz} bytes, ConfigMap content {} bytes",
        captured_after.as_secs_f64(),
        html.len(),
        data + gz
    );
}

#[test]
fn stop_on_breach_stops_the_load_within_the_grace_period() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, hits) = target();
    let mut base = spec(&locustfile(dir.path(), true), port, 1, &[]);
    base.master.command = base
        .master
        .command
        .replace("--run-time 4s", "--run-time 120s");
    let test = test_object(
        &base,
        json!({"master": {"autoquit": {"enabled": true, "timeout": 5}},
               "thresholds": {"aggregate": {"maxFailRatio": 0.01}, "stopOnBreach": true,
                              "stopGracePeriodSeconds": 3}}),
    );
    let (mut master, mut workers) = start(&test.spec, dir.path());
    let api = master_api(&test);
    let started = Instant::now();
    let reading = runtime().block_on(read_until(&api, &test, Duration::from_secs(60), |r| {
        r.capture.is_some()
    }));
    let stopped_after = started.elapsed();
    let (stopped_at, breach) = reading.stopped_on_breach.clone().unwrap();
    let first_breach = reading.breached_since.unwrap();
    let waited = Duration::try_from(stopped_at.duration_since(first_breach)).unwrap();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(6),
        "stopped {waited:?} after the first breach"
    );
    assert!(breach.starts_with("aggregate fail ratio"), "{breach}");

    // The load stopped although the run time is 120 s.
    let at_capture = hits.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(3));
    let later = hits.load(Ordering::Relaxed);
    assert!(
        later - at_capture <= 2,
        "the target still gets requests: {at_capture} -> {later}"
    );
    let capture = reading.capture.as_deref().unwrap();
    assert!(capture.payload.is_stopped());
    assert_eq!(capture.payload.user_count, Some(0.0));

    terminate(&master);
    wait(&mut master, Duration::from_secs(30), "the master");
    for worker in &mut workers {
        assert_eq!(wait(worker, Duration::from_secs(30), "a worker"), 0);
    }
    eprintln!(
        "FIGURES: stopOnBreach (grace 3 s) stopped the load {:.1}s after the first breach, final figures read {:.1}s after start",
        waited.as_secs_f64(),
        stopped_after.as_secs_f64()
    );
}

#[test]
fn reader_follows_the_web_base_path() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, _) = target();
    let base = spec(&locustfile(dir.path(), false), port, 1, &[]);
    let test = test_object(
        &base,
        json!({"master": {"extraArgs": ["--web-base-path", "/locust"]}}),
    );
    let (mut master, mut workers) = start(&test.spec, dir.path());
    let rt = runtime();
    let moved = master_api(&test);
    let reading = rt.block_on(read_until(&moved, &test, Duration::from_secs(30), |r| {
        r.last.is_some()
    }));
    assert!(reading.error.is_none());
    // At the root the master answers 404: the reader must follow the base path.
    let root = test_object(&base, json!({}));
    let error = rt
        .block_on(master_api(&root).get("/stats/requests"))
        .unwrap_err();
    assert!(matches!(error, ReadError::Status(404, _)), "{error}");
    terminate(&master);
    wait(&mut master, Duration::from_secs(30), "the master");
    for worker in &mut workers {
        wait(worker, Duration::from_secs(30), "a worker");
    }
}
