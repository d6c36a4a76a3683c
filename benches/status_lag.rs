//! Status lag (`cargo bench --bench status_lag`; `BENCH_TESTS` sets N, 1,000 by default): how
//! long after a pod's phase changes the LocustTest's status shows it, with N tests running.
//!
//! The operator binary of the build (a release build under `cargo bench`) runs against its own
//! etcd and kube-apiserver, as in `operator_scale`. No kubelet, scheduler or Job controller runs:
//! the bench plays them. For each test's two Jobs it creates the pods the Job controller would
//! (the Job's pod template, owned by the Job, bound to a node name) and, as the kubelet, patches
//! their status: the master and one worker Running, the other worker left Pending. Once every
//! test reports `Running` with 1 of 2 workers connected, two rounds of pod changes, each timed
//! from just before the bench sends the pod's status patch to the moment the bench's own watch
//! on LocustTests delivers a status showing it:
//!
//! - paced: the Pending worker of each test goes Running, `BENCH_LAG_RATE` changes per second
//!   (20 by default), one test after the other: `connectedWorkers` 1 -> 2;
//! - burst: the other worker of every test fails (exit code 1), 50 patches at a time:
//!   `connectedWorkers` 2 -> 1.
//!
//! `connectedWorkers` is estimated from running worker pods because the operator runs with
//! `STATS_ACCESS=off` (no master answers here); so the status follows the pods alone. A
//! master's `Succeeded` makes the test `Succeeded` only through its Job's `Complete` condition
//! (status.rs), a Job change the same path carries (watch, reconcile, status patch).
//!
//! Prints the percentiles, the operator's CPU and RSS and the 1-minute load average at the start
//! and end, and one JSON line. `BENCH_OPERATOR_ENV="K=V,K=V"` adds environment to the operator.
//! Under `cargo test` it runs with 5 tests and checks that every change reached a status; it
//! asserts no time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod procfs;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use locust_operator::api::v2::{LocustTest, Phase};
use procfs::{cpu_seconds, rss_mib};
use serde_json::json;
use support::cluster::{Cluster, Location, Mode};
use support::crd;
use support::operator::{OperatorOptions, OperatorProcess, operator_identity};

/// Node name the bench's pods are bound to (no Node object: nothing checks).
const NODE: &str = "lag-node";

fn locust_test(name: &str) -> LocustTest {
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": "locustio/locust:2.43.3",
            "master": {"command": "--locustfile /lotest/src/locustfile.py --host http://target --users 10 --run-time 1m"},
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 2},
            "testFiles": {"configMapRef": "plan"},
        }
    }))
    .unwrap()
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// What the bench's watch on LocustTests saw, and the changes it waits for.
#[derive(Default)]
struct Tracker {
    /// Latest (phase, connectedWorkers) of each test.
    latest: HashMap<String, (Option<Phase>, Option<i32>)>,
    /// Test -> (when its pod change was sent, the connectedWorkers that shows it).
    waiting: HashMap<String, (Instant, i32)>,
    /// Lag of each change seen.
    lags: Vec<Duration>,
}

impl Tracker {
    fn saw(&mut self, test: &LocustTest, at: Instant) {
        let name = test.name_any();
        let status = test.status.as_ref();
        let phase = status.and_then(|s| s.phase);
        let connected = status.and_then(|s| s.connected_workers);
        if let Some((sent, target)) = self.waiting.get(&name).copied()
            && connected == Some(target)
        {
            self.waiting.remove(&name);
            self.lags.push(at.duration_since(sent));
        }
        self.latest.insert(name, (phase, connected));
    }
}

fn watch_tests(api: Api<LocustTest>, tracker: Arc<Mutex<Tracker>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(test) = event {
                tracker.lock().unwrap().saw(&test, Instant::now());
            }
        }
    })
}

/// The pod the Job controller would make for `job`, named `name`, bound to [`NODE`].
fn pod_of(job: &Job, name: &str) -> Pod {
    let template = job.spec.as_ref().unwrap().template.clone();
    let meta = template.metadata.unwrap_or_default();
    let mut spec = template.spec.unwrap();
    spec.node_name = Some(NODE.to_string());
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: meta.labels,
            annotations: meta.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: Job::api_version(&()).to_string(),
                kind: Job::kind(&()).to_string(),
                name: job.name_any(),
                uid: job.uid().unwrap(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The status a kubelet reports for `pod` running (as kwok's pod-ready stage writes it).
fn running(pod: &Pod) -> serde_json::Value {
    let now = jiff::Timestamp::now().to_string();
    let containers: Vec<_> = pod
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .map(|c| {
            json!({"name": c.name, "image": c.image, "imageID": "", "ready": true,
                   "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}}})
        })
        .collect();
    let condition =
        |type_: &str| json!({"type": type_, "status": "True", "lastTransitionTime": now});
    json!({"status": {
        "phase": "Running",
        "startTime": now,
        "conditions": [condition("PodScheduled"), condition("Initialized"),
                       condition("ContainersReady"), condition("Ready")],
        "containerStatuses": containers,
    }})
}

/// The status of `pod` once its containers exited with code 1.
fn failed(pod: &Pod) -> serde_json::Value {
    let now = jiff::Timestamp::now().to_string();
    let containers: Vec<_> = pod
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .map(|c| {
            json!({"name": c.name, "image": c.image, "imageID": "", "ready": false,
                   "restartCount": 0, "started": false,
                   "state": {"terminated": {"exitCode": 1, "reason": "Error",
                                            "startedAt": now, "finishedAt": now}}})
        })
        .collect();
    let condition =
        |type_: &str| json!({"type": type_, "status": "False", "lastTransitionTime": now});
    json!({"status": {
        "phase": "Failed",
        "conditions": [condition("ContainersReady"), condition("Ready")],
        "containerStatuses": containers,
    }})
}

async fn patch_status(pods: &Api<Pod>, name: &str, status: &serde_json::Value) {
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap_or_else(|e| panic!("pod {name}: {e}"));
}

/// Waits until `done` holds for the tracker, up to `within` (a guard against a hang, not a
/// bound on the figures); panics with `what` otherwise.
async fn wait_for(
    tracker: &Mutex<Tracker>,
    what: &str,
    within: Duration,
    done: impl Fn(&Tracker) -> bool,
) {
    let started = Instant::now();
    loop {
        if done(&tracker.lock().unwrap()) {
            return;
        }
        assert!(started.elapsed() < within, "{what} after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Percentile `q` (0..=1) of sorted `values`, nearest rank.
fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

struct Round {
    name: &'static str,
    changes: usize,
    took: Duration,
    lags_ms: serde_json::Value,
    patch_ms: serde_json::Value,
    cpu: f64,
    load: (f64, f64),
}

fn summary(mut values: Vec<Duration>) -> serde_json::Value {
    values.sort();
    let mean = values.iter().map(Duration::as_secs_f64).sum::<f64>() / values.len().max(1) as f64;
    json!({
        "count": values.len(),
        "p50": percentile(&values, 0.50), "p90": percentile(&values, 0.90),
        "p99": percentile(&values, 0.99), "max": percentile(&values, 1.0),
        "mean": mean * 1000.0,
    })
}

/// Sends one pod change per test (`pod` names the pod of a test, `status` its new status),
/// at `rate` per second or, with `None`, `BURST` at a time; each test's status should then
/// show `target` connected workers. Waits until every change was seen.
#[allow(clippy::too_many_arguments)]
async fn round(
    name: &'static str,
    tests: &[String],
    pods: &HashMap<String, Pod>,
    pod: impl Fn(&str) -> String,
    status: fn(&Pod) -> serde_json::Value,
    target: i32,
    rate: Option<f64>,
    api: &Api<Pod>,
    tracker: &Arc<Mutex<Tracker>>,
    operator_pid: u32,
) -> Round {
    const BURST: usize = 50;
    let load_start = load_average();
    let cpu_start = cpu_seconds(operator_pid);
    tracker.lock().unwrap().lags.clear();
    let patch_times = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let send = |test: &String| {
        let pod = &pods[&pod(test)];
        let body = status(pod);
        let (api, tracker, patch_times, pod_name, test) = (
            api.clone(),
            tracker.clone(),
            patch_times.clone(),
            pod.name_any(),
            test.clone(),
        );
        async move {
            let sent = Instant::now();
            tracker.lock().unwrap().waiting.insert(test, (sent, target));
            patch_status(&api, &pod_name, &body).await;
            patch_times.lock().unwrap().push(sent.elapsed());
        }
    };
    match rate {
        Some(rate) => {
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut tasks = Vec::new();
            for test in tests {
                ticks.tick().await;
                tasks.push(tokio::spawn(send(test)));
            }
            for task in tasks {
                task.await.unwrap();
            }
        }
        None => {
            futures::stream::iter(tests)
                .map(send)
                .buffer_unordered(BURST)
                .collect::<Vec<_>>()
                .await;
        }
    }
    wait_for(
        tracker,
        &format!("{name}: not every change reached a status"),
        Duration::from_secs(600),
        |t| t.waiting.is_empty(),
    )
    .await;
    let took = started.elapsed();
    let lags = std::mem::take(&mut tracker.lock().unwrap().lags);
    assert_eq!(lags.len(), tests.len(), "{name}: changes seen");
    let patch_times = std::mem::take(&mut *patch_times.lock().unwrap());
    Round {
        name,
        changes: lags.len(),
        took,
        lags_ms: summary(lags),
        patch_ms: summary(patch_times),
        cpu: cpu_seconds(operator_pid) - cpu_start,
        load: (load_start, load_average()),
    }
}

async fn run(cluster: &Cluster, n: usize, rate: f64) {
    let load_start = load_average();
    crd::install(cluster).await.unwrap();
    let ns = cluster.namespace("lag").await;
    let client = cluster.client();
    let plan: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "plan"},
        "data": {"locustfile.py": "from locust import HttpUser\n"},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &plan)
        .await
        .unwrap();
    // Pods need their ServiceAccount; no controller makes `default` in this cluster.
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let identity = operator_identity(cluster, &ns).await;
    let mut options = OperatorOptions::new(&identity.kubeconfig, &ns);
    options.env.push(("RUST_LOG", "info".to_string()));
    // No master answers here: the status follows the pods alone.
    options.env.push(("STATS_ACCESS", "off".to_string()));
    let extra_env = std::env::var("BENCH_OPERATOR_ENV").unwrap_or_default();
    let extra: Vec<(String, String)> = extra_env
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    for (k, v) in &extra {
        options.env.push((k.as_str(), v.clone()));
    }
    let mut operator = OperatorProcess::start(cluster, "lag", &options);
    operator.wait_ready().await;
    let pid = operator.pid();

    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let watch = watch_tests(
        Api::<LocustTest>::namespaced(client.clone(), &ns),
        tracker.clone(),
    );

    // Set-up: N tests, their Jobs, and the Jobs' pods.
    let setup = Instant::now();
    let tests: Vec<String> = (0..n).map(|i| format!("lag-{i:05}")).collect();
    let api = Api::<LocustTest>::namespaced(client.clone(), &ns);
    futures::stream::iter(&tests)
        .map(|name| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &locust_test(name))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
    let jobs_api = Api::<Job>::namespaced(client.clone(), &ns);
    let jobs = support::wait::until(
        &format!("{} Jobs", 2 * n),
        Duration::from_secs(600),
        async || {
            let jobs = jobs_api.list(&ListParams::default()).await.ok()?.items;
            (jobs.len() >= 2 * n).then_some(jobs)
        },
    )
    .await;
    let mut pods = HashMap::new();
    for job in &jobs {
        let job_name = job.name_any();
        let names: &[&str] = if job_name.ends_with("-master") {
            &["p"]
        } else {
            &["a", "b"]
        };
        for suffix in names {
            let name = format!("{job_name}-{suffix}");
            pods.insert(name.clone(), pod_of(job, &name));
        }
    }
    let pods_api = Api::<Pod>::namespaced(client.clone(), &ns);
    futures::stream::iter(pods.values())
        .map(|pod| {
            let api = pods_api.clone();
            async move {
                api.create(&PostParams::default(), pod).await.unwrap();
                // The master and the first worker run; the second worker stays Pending.
                if !pod.name_any().ends_with("-worker-b") {
                    patch_status(&api, &pod.name_any(), &running(pod)).await;
                }
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
    wait_for(
        &tracker,
        "not every test Running with 1 worker connected",
        Duration::from_secs(600),
        |t| {
            tests
                .iter()
                .all(|name| t.latest.get(name) == Some(&(Some(Phase::Running), Some(1))))
        },
    )
    .await;
    let setup_took = setup.elapsed();
    // Let the set-up's reconciles and status writes settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_before = rss_mib(pid, "VmRSS:");

    let paced = round(
        "paced",
        &tests,
        &pods,
        |test| format!("{test}-worker-b"),
        running,
        2,
        Some(rate),
        &pods_api,
        &tracker,
        pid,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let burst = round(
        "burst",
        &tests,
        &pods,
        |test| format!("{test}-worker-a"),
        failed,
        1,
        None,
        &pods_api,
        &tracker,
        pid,
    )
    .await;
    let rss_peak = rss_mib(pid, "VmHWM:");
    let rss_after = rss_mib(pid, "VmRSS:");
    watch.abort();
    operator.kill();
    let load_end = load_average();

    println!(
        "status lag, {n} running tests ({} pods), operator STATS_ACCESS=off{}",
        pods.len(),
        if extra_env.is_empty() {
            String::new()
        } else {
            format!(", {extra_env}")
        }
    );
    println!(
        "  set-up (tests, Jobs, pods, all Running) {:.1} s; operator RSS {rss_before:.1} MiB before the rounds, {rss_after:.1} after, peak {rss_peak:.1}",
        setup_took.as_secs_f64()
    );
    println!("  load average (1 min): {load_start:.2} at the start, {load_end:.2} at the end");
    for r in [&paced, &burst] {
        let l = &r.lags_ms;
        println!(
            "  {:<6} {} changes in {:.1} s: lag p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (mean {:.0}); pod patch p50 {:.0} ms, p99 {:.0} ms; operator CPU {:.2} s; load {:.2} -> {:.2}",
            r.name,
            r.changes,
            r.took.as_secs_f64(),
            l["p50"].as_f64().unwrap_or(f64::NAN),
            l["p90"].as_f64().unwrap_or(f64::NAN),
            l["p99"].as_f64().unwrap_or(f64::NAN),
            l["max"].as_f64().unwrap_or(f64::NAN),
            l["mean"].as_f64().unwrap_or(f64::NAN),
            r.patch_ms["p50"].as_f64().unwrap_or(f64::NAN),
            r.patch_ms["p99"].as_f64().unwrap_or(f64::NAN),
            r.cpu,
            r.load.0,
            r.load.1,
        );
    }
    let round_json = |r: &Round| {
        json!({"changes": r.changes, "took_s": r.took.as_secs_f64(), "lag_ms": r.lags_ms,
               "patch_ms": r.patch_ms, "operator_cpu_s": r.cpu,
               "load_start": r.load.0, "load_end": r.load.1})
    };
    println!(
        "{}",
        json!({"bench": "status_lag", "tests": n, "pods": pods.len(), "rate": rate,
               "env": extra_env, "setup_s": setup_took.as_secs_f64(),
               "rss_before_mib": rss_before, "rss_after_mib": rss_after, "rss_peak_mib": rss_peak,
               "load_start": load_start, "load_end": load_end,
               "paced": round_json(&paced), "burst": round_json(&burst)})
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test.
    let benching = std::env::args().any(|a| a == "--bench");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (n, rate) = if benching {
        (
            var("BENCH_TESTS").parse().unwrap_or(1000),
            var("BENCH_LAG_RATE").parse().unwrap_or(20.0),
        )
    } else {
        (5, 50.0)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = Cluster::start(Mode::ApiServer, Location::Temporary)
            .await
            .unwrap_or_else(|e| panic!("the API server did not start: {e}"));
        run(&cluster, n, rate).await;
        cluster.stop();
    });
}
