//! A test's life under the operator: from creation to Succeeded with its children, status and
//! events; a failed master; children deleted while running (recreated) and after the end (left
//! alone); evictions; deletion without the operator.

use crate::common::*;

pub async fn v2_test_runs_to_succeeded_with_children_status_and_events(cluster: &'static Cluster) {
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

pub async fn master_failure_fails_the_test_with_a_reason(cluster: &'static Cluster) {
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

pub async fn deleted_children_are_recreated_while_running_and_left_alone_after(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare(cluster, "recreate").await;
    let operator = start_operator(cluster, &ns, &identity, "2m").await;
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
    // is touched and reconciled again. The operator's reconcile counter says when it looked:
    // once after the deletion, once after the touch.
    let reconciles = async || {
        operator
            .metric("locust_operator_reconciliations_total")
            .await
    };
    let before = reconciles().await;
    services
        .delete("resilient-master", &DeleteParams::default())
        .await
        .unwrap();
    wait::until(
        "a reconcile after the deletion",
        Duration::from_secs(30),
        async || (reconciles().await > before).then_some(()),
    )
    .await;
    let before = reconciles().await;
    tests_api(cluster, &ns)
        .patch(
            "resilient",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    wait::until(
        "a reconcile after the touch",
        Duration::from_secs(30),
        async || (reconciles().await > before).then_some(()),
    )
    .await;
    assert!(
        services
            .get_opt("resilient-master")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn evicted_worker_is_replaced_and_evicted_master_fails_the_test(
    cluster: &'static Cluster,
) {
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

pub async fn deleting_a_test_removes_its_children_even_without_the_operator(
    cluster: &'static Cluster,
) {
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
