//! On a simulated cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
//! kwok with fake Nodes): the cluster behaviour the operator relies on, proven before the
//! operator is tested on it.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use crate::support::kwok::{NODE_LABEL, POD_COMPLETE_DELAY};
use crate::support::{Cluster, wait};

const TIMEOUT: Duration = Duration::from_secs(60);

fn job(name: &str, pod_annotations: Value) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "annotations": pod_annotations },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{ "name": "main", "image": "busybox:1.36", "command": ["true"] }],
                },
            },
        },
    }))
    .unwrap()
}

async fn pods_of(pods: &Api<Pod>, job: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .unwrap()
        .items
}

fn phase(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

pub async fn job_pod_runs_on_a_fake_node_and_the_job_completes(cluster: &'static Cluster) {
    let ns = cluster.namespace("job").await;
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let pods = Api::<Pod>::namespaced(cluster.client(), &ns);
    jobs.create(&PostParams::default(), &job("smoke", json!({})))
        .await
        .unwrap();

    wait::until_ok("Job smoke to complete", TIMEOUT, async || {
        let job = jobs.get("smoke").await.map_err(|e| e.to_string())?;
        let conditions = job.status.and_then(|s| s.conditions).unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
        {
            Ok(())
        } else {
            Err(format!("conditions {conditions:?}"))
        }
    })
    .await;

    let pods = pods_of(&pods, "smoke").await;
    assert_eq!(pods.len(), 1, "{pods:?}");
    let pod = &pods[0];
    assert_eq!(phase(pod), "Succeeded");
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(cluster.client());
    let labels = nodes
        .get(&node)
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels.get(NODE_LABEL.0).map(String::as_str),
        Some(NODE_LABEL.1),
        "pod ran on {node:?}, not a kwok node"
    );
}

pub async fn pod_complete_delay_annotation_keeps_a_job_pod_running(cluster: &'static Cluster) {
    let ns = cluster.namespace("delay").await;
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let pods = Api::<Pod>::namespaced(cluster.client(), &ns);
    let created = Instant::now();
    jobs.create(
        &PostParams::default(),
        &job("slow", json!({ POD_COMPLETE_DELAY: "4s" })),
    )
    .await
    .unwrap();
    wait::until("the pod of Job slow to run", TIMEOUT, async || {
        pods_of(&pods, "slow")
            .await
            .iter()
            .any(|p| phase(p) == "Running")
            .then_some(())
    })
    .await;
    wait::until("the pod of Job slow to succeed", TIMEOUT, async || {
        pods_of(&pods, "slow")
            .await
            .iter()
            .any(|p| phase(p) == "Succeeded")
            .then_some(())
    })
    .await;
    assert!(
        created.elapsed() >= Duration::from_secs(4),
        "the pod succeeded after {:?}, before its 4 s delay",
        created.elapsed()
    );
}

pub async fn garbage_collector_deletes_the_dependents_of_a_deleted_owner(
    cluster: &'static Cluster,
) {
    let ns = cluster.namespace("gc").await;
    let configmaps = Api::<ConfigMap>::namespaced(cluster.client(), &ns);
    let owner: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "owner" } })).unwrap();
    let owner = configmaps
        .create(&PostParams::default(), &owner)
        .await
        .unwrap();
    let reference = owner.controller_owner_ref(&()).unwrap();
    let dependent: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "dependent", "ownerReferences": [reference] },
    }))
    .unwrap();
    configmaps
        .create(&PostParams::default(), &dependent)
        .await
        .unwrap();
    configmaps
        .delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    wait::until("ConfigMap dependent to be collected", TIMEOUT, async || {
        configmaps
            .get_opt("dependent")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    // A Job owns its Pods; kwok plays the kubelet that lets deleted Pods go.
    let jobs = Api::<Job>::namespaced(cluster.client(), &ns);
    let pods = Api::<Pod>::namespaced(cluster.client(), &ns);
    jobs.create(
        &PostParams::default(),
        &job("owner-job", json!({ POD_COMPLETE_DELAY: "10m" })),
    )
    .await
    .unwrap();
    wait::until("the pod of Job owner-job to run", TIMEOUT, async || {
        pods_of(&pods, "owner-job")
            .await
            .iter()
            .any(|p| phase(p) == "Running")
            .then_some(())
    })
    .await;
    // batch/v1 Jobs orphan their Pods by default; ask for background deletion as kubectl does.
    jobs.delete("owner-job", &DeleteParams::background())
        .await
        .unwrap();
    wait::until_ok(
        "the pods of Job owner-job to be collected",
        TIMEOUT,
        async || {
            let left = pods_of(&pods, "owner-job").await;
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{:?}",
                    left.iter().map(|p| p.name_any()).collect::<Vec<_>>()
                ))
            }
        },
    )
    .await;
}

pub async fn pod_security_admission_enforces_the_namespace_level(cluster: &'static Cluster) {
    let ns = cluster.namespace("restricted").await;
    let labels = json!({ "metadata": { "labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
    } } });
    Api::<Namespace>::all(cluster.client())
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), &ns);
    let pod = |name: &str, security: Value| -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "spec": { "containers": [{
                "name": "main",
                "image": "busybox:1.36",
                "securityContext": security,
            }] },
        }))
        .unwrap()
    };

    let refused = pods
        .create(&PostParams::default(), &pod("plain", json!({})))
        .await
        .expect_err("a pod without a security context violates restricted");
    let message = match refused {
        kube::Error::Api(status) => status.message,
        other => panic!("unexpected error: {other}"),
    };
    assert!(
        message.contains(r#"violates PodSecurity "restricted:latest""#),
        "{message}"
    );

    let restricted = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
        "runAsNonRoot": true,
        "runAsUser": 1000,
        "seccompProfile": { "type": "RuntimeDefault" },
    });
    pods.create(&PostParams::default(), &pod("restricted", restricted))
        .await
        .expect("a pod that meets restricted is admitted");
}
