//! Failures as the real kubelet and real Locust report them: a target that fails requests
//! (the master exits 1), a ConfigMap that does not exist, an image nothing can pull. The
//! statuses and events come from the kubelet, not from a test that patches them.

use std::time::Duration;

use serde_json::json;

use locust_operator::api::v2::Phase;

use crate::support::Cluster;

use super::common::{
    apply, condition, ensure_operator, event_reasons, exit_codes, follow_to_end, master_log,
    namespace_with_target, pods_of,
};
use super::samples::{HELPERS, LOCUSTFILE};

/// A v2 test of `users` users for `run_time` against `host`, locustfile `plan`.
pub fn test_manifest(cluster: &Cluster, name: &str, host: &str, path: &str) -> serde_json::Value {
    json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": cluster.image("locust"),
            "master": {
                "command": format!("--locustfile /lotest/src/locustfile.py --host {host}{path} --users 2 --spawn-rate 2 --run-time 6s"),
                "autoquit": {"enabled": true, "timeout": 2},
            },
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
            "testFiles": {"configMapRef": "plan", "libConfigMapRef": "plan-lib"},
        },
    })
}

/// The plan ConfigMaps of the samples, with the helper's path replaced by `path`.
pub async fn plan(cluster: &Cluster, ns: &str, path: &str) {
    cluster
        .config_map(ns, "plan", &[("locustfile.py", LOCUSTFILE)])
        .await;
    let helpers = HELPERS.replace("/from-the-lib", path);
    cluster
        .config_map(ns, "plan-lib", &[("helpers.py", helpers.as_str())])
        .await;
}

/// Every request fails (the target answers 500): Locust's master exits 1, the test fails with
/// `MasterFailed` and a message that says why and how to accept failures.
pub async fn failing_requests_fail_the_test_with_master_failed(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "failing").await;
    plan(cluster, &ns, "/fail/always").await;
    apply(
        cluster,
        &ns,
        &test_manifest(cluster, "failing", &target, ""),
    );
    let (phases, test) = follow_to_end(cluster, &ns, "failing", Duration::from_secs(150)).await;
    let log = master_log(cluster, &ns, "failing").await;
    assert_eq!(phases.last(), Some(&Phase::Failed), "{phases:?}\n{log}");
    assert!(phases.contains(&Phase::Running), "{phases:?}");
    assert_eq!(
        exit_codes(cluster, &ns, "failing", "master").await,
        [1],
        "{log}"
    );
    let (status, reason, message) = condition(&test, "TestCompleted").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "MasterFailed"),
        "{message}"
    );
    assert!(
        message.contains("exit") && message.contains("--exit-code-on-error"),
        "the message must say the master exited and how to accept failures: {message}"
    );
    let failed = cluster.target_requests(&ns).await["by_path"]["/fail/always"]
        .as_i64()
        .unwrap_or(0);
    assert!(
        failed > 10,
        "only {failed} failing requests reached the target"
    );
    assert!(
        event_reasons(cluster, &ns, "failing")
            .await
            .contains("TestFailed")
    );
}

/// A test whose locustfile ConfigMap does not exist: the operator checks its ConfigMaps before
/// creating anything, waits out the grace period, and fails the test naming the ConfigMap; no
/// pod is ever created.
pub async fn missing_locustfile_config_map_is_named(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "no-plan").await;
    apply(
        cluster,
        &ns,
        &test_manifest(cluster, "no-plan", &target, "/"),
    );
    let (phases, test) = follow_to_end(cluster, &ns, "no-plan", Duration::from_secs(120)).await;
    assert_eq!(phases.last(), Some(&Phase::Failed), "{phases:?}");
    let (_, reason, message) = condition(&test, "TestCompleted").unwrap();
    assert_eq!(reason, "ConfigurationError", "{message}");
    assert!(
        message.contains("\"plan\""),
        "the message must name the missing ConfigMap: {message}"
    );
    assert!(pods_of(cluster, &ns, "no-plan", "master").await.is_empty());
}

/// A Secret mounted with `env.secretMounts` that does not exist (Secrets are not checked
/// before the pods: that would need cluster-wide Secret access): the kubelet keeps the pods in
/// ContainerCreating (FailedMount events only), the test fails after the grace period with
/// `ContainerCreationStuck`, and the message names the Secret among the pod's volumes.
pub async fn missing_secret_mount_leaves_pods_stuck_and_is_named(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "no-secret").await;
    plan(cluster, &ns, "/").await;
    let mut manifest = test_manifest(cluster, "no-secret", &target, "/");
    manifest["spec"]["env"] =
        json!({"secretMounts": [{"name": "api-token", "mountPath": "/etc/api-token"}]});
    apply(cluster, &ns, &manifest);
    let (phases, test) = follow_to_end(cluster, &ns, "no-secret", Duration::from_secs(120)).await;
    assert_eq!(phases.last(), Some(&Phase::Failed), "{phases:?}");
    let (_, reason, message) = condition(&test, "TestCompleted").unwrap();
    assert_eq!(reason, "ContainerCreationStuck", "{message}");
    assert!(
        message.contains("api-token"),
        "the message must name the missing Secret: {message}"
    );
}

/// A ConfigMap referenced through `env.configMapRefs` does not exist: the kubelet reports
/// CreateContainerConfigError naming it; the test fails with ConfigurationError naming it.
pub async fn missing_env_config_map_is_named(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "no-env").await;
    plan(cluster, &ns, "/").await;
    let mut test = test_manifest(cluster, "no-env", &target, "");
    test["spec"]["env"] = json!({"configMapRefs": [{"name": "app-settings"}]});
    apply(cluster, &ns, &test);
    let (phases, test) = follow_to_end(cluster, &ns, "no-env", Duration::from_secs(120)).await;
    assert_eq!(phases.last(), Some(&Phase::Failed), "{phases:?}");
    let (_, reason, message) = condition(&test, "TestCompleted").unwrap();
    assert_eq!(reason, "ConfigurationError", "{message}");
    assert!(
        message.contains("ConfigMap \"app-settings\" does not exist"),
        "{message}"
    );
}

/// An image reference nothing can pull (no such tag, and no registry reachable): the kubelet
/// reports ErrImagePull / ImagePullBackOff; the test fails with ImagePullError naming it.
pub async fn unpullable_image_is_named(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "bad-image").await;
    plan(cluster, &ns, "/").await;
    let mut test = test_manifest(cluster, "bad-image", &target, "");
    test["spec"]["image"] = "locustio/locust:0.0.0-no-such-tag".into();
    apply(cluster, &ns, &test);
    let (phases, test) = follow_to_end(cluster, &ns, "bad-image", Duration::from_secs(150)).await;
    assert_eq!(phases.last(), Some(&Phase::Failed), "{phases:?}");
    let (_, reason, message) = condition(&test, "TestCompleted").unwrap();
    assert_eq!(reason, "ImagePullError", "{message}");
    assert!(
        message.contains("locustio/locust:0.0.0-no-such-tag"),
        "the message must name the image: {message}"
    );
}
