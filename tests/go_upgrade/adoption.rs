//! Tests the Go operator 2.3.0 created, taken over by this operator: finalizers, children,
//! status; and the Go label selectors and `kubectl wait` forms against our own children.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

use locust_operator::api::v2::{LocustTest, Phase};

use crate::go_common::*;
use crate::support::kwok::POD_COMPLETE_DELAY;
use crate::support::{Cluster, wait};

/// A Go-era test whose master and workers still run when our operator starts: the finalizer
/// goes, the Go Jobs and Service get our labels (same objects, nothing recreated), and the test
/// is followed to Succeeded like one of ours.
pub async fn running_go_test_is_adopted_and_followed_to_its_end(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "adopt-running").await;
    let started = "2026-11-24T13:27:30Z";
    let test = create_go_test(cluster, &ns, GO_TEST, go_running_status(started)).await;
    let (master_job, worker_job, service) = create_go_children(cluster, &ns, &test).await;
    wait::until_ok("the Go pods to run", TIMEOUT, async || {
        let n = running_pods(cluster, &ns, &format!("performance-test-name={GO_TEST}"))
            .await
            .len();
        (n == 3).then_some(()).ok_or(format!("{n} running"))
    })
    .await;

    let _operator = start_operator(cluster, &ns, &identity).await;
    let adopted = wait_test(
        cluster,
        &ns,
        GO_TEST,
        "finalizer removed, workers counted",
        |t| {
            t.metadata.finalizers.as_ref().is_none_or(Vec::is_empty)
                && t.status.as_ref().and_then(|s| s.connected_workers) == Some(2)
        },
    )
    .await;
    let status = adopted.status.clone().unwrap();
    assert_eq!(phase_of(&adopted), Some(Phase::Running));
    assert_eq!(
        status.start_time.map(|t| t.0.to_string()),
        Some(started.to_string()),
        "the Go operator's start time is kept"
    );
    assert_eq!(
        condition(&adopted, "WorkersConnected"),
        Some(("True".into(), "AllWorkersConnected".into()))
    );
    assert_eq!(
        condition(&adopted, "PodsHealthy"),
        Some(("True".into(), "PodsHealthy".into()))
    );

    // The same three objects, now carrying our labels; nothing created beside them.
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let services = Api::<Service>::namespaced(cluster.client(), &ns);
    let all_jobs = jobs.list(&ListParams::default()).await.unwrap().items;
    let all_services = services.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        all_jobs.len(),
        2,
        "{:?}",
        all_jobs.iter().map(|j| j.name_any()).collect::<Vec<_>>()
    );
    assert_eq!(all_services.len(), 1);
    for (before, now) in [
        (master_job.uid(), jobs.get("go-era-master").await.unwrap()),
        (worker_job.uid(), jobs.get("go-era-worker").await.unwrap()),
    ] {
        assert_eq!(now.uid(), before, "{} was recreated", now.name_any());
        let labels = now.labels();
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "locust-k8s-operator"
        );
        assert_eq!(labels["performance-test-name"], GO_TEST, "Go labels kept");
    }
    let now = services.get("go-era-master").await.unwrap();
    assert_eq!(now.uid(), service.uid());
    assert_eq!(
        now.labels()["app.kubernetes.io/managed-by"],
        "locust-k8s-operator"
    );
    assert_eq!(now.labels()["app.kubernetes.io/component"], "master");

    // Conditions the Go operator's users waited on.
    for condition in [
        "--for=condition=Ready",
        "--for=condition=WorkersConnected",
        "--for=condition=PodsHealthy",
    ] {
        kubectl(
            cluster,
            &[
                "wait",
                condition,
                &format!("lotest/{GO_TEST}"),
                "-n",
                &ns,
                "--timeout=10s",
            ],
            None,
        );
    }

    // The Go master exits 0: the test succeeds, as one of ours would.
    let master = running_pods(cluster, &ns, "performance-test-pod-name=go-era-master").await;
    assert_eq!(master.len(), 1);
    finish_pod(cluster, &ns, &master[0]).await;
    let done = wait_test(cluster, &ns, GO_TEST, "Succeeded", |t| {
        phase_of(t) == Some(Phase::Succeeded)
    })
    .await;
    assert_eq!(
        condition(&done, "TestCompleted"),
        Some(("True".into(), "TestSucceeded".into()))
    );
    kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=TestCompleted",
            &format!("lotest/{GO_TEST}"),
            "-n",
            &ns,
            "--timeout=10s",
        ],
        None,
    );
    let reasons = event_reasons(cluster, &ns, GO_TEST).await;
    assert!(reasons.contains("TestCompleted"), "{reasons:?}");
    assert!(
        !reasons.contains("Created"),
        "nothing was created: {reasons:?}"
    );
}

/// A Go-era test that had finished keeps its status untouched and loses the finalizer, and no
/// children are recreated for it; a Go-era test deleted while no operator ran (stuck in
/// Terminating) goes away as soon as ours starts.
pub async fn finished_and_deleted_go_tests_are_released(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "adopt-finished").await;
    let finished_status = fixture("locusttest-after-run.yaml")["status"].clone();
    let finished = create_go_test(cluster, &ns, GO_TEST, finished_status).await;
    create_go_test(
        cluster,
        &ns,
        "go-deleted",
        go_running_status("2026-11-24T13:27:30Z"),
    )
    .await;
    let api = tests_api(cluster, &ns);
    api.delete("go-deleted", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = api.get("go-deleted").await.unwrap();
    assert!(
        terminating.metadata.deletion_timestamp.is_some(),
        "held by the Go finalizer"
    );

    let _operator = start_operator(cluster, &ns, &identity).await;
    wait::until_ok("the Terminating Go test to go", TIMEOUT, async || match api
        .get_opt("go-deleted")
        .await
        .unwrap()
    {
        None => Ok(()),
        Some(t) => Err(format!("finalizers {:?}", t.metadata.finalizers)),
    })
    .await;
    // The event is published once the finalizer is gone, so it may trail the deletion.
    wait::until_ok("the Deleting event", TIMEOUT, async || {
        let reasons = event_reasons(cluster, &ns, "go-deleted").await;
        if reasons.contains("Deleting") {
            Ok(())
        } else {
            Err(format!("event reasons {reasons:?}"))
        }
    })
    .await;

    let released = wait_test(cluster, &ns, GO_TEST, "finalizer removed", |t| {
        t.metadata.finalizers.as_ref().is_none_or(Vec::is_empty)
    })
    .await;
    assert_eq!(
        serde_json::to_value(&released.status).unwrap(),
        serde_json::to_value(&finished.status).unwrap(),
        "the Go operator's final status is kept as it was"
    );
    assert_eq!(phase_of(&released), Some(Phase::Succeeded));
    // Its children are gone (as after TTL cleanup) and stay gone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    assert!(
        jobs.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Deleting it now does not hang.
    let started = Instant::now();
    kubectl(
        cluster,
        &["delete", "lotest", GO_TEST, "-n", &ns, "--timeout=20s"],
        None,
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(api.get_opt(GO_TEST).await.unwrap().is_none());
}

/// The selectors users wrote against the Go operator's objects (its own conversion end-to-end
/// script lists `jobs -l performance-test-pod-name=<name>-master`) match our children, with
/// every label the Go Jobs and pods carried; the `kubectl wait` forms of its docs work.
pub async fn go_label_selectors_match_our_children(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "go-selectors").await;
    let _operator = start_operator(cluster, &ns, &identity).await;
    // The fixture's test (same name, so the Go objects' labels compare as they are), created
    // fresh: ours makes the children.
    let mut object = fixture("locusttest-after-run.yaml");
    let spec = object["spec"].take();
    let mut test: LocustTest = serde_json::from_value(json!({
        "apiVersion": "locust.io/v2", "kind": "LocustTest",
        "metadata": {"name": GO_TEST}, "spec": spec,
    }))
    .unwrap();
    test.spec.master.labels = Some([("team".to_string(), "payments".to_string())].into());
    test.spec.master.annotations =
        Some([(POD_COMPLETE_DELAY.to_string(), "1h".to_string())].into());
    test.spec.worker.annotations =
        Some([(POD_COMPLETE_DELAY.to_string(), "1h".to_string())].into());
    tests_api(cluster, &ns)
        .create(&PostParams::default(), &test)
        .await
        .unwrap();
    wait_test(cluster, &ns, GO_TEST, "all workers connected", |t| {
        condition(t, "WorkersConnected").is_some_and(|(s, _)| s == "True")
    })
    .await;

    let names = |kind: &str, selector: &str| -> Vec<String> {
        let out = kubectl(
            cluster,
            &["get", kind, "-n", &ns, "-l", selector, "-o", "name"],
            None,
        );
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    };
    let both = vec![
        "job.batch/go-era-master".to_string(),
        "job.batch/go-era-worker".to_string(),
    ];
    assert_eq!(
        names("jobs", "performance-test-pod-name=go-era-master"),
        ["job.batch/go-era-master"]
    );
    assert_eq!(
        names("jobs", "performance-test-pod-name=go-era-worker"),
        ["job.batch/go-era-worker"]
    );
    assert_eq!(names("jobs", "performance-test-name=go-era"), both);
    assert_eq!(names("jobs", "app=go-era"), both);
    assert_eq!(names("jobs", "managed-by=locust-k8s-operator"), both);
    assert_eq!(names("jobs", "team=payments"), ["job.batch/go-era-master"]);
    assert_eq!(
        names("pods", "performance-test-pod-name=go-era-worker").len(),
        2
    );
    assert_eq!(names("pods", "performance-test-name=go-era").len(), 3);

    // Every label of the Go objects is on ours, but those the cluster adds to any Job's pods
    // (the Job controller's, and the zone the scheduler bound the pod to).
    let controller_added = |key: &str| {
        key.contains("controller-uid")
            || key.ends_with("job-name")
            || key.starts_with("topology.kubernetes.io/")
    };
    let go_children = fixture("children.yaml");
    let go_pods = fixture("pods.yaml");
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    for go_job in go_children["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "Job")
    {
        let name = go_job["metadata"]["name"].as_str().unwrap();
        let ours = jobs.get(name).await.unwrap();
        for (key, value) in go_job["metadata"]["labels"].as_object().unwrap() {
            if !controller_added(key) {
                assert_eq!(
                    ours.labels().get(key).map(String::as_str),
                    value.as_str(),
                    "{name}: {key}"
                );
            }
        }
    }
    let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(cluster.client(), &ns);
    for go_pod in go_pods["items"].as_array().unwrap() {
        let labels = go_pod["metadata"]["labels"].as_object().unwrap();
        let selector = format!(
            "performance-test-pod-name={}",
            labels["performance-test-pod-name"].as_str().unwrap()
        );
        let ours = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap()
            .items;
        assert!(!ours.is_empty(), "{selector}");
        for pod in ours {
            for (key, value) in labels {
                if !controller_added(key) {
                    assert_eq!(
                        pod.labels().get(key).map(String::as_str),
                        value.as_str(),
                        "{key}"
                    );
                }
            }
        }
    }
    // The Service selects the master pod exactly as the Go Service did.
    let go_service = &go_children["items"][2];
    let ours = Api::<Service>::namespaced(cluster.client(), &ns)
        .get("go-era-master")
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(ours.spec.unwrap().selector).unwrap(),
        go_service["spec"]["selector"]
    );

    // The `kubectl wait` forms of the Go operator's docs, and the finer ones of ours.
    for condition in [
        "--for=condition=Ready",
        "--for=condition=WorkersConnected",
        "--for=condition=PodsHealthy",
    ] {
        kubectl(
            cluster,
            &[
                "wait",
                "locusttest/go-era",
                condition,
                "-n",
                &ns,
                "--timeout=10s",
            ],
            None,
        );
    }
    let master = running_pods(cluster, &ns, "performance-test-pod-name=go-era-master").await;
    finish_pod(cluster, &ns, &master[0]).await;
    for condition in [
        "--for=jsonpath={.status.phase}=Succeeded",
        "--for=condition=TestCompleted",
        "--for=condition=TestCompleted=True",
    ] {
        kubectl(
            cluster,
            &[
                "wait",
                "locusttest/go-era",
                condition,
                "-n",
                &ns,
                "--timeout=30s",
            ],
            None,
        );
    }
}
