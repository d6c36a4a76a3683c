//! What the operator costs with many tests (`cargo bench --bench operator_scale`; `BENCH_TESTS`
//! sets N, 1,000 by default): the operator binary of the build (a release build under
//! `cargo bench`) against its own etcd and kube-apiserver, no nodes, so the figures are the
//! operator's alone. Two scenarios:
//!
//! - burst: N LocustTests created (50 at a time) while the operator runs: time until the last
//!   child exists after the last create, RSS idle and peak, CPU time;
//! - catch-up: N more tests created while no operator runs, then one started: time until all
//!   their children exist, and requests per second to the API server over 1 s windows
//!   (successive scrapes of `apiserver_request_total`; the bench sends no resource request
//!   meanwhile).
//!
//! Writes come from the API server's audit log (the operator's own ServiceAccount), reads from
//! the API server's `apiserver_request_total` (no other client reads Jobs, Services, Pods or
//! ConfigMaps). Each scenario also prints every resource request by verb and resource and the
//! API Priority and Fairness counters (dispatched, rejected by priority level and flow schema),
//! for every client: the burst's include the bench's own LocustTest creates.
//!
//! `BENCH_UNRELATED=K` first creates K Pods and K Jobs without labels in another namespace and
//! runs the operator on every namespace, so that only its watches' label selectors keep them
//! out. `BENCH_OPERATOR_ENV="K=V,K=V"` adds environment to the operator process.
//! `BENCH_WAIT_S` sets how long a scenario may take to make its children (600 s by default).
//!
//! The operator runs with the conversion webhook disabled (`WEBHOOK_CERT_MODE=disabled`, as in
//! every test that starts it through tests/support/operator.rs) and the CRD has no conversion
//! stanza, so no conversion is measured here (`benches/hot_paths.rs` times one).
//!
//! Prints a table and one JSON line per scenario. Under `cargo test` it runs with 10 tests,
//! and checks the counts it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod procfs;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use locust_operator::api::v2::LocustTest;
use procfs::{cpu_seconds, rss_mib};
use serde_json::json;
use support::cluster::{Cluster, Location, Mode};
use support::operator::{OperatorOptions, OperatorProcess, operator_identity};
use support::{audit, crd};

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

/// Resident MiB of the mappings of `pid` backed by the file `path` (e.g. its binary's code).
fn rss_of_file_mib(pid: u32, path: &str) -> f64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut inside = false;
    let mut kib = 0.0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: "start-end perms offset dev inode path".
            inside = line.split_whitespace().nth(5) == Some(path);
        } else if inside && let Some(v) = line.strip_prefix("Rss:") {
            kib += v
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0);
        }
    }
    kib / 1024.0
}

/// The samples of metric `name` in the API server's `/metrics` text: labels and value.
fn samples<'a>(text: &'a str, name: &str) -> Vec<(BTreeMap<&'a str, &'a str>, f64)> {
    let prefix = format!("{name}{{");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (labels, value) = rest.rsplit_once("} ")?;
            let labels = labels
                .split(',')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k, v.trim_matches('"')))
                })
                .collect();
            Some((labels, value.trim().parse::<f64>().ok()?))
        })
        .collect()
}

async fn metrics_text(client: &kube::Client) -> String {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    client.request_text(request).await.unwrap()
}

/// `apiserver_request_total` of resource requests (not /metrics and other non-resource
/// paths), summed by (verb, resource[/subresource]).
fn requests(text: &str) -> BTreeMap<(String, String), f64> {
    let mut sums = BTreeMap::new();
    for (labels, value) in samples(text, "apiserver_request_total") {
        let resource = labels.get("resource").copied().unwrap_or_default();
        if resource.is_empty() {
            continue;
        }
        let resource = match labels.get("subresource").copied().unwrap_or_default() {
            "" => resource.to_string(),
            sub => format!("{resource}/{sub}"),
        };
        let verb = labels.get("verb").copied().unwrap_or_default().to_string();
        *sums.entry((verb, resource)).or_insert(0.0) += value;
    }
    sums
}

/// The reads among `requests`, for the resources only the operator reads.
fn reads(requests: &BTreeMap<(String, String), f64>) -> BTreeMap<(String, String), f64> {
    requests
        .iter()
        .filter(|((verb, resource), _)| {
            ["GET", "LIST", "WATCH"].contains(&verb.as_str())
                && ["jobs", "services", "pods", "configmaps"].contains(&resource.as_str())
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// API Priority and Fairness: requests dispatched and rejected, by "priority level / flow
/// schema".
fn flow_control(text: &str) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for (metric, what) in [
        (
            "apiserver_flowcontrol_dispatched_requests_total",
            "dispatched",
        ),
        ("apiserver_flowcontrol_rejected_requests_total", "rejected"),
    ] {
        for (labels, value) in samples(text, metric) {
            let key = format!(
                "{what} {}/{}",
                labels.get("priority_level").copied().unwrap_or_default(),
                labels.get("flow_schema").copied().unwrap_or_default()
            );
            *sums.entry(key).or_insert(0.0) += value;
        }
    }
    sums
}

/// Resource requests per second over successive scrapes about 1 s apart, until `stop`.
/// Leases (the API server's own identity lease) are left out; the bench sends no resource
/// request meanwhile, so the rest is the operator's (and the API server's own loopback
/// requests, if any).
async fn sample_rates(client: kube::Client, stop: tokio::sync::watch::Receiver<bool>) -> Vec<f64> {
    let total = |text: &str| -> f64 {
        requests(text)
            .iter()
            .filter(|((_, resource), _)| !resource.starts_with("leases"))
            .map(|(_, v)| v)
            .sum()
    };
    let mut rates = Vec::new();
    let mut last = (Instant::now(), total(&metrics_text(&client).await));
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    while !*stop.borrow() {
        ticks.tick().await;
        let now = (Instant::now(), total(&metrics_text(&client).await));
        rates.push((now.1 - last.1) / now.0.duration_since(last.0).as_secs_f64());
        last = now;
    }
    rates
}

/// The operator's writes in `ns` so far, by "verb resource[/subresource][ (refusal code)]".
fn writes(cluster: &Cluster, ns: &str) -> BTreeMap<String, usize> {
    let user = format!("system:serviceaccount:{ns}:locust-k8s-operator");
    let mut counts = BTreeMap::new();
    for w in audit::writes(cluster) {
        if w.user != user || w.resource == "leases" {
            continue;
        }
        let mut what = match &w.subresource {
            Some(sub) => format!("{} {}/{sub}", w.verb, w.resource),
            None => format!("{} {}", w.verb, w.resource),
        };
        // Refused writes (a create that found the name taken: 409) are counted apart.
        if w.code >= 300 {
            what = format!("{what} ({})", w.code);
        }
        *counts.entry(what).or_insert(0) += 1;
    }
    counts
}

/// Of `writes`, the Jobs and Services the operator created in `ns` (the bench itself sends no
/// request for them).
fn children_in(writes: &[audit::Write], ns: &str) -> usize {
    let user = format!("system:serviceaccount:{ns}:locust-k8s-operator");
    writes
        .iter()
        .filter(|w| {
            w.user == user && w.code == 201 && (w.resource == "jobs" || w.resource == "services")
        })
        .count()
}

/// Jobs and Services the operator has created in `ns` (from the audit log).
fn children_made(cluster: &Cluster, ns: &str) -> usize {
    children_in(&audit::writes(cluster), ns)
}

/// Waits until the operator has created `expected` Jobs and Services in `ns` in all. The audit
/// log is read incrementally: parsing it whole every 50 ms took most of a core once it held
/// the writes of thousands of tests, which slowed the operator under measurement.
async fn wait_children(cluster: &Cluster, ns: &str, expected: usize, within: Duration) -> Instant {
    let started = Instant::now();
    let mut tail = audit::Tail::new(cluster);
    let mut made = 0;
    loop {
        made += children_in(&tail.next(), ns);
        if made >= expected {
            return Instant::now();
        }
        assert!(
            started.elapsed() < within,
            "{made}/{expected} children after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_tests(cluster: &Cluster, ns: &str, prefix: &str, n: usize) {
    let api = Api::<LocustTest>::namespaced(cluster.client(), ns);
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(
                    &PostParams::default(),
                    &locust_test(&format!("{prefix}-{i:05}")),
                )
                .await
                .unwrap()
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
}

fn delta(
    after: &BTreeMap<(String, String), f64>,
    before: &BTreeMap<(String, String), f64>,
) -> BTreeMap<String, f64> {
    let after = after
        .iter()
        .map(|(key, v)| (format!("{} {}", key.0, key.1), *v))
        .collect();
    let before = before
        .iter()
        .map(|(key, v)| (format!("{} {}", key.0, key.1), *v))
        .collect();
    delta_by_name(&after, &before)
}

fn delta_by_name(
    after: &BTreeMap<String, f64>,
    before: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(key, v)| (key.clone(), v - before.get(key).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

/// The lines of a by-name count, for the table.
fn counted(title: &str, counts: &BTreeMap<String, f64>) {
    let total: f64 = counts.values().sum();
    println!("  {title:<34} {total:.0}");
    for (what, count) in counts {
        println!("    {what:<40} {count:.0}");
    }
}

/// `n` Pods and `n` Jobs without labels in namespace `ns` (and its `default` ServiceAccount,
/// which no controller makes in this cluster); returns how long the creates took.
async fn create_unrelated(cluster: &Cluster, ns: &str, n: usize) -> Duration {
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    Api::<ServiceAccount>::namespaced(cluster.client(), ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let container = json!({"name": "app", "image": "registry.k8s.io/pause:3.10",
                           "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}});
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "unrelated"},
        "spec": {"containers": [container], "automountServiceAccountToken": false},
    }))
    .unwrap();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "unrelated"},
        "spec": {"template": {"spec": {"containers": [container], "restartPolicy": "Never"}}},
    }))
    .unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), ns);
    let jobs = Api::<Job>::namespaced(cluster.client(), ns);
    let started = Instant::now();
    futures::stream::iter(0..2 * n)
        .map(|i| {
            let (pods, jobs, mut pod, mut job) =
                (pods.clone(), jobs.clone(), pod.clone(), job.clone());
            async move {
                let name = format!("unrelated-{:05}", i / 2);
                if i % 2 == 0 {
                    pod.metadata.name = Some(name);
                    pods.create(&PostParams::default(), &pod).await.map(|_| ())
                } else {
                    job.metadata.name = Some(name);
                    jobs.create(&PostParams::default(), &job).await.map(|_| ())
                }
                .unwrap()
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

fn show(title: &str, n: usize, figures: &[(&str, String)], writes: &BTreeMap<String, usize>) {
    println!("{title}, {n} tests (3 children each)");
    for (name, value) in figures {
        println!("  {name:<34} {value}");
    }
    let total: usize = writes.values().sum();
    println!(
        "  {:<34} {total} ({:.2} per test)",
        "writes by the operator",
        total as f64 / n as f64
    );
    for (what, count) in writes {
        println!("    {what:<32} {count}");
    }
}

async fn run(cluster: &Cluster, n: usize, unrelated: Option<usize>) {
    crd::install(cluster).await.unwrap();
    let ns = cluster.namespace("bench").await;
    let plan: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "plan"},
        "data": {"locustfile.py": "from locust import HttpUser\n"},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(cluster.client(), &ns)
        .create(&PostParams::default(), &plan)
        .await
        .unwrap();
    let identity = operator_identity(cluster, &ns).await;
    let mut options = OperatorOptions::new(&identity.kubeconfig, &ns);
    // The default log level of an install (the tests' operators log at debug).
    options.env.push(("RUST_LOG", "info".to_string()));
    // Extra environment of the operator process (BENCH_OPERATOR_ENV="K=V,K=V").
    let extra_env = std::env::var("BENCH_OPERATOR_ENV").unwrap_or_default();
    let extra: Vec<(String, String)> = extra_env
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    for (k, v) in &extra {
        options.env.push((k.as_str(), v.clone()));
    }
    let mut unrelated_s = None;
    if let Some(k) = unrelated {
        // Unrelated objects in another namespace, and an operator watching every namespace:
        // only the label selectors of its watches keep them out of its caches.
        let other = cluster.namespace("unrelated").await;
        let took = create_unrelated(cluster, &other, k).await;
        println!(
            "unrelated: {k} Pods and {k} Jobs (no labels) in {other}, created in {:.1} s; the operator watches all namespaces",
            took.as_secs_f64()
        );
        unrelated_s = Some(took.as_secs_f64());
        options.watch_namespace = None;
    }
    // How long the bench waits for the children of a scenario before it gives up
    // (`BENCH_WAIT_S`, 600 by default).
    let bound = Duration::from_secs(
        std::env::var("BENCH_WAIT_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(600),
    );
    let client = cluster.client();

    // Burst.
    let mut operator = OperatorProcess::start(cluster, "burst", &options);
    let starting = Instant::now();
    operator.wait_ready().await;
    let ready_after = starting.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = operator.pid();
    let idle_rss = rss_mib(pid, "VmRSS:");
    let idle_hwm = rss_mib(pid, "VmHWM:");
    // What the idle RSS is: anonymous memory (heap, stacks) and file pages (the binary's text).
    // The executable is the one the process runs: the build's, or another one that a wrapper
    // (LOCUST_TEST_OPERATOR_WRAPPER) execs, e.g. a build of another profile.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_locust-k8s-operator").to_string());
    let exe_mb = std::fs::metadata(&exe).map_or(0.0, |m| m.len() as f64 / 1e6);
    let idle_parts = format!(
        "anon {:.1} MiB, file {:.1} MiB of which the operator binary {:.1} ({exe}, {exe_mb:.1} MB), {} threads",
        rss_mib(pid, "RssAnon:"),
        rss_mib(pid, "RssFile:"),
        rss_of_file_mib(pid, &exe),
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .map(str::trim)
            .unwrap_or("?")
    );
    let cpu_before = cpu_seconds(pid);
    let text = metrics_text(&client).await;
    let (requests_before, flow_before) = (requests(&text), flow_control(&text));
    let started = Instant::now();
    create_tests(cluster, &ns, "burst", n).await;
    let created = started.elapsed();
    let done = wait_children(cluster, &ns, 3 * n, bound).await;
    let behind = done.duration_since(started) - created;
    // Let status writes settle before counting.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peak_rss = rss_mib(pid, "VmHWM:");
    let cpu = cpu_seconds(pid) - cpu_before;
    let text = metrics_text(&client).await;
    let burst_requests = delta(&requests(&text), &requests_before);
    let burst_reads = delta(&reads(&requests(&text)), &reads(&requests_before));
    let burst_flow = delta_by_name(&flow_control(&text), &flow_before);
    let burst_writes = writes(cluster, &ns);
    let children: usize = burst_writes
        .iter()
        .filter(|(k, _)| k.ends_with(" jobs") || k.ends_with(" services"))
        .map(|(_, c)| c)
        .sum();
    assert_eq!(children, 3 * n, "{burst_writes:?}");
    show(
        "burst",
        n,
        &[
            (
                "ready after start",
                format!("{:.2} s", ready_after.as_secs_f64()),
            ),
            ("created in", format!("{:.2} s", created.as_secs_f64())),
            (
                "last child after the last create",
                format!("{:.2} s", behind.as_secs_f64()),
            ),
            (
                "RSS idle / peak",
                format!(
                    "{idle_rss:.1} / {peak_rss:.1} MiB (peak before the burst {idle_hwm:.1}; idle: {idle_parts})"
                ),
            ),
            ("operator CPU", format!("{cpu:.2} s")),
            ("reads (GET/LIST/WATCH)", format!("{burst_reads:?}")),
        ],
        &burst_writes,
    );
    counted("all requests (every client)", &burst_requests);
    counted("flow control (every client)", &burst_flow);
    println!(
        "{}",
        json!({"bench": "operator_scale", "scenario": "burst", "tests": n,
               "unrelated": unrelated, "unrelated_created_s": unrelated_s, "env": extra_env,
               "ready_s": ready_after.as_secs_f64(),
               "created_s": created.as_secs_f64(), "children_behind_s": behind.as_secs_f64(),
               "rss_idle_mib": idle_rss, "rss_idle_peak_mib": idle_hwm, "rss_idle_parts": idle_parts,
               "rss_peak_mib": peak_rss, "cpu_s": cpu,
               "writes": burst_writes, "reads": burst_reads,
               "requests": burst_requests, "flow_control": burst_flow})
    );
    operator.kill();

    // Catch-up: tests waiting for an operator.
    let before_writes = writes(cluster, &ns);
    create_tests(cluster, &ns, "pending", n).await;
    let text = metrics_text(&client).await;
    let (requests_before, flow_before) = (requests(&text), flow_control(&text));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_rates(client.clone(), stopped));
    let mut operator = OperatorProcess::start(cluster, "catch-up", &options);
    let started = Instant::now();
    let made_before = children_made(cluster, &ns);
    operator.wait_ready().await;
    // The peak until the caches synced: the initial LISTs, before any reconcile.
    let synced_hwm = rss_mib(operator.pid(), "VmHWM:");
    let synced_after = started.elapsed();
    let done = wait_children(cluster, &ns, made_before + 3 * n, bound).await;
    let took = done.duration_since(started);
    stop.send(true).unwrap();
    let rates = sampler.await.unwrap();
    let rps_peak = rates.iter().copied().fold(0.0, f64::max);
    let rps_mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = operator.pid();
    let peak_rss = rss_mib(pid, "VmHWM:");
    let cpu = cpu_seconds(pid);
    let text = metrics_text(&client).await;
    let catch_up_requests = delta(&requests(&text), &requests_before);
    let catch_up_reads = delta(&reads(&requests(&text)), &reads(&requests_before));
    let catch_up_flow = delta_by_name(&flow_control(&text), &flow_before);
    let mut catch_up_writes = writes(cluster, &ns);
    for (what, count) in &before_writes {
        if let Some(c) = catch_up_writes.get_mut(what) {
            *c -= count;
        }
    }
    catch_up_writes.retain(|_, c| *c > 0);
    let total: usize = catch_up_writes.values().sum();
    show(
        "catch-up",
        n,
        &[
            (
                "all children after the start",
                format!("{:.2} s", took.as_secs_f64()),
            ),
            (
                "writes per second (mean)",
                format!("{:.0}", total as f64 / took.as_secs_f64()),
            ),
            (
                "requests per second, 1 s windows",
                format!(
                    "peak {rps_peak:.0}, mean {rps_mean:.0} ({} windows)",
                    rates.len()
                ),
            ),
            (
                "RSS peak",
                format!(
                    "{peak_rss:.1} MiB (until the caches synced, {:.2} s: {synced_hwm:.1})",
                    synced_after.as_secs_f64()
                ),
            ),
            ("operator CPU", format!("{cpu:.2} s")),
            ("reads (GET/LIST/WATCH)", format!("{catch_up_reads:?}")),
        ],
        &catch_up_writes,
    );
    counted("all requests (every client)", &catch_up_requests);
    counted("flow control (every client)", &catch_up_flow);
    println!(
        "{}",
        json!({"bench": "operator_scale", "scenario": "catch-up", "tests": n,
               "unrelated": unrelated, "env": extra_env,
               "children_s": took.as_secs_f64(), "rss_peak_mib": peak_rss, "cpu_s": cpu,
               "synced_s": synced_after.as_secs_f64(), "rss_synced_peak_mib": synced_hwm,
               "rps_peak": rps_peak, "rps_mean": rps_mean, "rps_windows": rates,
               "writes": catch_up_writes, "reads": catch_up_reads,
               "requests": catch_up_requests, "flow_control": catch_up_flow})
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test.
    let benching = std::env::args().any(|a| a == "--bench");
    let n = if benching {
        std::env::var("BENCH_TESTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    } else {
        10
    };
    // BENCH_UNRELATED=K: K unlabelled Pods and K Jobs in another namespace first.
    let unrelated = benching
        .then(|| std::env::var("BENCH_UNRELATED").ok())
        .flatten()
        .and_then(|v| v.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = Cluster::start(Mode::ApiServer, Location::Temporary)
            .await
            .unwrap_or_else(|e| panic!("the API server did not start: {e}"));
        run(&cluster, n, unrelated).await;
        cluster.stop();
    });
}
