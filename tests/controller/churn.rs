//! Pods that come and go faster than the controller reads its watches (namespaces deleted
//! after tests, Jobs replaced) must not blind it to the pods that follow.

use super::common::*;

/// Pods carrying the label the operator watches, each created and deleted at once, by
/// `writers` writers at the same time; how many were.
async fn churn_pods(cluster: &Cluster, ns: &str, writers: usize, each: usize) -> usize {
    let api = Api::<Pod>::namespaced(cluster.client(), ns);
    let work = (0..writers).map(|writer| {
        let api = api.clone();
        async move {
            let mut done = 0;
            for i in 0..each {
                let name = format!("ghost-{writer}-{i}");
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name, "labels": {
                        "managed-by": "locust-k8s-operator",
                        "performance-test-name": "ghost",
                    }},
                    // Bound to a node nobody runs: nothing schedules or starts it.
                    "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "none"}]},
                }))
                .unwrap();
                // A busy API server may refuse one now and then; the events are what count.
                if let Err(error) = api.create(&PostParams::default(), &pod).await {
                    eprintln!("create {name}: {error}");
                    continue;
                }
                match api
                    .delete(&name, &DeleteParams::default().grace_period(0))
                    .await
                {
                    Ok(_) => done += 1,
                    Err(error) => eprintln!("delete {name}: {error}"),
                }
            }
            done
        }
    });
    futures::future::join_all(work).await.into_iter().sum()
}

/// Before the fix, one pod deleted before the controller looked at its last change stopped
/// the controller's pod stream for good; 1,024 pod events later the pod cache froze, and a
/// new test never left Pending although its pods ran.
pub async fn pod_churn_does_not_blind_the_controller(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "churn").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    let started = Instant::now();
    // 2 x 1,600 pod events, well past the 1,024 that froze the cache.
    let churned = churn_pods(cluster, &ns, 8, 200).await;
    println!(
        "{churned} pods created and deleted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        churned > 1_200,
        "only {churned} of 1,600 pods came and went"
    );
    create(cluster, &ns, locust_test("after", 1, "1h", "1h")).await;
    // Running needs the master pod seen running in the operator's pod cache, and the
    // estimated worker count its worker pod.
    wait_phase(
        cluster,
        &ns,
        "after",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    let api = tests_api(cluster, &ns);
    wait::until_ok(
        "the worker pod to be counted",
        Duration::from_secs(30),
        async || {
            let test = api.get("after").await.map_err(|e| e.to_string())?;
            match test.status.and_then(|s| s.connected_workers) {
                Some(1) => Ok(()),
                other => Err(format!("connectedWorkers {other:?}")),
            }
        },
    )
    .await;
}
