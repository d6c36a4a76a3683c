//! Conversion through the API server (`cargo bench --bench conversion`; `BENCH_OBJECTS` sets N,
//! 1,000 by default): the webhook of this build (release under `cargo bench`) serving in this
//! process in directory mode over TLS on 127.0.0.1, a kube-apiserver whose CRD calls it, and N
//! LocustTests stored as v2 (the richest valid fixture, `valid/v2-full.yaml`). Reads as v1 are
//! converted by the webhook; reads as v2 are not, and are the baseline.
//!
//! Measured: the first LIST of all N as v1 (the API server converts each object it reads from
//! etcd), later LISTs (served from the API server's watch cache), GETs one after another and
//! 16 at a time (each GET reads etcd and converts), their latency percentiles, and the
//! ConversionReview handler alone (no TLS, no API server). The webhook counts its reviews
//! (`locust_operator_conversion_reviews_total`), so the figures say how many calls each read
//! cost.
//!
//! Prints a table and one JSON line. Under `cargo test` it runs with 10 objects and checks the
//! counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/webhook/common.rs"]
mod common;
#[path = "../tests/webhook/serving.rs"]
mod serving;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{ListParams, PostParams};
use serde_json::{Value, json};

use common::{V1, V2, install_crd_calling, locust_tests, review_request, to_create};
use serving::{CertDir, InProcess, TestCa};
use support::cluster::Location;
use support::{Cluster, Mode};

/// GETs in flight at once in the concurrent run.
const CONCURRENCY: usize = 16;

fn reviews(server: &InProcess) -> u64 {
    server
        .metrics
        .render()
        .lines()
        .find_map(|l| {
            l.strip_prefix("locust_operator_conversion_reviews_total ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

/// Times one GET per name, in order; returns the latencies sorted.
async fn sequential_gets(api: &kube::Api<kube::core::DynamicObject>, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        api.get(&name(i)).await.unwrap();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

fn name(i: usize) -> String {
    format!("bench-{i:05}")
}

async fn run(cluster: &'static Cluster, n: usize) -> Value {
    let ca = TestCa::new();
    let dir = CertDir::new(cluster.dir.join("webhook-certs"));
    dir.publish(&ca.serving());
    let server = InProcess::start(cluster, dir).await;
    server.until_loaded().await;
    install_crd_calling(cluster, &server.url(), Some(&ca.ca.cert)).await;
    let ns = cluster.namespace("conversion").await;
    common::until_conversion_works(cluster, &ns).await;

    let full = support::fixtures::all()
        .into_iter()
        .find(|f| f.name == "valid/v2-full.yaml")
        .expect("fixture valid/v2-full.yaml")
        .value();
    let v2 = locust_tests(cluster, &ns, V2);
    let v1 = locust_tests(cluster, &ns, V1);
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let v2 = v2.clone();
            let object = to_create(&full, &name(i));
            async move { v2.create(&PostParams::default(), &object).await.unwrap() }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let create_seconds = started.elapsed().as_secs_f64();

    // The first LIST as v1: every object converted.
    let before = reviews(&server);
    let started = Instant::now();
    let listed = v1.list(&ListParams::default()).await.unwrap().items.len();
    let first_list_ms = started.elapsed().as_secs_f64() * 1000.0;
    let first_list_reviews = reviews(&server) - before;
    assert_eq!(listed, n, "the first v1 LIST returned {listed} of {n}");

    // Later LISTs as v1, and as v2 for comparison.
    let lists = 5u32;
    let before = reviews(&server);
    let started = Instant::now();
    for _ in 0..lists {
        assert_eq!(
            v1.list(&ListParams::default()).await.unwrap().items.len(),
            n
        );
    }
    let v1_list_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(lists);
    let later_list_reviews = reviews(&server) - before;
    let started = Instant::now();
    for _ in 0..lists {
        assert_eq!(
            v2.list(&ListParams::default()).await.unwrap().items.len(),
            n
        );
    }
    let v2_list_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(lists);

    // GETs one after another: v1 (converted) and v2 (not).
    let before = reviews(&server);
    let started = Instant::now();
    let v1_gets = sequential_gets(&v1, n).await;
    let v1_get_rate = n as f64 / started.elapsed().as_secs_f64();
    let get_reviews = reviews(&server) - before;
    let started = Instant::now();
    let v2_gets = sequential_gets(&v2, n).await;
    let v2_get_rate = n as f64 / started.elapsed().as_secs_f64();

    // GETs as v1, CONCURRENCY at a time.
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let v1 = v1.clone();
            async move { v1.get(&name(i)).await.unwrap() }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let v1_concurrent_rate = n as f64 / started.elapsed().as_secs_f64();

    // The handler alone: one ConversionReview of all N objects, to v1.
    let objects: Vec<Value> = (0..n)
        .map(|i| {
            let mut object = full.clone();
            object["metadata"]["name"] = json!(name(i));
            object["metadata"]["namespace"] = json!(ns);
            object
        })
        .collect();
    let review = serde_json::to_vec(&review_request("bench", "locust.io/v1", objects)).unwrap();
    let rounds = 5u32;
    let started = Instant::now();
    for _ in 0..rounds {
        let reviewed = locust_operator::webhook::review::review(&review);
        assert!(reviewed.failure.is_none(), "{:?}", reviewed.failure);
    }
    let handler_rate = f64::from(rounds) * n as f64 / started.elapsed().as_secs_f64();

    json!({
        "bench": "conversion",
        "objects": n,
        "create_seconds": create_seconds,
        "first_v1_list_ms": first_list_ms,
        "first_v1_list_reviews": first_list_reviews,
        "later_v1_list_ms": v1_list_ms,
        "later_v1_list_reviews": later_list_reviews,
        "v2_list_ms": v2_list_ms,
        "v1_get_per_second": v1_get_rate,
        "v1_get_p50_ms": percentile(&v1_gets, 0.50),
        "v1_get_p99_ms": percentile(&v1_gets, 0.99),
        "v1_get_reviews": get_reviews,
        "v2_get_per_second": v2_get_rate,
        "v2_get_p50_ms": percentile(&v2_gets, 0.50),
        "v2_get_p99_ms": percentile(&v2_gets, 0.99),
        "v1_get_concurrent_per_second": v1_concurrent_rate,
        "concurrency": CONCURRENCY,
        "handler_objects_per_second": handler_rate,
    })
}

fn print(figures: &Value) {
    let f = |key: &str| figures[key].as_f64().unwrap_or(f64::NAN);
    let n = figures["objects"].as_u64().unwrap_or(0);
    println!("\nconversion through the API server, {n} LocustTests (v2-full), stored as v2\n");
    println!("| read | figure | ConversionReviews |");
    println!("|---|---|---|");
    println!(
        "| first LIST as v1 | {:.0} ms | {} |",
        f("first_v1_list_ms"),
        figures["first_v1_list_reviews"]
    );
    println!(
        "| later LIST as v1 / as v2 | {:.0} ms / {:.0} ms | {} |",
        f("later_v1_list_ms"),
        f("v2_list_ms"),
        figures["later_v1_list_reviews"]
    );
    println!(
        "| GET as v1, one at a time | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms | {} |",
        f("v1_get_per_second"),
        f("v1_get_p50_ms"),
        f("v1_get_p99_ms"),
        figures["v1_get_reviews"]
    );
    println!(
        "| GET as v2, one at a time | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms | 0 |",
        f("v2_get_per_second"),
        f("v2_get_p50_ms"),
        f("v2_get_p99_ms")
    );
    println!(
        "| GET as v1, {} at a time | {:.0}/s | |",
        figures["concurrency"],
        f("v1_get_concurrent_per_second")
    );
    println!(
        "| the handler alone (no TLS) | {:.0} objects/s | |",
        f("handler_objects_per_second")
    );
    println!("\n{figures}");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test.
    let benching = std::env::args().any(|a| a == "--bench");
    let n = if benching {
        std::env::var("BENCH_OBJECTS")
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
        let cluster: &'static Cluster = Box::leak(Box::new(
            Cluster::start(Mode::ApiServer, Location::Temporary)
                .await
                .unwrap_or_else(|e| panic!("the API server did not start: {e}")),
        ));
        let figures = run(cluster, n).await;
        print(&figures);
        // Each converted read called the webhook: the counts cannot be zero.
        for key in ["first_v1_list_reviews", "v1_get_reviews"] {
            assert!(
                figures[key].as_u64().unwrap_or(0) > 0,
                "{key}: no ConversionReview reached the webhook"
            );
        }
        cluster.stop();
    });
}
