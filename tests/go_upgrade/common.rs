//! Helpers of the upgrade tests: the Go operator's objects from tests/fixtures/go-operator-2.3.0,
//! recreated in a namespace as the Go operator 2.3.0 left them, and the operator as a process.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use locust_operator::api::v2::{LocustTest, Phase};

use crate::support::kwok::POD_COMPLETE_DELAY;
use crate::support::operator::{OperatorOptions, OperatorProcess, operator_identity};
use crate::support::{Cluster, Identity, crd, wait};

pub const TIMEOUT: Duration = Duration::from_secs(60);
/// Name of the LocustTest in the fixtures.
pub const GO_TEST: &str = "go-era";

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/go-operator-2.3.0")
}

pub fn fixture(file: &str) -> Value {
    let path = fixture_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn kubectl(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = cluster.run_kubectl(args, stdin);
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A namespace with the CRD, the fixture test's ConfigMap `demo-test`, and the operator's
/// ServiceAccount holding the generated RBAC.
pub async fn prepare(cluster: &Cluster, prefix: &str) -> (String, Identity) {
    crd::install(cluster)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ns = cluster.namespace(prefix).await;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "demo-test"},
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

pub async fn start_operator(cluster: &Cluster, ns: &str, identity: &Identity) -> OperatorProcess {
    let options = OperatorOptions::new(&identity.kubeconfig, ns);
    let mut operator = OperatorProcess::start(cluster, &format!("{ns}-operator"), &options);
    operator.wait_ready().await;
    operator
}

pub fn tests_api(cluster: &Cluster, ns: &str) -> Api<LocustTest> {
    Api::namespaced(cluster.client(), ns)
}

pub fn phase_of(test: &LocustTest) -> Option<Phase> {
    test.status.as_ref().and_then(|s| s.phase)
}

pub fn condition(test: &LocustTest, type_: &str) -> Option<(String, String)> {
    test.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn strip(object: &mut Value, pointers: &[&str]) {
    for pointer in pointers {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        if let Some(Value::Object(map)) = object.pointer_mut(parent) {
            map.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
    }
}

/// The fixture LocustTest as the Go operator left it (finalizer, last-applied annotation),
/// created in `ns` under `name`, with `status` written through the status subresource as the
/// Go operator wrote it. Returns the created test.
pub async fn create_go_test(cluster: &Cluster, ns: &str, name: &str, status: Value) -> LocustTest {
    let mut object = fixture("locusttest-after-run.yaml");
    strip(
        &mut object,
        &[
            "/metadata/uid",
            "/metadata/resourceVersion",
            "/metadata/creationTimestamp",
            "/metadata/generation",
            "/metadata/namespace",
            "/status",
        ],
    );
    object["metadata"]["name"] = json!(name);
    let test: LocustTest = serde_json::from_value(object).unwrap();
    let api = tests_api(cluster, ns);
    let created = api.create(&PostParams::default(), &test).await.unwrap();
    assert_eq!(
        created.metadata.finalizers,
        Some(vec!["locust.io/cleanup".to_string()])
    );
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap()
}

/// The status the Go operator wrote once it had created the children of a test that runs.
pub fn go_running_status(start_time: &str) -> Value {
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": start_time, "observedGeneration": 1})
    };
    json!({
        "phase": "Running",
        "observedGeneration": 1,
        "expectedWorkers": 2,
        "connectedWorkers": 0,
        "startTime": start_time,
        "conditions": [
            condition("Ready", "True", "ResourcesCreated", "All resources created"),
            condition("WorkersConnected", "False", "WorkersMissing", "0/2 workers connected"),
            condition("TestCompleted", "False", "TestInProgress", "Test has not started"),
            condition("PodsHealthy", "True", "PodsStarting", "Pods are starting up"),
        ],
    })
}

/// The fixture's Jobs and Service, created for `test` as the Go operator created them: no
/// labels on the Jobs (the API server copies the pod template's), none on the Service, a
/// controller owner reference to the test. Pods stay Running until told otherwise.
pub async fn create_go_children(
    cluster: &Cluster,
    ns: &str,
    test: &LocustTest,
) -> (Job, Job, Service) {
    let list = fixture("children.yaml");
    let uid = test.uid().unwrap();
    let mut created = Vec::new();
    for mut item in list["items"].as_array().unwrap().clone() {
        strip(
            &mut item,
            &[
                "/metadata/uid",
                "/metadata/resourceVersion",
                "/metadata/creationTimestamp",
                "/metadata/generation",
                "/metadata/namespace",
                "/metadata/labels",
                "/status",
                "/spec/selector",
                "/spec/clusterIP",
                "/spec/clusterIPs",
                "/spec/template/metadata/labels/batch.kubernetes.io~1controller-uid",
                "/spec/template/metadata/labels/batch.kubernetes.io~1job-name",
                "/spec/template/metadata/labels/controller-uid",
                "/spec/template/metadata/labels/job-name",
            ],
        );
        item["metadata"]["ownerReferences"][0]["uid"] = json!(uid);
        if item["kind"] == "Job" {
            item["spec"]["template"]["metadata"]["annotations"][POD_COMPLETE_DELAY] = json!("1h");
        }
        created.push(item);
    }
    let jobs = Api::<Job>::namespaced(cluster.client(), ns);
    let services = Api::<Service>::namespaced(cluster.client(), ns);
    let post = PostParams::default();
    let master = jobs
        .create(&post, &serde_json::from_value(created[0].clone()).unwrap())
        .await
        .unwrap();
    let worker = jobs
        .create(&post, &serde_json::from_value(created[1].clone()).unwrap())
        .await
        .unwrap();
    let service = services
        .create(&post, &serde_json::from_value(created[2].clone()).unwrap())
        .await
        .unwrap();
    // As the Go operator's: the Go labels only, copied from the template by the API server.
    assert!(master.labels().contains_key("performance-test-pod-name"));
    assert!(!master.labels().contains_key("app.kubernetes.io/managed-by"));
    assert!(service.labels().is_empty());
    (master, worker, service)
}

/// Pods of a test selected by its Go labels, with their phases.
pub async fn running_pods(cluster: &Cluster, ns: &str, selector: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(cluster.client(), ns)
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
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

/// Reports the pod's Locust container as exited 0, as a kubelet would.
pub async fn finish_pod(cluster: &Cluster, ns: &str, pod: &Pod) {
    let container = pod.spec.as_ref().unwrap().containers[0].name.clone();
    Api::<Pod>::namespaced(cluster.client(), ns)
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Succeeded", "containerStatuses": [{
                "name": container, "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}})),
        )
        .await
        .unwrap();
}

pub async fn wait_test(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&LocustTest) -> bool,
) -> LocustTest {
    wait_test_within(cluster, ns, name, what, TIMEOUT, check).await
}

pub async fn wait_test_within(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&LocustTest) -> bool,
) -> LocustTest {
    let api = tests_api(cluster, ns);
    wait::until_ok(&format!("{ns}/{name}: {what}"), timeout, async || {
        let test = api.get(name).await.map_err(|e| e.to_string())?;
        if check(&test) {
            Ok(test)
        } else {
            Err(format!(
                "finalizers {:?}, status {}",
                test.metadata.finalizers,
                serde_json::to_string(&test.status).unwrap()
            ))
        }
    })
    .await
}
