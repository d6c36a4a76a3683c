//! The operator started with its configuration environment, as the chart and the CSV start it:
//! the Jobs it creates carry that configuration, a bad value stops it before it does anything,
//! and `/metrics` serves every series docs/status.md documents.

use k8s_openapi::api::node::v1::RuntimeClass;

use crate::common::*;

pub async fn configuration_environment_reaches_the_jobs_and_metrics_are_served(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare(cluster, "configured").await;
    // A RuntimeClass must exist for pods that name it (RuntimeClass admission).
    let runtime_class = format!("{ns}-fast");
    Api::<RuntimeClass>::all(cluster.client())
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": runtime_class}, "handler": "runc"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();

    // A bad value stops start-up with a message that names the variable.
    let mut options = OperatorOptions::new(&identity.kubeconfig, &ns);
    options.env = vec![("WORKER_POD_MEM_LIMIT", "lots".to_string())];
    let mut refused = OperatorProcess::start(cluster, &format!("{ns}-refused"), &options);
    let code = refused.wait_exit(Duration::from_secs(30)).await;
    assert!(matches!(code, Some(c) if c != 0), "{code:?}");
    assert!(
        refused
            .log_text()
            .contains("invalid WORKER_POD_MEM_LIMIT=\"lots\""),
        "{}",
        refused.log_text()
    );

    options.env = vec![
        ("JOB_TTL_SECONDS_AFTER_FINISHED", "45".to_string()),
        ("POD_CPU_LIMIT", "none".to_string()),
        ("POD_MEM_LIMIT", "1Gi".to_string()),
        ("MASTER_POD_MEM_LIMIT", "3Gi".to_string()),
        ("DEFAULT_RUNTIME_CLASS_NAME", runtime_class.clone()),
    ];
    let mut operator = OperatorProcess::start(cluster, &format!("{ns}-operator"), &options);
    operator.wait_ready().await;
    create(cluster, &ns, locust_test("configured", 1, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "configured",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;

    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    for (role, memory) in [("master", "3Gi"), ("worker", "1Gi")] {
        let job = jobs.get(&format!("configured-{role}")).await.unwrap();
        let spec = job.spec.unwrap();
        assert_eq!(spec.ttl_seconds_after_finished, Some(45), "{role}");
        let pod = spec.template.spec.unwrap();
        assert_eq!(
            pod.runtime_class_name.as_deref(),
            Some(runtime_class.as_str())
        );
        let limits = pod.containers[0]
            .resources
            .as_ref()
            .and_then(|r| r.limits.clone())
            .unwrap_or_default();
        assert!(
            !limits.contains_key("cpu"),
            "{role}: POD_CPU_LIMIT=none, yet {limits:?}"
        );
        assert_eq!(
            limits.get("memory").map(|q| q.0.as_str()),
            Some(memory),
            "{role}"
        );
        // And the pods the Job controller made from it.
        let pods = pods_of(cluster, &ns, "configured", role).await;
        assert_eq!(
            pods[0].spec.as_ref().unwrap().runtime_class_name.as_deref(),
            Some(runtime_class.as_str())
        );
    }

    // Every metric docs/status.md lists is served, with its documented type.
    let documented: Vec<(String, String)> = include_str!("../../docs/status.md")
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("| `locust_operator_")?;
            let (name, rest) = rest.split_once('`')?;
            let kind = rest.split('|').nth(1)?.trim().to_string();
            Some((format!("locust_operator_{name}"), kind))
        })
        .collect();
    assert!(documented.len() >= 10, "{documented:?}");
    let text = operator.metrics_text().await;
    for (name, kind) in &documented {
        let family = name.strip_suffix("_total").unwrap_or(name);
        assert!(
            text.contains(&format!("# TYPE {family} {kind}")),
            "{name} ({kind}) is documented but not served:\n{text}"
        );
    }
    // And every metric the other pages name.
    for page in [
        include_str!("../../docs/results.md"),
        include_str!("../../docs/webhook.md"),
    ] {
        for name in page
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("locust_operator_"))
        {
            let family = name.strip_suffix("_total").unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{name} is named in the docs but not served"
            );
        }
    }
    let value = |series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{series} not served:\n{text}"))
    };
    assert!(value("locust_operator_reconciliations_total{result=\"success\"}") > 0.0);
    assert!(value("locust_operator_reconcile_duration_seconds_count") > 0.0);
    assert_eq!(value("locust_operator_tests{phase=\"Running\"}"), 1.0);
    assert_eq!(value("locust_operator_leader"), 1.0);
    assert!(text.trim_end().ends_with("# EOF"), "not OpenMetrics text");
    eprintln!(
        "/metrics served all {} documented series ({} bytes)",
        documented.len(),
        text.len()
    );
    Api::<RuntimeClass>::all(cluster.client())
        .delete(&runtime_class, &DeleteParams::default())
        .await
        .unwrap();
}
