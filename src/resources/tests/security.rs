//! Security contexts, image pulling and pod-level settings.

use serde_json::json;

use super::{base, build, json, locust, pod, test_with};

#[test]
fn default_pod_security_is_seccomp_runtime_default_only() {
    let children = build(&base());
    for job in [&children.master_job, &children.worker_job] {
        // No runAsUser (OpenShift assigns one), no runAsNonRoot (the image's user is not numeric).
        assert_eq!(
            json(&pod(job).security_context),
            json!({"seccompProfile": {"type": "RuntimeDefault"}})
        );
    }
}

#[test]
fn default_container_security_forbids_escalation_and_drops_all_capabilities() {
    let children = build(&base());
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(
            json(&locust(job).security_context),
            json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}})
        );
    }
}

#[test]
fn cr_security_contexts_replace_the_defaults_entirely() {
    let test = test_with(
        r#"
security:
  podSecurityContext: {runAsNonRoot: true, runAsUser: 1000}
  containerSecurityContext: {readOnlyRootFilesystem: true}
"#,
    );
    let children = build(&test);
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(
            json(&pod(job).security_context),
            json!({"runAsNonRoot": true, "runAsUser": 1000})
        );
        assert_eq!(
            json(&locust(job).security_context),
            json!({"readOnlyRootFilesystem": true})
        );
    }
    // The exporter sidecar keeps its own hardened context.
    let exporter = &pod(&children.master_job).init_containers.as_ref().unwrap()[0];
    assert_eq!(
        exporter.security_context,
        pod(&build(&base()).master_job)
            .init_containers
            .as_ref()
            .unwrap()[0]
            .security_context
    );
}

#[test]
fn only_the_pod_security_context_may_be_replaced_alone() {
    let children = build(&test_with(
        "security: {podSecurityContext: {fsGroup: 2000}}",
    ));
    assert_eq!(
        json(&pod(&children.worker_job).security_context),
        json!({"fsGroup": 2000})
    );
    assert_eq!(
        locust(&children.worker_job).security_context,
        locust(&build(&base()).worker_job).security_context
    );
}

#[test]
fn image_and_pull_policy_and_pull_secrets_come_from_the_spec() {
    let children = build(&base());
    assert_eq!(
        locust(&children.master_job).image.as_deref(),
        Some("locustio/locust:2.43.3")
    );
    assert_eq!(
        locust(&children.worker_job).image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    assert_eq!(pod(&children.master_job).image_pull_secrets, None);

    let children = build(&test_with(
        "{imagePullPolicy: Always, imagePullSecrets: [{name: registry}]}",
    ));
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(locust(job).image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(
            json(&pod(job).image_pull_secrets),
            json!([{"name": "registry"}])
        );
    }
}

#[test]
fn locust_containers_are_named_after_the_child_with_go_ports() {
    let children = build(&base());
    let master = locust(&children.master_job);
    assert_eq!(master.name, "demo-master");
    assert_eq!(
        json(&master.ports),
        json!([
            {"name": "port5557", "containerPort": 5557, "protocol": "TCP"},
            {"name": "port5558", "containerPort": 5558, "protocol": "TCP"},
            {"name": "web-ui", "containerPort": 8089, "protocol": "TCP"},
        ])
    );
    let worker = locust(&children.worker_job);
    assert_eq!(worker.name, "demo-worker");
    assert_eq!(
        json(&worker.ports),
        json!([{"containerPort": 8080, "protocol": "TCP"}])
    );
}

#[test]
fn pods_never_restart_and_get_neither_service_links_nor_a_token() {
    let children = build(&base());
    for job in [&children.master_job, &children.worker_job] {
        let pod = pod(job);
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.enable_service_links, Some(false));
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.service_account_name, None);
    }
}
