//! What the real-node scenarios share: the operator (one host process for the whole binary,
//! watching every namespace and serving the conversion webhook on loopback, as `make run`
//! does), LocustTests made from the shipped samples, phase tracking, pods and events.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use locust_operator::api::v2::{LocustTest, Phase};

use crate::support::operator::{OperatorOptions, OperatorProcess, free_address, operator_identity};
use crate::support::{Cluster, crd, wait};

/// The namespace of the shared host operator.
pub const OPERATOR_NAMESPACE: &str = "locust-system";

static OPERATOR: Mutex<Option<OperatorProcess>> = Mutex::const_new(None);

/// Starts the shared operator unless it runs: CRD installed, conversion pointed at its webhook
/// on loopback (self-managed certificates, `caBundle` injected by the operator), the exporter
/// image set to the local stand-in. Waits until a v1 object converts.
pub async fn ensure_operator(cluster: &Cluster) {
    let mut operator = OPERATOR.lock().await;
    if let Some(process) = operator.as_mut()
        && process.is_running()
    {
        return;
    }
    crd::install(cluster)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Both CRDs before the operator starts, as an install has them.
    crd::install_schedule(cluster)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let namespaces = Api::<Namespace>::all(cluster.client());
    if namespaces
        .get_opt(OPERATOR_NAMESPACE)
        .await
        .unwrap()
        .is_none()
    {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": OPERATOR_NAMESPACE}})).unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
    }
    let identity = operator_identity(cluster, OPERATOR_NAMESPACE).await;
    let webhook = free_address();
    let conversion = json!({"spec": {"conversion": {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"url": format!("https://{webhook}/convert")},
        },
    }}});
    Api::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>::all(cluster.client())
        .patch(crd::CRD_NAME, &PatchParams::default(), &Patch::Merge(conversion))
        .await
        .unwrap();
    let mut options = OperatorOptions::new(&identity.kubeconfig, OPERATOR_NAMESPACE);
    options.watch_namespace = None;
    // Long enough for a pod to be created on a loaded two-core node (a master pod once took
    // over 20 s in ContainerCreating while two release builds ran), short enough that the
    // failure tests, which wait it out, stay quick.
    options.grace = "45s";
    options.env = vec![
        ("WEBHOOK_CERT_MODE", "self-managed".into()),
        ("WEBHOOK_SERVICE_NAME", "locust-k8s-operator-webhook".into()),
        (
            "WEBHOOK_SECRET_NAME",
            "locust-k8s-operator-webhook-certs".into(),
        ),
        ("WEBHOOK_EXTRA_SANS", "127.0.0.1".into()),
        ("WEBHOOK_BIND_ADDRESS", webhook.clone()),
        ("METRICS_EXPORTER_IMAGE", cluster.image("exporter")),
    ];
    // More of the operator's log when chasing a failure, e.g. `info,kube_runtime=debug`.
    if let Ok(filter) = std::env::var("LOCUST_TEST_OPERATOR_LOG") {
        options.env.push(("RUST_LOG", filter));
    }
    let mut process = OperatorProcess::start(cluster, "host-operator", &options);
    process.wait_ready().await;
    *operator = Some(process);
    drop(operator);
    // A v1 object can be created once the API server trusts the webhook's certificate.
    let probe = json!({
        "apiVersion": "locust.io/v1", "kind": "LocustTest",
        "metadata": {"name": "conversion-probe"},
        "spec": {"masterCommandSeed": "--locustfile /lotest/src/l.py", "workerCommandSeed": "--locustfile /lotest/src/l.py",
                 "workerReplicas": 1, "image": "locustio/locust:2.46.7", "configMap": "x"},
    });
    let ns = OPERATOR_NAMESPACE;
    wait::until_ok(
        "the conversion webhook to answer",
        Duration::from_secs(60),
        async || {
            let out = cluster.run_kubectl(
                &["create", "--dry-run=server", "-n", ns, "-f", "-"],
                Some(&probe.to_string()),
            );
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        },
    )
    .await;
}

/// Stops the shared operator (before a test installs one in the cluster).
pub async fn stop_operator() {
    if let Some(mut process) = OPERATOR.lock().await.take() {
        process.terminate(Duration::from_secs(10));
    }
}

/// The shared operator's log, for failure messages.
pub async fn operator_log() -> String {
    OPERATOR
        .lock()
        .await
        .as_ref()
        .map(|p| p.log_text())
        .unwrap_or_default()
}

/// A shipped sample (`config/samples/<file>`) as JSON.
pub fn sample(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/samples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Replaces `--name value` (or adds it) in a Locust command line.
pub fn set_flag(command: &str, name: &str, value: &str) -> String {
    let mut words: Vec<String> = command.split_whitespace().map(String::from).collect();
    match words.iter().position(|w| w == name) {
        Some(i) if i + 1 < words.len() => words[i + 1] = value.to_string(),
        _ => words.extend([name.to_string(), value.to_string()]),
    }
    words.join(" ")
}

/// Creates any manifest with kubectl (v1 or v2, through conversion when v1).
pub fn apply(cluster: &Cluster, ns: &str, object: &Value) {
    let out = cluster.run_kubectl(&["create", "-n", ns, "-f", "-"], Some(&object.to_string()));
    assert!(
        out.status.success(),
        "kubectl create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every phase a test went through, in order, until it ended (polled every 100 ms; Pending and
/// Running last seconds on a real node), with the final object.
pub async fn follow_to_end(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> (Vec<Phase>, LocustTest) {
    let api = Api::<LocustTest>::namespaced(cluster.client(), ns);
    let started = Instant::now();
    let mut phases: Vec<Phase> = Vec::new();
    loop {
        if let Ok(test) = api.get(name).await {
            let phase = test.status.as_ref().and_then(|s| s.phase);
            if let Some(phase) = phase
                && phases.last() != Some(&phase)
            {
                phases.push(phase);
            }
            if phase.is_some_and(Phase::is_terminal) {
                return (phases, test);
            }
        }
        if started.elapsed() >= timeout {
            let about: String = operator_log()
                .await
                .lines()
                .filter(|l| l.contains(&format!("{name}.{ns}")) || l.contains("ERROR"))
                .collect::<Vec<_>>()
                .join("\n");
            let pods: Vec<String> = Api::<Pod>::namespaced(cluster.client(), ns)
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default()
                .into_iter()
                .map(|p| {
                    let status = p.status.unwrap_or_default();
                    format!(
                        "{}: {:?} {:?}",
                        p.metadata.name.unwrap_or_default(),
                        status.phase,
                        status.container_statuses
                    )
                })
                .collect();
            let mut workers = String::new();
            for pod in pods_of(cluster, ns, name, "worker").await {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                let container = pod.spec.as_ref().map(|s| s.containers[0].name.clone());
                let log = cluster.pod_log(ns, &pod_name, container.as_deref()).await;
                workers.push_str(&format!("--- {pod_name}\n{}\n", tail(&log, 30)));
            }
            panic!(
                "{ns}/{name} did not end within {timeout:?}; phases so far {phases:?}\npods: {pods:#?}\nmaster log:\n{}\nworker logs (end):\n{workers}\noperator log about it and errors (end):\n{}",
                master_log(cluster, ns, name).await,
                tail(&about, 40)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The pods of a test's role (`master` or `worker`).
pub async fn pods_of(cluster: &Cluster, ns: &str, name: &str, role: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(cluster.client(), ns)
        .list(&ListParams::default().labels(&format!(
            "performance-test-name={name},app.kubernetes.io/component={role}"
        )))
        .await
        .unwrap()
        .items
}

/// The Locust container's log of the test's master pod.
pub async fn master_log(cluster: &Cluster, ns: &str, name: &str) -> String {
    let mut text = String::new();
    for pod in pods_of(cluster, ns, name, "master").await {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let container = pod.spec.as_ref().map(|s| s.containers[0].name.clone());
        text.push_str(&cluster.pod_log(ns, &pod_name, container.as_deref()).await);
    }
    text
}

/// Exit code of the first (Locust) container of each pod of a role.
pub async fn exit_codes(cluster: &Cluster, ns: &str, name: &str, role: &str) -> Vec<i32> {
    pods_of(cluster, ns, name, role)
        .await
        .iter()
        .filter_map(|pod| {
            let container = &pod.spec.as_ref()?.containers[0].name;
            pod.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .iter()
                .find(|c| &c.name == container)?
                .state
                .as_ref()?
                .terminated
                .as_ref()
                .map(|t| t.exit_code)
        })
        .collect()
}

/// A condition of a test's status: (status, reason, message).
pub fn condition(test: &LocustTest, type_: &str) -> Option<(String, String, String)> {
    test.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Reasons of the events about an object.
pub async fn event_reasons(cluster: &Cluster, ns: &str, name: &str) -> BTreeSet<String> {
    Api::<Event>::namespaced(cluster.client(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

/// Namespaces no scenario deletes.
const KEPT_NAMESPACES: [&str; 5] = [
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    OPERATOR_NAMESPACE,
];

/// A fresh namespace for a scenario, once the previous scenarios' namespaces are gone. The node
/// has two CPUs and the scheduler counts the requests of every pod that has not finished: pods a
/// failure scenario leaves waiting (ImagePullBackOff, ContainerCreating) would keep the next
/// scenario's pods from being scheduled ("Insufficient cpu").
pub async fn scenario_namespace(cluster: &Cluster, prefix: &str) -> String {
    let namespaces = Api::<Namespace>::all(cluster.client());
    let old: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .filter(|n| !KEPT_NAMESPACES.contains(&n.as_str()))
        .collect();
    for name in &old {
        let _ = namespaces.delete(name, &Default::default()).await;
    }
    let pods = Api::<Pod>::all(cluster.client());
    wait::until_ok(
        "the previous scenarios' pods to be gone",
        Duration::from_secs(120),
        async || {
            let left: Vec<String> = pods
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items
                .into_iter()
                .filter(|p| {
                    p.metadata
                        .namespace
                        .as_ref()
                        .is_some_and(|ns| old.contains(ns))
                })
                .filter_map(|p| p.metadata.name)
                .collect();
            left.is_empty().then_some(()).ok_or(format!("{left:?}"))
        },
    )
    .await;
    cluster.namespace(prefix).await
}

/// A fresh scenario namespace with the target running; returns (namespace, target URL).
pub async fn namespace_with_target(cluster: &Cluster, prefix: &str) -> (String, String) {
    let ns = scenario_namespace(cluster, prefix).await;
    let url = cluster.start_target(&ns).await;
    (ns, url)
}
