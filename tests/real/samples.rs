//! The shipped samples, run for real: the README's v2 test and the v1 test the Go operator's
//! users have, with a locustfile from the ConfigMap and a helper module from the library
//! ConfigMap, workers finding the master through its Service, requests counted at the target.

use std::time::Duration;

use serde_json::Value;

use locust_operator::api::v2::Phase;

use crate::support::Cluster;

use super::common::{
    apply, condition, ensure_operator, exit_codes, follow_to_end, master_log,
    namespace_with_target, pods_of, sample, set_flag,
};

/// The locustfile: imports its helper from the library ConfigMap's mount. Locust puts only the
/// locustfile's own directory on `sys.path`, so the file adds the library path itself.
pub const LOCUSTFILE: &str = r#"import sys
sys.path.insert(0, "/opt/locust/lib")

from locust import HttpUser, constant, task

import helpers


class Visitor(HttpUser):
    wait_time = constant(0.2)

    @task
    def visit(self):
        self.client.get(helpers.PATH, headers=helpers.headers())
"#;

/// The helper module: the path the target counts and the sending worker's host name.
pub const HELPERS: &str = r#"import socket

PATH = "/from-the-lib"


def headers():
    return {"X-Sent-By": socket.gethostname()}
"#;

/// Short runs: 10 s of load, autoquit 3 s after.
const RUN_TIME: &str = "10s";

/// The locustfile and library ConfigMaps under the samples' names.
async fn sample_config_maps(cluster: &Cluster, ns: &str, src: &str, lib: &str) {
    cluster
        .config_map(ns, src, &[("locustfile.py", LOCUSTFILE)])
        .await;
    cluster
        .config_map(ns, lib, &[("helpers.py", HELPERS)])
        .await;
}

fn short_run(command: &str, target: &str) -> String {
    let command = set_flag(command, "--host", target);
    let command = set_flag(&command, "--users", "4");
    let command = set_flag(&command, "--spawn-rate", "4");
    set_flag(&command, "--run-time", RUN_TIME)
}

/// What both samples must show: Pending -> Running -> Succeeded, both workers connected (as
/// the master counted them), master exit 0, and load from both workers at the target.
async fn assert_real_distributed_run(cluster: &Cluster, ns: &str, name: &str) {
    let started = std::time::Instant::now();
    let (phases, test) = follow_to_end(cluster, ns, name, Duration::from_secs(150)).await;
    let took = started.elapsed();
    let log = master_log(cluster, ns, name).await;
    assert_eq!(
        phases,
        [Phase::Pending, Phase::Running, Phase::Succeeded],
        "conditions {:?}\nmaster log:\n{log}",
        test.status.as_ref().and_then(|s| s.conditions.clone())
    );
    let status = test.status.clone().unwrap_or_default();
    assert_eq!(status.expected_workers, Some(2));
    assert_eq!(status.connected_workers, Some(2), "{status:?}");
    let workers = condition(&test, "WorkersConnected").unwrap();
    assert_eq!(workers.0, "True", "{workers:?}");
    assert_eq!(exit_codes(cluster, ns, name, "master").await, [0], "{log}");
    assert_eq!(exit_codes(cluster, ns, name, "worker").await, [0, 0]);

    let seen = cluster.target_requests(ns).await;
    let count = seen["by_path"]["/from-the-lib"].as_i64().unwrap_or(0);
    // 4 users at 5 requests/s each for 10 s: about 200; far fewer means the load did not run.
    assert!(
        (50..=1000).contains(&count),
        "{count} requests reached the target; master log:\n{log}"
    );
    let senders: std::collections::BTreeSet<String> = seen["distinct"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["headers"]["X-Sent-By"].as_str().map(String::from))
        .collect();
    let worker_pods: std::collections::BTreeSet<String> = pods_of(cluster, ns, name, "worker")
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(
        senders, worker_pods,
        "the load must come from both worker pods (and not the master)"
    );
    eprintln!(
        "{ns}/{name}: {count} requests from {} workers, {:.1} s from creation to Succeeded",
        worker_pods.len(),
        took.as_secs_f64()
    );
}

/// The README's v2 test (config/samples/locusttest-v2.yaml) with a library ConfigMap.
pub async fn readme_v2_sample_runs_a_real_distributed_test(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "sample-v2").await;
    let mut test: Value = sample("locusttest-v2.yaml");
    let src = test["spec"]["testFiles"]["configMapRef"]
        .as_str()
        .unwrap()
        .to_string();
    sample_config_maps(cluster, &ns, &src, "demo-lib").await;
    test["spec"]["image"] = cluster.image("locust").into();
    let command = test["spec"]["master"]["command"]
        .as_str()
        .unwrap()
        .to_string();
    test["spec"]["master"]["command"] = short_run(&command, &target).into();
    test["spec"]["master"]["autoquit"]["timeout"] = 3.into();
    test["spec"]["testFiles"]["libConfigMapRef"] = "demo-lib".into();
    apply(cluster, &ns, &test);
    assert_real_distributed_run(cluster, &ns, "demo").await;
}

/// The v1 sample (config/samples/locusttest-v1.yaml, the Go operator's v1 shape), converted by
/// the operator's webhook, with `libConfigMap`.
pub async fn v1_sample_runs_a_real_distributed_test(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "sample-v1").await;
    let mut test: Value = sample("locusttest-v1.yaml");
    let src = test["spec"]["configMap"].as_str().unwrap().to_string();
    sample_config_maps(cluster, &ns, &src, "demo-lib").await;
    test["spec"]["image"] = cluster.image("locust").into();
    let command = test["spec"]["masterCommandSeed"]
        .as_str()
        .unwrap()
        .to_string();
    // v1 has no autoquit field: conversion gives the Go operator's default, 60 s after the run
    // (the operator's --autoquit follows the seed, so the seed cannot shorten it).
    test["spec"]["masterCommandSeed"] = short_run(&command, &target).into();
    test["spec"]["libConfigMap"] = "demo-lib".into();
    apply(cluster, &ns, &test);
    assert_real_distributed_run(cluster, &ns, "demo-v1").await;
}
