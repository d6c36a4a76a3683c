//! What the operator costs with many tests (`cargo bench --bench operator_scale`; `BENCH_TESTS`
//! sets N, 1,000 by default): the operator binary of the build (a release build under
//! `cargo bench`) against its own etcd and kube-apiserver, no nodes, so the figures are the
//! operator's alone. Two scenarios:
//!
//! - burst: N LocustTests created (50 at a time) while the operator runs: time until the last
//!   child exists after the last create, RSS idle and peak, CPU time;
//! - catch-up: N more tests created while no operator runs, then one started: time until all
//!   their children exist, and the operator's requests per second to the API server.
//!
//! Writes come from the API server's audit log (the operator's own ServiceAccount), reads from
//! the API server's `apiserver_request_total` (no other client reads Jobs, Services, Pods or
//! ConfigMaps). Prints a table and one JSON line per scenario. Under `cargo test` it runs with
//! 10 tests, and checks the counts it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use locust_operator::api::v2::LocustTest;
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

/// CPU time (user + system) of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn rss_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// `apiserver_request_total` summed by (verb, resource), for the resources only the operator
/// reads.
async fn reads(cluster: &Cluster) -> BTreeMap<(String, String), f64> {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = cluster.client().request_text(request).await.unwrap();
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let (verb, resource) = (label("verb"), label("resource"));
        if !["GET", "LIST", "WATCH"].contains(&verb.as_str())
            || !["jobs", "services", "pods", "configmaps"].contains(&resource.as_str())
        {
            continue;
        }
        *sums.entry((verb, resource)).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    sums
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

/// Jobs and Services the operator has created in `ns` (from the audit log: the bench itself
/// sends no request for them).
fn children_made(cluster: &Cluster, ns: &str) -> usize {
    let user = format!("system:serviceaccount:{ns}:locust-k8s-operator");
    audit::writes(cluster)
        .iter()
        .filter(|w| {
            w.user == user && w.code == 201 && (w.resource == "jobs" || w.resource == "services")
        })
        .count()
}

async fn wait_children(cluster: &Cluster, ns: &str, expected: usize, within: Duration) -> Instant {
    let started = Instant::now();
    loop {
        let made = children_made(cluster, ns);
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
    after
        .iter()
        .map(|(key, v)| {
            let d = v - before.get(key).copied().unwrap_or(0.0);
            (format!("{} {}", key.0, key.1), d)
        })
        .filter(|(_, d)| *d > 0.0)
        .collect()
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

async fn run(cluster: &Cluster, n: usize) {
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
    let bound = Duration::from_secs(600);

    // Burst.
    let mut operator = OperatorProcess::start(cluster, "burst", &options);
    operator.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = operator.pid();
    let idle_rss = rss_mib(pid, "VmRSS:");
    let cpu_before = cpu_seconds(pid);
    let reads_before = reads(cluster).await;
    let started = Instant::now();
    create_tests(cluster, &ns, "burst", n).await;
    let created = started.elapsed();
    let done = wait_children(cluster, &ns, 3 * n, bound).await;
    let behind = done.duration_since(started) - created;
    // Let status writes settle before counting.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peak_rss = rss_mib(pid, "VmHWM:");
    let cpu = cpu_seconds(pid) - cpu_before;
    let burst_reads = delta(&reads(cluster).await, &reads_before);
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
            ("created in", format!("{:.2} s", created.as_secs_f64())),
            (
                "last child after the last create",
                format!("{:.2} s", behind.as_secs_f64()),
            ),
            (
                "RSS idle / peak",
                format!("{idle_rss:.1} / {peak_rss:.1} MiB"),
            ),
            ("operator CPU", format!("{cpu:.2} s")),
            ("reads (GET/LIST/WATCH)", format!("{burst_reads:?}")),
        ],
        &burst_writes,
    );
    println!(
        "{}",
        json!({"bench": "operator_scale", "scenario": "burst", "tests": n,
               "created_s": created.as_secs_f64(), "children_behind_s": behind.as_secs_f64(),
               "rss_idle_mib": idle_rss, "rss_peak_mib": peak_rss, "cpu_s": cpu,
               "writes": burst_writes, "reads": burst_reads})
    );
    operator.kill();

    // Catch-up: tests waiting for an operator.
    let before_writes = writes(cluster, &ns);
    create_tests(cluster, &ns, "pending", n).await;
    let reads_before = reads(cluster).await;
    let mut operator = OperatorProcess::start(cluster, "catch-up", &options);
    let started = Instant::now();
    let made_before = children_made(cluster, &ns);
    operator.wait_ready().await;
    let done = wait_children(cluster, &ns, made_before + 3 * n, bound).await;
    let took = done.duration_since(started);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = operator.pid();
    let peak_rss = rss_mib(pid, "VmHWM:");
    let cpu = cpu_seconds(pid);
    let catch_up_reads = delta(&reads(cluster).await, &reads_before);
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
            ("RSS peak", format!("{peak_rss:.1} MiB")),
            ("operator CPU", format!("{cpu:.2} s")),
            ("reads (GET/LIST/WATCH)", format!("{catch_up_reads:?}")),
        ],
        &catch_up_writes,
    );
    println!(
        "{}",
        json!({"bench": "operator_scale", "scenario": "catch-up", "tests": n,
               "children_s": took.as_secs_f64(), "rss_peak_mib": peak_rss, "cpu_s": cpu,
               "writes": catch_up_writes, "reads": catch_up_reads})
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = Cluster::start(Mode::ApiServer, Location::Temporary)
            .await
            .unwrap_or_else(|e| panic!("the API server did not start: {e}"));
        run(&cluster, n).await;
        cluster.stop();
    });
}
