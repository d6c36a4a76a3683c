//! What only the kubelet can know stays on the pod-status path: each diagnosis reason end to
//! end, with the status a kubelet reports (kwok plays the rest), through the Job controller
//! where the Job decides. And what the API server refuses: a name taken by someone else's
//! object, a child it rejects.

use crate::common::*;

/// The pod of `role` of test `name`, once it runs.
async fn running_pod(cluster: &Cluster, ns: &str, name: &str, role: &str) -> Pod {
    wait::until(
        &format!("the {role} pod of {name} to run"),
        Duration::from_secs(60),
        async || {
            pods_of(cluster, ns, name, role)
                .await
                .into_iter()
                .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        },
    )
    .await
}

async fn completed_condition(cluster: &Cluster, ns: &str, name: &str) -> (String, String) {
    let failed = wait_phase(cluster, ns, name, Phase::Failed, Duration::from_secs(60)).await;
    let completed = condition(&failed, "TestCompleted").unwrap();
    (completed.reason.clone(), completed.message.clone())
}

pub async fn pod_problems_fail_the_test_with_their_reason(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "pod-problems").await;
    let grace = Duration::from_secs(6);
    let _operator = start_operator(cluster, &ns, &identity, "6s").await;
    let mut stuck = locust_test("stuck", 1, "1h", "1h");
    stuck["spec"]["env"] = json!({"secretMounts": [{"name": "tls-client", "mountPath": "/tls"}]});
    for test in [
        locust_test("worker-exits", 1, "1h", "1h"),
        locust_test("sidecar-crashes", 1, "1h", "1h"),
        locust_test("oom", 1, "1h", "1h"),
        stuck,
    ] {
        create(cluster, &ns, test).await;
    }

    // A worker exits 1: the worker Job (backoffLimit 0) fails, and so does the test.
    let worker_exits = async {
        let worker = running_pod(cluster, &ns, "worker-exits", "worker").await;
        report_pod_status(
            cluster,
            &ns,
            &worker.name_any(),
            json!({"phase": "Failed", "containerStatuses": [{
                "name": container_name(&worker), "image": "locustio/locust:2.43.3", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
        )
        .await;
        let (reason, message) = completed_condition(cluster, &ns, "worker-exits").await;
        assert_eq!(reason, "WorkerFailed", "{message}");
        assert!(message.contains("the worker Job failed"), "{message}");
        assert!(
            message.contains("kubectl logs job/worker-exits-worker"),
            "{message}"
        );
    };

    // The exporter sidecar (a native sidecar: an init container that restarts) keeps
    // crashing: tolerated for the grace period, then the test fails.
    let sidecar_crashes = async {
        let master = running_pod(cluster, &ns, "sidecar-crashes", "master").await;
        let sidecar = master
            .spec
            .as_ref()
            .unwrap()
            .init_containers
            .as_ref()
            .unwrap()[0]
            .name
            .clone();
        let reported = Instant::now();
        report_pod_status(
            cluster,
            &ns,
            &master.name_any(),
            json!({"initContainerStatuses": [{
                "name": sidecar, "image": "containersol/locust_exporter", "imageID": "",
                "ready": false, "restartCount": 5, "started": false,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": "back-off 1m20s restarting failed container"}}}]}),
        )
        .await;
        let api = tests_api(cluster, &ns);
        let pending = wait::until("PodsHealthy to report the crash loop", grace, async || {
            let test = api.get("sidecar-crashes").await.ok()?;
            condition(&test, "PodsHealthy")
                .filter(|c| {
                    c.reason == "CrashLoopBackOff" && phase_of(&test) == Some(Phase::Running)
                })
                .map(|c| c.message.clone())
        })
        .await;
        assert!(
            pending.contains("the test fails if this lasts"),
            "{pending}"
        );
        let (reason, message) = completed_condition(cluster, &ns, "sidecar-crashes").await;
        assert_eq!(reason, "CrashLoopBackOff", "{message}");
        assert!(
            message.contains(&format!("kubectl logs {} -c {sidecar}", master.name_any())),
            "{message}"
        );
        eprintln!(
            "crash loop reported; the test failed {:.1}s later (grace period {}s from the pod's creation)",
            reported.elapsed().as_secs_f64(),
            grace.as_secs()
        );
    };

    // The master is killed (OOM): exit code 137 and the hint to raise its resources.
    let oom = async {
        let master = running_pod(cluster, &ns, "oom", "master").await;
        report_pod_status(
            cluster,
            &ns,
            &master.name_any(),
            json!({"phase": "Failed", "containerStatuses": [{
                "name": container_name(&master), "image": "locustio/locust:2.43.3", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}),
        )
        .await;
        let (reason, message) = completed_condition(cluster, &ns, "oom").await;
        assert_eq!(reason, "MasterFailed", "{message}");
        assert!(message.contains("exited with code 137"), "{message}");
        assert!(message.contains("raise spec.master.resources"), "{message}");
    };

    // A Secret volume that does not exist: the kubelet keeps the pod in ContainerCreating and
    // says why only in FailedMount events.
    let stuck = async {
        let master = running_pod(cluster, &ns, "stuck", "master").await;
        report_pod_status(
            cluster,
            &ns,
            &master.name_any(),
            json!({"phase": "Pending", "containerStatuses": [{
                "name": container_name(&master), "image": "locustio/locust:2.43.3", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        )
        .await;
        let (reason, message) = completed_condition(cluster, &ns, "stuck").await;
        assert_eq!(reason, "ContainerCreationStuck", "{message}");
        assert!(message.contains("Secret \"tls-client\""), "{message}");
        assert!(message.contains("ConfigMap \"plan\""), "{message}");
    };
    tokio::join!(worker_exits, sidecar_crashes, oom, stuck);
    for name in ["worker-exits", "sidecar-crashes", "oom", "stuck"] {
        assert!(
            event_reasons(cluster, &ns, name)
                .await
                .contains("TestFailed"),
            "{name}"
        );
    }
}

pub async fn taken_names_and_rejected_children_fail_the_test(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "refused").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;

    // Someone else's Service already has the name of the test's master Service.
    let foreign: Service = serde_json::from_value(json!({
        "metadata": {"name": "taken-master", "labels": {"app": "somebody-else"}},
        "spec": {"ports": [{"port": 80}]},
    }))
    .unwrap();
    let services = Api::<Service>::namespaced(cluster.client(), &ns);
    let foreign_uid = services
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap()
        .uid();
    create(cluster, &ns, locust_test("taken", 1, "1h", "1h")).await;

    // What the CRD's rules let through but the API server refuses: a volume name that is no
    // DNS label and two volumes mounted at one path (Job validation, 422 both).
    let mut rejected = locust_test("rejected", 1, "1h", "1h");
    rejected["spec"]["volumes"] = json!([{"name": "Scratch_Space", "emptyDir": {}}]);
    rejected["spec"]["volumeMounts"] = json!([{"name": "Scratch_Space", "mountPath": "/data"}]);
    create(cluster, &ns, rejected).await;
    let mut one_path = locust_test("one-path", 1, "1h", "1h");
    one_path["spec"]["volumes"] =
        json!([{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]);
    one_path["spec"]["volumeMounts"] = json!([
        {"name": "a", "mountPath": "/data"}, {"name": "b", "mountPath": "/data"}]);
    create(cluster, &ns, one_path).await;

    // Not refused: a variable set twice (the later one wins, as in a pod) reaches the API
    // server once.
    let mut shadowed = locust_test("shadowed", 1, "1h", "1h");
    shadowed["spec"]["observability"] = json!({"openTelemetry": {"enabled": true,
        "endpoint": "http://collector:4317", "extraEnvVars": {"OTEL_SERVICE_NAME": "shop"}}});
    shadowed["spec"]["env"] = json!({"variables": [
        {"name": "OTEL_SERVICE_NAME", "value": "override"},
        {"name": "TARGET", "value": "first"}, {"name": "TARGET", "value": "second"}]});
    create(cluster, &ns, shadowed).await;

    let (reason, message) = completed_condition(cluster, &ns, "taken").await;
    assert_eq!(reason, "NameConflict", "{message}");
    assert!(
        message.contains(&format!(
            "a Service taken-master already exists in namespace {ns}"
        )),
        "{message}"
    );
    let taken = tests_api(cluster, &ns).get("taken").await.unwrap();
    assert_eq!(condition(&taken, "Ready").unwrap().reason, "NameConflict");
    // The other object is left as it was, and nothing else was created for the test.
    let kept = services.get("taken-master").await.unwrap();
    assert_eq!(kept.uid(), foreign_uid);
    assert!(kept.owner_references().is_empty());
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    assert!(jobs.get_opt("taken-master").await.unwrap().is_none());

    for (name, expected) in [
        ("rejected", "a lowercase RFC 1123 label must consist of"),
        (
            "one-path",
            "mountPath: Invalid value: \"/data\": must be unique",
        ),
    ] {
        let (reason, message) = completed_condition(cluster, &ns, name).await;
        assert_eq!(reason, "ChildRejected", "{message}");
        assert!(
            message.contains(&format!("the API server refused the Job {name}-master")),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
        // Stopped at the refused Job: the worker Job is not created either.
        for job in ["master", "worker"] {
            assert!(
                jobs.get_opt(&format!("{name}-{job}"))
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
    wait_phase(
        cluster,
        &ns,
        "shadowed",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    let job = jobs.get("shadowed-master").await.unwrap();
    let env = job.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    let values = |name: &str| -> Vec<Option<String>> {
        env.iter()
            .filter(|v| v.name == name)
            .map(|v| v.value.clone())
            .collect()
    };
    assert_eq!(values("OTEL_SERVICE_NAME"), [Some("override".to_string())]);
    assert_eq!(values("TARGET"), [Some("second".to_string())]);
    for name in ["taken", "rejected", "one-path"] {
        let reasons = event_reasons(cluster, &ns, name).await;
        assert!(reasons.contains("TestFailed"), "{name}: {reasons:?}");
    }
}
