//! GitOps tools and a spec that cannot change: what `kubectl apply` of an edited manifest
//! prints, and the API calls of the recipes that re-create a test instead (docs/upgrade.md):
//! Argo CD's `Replace=true` (a PUT, refused like an apply) and `Force=true,Replace=true`
//! (`kubectl replace --force`: delete, then create), Flux's `force: true` (its server-side
//! apply is refused as immutable, so it deletes the object and applies it again).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use locust_operator::api::v2::{LocustTest, Phase};

use crate::go_common::*;
use crate::support::kwok::POD_COMPLETE_DELAY;
use crate::support::{Cluster, wait};

/// What `kubectl apply`, a PUT and server-side apply print for an edited spec.
pub const REFUSAL: &str = "spec is immutable once the test is created: delete the LocustTest and create it again to change the test";

fn manifest(workers: i32) -> Value {
    let mut spec = fixture("locusttest-after-run.yaml")["spec"].take();
    spec["worker"]["replicas"] = json!(workers);
    spec["master"]["annotations"] = json!({POD_COMPLETE_DELAY: "1h"});
    spec["worker"]["annotations"] = json!({POD_COMPLETE_DELAY: "1h"});
    json!({
        "apiVersion": "locust.io/v2", "kind": "LocustTest",
        "metadata": {"name": "gitops"}, "spec": spec,
    })
}

fn yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap()
}

async fn running_with(cluster: &Cluster, ns: &str, workers: i32) -> LocustTest {
    wait_test(
        cluster,
        ns,
        "gitops",
        &format!("Running, {workers} workers"),
        |t| {
            phase_of(t) == Some(Phase::Running)
                && t.status.as_ref().and_then(|s| s.expected_workers) == Some(workers)
                && t.status.as_ref().and_then(|s| s.connected_workers) == Some(workers)
        },
    )
    .await
}

async fn worker_parallelism(cluster: &Cluster, ns: &str) -> Option<i32> {
    Api::<Job>::namespaced(cluster.client(), ns)
        .get_opt("gitops-worker")
        .await
        .unwrap()
        .and_then(|j| j.spec?.parallelism)
}

pub async fn edited_manifests_are_refused_and_the_gitops_recipes_recreate_the_test(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare(cluster, "gitops").await;
    let _operator = start_operator(cluster, &ns, &identity).await;
    kubectl(
        cluster,
        &["apply", "-n", &ns, "-f", "-"],
        Some(&yaml(&manifest(2))),
    );
    let first = running_with(cluster, &ns, 2).await;

    // kubectl apply of the edited manifest (what Argo CD does by default): refused.
    let edited = yaml(&manifest(3));
    let out = cluster.run_kubectl(&["apply", "-n", &ns, "-f", "-"], Some(&edited));
    assert!(!out.status.success());
    let printed = text(&out);
    eprintln!("kubectl apply of an edited manifest prints:\n{printed}");
    assert_eq!(
        printed.trim(),
        format!(r#"The LocustTest "gitops" is invalid: spec: Invalid value: {REFUSAL}"#)
    );
    // A PUT (Argo CD's Replace=true alone): refused the same way.
    let out = cluster.run_kubectl(&["replace", "-n", &ns, "-f", "-"], Some(&edited));
    assert!(!out.status.success());
    assert!(text(&out).contains(REFUSAL), "{}", text(&out));
    // Server-side apply as Flux sends it: refused as Invalid (422) with "is immutable" in the
    // message, the two signs Flux's force: true acts on.
    let tests = tests_api(cluster, &ns);
    let error = tests
        .patch(
            "gitops",
            &PatchParams::apply("kustomize-controller").force(),
            &Patch::Apply(manifest(3)),
        )
        .await
        .unwrap_err();
    match &error {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert_eq!(status.reason, "Invalid");
            assert!(
                status.message.contains("is immutable"),
                "{}",
                status.message
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        worker_parallelism(cluster, &ns).await,
        Some(2),
        "nothing changed"
    );

    // The test ends; its Jobs stay (as they do until their TTL), one of them Complete.
    let master = running_pods(cluster, &ns, "performance-test-pod-name=gitops-master").await;
    finish_pod(cluster, &ns, &master[0]).await;
    wait_test(cluster, &ns, "gitops", "Succeeded", |t| {
        phase_of(t) == Some(Phase::Succeeded)
    })
    .await;

    // Argo CD Force=true,Replace=true: kubectl replace --force (delete, wait, create). The new
    // test runs from the start: the old Complete master Job, until garbage collection removes
    // it, is not taken for the new one's.
    let out = cluster.run_kubectl(&["replace", "--force", "-n", &ns, "-f", "-"], Some(&edited));
    assert!(out.status.success(), "{}", text(&out));
    let started = std::time::Instant::now();
    let second = running_with(cluster, &ns, 3).await;
    eprintln!(
        "figures: replace --force to Running: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_ne!(second.uid(), first.uid(), "a new test");
    assert_eq!(worker_parallelism(cluster, &ns).await, Some(3));

    // Flux force: true: its apply is refused, so it deletes (background propagation) and
    // applies again at once, while the old children still await garbage collection.
    tests
        .patch(
            "gitops",
            &PatchParams::apply("kustomize-controller").force(),
            &Patch::Apply(manifest(4)),
        )
        .await
        .unwrap_err();
    tests
        .delete("gitops", &DeleteParams::background())
        .await
        .unwrap();
    wait::until("the test to be gone", Duration::from_secs(30), async || {
        tests
            .get_opt("gitops")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    tests
        .patch(
            "gitops",
            &PatchParams::apply("kustomize-controller").force(),
            &Patch::Apply(manifest(4)),
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let third = running_with(cluster, &ns, 4).await;
    eprintln!(
        "figures: Flux delete + apply to Running: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_ne!(third.uid(), second.uid());
    assert_eq!(worker_parallelism(cluster, &ns).await, Some(4));
    let job_owner = Api::<Job>::namespaced(cluster.client(), &ns)
        .get("gitops-worker")
        .await
        .unwrap()
        .owner_references()[0]
        .uid
        .clone();
    assert_eq!(Some(job_owner), third.uid());
}
