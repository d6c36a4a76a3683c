//! The controller on a simulated cluster (API server, controller-manager, scheduler, kwok fake
//! nodes), run as a separate `locust-k8s-operator run` process with only the RBAC we ship.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "controller/failures.rs"]
mod failures;
#[path = "controller/references.rs"]
mod references;
mod support;

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

use locust_operator::api::v2::{LocustTest, Phase};
use support::kwok::POD_COMPLETE_DELAY;
use support::operator::{OperatorOptions, OperatorProcess, operator_identity};
use support::{Cluster, Mode, crd, wait};

use failures::{
    pod_problems_fail_the_test_with_their_reason, taken_names_and_rejected_children_fail_the_test,
};
use references::config_maps_are_waited_for_then_missing_ones_fail_the_test;

fn main() -> ExitCode {
    support::harness::main(
        Mode::SimulatedCluster,
        trials![
            v2_test_runs_to_succeeded_with_children_status_and_events,
            master_failure_fails_the_test_with_a_reason,
            config_maps_are_waited_for_then_missing_ones_fail_the_test,
            pod_problems_fail_the_test_with_their_reason,
            taken_names_and_rejected_children_fail_the_test,
            deleted_children_are_recreated_while_running_and_left_alone_after,
            evicted_worker_is_replaced_and_evicted_master_fails_the_test,
            deleting_a_test_removes_its_children_even_without_the_operator,
            forbidden_field_fails_the_test_naming_field_and_switch,
            operator_identity_holds_only_the_generated_rights,
            baseline_and_restricted_namespaces_admit_the_pods,
            restart_while_creating_fifty_tests_leaves_one_set_of_children_each,
            standby_replica_takes_over_when_the_leader_dies,
            sigterm_stops_the_leader_cleanly_and_hands_the_lease_over,
            hundred_tests_reach_running,
        ],
    )
}

/// A namespace with the CRD installed, the test's locustfile ConfigMap, and the operator's
/// ServiceAccount holding the generated RBAC.
async fn prepare(cluster: &Cluster, prefix: &str) -> (String, support::Identity) {
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
fn locust_test(name: &str, replicas: i32, master_delay: &str, worker_delay: &str) -> Value {
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

fn tests_api(cluster: &Cluster, ns: &str) -> Api<LocustTest> {
    Api::namespaced(cluster.client(), ns)
}

async fn create(cluster: &Cluster, ns: &str, object: Value) -> LocustTest {
    let test: LocustTest = serde_json::from_value(object).unwrap();
    tests_api(cluster, ns)
        .create(&PostParams::default(), &test)
        .await
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", test.name_any()))
}

fn phase_of(test: &LocustTest) -> Option<Phase> {
    test.status.as_ref().and_then(|s| s.phase)
}

fn condition<'a>(
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

async fn wait_phase(
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

async fn pods_of(cluster: &Cluster, ns: &str, name: &str, role: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(cluster.client(), ns)
        .list(&ListParams::default().labels(&format!(
            "performance-test-name={name},app.kubernetes.io/component={role}"
        )))
        .await
        .unwrap()
        .items
}

async fn event_reasons(cluster: &Cluster, ns: &str, name: &str) -> BTreeSet<String> {
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
async fn report_pod_status(cluster: &Cluster, ns: &str, pod: &str, status: Value) {
    Api::<Pod>::namespaced(cluster.client(), ns)
        .patch_status(
            pod,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
}

fn container_name(pod: &Pod) -> String {
    pod.spec.as_ref().unwrap().containers[0].name.clone()
}

async fn start_operator(
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

async fn v2_test_runs_to_succeeded_with_children_status_and_events(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "lifecycle").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;

    // Record every phase the test goes through, from before it exists.
    let api = tests_api(cluster, &ns);
    let watch = watcher(
        api.clone(),
        watcher::Config::default().fields("metadata.name=team.demo"),
    );
    let phases = Arc::new(std::sync::Mutex::new(Vec::<Phase>::new()));
    let recorder = {
        let phases = phases.clone();
        tokio::spawn(async move {
            let mut watch = std::pin::pin!(watch);
            while let Some(Ok(event)) = watch.next().await {
                if let watcher::Event::Apply(test) | watcher::Event::InitApply(test) = event
                    && let Some(phase) = phase_of(&test)
                {
                    let mut seen = phases.lock().unwrap();
                    if seen.last() != Some(&phase) {
                        seen.push(phase);
                    }
                }
            }
        })
    };

    let created = create(cluster, &ns, locust_test("team.demo", 2, "6s", "30s")).await;
    let uid = created.uid().unwrap();
    let running = wait_phase(
        cluster,
        &ns,
        "team.demo",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    let status = running.status.clone().unwrap();
    assert!(status.start_time.is_some());
    assert_eq!(status.expected_workers, Some(2));

    // Children: names with dots replaced, labels, owner references, Locust arguments.
    let service = Api::<Service>::namespaced(cluster.client(), &ns)
        .get("team-demo-master")
        .await
        .unwrap();
    let ports: Vec<i32> = service
        .spec
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, vec![5557, 5558, 8089, 9646]);
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    for (job_name, expected_args) in [
        (
            "team-demo-master",
            vec![
                "--master",
                "--master-bind-port=5557",
                "--expect-workers=2",
                "--autostart",
            ],
        ),
        (
            "team-demo-worker",
            vec![
                "--worker",
                "--master-port=5557",
                "--master-host=team-demo-master",
            ],
        ),
    ] {
        let job = jobs.get(job_name).await.unwrap();
        let owner = &job.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("LocustTest", uid.as_str(), Some(true))
        );
        assert_eq!(
            job.labels()
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("locust-k8s-operator")
        );
        let args = job
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .args
            .clone()
            .unwrap();
        for expected in expected_args {
            assert!(
                args.iter().any(|a| a == expected),
                "{job_name}: {expected} missing from {args:?}"
            );
        }
    }
    assert_eq!(service.owner_references()[0].uid, uid);

    // Pods run on kwok's fake nodes.
    let pods = pods_of(cluster, &ns, "team.demo", "worker").await;
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        let node = pod
            .spec
            .as_ref()
            .unwrap()
            .node_name
            .clone()
            .unwrap_or_default();
        assert!(
            node.starts_with("kwok-node-"),
            "{} on {node:?}",
            pod.name_any()
        );
    }

    // The master completes (kwok: exit 0 after 6 s): Succeeded, final conditions.
    let done = wait_phase(
        cluster,
        &ns,
        "team.demo",
        Phase::Succeeded,
        Duration::from_secs(60),
    )
    .await;
    let status = done.status.clone().unwrap();
    assert!(status.completion_time.is_some());
    assert!(status.completion_time >= status.start_time);
    let completed = condition(&done, "TestCompleted").unwrap();
    assert_eq!(
        (completed.status.as_str(), completed.reason.as_str()),
        ("True", "TestSucceeded")
    );
    assert_eq!(condition(&done, "Ready").unwrap().status, "True");
    // kwok's pods run no Locust: there is no master web API to read, so the workers are
    // counted from the running pods and the status says so.
    assert_eq!(
        condition(&done, "WorkersConnected").unwrap().message,
        "2/2 workers connected (estimated from running worker pods)"
    );
    let stats = condition(&done, "StatsAvailable").unwrap();
    assert_ne!(stats.status, "True", "{stats:?}");
    assert!(status.result.is_none() && status.live_stats.is_none());
    assert_eq!(status.observed_generation, done.metadata.generation);

    // kubectl wait works on both the phase and the condition.
    for condition in [
        "--for=jsonpath={.status.phase}=Succeeded",
        "--for=condition=TestCompleted",
    ] {
        let out = cluster.run_kubectl(
            &[
                "wait",
                condition,
                "lotest/team.demo",
                "-n",
                &ns,
                "--timeout=10s",
            ],
            None,
        );
        assert!(
            out.status.success(),
            "kubectl wait {condition}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let reasons = event_reasons(cluster, &ns, "team.demo").await;
    for reason in [
        "Created",
        "TestStarted",
        "AllWorkersConnected",
        "TestCompleted",
    ] {
        assert!(
            reasons.contains(reason),
            "event {reason} missing from {reasons:?}"
        );
    }
    recorder.abort();
    let seen = phases.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![Phase::Pending, Phase::Running, Phase::Succeeded],
        "phases seen: {seen:?}"
    );
}

async fn master_failure_fails_the_test_with_a_reason(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "master-fails").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    create(cluster, &ns, locust_test("failing", 1, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "failing",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;

    // The Locust master exits 1 (a request failed).
    let master = pods_of(cluster, &ns, "failing", "master").await.remove(0);
    let container = container_name(&master);
    report_pod_status(
        cluster,
        &ns,
        &master.name_any(),
        json!({"phase": "Failed", "containerStatuses": [{
            "name": container, "image": "locustio/locust:2.43.3", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
    )
    .await;
    let failed = wait_phase(
        cluster,
        &ns,
        "failing",
        Phase::Failed,
        Duration::from_secs(60),
    )
    .await;
    let completed = condition(&failed, "TestCompleted").unwrap();
    assert_eq!(completed.reason, "MasterFailed");
    assert!(
        completed.message.contains("exited with code 1"),
        "{}",
        completed.message
    );
    assert!(
        event_reasons(cluster, &ns, "failing")
            .await
            .contains("TestFailed")
    );
}

async fn deleted_children_are_recreated_while_running_and_left_alone_after(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare(cluster, "recreate").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    create(cluster, &ns, locust_test("resilient", 1, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "resilient",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;

    let services = Api::<Service>::namespaced(cluster.client(), &ns);
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let old_service = services.get("resilient-master").await.unwrap().uid();
    services
        .delete("resilient-master", &DeleteParams::default())
        .await
        .unwrap();
    wait::until(
        "the Service to be recreated",
        Duration::from_secs(30),
        async || {
            services
                .get_opt("resilient-master")
                .await
                .unwrap()
                .filter(|s| s.uid() != old_service)
        },
    )
    .await;
    let old_job = jobs.get("resilient-master").await.unwrap().uid();
    jobs.delete("resilient-master", &DeleteParams::background())
        .await
        .unwrap();
    let new_job = wait::until(
        "the master Job to be recreated",
        Duration::from_secs(30),
        async || {
            jobs.get_opt("resilient-master")
                .await
                .unwrap()
                .filter(|j| j.uid() != old_job)
        },
    )
    .await
    .uid();
    assert!(
        event_reasons(cluster, &ns, "resilient")
            .await
            .contains("ResourceDeleted")
    );
    assert_eq!(
        phase_of(&tests_api(cluster, &ns).get("resilient").await.unwrap()),
        Some(Phase::Running),
        "a recreated child does not send the test back to Pending"
    );

    // Finish the test: the new master pod exits 0.
    let master = wait::until("the new master pod", Duration::from_secs(30), async || {
        pods_of(cluster, &ns, "resilient", "master")
            .await
            .into_iter()
            .find(|p| {
                p.owner_references()
                    .iter()
                    .any(|o| Some(&o.uid) == new_job.as_ref())
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
    })
    .await;
    report_pod_status(
        cluster,
        &ns,
        &master.name_any(),
        json!({"phase": "Succeeded", "containerStatuses": [{
            "name": container_name(&master), "image": "x", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
    )
    .await;
    wait_phase(
        cluster,
        &ns,
        "resilient",
        Phase::Succeeded,
        Duration::from_secs(60),
    )
    .await;

    // After the end, a missing child (as after TTL cleanup) stays missing, even when the test
    // is touched and reconciled again.
    services
        .delete("resilient-master", &DeleteParams::default())
        .await
        .unwrap();
    tests_api(cluster, &ns)
        .patch(
            "resilient",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        services
            .get_opt("resilient-master")
            .await
            .unwrap()
            .is_none()
    );
}

async fn evicted_worker_is_replaced_and_evicted_master_fails_the_test(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "evict").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    create(cluster, &ns, locust_test("drained", 2, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "drained",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    let pods = Api::<Pod>::namespaced(cluster.client(), &ns);

    // A node drain takes a worker: the Job replaces it and the test goes on.
    let worker = pods_of(cluster, &ns, "drained", "worker").await.remove(0);
    pods.evict(&worker.name_any(), &EvictParams::default())
        .await
        .unwrap();
    let replacement = wait::until(
        "a replacement worker",
        Duration::from_secs(60),
        async || {
            pods_of(cluster, &ns, "drained", "worker")
                .await
                .into_iter()
                .find(|p| {
                    p.uid() != worker.uid()
                        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                })
        },
    )
    .await;
    let test = tests_api(cluster, &ns).get("drained").await.unwrap();
    assert_eq!(phase_of(&test), Some(Phase::Running), "{:?}", test.status);
    let worker_job = Api::<Job>::namespaced(cluster.client(), &ns)
        .get("drained-worker")
        .await
        .unwrap();
    let failed = worker_job
        .status
        .as_ref()
        .and_then(|s| s.failed)
        .unwrap_or(0);
    assert_eq!(failed, 0, "an evicted worker must not count as a failure");
    eprintln!(
        "evicted worker {} replaced by {}",
        worker.name_any(),
        replacement.name_any()
    );

    // Losing the master ends the test.
    let master = pods_of(cluster, &ns, "drained", "master").await.remove(0);
    pods.evict(&master.name_any(), &EvictParams::default())
        .await
        .unwrap();
    let failed = wait_phase(
        cluster,
        &ns,
        "drained",
        Phase::Failed,
        Duration::from_secs(60),
    )
    .await;
    let completed = condition(&failed, "TestCompleted").unwrap();
    assert_eq!(completed.reason, "MasterEvicted", "{}", completed.message);
}

async fn deleting_a_test_removes_its_children_even_without_the_operator(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "delete").await;
    let mut operator = start_operator(cluster, &ns, &identity, "2m").await;
    create(cluster, &ns, locust_test("short-lived", 1, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "short-lived",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    operator.kill();

    let started = Instant::now();
    let out = cluster.run_kubectl(
        &[
            "delete",
            "lotest",
            "short-lived",
            "-n",
            &ns,
            "--timeout=30s",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "deletion hung without the operator"
    );
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let services = Api::<Service>::namespaced(cluster.client(), &ns);
    wait::until_ok(
        "garbage collection of the children",
        Duration::from_secs(60),
        async || {
            let j = jobs.list(&ListParams::default()).await.unwrap().items.len();
            let s = services
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len();
            if j + s == 0 {
                Ok(())
            } else {
                Err(format!("{j} Jobs and {s} Services left"))
            }
        },
    )
    .await;
}

async fn forbidden_field_fails_the_test_naming_field_and_switch(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "forbidden").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    let mut test = locust_test("pinned", 1, "1h", "1h");
    test["spec"]["scheduling"] = json!({"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]});
    create(cluster, &ns, test).await;
    let failed = wait_phase(
        cluster,
        &ns,
        "pinned",
        Phase::Failed,
        Duration::from_secs(60),
    )
    .await;
    let completed = condition(&failed, "TestCompleted").unwrap();
    assert_eq!(completed.reason, "ForbiddenByOperatorConfig");
    assert!(
        completed.message.contains("spec.scheduling.tolerations"),
        "{}",
        completed.message
    );
    assert!(
        completed
            .message
            .contains("ENABLE_TAINT_TOLERATIONS_CR_INJECTION"),
        "{}",
        completed.message
    );
    // Nothing was created for it, and it is not retried.
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(jobs.items.is_empty());
}

async fn operator_identity_holds_only_the_generated_rights(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "rbac").await;
    let other = cluster.namespace("rbac-other").await;
    // Secrets: only in its own namespace.
    assert!(
        Api::<Secret>::namespaced(identity.client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .is_ok()
    );
    let denied = Api::<Secret>::namespaced(identity.client.clone(), &other)
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
    // No CRD creation, no deleting tests, no Namespaces.
    let denied = Api::<Namespace>::all(identity.client.clone())
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
    let denied = Api::<LocustTest>::namespaced(identity.client.clone(), &ns)
        .delete("anything", &DeleteParams::default())
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
}

async fn baseline_and_restricted_namespaces_admit_the_pods(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "pss").await;
    let _operator = {
        let mut options = OperatorOptions::new(&identity.kubeconfig, &ns);
        options.watch_namespace = None;
        let mut operator = OperatorProcess::start(cluster, &format!("{ns}-operator"), &options);
        operator.wait_ready().await;
        operator
    };
    let namespaces = Api::<Namespace>::all(cluster.client());
    let mut cases = Vec::new();
    for (level, security) in [
        ("baseline", None),
        (
            "restricted",
            Some(json!({
                "podSecurityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            })),
        ),
    ] {
        let target = cluster.namespace(&format!("pss-{level}")).await;
        namespaces
            .patch(
                &target,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                }}})),
            )
            .await
            .unwrap();
        Api::<ConfigMap>::namespaced(cluster.client(), &target)
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "plan"}})).unwrap(),
            )
            .await
            .unwrap();
        let mut test = locust_test("secure", 1, "1h", "1h");
        if let Some(security) = security {
            test["spec"]["security"] = security;
        }
        create(cluster, &target, test).await;
        cases.push((level, target));
    }
    for (level, target) in &cases {
        wait_phase(
            cluster,
            target,
            "secure",
            Phase::Running,
            Duration::from_secs(60),
        )
        .await;
        for role in ["master", "worker"] {
            assert_eq!(
                pods_of(cluster, target, "secure", role).await.len(),
                1,
                "{level}: {role} pod not admitted"
            );
        }
    }
    // Without the documented block, the restricted level refuses the pods: the block is needed.
    let (_, restricted) = &cases[1];
    let mut plain = locust_test("insecure", 1, "1h", "1h");
    plain["metadata"]["name"] = json!("insecure");
    create(cluster, restricted, plain).await;
    let jobs = Api::<Job>::namespaced(cluster.client(), restricted);
    wait::until_ok(
        "the restricted level to refuse default pods",
        Duration::from_secs(60),
        async || {
            let job = jobs
                .get_opt("insecure-master")
                .await
                .unwrap()
                .ok_or("no Job yet")?;
            let events =
                Api::<k8s_openapi::api::core::v1::Event>::namespaced(cluster.client(), restricted)
                    .list(&ListParams::default().fields("involvedObject.name=insecure-master"))
                    .await
                    .unwrap();
            let refused = events.items.iter().any(|e| {
                e.message
                    .as_deref()
                    .unwrap_or("")
                    .contains("violates PodSecurity \"restricted")
            });
            if refused && job.status.as_ref().and_then(|s| s.active).unwrap_or(0) == 0 {
                Ok(())
            } else {
                Err("pods not refused yet".to_string())
            }
        },
    )
    .await;
}

async fn restart_while_creating_fifty_tests_leaves_one_set_of_children_each(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare(cluster, "restart").await;
    let mut operator = start_operator(cluster, &ns, &identity, "2m").await;
    let names: Vec<String> = (0..50).map(|i| format!("burst-{i}")).collect();
    let creations = futures::future::join_all(
        names
            .iter()
            .map(|name| create(cluster, &ns, locust_test(name, 1, "1h", "1h"))),
    );
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let kill_when_busy = async {
        // Kill the operator while it is in the middle of creating children.
        wait::until(
            "the operator to start creating children",
            Duration::from_secs(60),
            async || {
                let n = jobs.list(&ListParams::default()).await.unwrap().items.len();
                (n >= 10).then_some(n)
            },
        )
        .await
    };
    let (_, created_before_kill) = tokio::join!(creations, kill_when_busy);
    operator.kill();
    eprintln!("killed the operator after {created_before_kill} Jobs existed");
    let _restarted = start_operator(cluster, &ns, &identity, "2m").await;

    let api = tests_api(cluster, &ns);
    wait::until_ok(
        "every test to have its children",
        Duration::from_secs(150),
        async || {
            let tests = api.list(&ListParams::default()).await.unwrap().items;
            let ready = tests
                .iter()
                .filter(|t| condition(t, "Ready").is_some_and(|c| c.status == "True"))
                .count();
            if ready == names.len() {
                Ok(())
            } else {
                Err(format!("{ready}/{} ready", names.len()))
            }
        },
    )
    .await;
    let jobs = jobs.list(&ListParams::default()).await.unwrap().items;
    let services = Api::<Service>::namespaced(cluster.client(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(jobs.len(), 100, "two Jobs per test");
    assert_eq!(services.len(), 50, "one Service per test");
    for name in &names {
        let prefix = format!("{name}-");
        assert_eq!(
            jobs.iter()
                .filter(|j| j.name_any().starts_with(&prefix))
                .count(),
            2,
            "{name}"
        );
    }
}

/// An operator replica with leader election on.
fn replica(
    cluster: &Cluster,
    ns: &str,
    identity: &support::Identity,
    name: &str,
) -> OperatorProcess {
    let mut options = OperatorOptions::new(&identity.kubeconfig, ns);
    options.leader_elect = true;
    OperatorProcess::start(cluster, name, &options)
}

/// Who holds the leader Lease in `ns`.
async fn lease_holder(cluster: &Cluster, ns: &str) -> Option<String> {
    Api::<Lease>::namespaced(cluster.client(), ns)
        .get_opt("locust-k8s-operator.locust.io")
        .await
        .unwrap()
        .and_then(|l| l.spec?.holder_identity)
}

async fn standby_replica_takes_over_when_the_leader_dies(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "leader").await;
    let start = |name: &str| replica(cluster, &ns, &identity, name);
    let mut first = start("replica-a");
    first.wait_ready().await;
    let mut second = start("replica-b");
    second.wait_ready().await;
    let holder = || lease_holder(cluster, &ns);
    let leader = wait::until("a leader", Duration::from_secs(30), async || holder().await).await;
    create(cluster, &ns, locust_test("before", 1, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "before",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;

    let (dead, survivor) = if leader == "replica-a" {
        (&mut first, "replica-b")
    } else {
        (&mut second, "replica-a")
    };
    dead.kill();
    let killed_at = Instant::now();
    create(cluster, &ns, locust_test("after", 1, "1h", "1h")).await;
    let new_leader = wait::until(
        "the standby to take the lease",
        Duration::from_secs(60),
        async || holder().await.filter(|h| h == survivor),
    )
    .await;
    wait_phase(
        cluster,
        &ns,
        "after",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    eprintln!(
        "leader {leader} killed; {new_leader} reconciled a new test {:.1}s later",
        killed_at.elapsed().as_secs_f64()
    );
}

async fn sigterm_stops_the_leader_cleanly_and_hands_the_lease_over(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "sigterm").await;
    let start = |name: &str| replica(cluster, &ns, &identity, name);
    let mut first = start("replica-a");
    first.wait_ready().await;
    let holder = || lease_holder(cluster, &ns);
    wait::until("replica-a to lead", Duration::from_secs(30), async || {
        holder().await.filter(|h| h == "replica-a")
    })
    .await;
    let mut second = start("replica-b");
    second.wait_ready().await;

    let stopped_at = Instant::now();
    assert!(
        first.terminate(Duration::from_secs(20)),
        "the leader did not exit on SIGTERM"
    );
    assert_eq!(first.exit_code(), Some(0), "{}", first.log_text());
    wait::until(
        "replica-b to take the released lease",
        Duration::from_secs(10),
        async || holder().await.filter(|h| h == "replica-b"),
    )
    .await;
    let handed_over = stopped_at.elapsed();
    // Well under the 15 s lease duration: the lease was released, not left to expire.
    assert!(
        handed_over < Duration::from_secs(10),
        "took {handed_over:?}"
    );
    eprintln!(
        "lease handed over {:.1}s after SIGTERM",
        handed_over.as_secs_f64()
    );
    assert!(second.is_running());
}

async fn hundred_tests_reach_running(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "hundred").await;
    let operator = start_operator(cluster, &ns, &identity, "2m").await;
    let idle_rss = operator.peak_rss_kib();
    let started = Instant::now();
    let names: Vec<String> = (0..100).map(|i| format!("load-{i}")).collect();
    futures::future::join_all(
        names
            .iter()
            .map(|name| create(cluster, &ns, locust_test(name, 1, "1h", "1h"))),
    )
    .await;
    let api = tests_api(cluster, &ns);
    wait::until_ok(
        "100 tests to reach Running",
        Duration::from_secs(170),
        async || {
            let tests = api.list(&ListParams::default()).await.unwrap().items;
            let running = tests
                .iter()
                .filter(|t| phase_of(t) == Some(Phase::Running))
                .count();
            if running == names.len() {
                Ok(())
            } else {
                Err(format!("{running}/100 running"))
            }
        },
    )
    .await;
    let took = started.elapsed();
    let peak = operator.peak_rss_kib();
    eprintln!(
        "FIGURES: 100 LocustTests (200 pods) reached Running in {:.1}s; operator peak RSS {:.1} MiB (at start {:.1} MiB)",
        took.as_secs_f64(),
        peak as f64 / 1024.0,
        idle_rss as f64 / 1024.0
    );
}
