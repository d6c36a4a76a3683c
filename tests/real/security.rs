//! The restricted Pod Security Standard on a real kubelet: the documented security block
//! (docs/writing-tests.md) admits the pods and Locust runs as the user it names; without
//! `runAsUser` the kubelet cannot verify `runAsNonRoot` against the image's non-numeric user
//! (`locust`, as in the official image) and refuses to start the container, which is why the
//! operator does not set `runAsNonRoot` by default.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use locust_operator::api::v2::Phase;

use crate::support::Cluster;

use super::common::{apply, condition, ensure_operator, follow_to_end, master_log};
use super::failures::{plan, test_manifest};

pub async fn restricted_namespace_runs_locust_with_the_documented_security_block(
    cluster: &'static Cluster,
) {
    ensure_operator(cluster).await;
    let ns = super::common::scenario_namespace(cluster, "restricted").await;
    Api::<Namespace>::all(cluster.client())
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }}})),
        )
        .await
        .unwrap();
    let target = cluster.start_target(&ns).await;
    plan(cluster, &ns, "/restricted").await;
    // The block docs/writing-tests.md shows.
    let documented = json!({"podSecurityContext": {
        "runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"},
    }});
    let mut admitted = test_manifest(cluster, "documented", &target, "");
    admitted["spec"]["security"] = documented;
    apply(cluster, &ns, &admitted);
    let mut unverifiable = test_manifest(cluster, "no-user", &target, "");
    unverifiable["spec"]["security"] = json!({"podSecurityContext": {
        "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"},
    }});
    apply(cluster, &ns, &unverifiable);

    let (phases, test) = follow_to_end(cluster, &ns, "documented", Duration::from_secs(150)).await;
    let log = master_log(cluster, &ns, "documented").await;
    assert_eq!(
        phases,
        [Phase::Pending, Phase::Running, Phase::Succeeded],
        "{:?}\n{log}",
        test.status.and_then(|s| s.conditions)
    );
    let count = cluster.target_requests(&ns).await["by_path"]["/restricted"]
        .as_i64()
        .unwrap_or(0);
    assert!(count > 10, "{count} requests reached the target");

    let (phases, test) = follow_to_end(cluster, &ns, "no-user", Duration::from_secs(120)).await;
    assert_eq!(phases.last(), Some(&Phase::Failed), "{phases:?}");
    let (_, reason, message) = condition(&test, "TestCompleted").unwrap();
    assert_eq!(reason, "ConfigurationError", "{message}");
    assert!(
        message.contains("non-numeric user"),
        "the kubelet's own words should reach the message: {message}"
    );
}
