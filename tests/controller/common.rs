//! What the controller tests share (tests/controller.rs and tests/controller_scale.rs): a
//! prepared namespace, LocustTests kwok keeps running, waiting for a phase, pods and events,
//! the operator as a process.
// Each binary uses a different part.
#![allow(unused_imports, dead_code)]

pub(crate) use std::collections::BTreeSet;
pub(crate) use std::sync::Arc;
pub(crate) use std::time::{Duration, Instant};

pub(crate) use futures::StreamExt;
pub(crate) use k8s_openapi::api::batch::v1::Job;
pub(crate) use k8s_openapi::api::coordination::v1::Lease;
pub(crate) use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
pub(crate) use k8s_openapi::api::events::v1::Event;
pub(crate) use kube::ResourceExt;
pub(crate) use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams,
};
pub(crate) use kube::runtime::watcher;
pub(crate) use serde_json::{Value, json};

pub(crate) use crate::support::kwok::POD_COMPLETE_DELAY;
pub(crate) use crate::support::operator::{OperatorOptions, OperatorProcess, operator_identity};
pub(crate) use crate::support::{self, Cluster, Mode, crd, wait};
pub(crate) use locust_operator::api::v2::{LocustTest, Phase};

/// A namespace with the CRD installed, the test's locustfile ConfigMap, and the operator's
/// ServiceAccount holding the generated RBAC.
pub async fn prepare(cluster: &Cluster, prefix: &str) -> (String, support::Identity) {
    crd::install(cluster)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ns = cluster.namespace(prefix).await;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "plan"},
        "data": {"locustfile.py": "from locust import HttpUser, task\n"},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(cluster.client(), &ns)
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
    let identity = operator_identity(cluster, &ns).await;
    (ns, identity)
}

/// A v2 LocustTest; kwok keeps each pod running for the given delays ("1h" = until told).
pub fn locust_test(name: &str, replicas: i32, master_delay: &str, worker_delay: &str) -> Value {
    json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": "locustio/locust:2.43.3",
            "master": {
                "command": "--locustfile /lotest/src/locustfile.py --host http://target --users 10 --run-time 1m",
                "annotations": {POD_COMPLETE_DELAY: master_delay},
            },
            "worker": {
                "command": "--locustfile /lotest/src/locustfile.py",
                "replicas": replicas,
                "annotations": {POD_COMPLETE_DELAY: worker_delay},
            },
            "testFiles": {"configMapRef": "plan"},
        }
    })
}

pub fn tests_api(cluster: &Cluster, ns: &str) -> Api<LocustTest> {
    Api::namespaced(cluster.client(), ns)
}

pub async fn create(cluster: &Cluster, ns: &str, object: Value) -> LocustTest {
    let test: LocustTest = serde_json::from_value(object).unwrap();
    tests_api(cluster, ns)
        .create(&PostParams::default(), &test)
        .await
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", test.name_any()))
}

pub fn phase_of(test: &LocustTest) -> Option<Phase> {
    test.status.as_ref().and_then(|s| s.phase)
}

pub fn condition<'a>(
    test: &'a LocustTest,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    test.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

pub async fn wait_phase(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    phase: Phase,
    timeout: Duration,
) -> LocustTest {
    let api = tests_api(cluster, ns);
    wait::until_ok(
        &format!("{ns}/{name} to reach {}", phase.as_str()),
        timeout,
        async || {
            let test = api.get(name).await.map_err(|e| e.to_string())?;
            match phase_of(&test) {
                Some(p) if p == phase => Ok(test),
                Some(p) if p.is_terminal() => panic!(
                    "{ns}/{name} ended {} instead of reaching {}: {:?}",
                    p.as_str(),
                    phase.as_str(),
                    test.status.as_ref().and_then(|s| s.conditions.clone())
                ),
                other => Err(format!(
                    "phase {other:?}, conditions {:?}",
                    test.status.as_ref().and_then(|s| s.conditions.clone())
                )),
            }
        },
    )
    .await
}

pub async fn pods_of(cluster: &Cluster, ns: &str, name: &str, role: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(cluster.client(), ns)
        .list(&ListParams::default().labels(&format!(
            "performance-test-name={name},app.kubernetes.io/component={role}"
        )))
        .await
        .unwrap()
        .items
}

pub async fn event_reasons(cluster: &Cluster, ns: &str, name: &str) -> BTreeSet<String> {
    Api::<Event>::namespaced(cluster.client(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

/// Sets a pod's status as a kubelet would report it.
pub async fn report_pod_status(cluster: &Cluster, ns: &str, pod: &str, status: Value) {
    Api::<Pod>::namespaced(cluster.client(), ns)
        .patch_status(
            pod,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
}

pub fn container_name(pod: &Pod) -> String {
    pod.spec.as_ref().unwrap().containers[0].name.clone()
}

pub async fn start_operator(
    cluster: &Cluster,
    ns: &str,
    identity: &support::Identity,
    grace: &str,
) -> OperatorProcess {
    let mut options = OperatorOptions::new(&identity.kubeconfig, ns);
    options.grace = grace;
    let mut operator = OperatorProcess::start(cluster, &format!("{ns}-operator"), &options);
    operator.wait_ready().await;
    operator
}
