//! Figures for the operator's hot paths (`cargo bench --bench hot_paths`): validating a spec,
//! building its children and converting it between versions, per call; and finding one test's
//! pods among the cached pods of 1,000 tests, as a reconcile does (through the pod index) and
//! as it did before (a scan of the whole cache).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use locust_operator::api::names::LABEL_TEST_NAME;

use locust_operator::api::conversion::convert_object;
use locust_operator::api::v2::LocustTest;
use locust_operator::api::validation::validate_object;
use locust_operator::config::Config;
use locust_operator::controller::pod_index::PodIndex;
use locust_operator::controller::status::is_pod_of;
use locust_operator::resources::build_children;

fn measure(what: &str, mut f: impl FnMut()) {
    // Warm up, then run for about a second.
    for _ in 0..10 {
        f();
    }
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        f();
        n += 1;
    }
    let per = started.elapsed() / n;
    println!(
        "{what:<48} {:>10.1} us/op  ({n} ops)",
        per.as_secs_f64() * 1e6
    );
}

/// A cache of the pods of `tests` tests (a master and two workers each, labelled as the
/// operator labels them, owned by their Job), as the controller's pod cache holds them, and
/// its index.
fn pod_cache(tests: usize) -> (Store<Pod>, PodIndex) {
    let (reader, mut writer) = reflector::store::<Pod>();
    let index = PodIndex::default();
    for i in 0..tests {
        let test = format!("load-{i:05}");
        for (role, pod) in [("master", "p"), ("worker", "a"), ("worker", "b")] {
            let job = format!("{test}-{role}");
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": {
                    "name": format!("{job}-{pod}"), "namespace": "bench",
                    "labels": {
                        LABEL_TEST_NAME: test, "performance-test-pod-name": job,
                        "managed-by": "locust-k8s-operator", "app": test,
                        "app.kubernetes.io/name": "locust", "app.kubernetes.io/instance": test,
                        "app.kubernetes.io/component": role,
                        "app.kubernetes.io/managed-by": "locust-k8s-operator",
                        "app.kubernetes.io/part-of": "locust-k8s-operator",
                    },
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job,
                                         "uid": format!("uid-{job}"), "controller": true}],
                },
                "status": {"phase": "Running"},
            }))
            .unwrap();
            let event = watcher::Event::Apply(pod);
            writer.apply_watcher_event(&event);
            index.observe(&event);
        }
    }
    (reader, index)
}

fn main() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/valid/v2-full.yaml"
    ))
    .unwrap();
    let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let mut test: LocustTest = serde_json::from_value(value.clone()).unwrap();
    test.metadata.namespace = Some("bench".into());
    test.metadata.uid = Some("0000-1111".into());
    let config = Config {
        affinity_injection: true,
        tolerations_injection: true,
        ..Config::default()
    };

    measure("validate_object (OpenAPI + CEL), full v2 spec", || {
        black_box(validate_object(black_box(&value), "bench", None));
    });
    measure("build_children, full v2 spec", || {
        black_box(build_children(black_box(&test), &config).unwrap());
    });
    measure("convert_object v2 -> v1 (with annotation)", || {
        black_box(convert_object(black_box(&value), "locust.io/v1").unwrap());
    });
    let v1 = convert_object(&value, "locust.io/v1").unwrap();
    measure("convert_object v1 -> v2 (restores the annotation)", || {
        black_box(convert_object(black_box(&v1), "locust.io/v2").unwrap());
    });
    // The reconcile's lookup of one test's pods (reconcile.rs), and the scan it replaced.
    let (pods, index) = pod_cache(1000);
    let (namespace, name) = ("bench".to_string(), "load-00500".to_string());
    let job_uids = [
        "uid-load-00500-master".to_string(),
        "uid-load-00500-worker".to_string(),
    ];
    measure("one test's pods among 3,000 cached (state_filter)", || {
        let found = pods.state_filter(|pod| is_pod_of(pod, &namespace, &name, &job_uids));
        assert_eq!(black_box(found).len(), 3);
    });
    measure("one test's pods among 3,000 cached (pod index)", || {
        let mut found = index.pods_of(&pods, &namespace, &name);
        found.retain(|pod| is_pod_of(pod, &namespace, &name, &job_uids));
        assert_eq!(black_box(found).len(), 3);
    });
}
