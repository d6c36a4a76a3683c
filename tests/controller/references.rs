//! ConfigMaps a test references are checked before its children exist: one created after the
//! test (a directory applied in any order) is waited for; one still missing when the grace
//! period ends fails the test with `ConfigurationError` naming each, and nothing is created.

use crate::common::*;

async fn config_map(cluster: &Cluster, ns: &str, name: &str, data: Value) {
    let config_map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).unwrap();
    Api::<ConfigMap>::namespaced(cluster.client(), ns)
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
}

async fn jobs_of(cluster: &Cluster, ns: &str, name: &str) -> usize {
    Api::<Job>::namespaced(cluster.client(), ns)
        .list(&ListParams::default().labels(&format!("performance-test-name={name}")))
        .await
        .unwrap()
        .items
        .len()
}

/// Waits until the test reports that it waits for its ConfigMaps; returns the Ready message.
async fn waiting_message(cluster: &Cluster, ns: &str, name: &str) -> String {
    let api = tests_api(cluster, ns);
    wait::until_ok(
        &format!("{name} to wait for its ConfigMaps"),
        Duration::from_secs(30),
        async || {
            let test = api.get(name).await.map_err(|e| e.to_string())?;
            match condition(&test, "Ready") {
                Some(c) if c.reason == "WaitingForConfigMaps" => {
                    assert_eq!(phase_of(&test), Some(Phase::Pending));
                    Ok(c.message.clone())
                }
                other => Err(format!("Ready: {other:?}")),
            }
        },
    )
    .await
}

pub async fn config_maps_are_waited_for_then_missing_ones_fail_the_test(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "references").await;
    let grace = Duration::from_secs(15);
    let _operator = start_operator(cluster, &ns, &identity, "15s").await;

    // Applied before its ConfigMaps, which arrive a few seconds later.
    let mut late = locust_test("late", 1, "1h", "1h");
    late["spec"]["testFiles"] = json!({"configMapRef": "late-plan", "libConfigMapRef": "late-lib"});
    late["spec"]["env"] = json!({"variables": [{"name": "TARGET",
        "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "target"}}}]});
    // Never gets them: a missing test file, library and env ConfigMap, a missing key in one
    // that exists, a mounted ConfigMap volume, and a Secret (not checked: see below).
    let mut never = locust_test("never", 1, "1h", "1h");
    never["spec"]["testFiles"] =
        json!({"configMapRef": "absent-plan", "libConfigMapRef": "absent-lib"});
    never["spec"]["env"] = json!({
        "configMapRefs": [{"name": "absent-env"}],
        "secretRefs": [{"name": "absent-secret"}],
        "variables": [{"name": "TARGET",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "absent-key"}}}],
    });
    never["spec"]["volumes"] = json!([{"name": "data", "configMap": {"name": "absent-data"}}]);
    never["spec"]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    config_map(cluster, &ns, "settings", json!({"target": "http://target"})).await;
    let created_at = Instant::now();
    create(cluster, &ns, late).await;
    create(cluster, &ns, never).await;

    let message = waiting_message(cluster, &ns, "late").await;
    for expected in [
        "ConfigMap \"late-lib\" does not exist (spec.testFiles.libConfigMapRef)",
        "ConfigMap \"late-plan\" does not exist (spec.testFiles.configMapRef)",
        "the Jobs are created once they exist",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
    waiting_message(cluster, &ns, "never").await;
    assert_eq!(
        jobs_of(cluster, &ns, "late").await,
        0,
        "nothing created yet"
    );
    assert!(
        event_reasons(cluster, &ns, "late")
            .await
            .contains("WaitingForConfigMaps")
    );

    config_map(
        cluster,
        &ns,
        "late-plan",
        json!({"locustfile.py": "pass\n"}),
    )
    .await;
    config_map(cluster, &ns, "late-lib", json!({})).await;
    let running = wait_phase(cluster, &ns, "late", Phase::Running, grace).await;
    assert_eq!(
        condition(&running, "Ready").unwrap().reason,
        "ResourcesCreated"
    );
    eprintln!(
        "FIGURES: a test applied before its ConfigMaps ran {:.1}s after it was created",
        created_at.elapsed().as_secs_f64()
    );

    let failed = wait_phase(
        cluster,
        &ns,
        "never",
        Phase::Failed,
        grace + Duration::from_secs(20),
    )
    .await;
    let failed_after = created_at.elapsed();
    assert!(
        failed_after >= grace - Duration::from_secs(1),
        "failed after {failed_after:?}, before the grace period ended"
    );
    let completed = condition(&failed, "TestCompleted").unwrap();
    assert_eq!(
        completed.reason, "ConfigurationError",
        "{}",
        completed.message
    );
    for expected in [
        "ConfigMap \"absent-plan\" does not exist (spec.testFiles.configMapRef)",
        "ConfigMap \"absent-lib\" does not exist (spec.testFiles.libConfigMapRef)",
        "ConfigMap \"absent-env\" does not exist (spec.env.configMapRefs[0])",
        "ConfigMap \"absent-data\" does not exist (spec.volumes[0].configMap)",
        "ConfigMap \"settings\" has no key \"absent-key\" (spec.env.variables[0].valueFrom.configMapKeyRef)",
    ] {
        assert!(
            completed.message.contains(expected),
            "{expected:?} not in {}",
            completed.message
        );
    }
    // Secrets are left to the pod-status path (the operator may not read them).
    assert!(
        !completed.message.contains("absent-secret"),
        "{}",
        completed.message
    );
    assert_eq!(
        jobs_of(cluster, &ns, "never").await,
        0,
        "nothing was created"
    );
    assert!(
        Api::<Service>::namespaced(cluster.client(), &ns)
            .get_opt("never-master")
            .await
            .unwrap()
            .is_none()
    );
}
