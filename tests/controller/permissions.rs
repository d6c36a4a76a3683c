//! What the operator may do and what it lets pods do: a field its configuration forbids, the
//! generated RBAC as the only rights it holds, and Locust pods admitted by the baseline and
//! restricted Pod Security levels.

use crate::common::*;

pub async fn forbidden_field_fails_the_test_naming_field_and_switch(cluster: &'static Cluster) {
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

pub async fn operator_identity_holds_only_the_generated_rights(cluster: &'static Cluster) {
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
    // No CRD creation, no Namespaces, no deleting Jobs, no writing schedules. (Deleting
    // LocustTests is granted: a schedule deletes its finished runs beyond the history limits
    // and, under concurrencyPolicy Replace, its active run.)
    let denied = Api::<Namespace>::all(identity.client.clone())
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
    let denied = Api::<Job>::namespaced(identity.client.clone(), &ns)
        .delete("anything", &DeleteParams::default())
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
    let schedules = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "locust.io",
        "v1alpha1",
        "LocustTestSchedule",
    ));
    let denied =
        Api::<kube::api::DynamicObject>::namespaced_with(identity.client.clone(), &ns, &schedules)
            .delete("anything", &DeleteParams::default())
            .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
}

pub async fn baseline_and_restricted_namespaces_admit_the_pods(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "pss").await;
    // One operator per target namespace, not one watching every namespace: the tests of this
    // binary run side by side, and an operator on all namespaces would make their tests'
    // children too (CI: a Job without the JOB_TTL_SECONDS_AFTER_FINISHED another test's
    // operator was started with).
    let mut operators = Vec::new();
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
        let mut options = OperatorOptions::new(&identity.kubeconfig, &ns);
        options.watch_namespace = Some(&target);
        let mut operator = OperatorProcess::start(cluster, &format!("{target}-operator"), &options);
        operator.wait_ready().await;
        operators.push(operator);
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
