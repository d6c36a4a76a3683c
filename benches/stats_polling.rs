//! What reading Locust masters costs the operator (`cargo bench --bench stats_polling`): 100
//! running tests read by the poller's per-test step (`read_master`) over the direct route, at
//! the default concurrency (16), against a loopback server that answers every master's
//! `/stats/requests` with a payload recorded from a real Locust 2.46.7 master; then the status
//! derivation of each reading. Prints wall time, CPU time and bytes per round.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Only its CPU reading is used here.
#[allow(dead_code)]
mod procfs;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use futures::StreamExt;
use jiff::Timestamp;
use locust_operator::api::v2::{LocustTest, LocustTestStatus, Phase};
use locust_operator::controller::results::StatsView;
use locust_operator::controller::status::{Observed, derive};
use locust_operator::resources::web_ui::master_web_ui;
use locust_operator::stats::poller::read_master;
use locust_operator::stats::reader::{MasterApi, direct_client};
use locust_operator::stats::{Access, Reading, Settings};
use locust_operator::telemetry::Metrics;

const TESTS: usize = 100;
const ROUNDS: usize = 50;
const PAYLOAD: &str = include_str!("../src/stats/testdata/failing-running.json");

/// CPU time of this process so far (user + system), from /proc.
fn cpu_time() -> Duration {
    Duration::from_secs_f64(procfs::cpu_seconds(std::process::id()))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().route(
            "/stats/requests",
            get(|| async { ([("content-type", "application/json")], PAYLOAD) }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let settings = Settings {
            access: Access::Direct,
            interval: Settings::DEFAULT_INTERVAL,
            timeout: Settings::DEFAULT_TIMEOUT,
            concurrency: Settings::DEFAULT_CONCURRENCY,
            grace: Settings::DEFAULT_GRACE,
        };
        let client = direct_client(settings.timeout);
        let tests: Vec<LocustTest> = (0..TESTS)
            .map(|i| {
                let mut test: LocustTest = serde_json::from_value(serde_json::json!({
                    "apiVersion": "locust.io/v2", "kind": "LocustTest",
                    "metadata": {"name": format!("t{i}"), "namespace": "bench", "uid": format!("u{i}")},
                    "spec": {"image": "locustio/locust:2.46.7",
                             "master": {"command": "-f /lotest/src/t.py"},
                             "worker": {"command": "-f /lotest/src/t.py", "replicas": 2},
                             "thresholds": {"aggregate": {"maxFailRatio": 0.5}, "stopOnBreach": true}},
                }))
                .unwrap();
                test.status = Some(LocustTestStatus {
                    phase: Some(Phase::Running),
                    ..Default::default()
                });
                test
            })
            .collect();
        let metrics = Metrics::new();
        let mut readings: Vec<Reading> = vec![Reading::default(); TESTS];
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        for _ in 0..ROUNDS {
            let cpu = cpu_time();
            let started = Instant::now();
            let next: Vec<Reading> = futures::stream::iter(tests.iter().zip(readings.drain(..)))
                .map(|(test, reading)| {
                    let api = MasterApi::direct(
                        client.clone(),
                        base.clone(),
                        &master_web_ui(&test.spec),
                        settings.timeout,
                    );
                    let metrics = &metrics;
                    async move { read_master(&api, test, reading, metrics, |_| {}).await }
                })
                .buffered(settings.concurrency)
                .collect()
                .await;
            walls.push(started.elapsed());
            cpus.push(cpu_time().saturating_sub(cpu));
            readings = next;
        }
        assert!(readings.iter().all(|r| r.last.is_some() && r.error.is_none()));

        // The status derivation of one reading (what each poller trigger costs a reconcile).
        let old = LocustTestStatus {
            phase: Some(Phase::Running),
            ..Default::default()
        };
        let started = Instant::now();
        let mut derived = 0u32;
        while started.elapsed() < Duration::from_secs(1) {
            for (test, reading) in tests.iter().zip(&readings) {
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
                        access: settings.access,
                        ui: master_web_ui(&test.spec),
                        thresholds: test.spec.thresholds.as_ref(),
                        reading: Some(reading),
                        report: None,
                        freshness: settings.freshness(),
                        grace: settings.grace,
                        live_write_interval: settings.live_write_interval(),
                    },
                };
                std::hint::black_box(derive(&old, &seen));
                derived += 1;
            }
        }
        let per_derive = started.elapsed() / derived;

        walls.sort();
        let cpu_per_round = cpus.iter().sum::<Duration>() / ROUNDS as u32;
        let median = |v: &[Duration]| v[v.len() / 2];
        let bytes = PAYLOAD.len() * TESTS;
        println!(
            "stats polling, {TESTS} running tests, direct route, concurrency {}, payload {} bytes (recorded, 3 endpoints)",
            settings.concurrency,
            PAYLOAD.len()
        );
        println!(
            "  one round (every test read once): wall median {:.1} ms, max {:.1} ms; CPU {:.1} ms (mean of {ROUNDS} rounds, server included)",
            median(&walls).as_secs_f64() * 1e3,
            walls[walls.len() - 1].as_secs_f64() * 1e3,
            cpu_per_round.as_secs_f64() * 1e3
        );
        println!(
            "  per {} s interval: {TESTS} GETs, {bytes} bytes read; share of one core: {:.2} %",
            settings.interval.as_secs(),
            cpu_per_round.as_secs_f64() / settings.interval.as_secs_f64() * 100.0
        );
        println!(
            "  status derivation of one reading: {:.1} us",
            per_derive.as_secs_f64() * 1e6
        );
    });
}
