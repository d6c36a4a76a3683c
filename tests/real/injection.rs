//! What the spec injects reaches the Locust process: env from ConfigMaps (with a prefix) and
//! Secrets, variables (literal and valueFrom), secret mounts and a user volume mounted on the
//! workers only. The locustfile reports what it saw to the target in a request header; the
//! master reports once at start, each worker with every request.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use locust_operator::api::v2::Phase;

use crate::support::Cluster;

use super::common::{
    apply, ensure_operator, follow_to_end, master_log, namespace_with_target, pods_of,
};

const LOCUSTFILE: &str = r#"import json, os, socket, urllib.request

from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return None


def seen():
    return json.dumps({
        "APP_greeting": os.environ.get("APP_greeting"),
        "token": os.environ.get("token"),
        "TARGET_ENV": os.environ.get("TARGET_ENV"),
        "API_TOKEN": os.environ.get("API_TOKEN"),
        "POD_NAME": os.environ.get("POD_NAME"),
        "hostname": socket.gethostname(),
        "tls": read("/etc/locust/tls/ca.crt"),
        "worker_data": read("/data/value.txt"),
    })


@events.init.add_listener
def report_from_master(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        request = urllib.request.Request(environment.host + "/seen/master", headers={"X-Seen": seen()})
        urllib.request.urlopen(request, timeout=10).read()


class Reporter(HttpUser):
    wait_time = constant(0.5)

    @task
    def report(self):
        self.client.get("/seen/worker", headers={"X-Seen": seen()})
"#;

/// env.configMapRefs (prefix APP_), env.secretRefs, env.variables (a literal, a secretKeyRef
/// and a fieldRef), env.secretMounts and a ConfigMap volume with `target: worker`.
pub async fn env_secrets_and_volumes_reach_the_locust_process(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "injection").await;
    cluster
        .config_map(&ns, "plan", &[("locustfile.py", LOCUSTFILE)])
        .await;
    cluster
        .config_map(&ns, "app-settings", &[("greeting", "hello")])
        .await;
    cluster
        .config_map(&ns, "worker-data", &[("value.txt", "for workers")])
        .await;
    let secrets = Api::<Secret>::namespaced(cluster.client(), &ns);
    for (name, data) in [
        ("api-tokens", json!({"token": "s3cret"})),
        ("tls-client", json!({"ca.crt": "-----TEST CA-----"})),
    ] {
        let secret: Secret =
            serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data}))
                .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let test = json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "injection"},
        "spec": {
            "image": cluster.image("locust"),
            "master": {
                "command": format!("--locustfile /lotest/src/locustfile.py --host {target} --users 2 --spawn-rate 2 --run-time 6s"),
                "autoquit": {"enabled": true, "timeout": 2},
            },
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 2},
            "testFiles": {"configMapRef": "plan"},
            "env": {
                "configMapRefs": [{"name": "app-settings", "prefix": "APP_"}],
                "secretRefs": [{"name": "api-tokens"}],
                "variables": [
                    {"name": "TARGET_ENV", "value": "staging"},
                    {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-tokens", "key": "token"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "secretMounts": [{"name": "tls-client", "mountPath": "/etc/locust/tls"}],
            },
            "volumes": [{"name": "worker-data", "configMap": {"name": "worker-data"}}],
            "volumeMounts": [{"name": "worker-data", "mountPath": "/data", "target": "worker"}],
        },
    });
    apply(cluster, &ns, &test);
    let (phases, _) = follow_to_end(cluster, &ns, "injection", Duration::from_secs(150)).await;
    let log = master_log(cluster, &ns, "injection").await;
    assert_eq!(phases.last(), Some(&Phase::Succeeded), "{phases:?}\n{log}");

    let record = cluster.target_requests(&ns).await;
    let mut reports: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in record["distinct"].as_array().unwrap() {
        let Some(seen) = entry["headers"]["X-Seen"].as_str() else {
            continue;
        };
        let seen: Value = serde_json::from_str(seen).unwrap();
        let role = entry["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("/seen/")
            .to_string();
        reports.entry(role).or_default().push(seen);
    }
    let masters = reports.get("master").cloned().unwrap_or_default();
    let workers = reports.get("worker").cloned().unwrap_or_default();
    assert_eq!(masters.len(), 1, "one report from the master: {reports:?}");
    let worker_pods: Vec<String> = pods_of(cluster, &ns, "injection", "worker")
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    let reporting: std::collections::BTreeSet<&str> = workers
        .iter()
        .filter_map(|w| w["POD_NAME"].as_str())
        .collect();
    assert_eq!(
        reporting.len(),
        2,
        "both workers report: {workers:?} (pods {worker_pods:?})"
    );
    for (role, seen) in masters
        .iter()
        .map(|s| ("master", s))
        .chain(workers.iter().map(|s| ("worker", s)))
    {
        assert_eq!(
            seen["APP_greeting"], "hello",
            "{role}: configMapRefs with prefix: {seen}"
        );
        assert_eq!(seen["token"], "s3cret", "{role}: secretRefs: {seen}");
        assert_eq!(seen["TARGET_ENV"], "staging", "{role}: variables: {seen}");
        assert_eq!(
            seen["API_TOKEN"], "s3cret",
            "{role}: valueFrom secretKeyRef: {seen}"
        );
        assert_eq!(
            seen["POD_NAME"], seen["hostname"],
            "{role}: valueFrom fieldRef: {seen}"
        );
        assert_eq!(
            seen["tls"], "-----TEST CA-----",
            "{role}: secretMounts: {seen}"
        );
        let expected_data = if role == "worker" {
            json!("for workers")
        } else {
            Value::Null
        };
        assert_eq!(
            seen["worker_data"], expected_data,
            "{role}: volume with target worker: {seen}"
        );
    }
}
