//! What the controller's caches hold per test (`cargo bench --bench cache_memory`): the heap
//! bytes of N tests' objects as the watches deliver them (a LocustTest applied with
//! `kubectl apply`, its master and worker Jobs, its Service, a master pod and two worker pods), kept whole but for managed fields (as
//! before projection.rs) and projected (as the controller keeps them now).
//!
//! The objects are the operator's own children of the full v2 fixture; each pod is its Job's
//! template with a ContainerCreating status, the fields the API server and kubelet add besides
//! (defaults, more status) left out, so real objects weigh more than these. The bytes are
//! counted by a counting global allocator, after JSON decoding, as the watcher decodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::sync::Arc;

use cap::Cap;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use locust_operator::api::v2::LocustTest;
use locust_operator::config::Config;
use locust_operator::controller::projection::Projection;
use locust_operator::resources::build_children;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The JSON of one test's objects, as the API server sends them.
struct Sent {
    test: Vec<u8>,
    jobs: Vec<Vec<u8>>,
    service: Vec<u8>,
    pods: Vec<Vec<u8>>,
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn pod_of(job: &Job, suffix: &str) -> Pod {
    let template = job.spec.clone().unwrap().template;
    let mut pod = Pod {
        metadata: template.metadata.unwrap_or_default(),
        spec: template.spec,
        status: serde_json::from_value(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True",
                            "lastTransitionTime": "2026-11-24T10:00:00Z"}],
            "containerStatuses": [{
                "name": "locust", "image": "locustio/locust:2.46.7", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }],
        }))
        .unwrap(),
    };
    pod.metadata.name = Some(format!("{}-{suffix}", job.metadata.name.clone().unwrap()));
    pod.metadata.namespace = job.metadata.namespace.clone();
    pod
}

fn sent(n: usize) -> Vec<Sent> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/valid/v2-full.yaml"
    ))
    .unwrap();
    let config = Config {
        affinity_injection: true,
        tolerations_injection: true,
        ..Config::default()
    };
    let template: LocustTest = serde_yaml::from_str(&text).unwrap();
    (0..n)
        .map(|i| {
            let mut test = template.clone();
            test.metadata.name = Some(format!("test-{i:05}"));
            test.metadata.namespace = Some("load".into());
            test.metadata.uid = Some(format!("0000-{i:08}"));
            let children = build_children(&test, &config).unwrap();
            // As `kubectl apply` leaves it: a copy of the manifest in an annotation.
            let manifest = serde_json::to_string(&test).unwrap();
            test.metadata.annotations = Some(
                [(
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    manifest,
                )]
                .into(),
            );
            Sent {
                test: json(&test),
                service: json(&children.service),
                pods: vec![
                    json(&pod_of(&children.master_job, "m0000")),
                    json(&pod_of(&children.worker_job, "w0000")),
                    json(&pod_of(&children.worker_job, "w0001")),
                ],
                jobs: vec![json(&children.master_job), json(&children.worker_job)],
            }
        })
        .collect()
}

/// The caches: every object decoded, optionally projected, behind an `Arc` as the store keeps it.
#[derive(Default)]
struct Caches {
    tests: Vec<Arc<LocustTest>>,
    jobs: Vec<Arc<Job>>,
    services: Vec<Arc<Service>>,
    pods: Vec<Arc<Pod>>,
}

fn decode<K: DeserializeOwned + Projection>(bytes: &[u8], project: bool) -> Arc<K> {
    let mut object: K = serde_json::from_slice(bytes).unwrap();
    if project {
        object.project();
    }
    Arc::new(object)
}

/// Heap bytes held by each kind's cache.
fn held(sent: &[Sent], project: bool) -> [(&'static str, usize, usize); 4] {
    let mut caches = Caches::default();
    let n = sent.len();
    caches.tests.reserve(n);
    caches.jobs.reserve(2 * n);
    caches.services.reserve(n);
    caches.pods.reserve(3 * n);
    let measure = |fill: &mut dyn FnMut()| {
        let before = ALLOCATOR.allocated();
        fill();
        ALLOCATOR.allocated() - before
    };
    let tests = measure(&mut || {
        for s in sent {
            caches.tests.push(decode(&s.test, project));
        }
    });
    let jobs = measure(&mut || {
        for s in sent {
            for j in &s.jobs {
                caches.jobs.push(decode(j, project));
            }
        }
    });
    let services = measure(&mut || {
        for s in sent {
            caches.services.push(decode(&s.service, project));
        }
    });
    let pods = measure(&mut || {
        for s in sent {
            for p in &s.pods {
                caches.pods.push(decode(p, project));
            }
        }
    });
    [
        ("LocustTest", n, tests),
        ("Job", 2 * n, jobs),
        ("Service", n, services),
        ("Pod", 3 * n, pods),
    ]
}

fn main() {
    let n: usize = std::env::var("BENCH_TESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let sent = sent(n);
    let whole = held(&sent, false);
    let projected = held(&sent, true);
    println!(
        "cache memory, {n} tests (heap bytes held after decoding; whole = managed fields dropped only)"
    );
    println!(
        "{:<12} {:>8} {:>14} {:>14} {:>10}",
        "kind", "objects", "whole B/obj", "projected B/obj", "saved"
    );
    let mut totals = (0usize, 0usize);
    for ((kind, count, before), (_, _, after)) in whole.iter().zip(projected.iter()) {
        totals.0 += before;
        totals.1 += after;
        println!(
            "{kind:<12} {count:>8} {:>14} {:>14} {:>9.0}%",
            before / count,
            after / count,
            100.0 * (1.0 - *after as f64 / *before as f64)
        );
    }
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "total: {:.1} MiB whole, {:.1} MiB projected ({:.1} KiB per test, {:.1} KiB projected)",
        mib(totals.0),
        mib(totals.1),
        totals.0 as f64 / 1024.0 / n as f64,
        totals.1 as f64 / 1024.0 / n as f64,
    );
    println!(
        "{}",
        json!({"bench": "cache_memory", "tests": n, "whole_bytes": totals.0, "projected_bytes": totals.1})
    );
}
