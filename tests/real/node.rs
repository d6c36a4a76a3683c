//! The node itself: what every scenario relies on, checked once with plain pods.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::support::{Cluster, wait};

use super::common::tail;

/// A pod resolves Services by name (CoreDNS), reaches them through their ClusterIP
/// (kube-proxy) and the API server through the `kubernetes` Service; the host reaches pods
/// through the API server's service proxy; `kubectl logs` and `kubectl exec` reach the kubelet.
pub async fn pods_reach_services_by_name_and_the_host_reaches_pods(cluster: &'static Cluster) {
    let ns = super::common::scenario_namespace(cluster, "node").await;
    cluster.start_target(&ns).await;
    let script = format!(
        r#"
import socket, urllib.request, urllib.error
print("resolved", socket.gethostbyname("target.{ns}.svc.cluster.local"))
print("target", urllib.request.urlopen("http://target/from-a-pod", timeout=10).status)
try:
    urllib.request.urlopen("https://kubernetes.default.svc/version", timeout=10)
except urllib.error.URLError as e:
    # No CA given: the TLS handshake reached the API server and failed verification.
    print("apiserver", type(e.reason).__name__)
"#
    );
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "client"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "client",
                "image": cluster.image("locust"),
                "imagePullPolicy": "Never",
                "command": ["python3", "-c", script],
            }],
        },
    }))
    .unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), &ns);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let phase = wait::until(
        "the client pod to finish",
        Duration::from_secs(60),
        async || {
            let phase = pods.get("client").await.ok()?.status?.phase?;
            matches!(phase.as_str(), "Succeeded" | "Failed").then_some(phase)
        },
    )
    .await;
    let log = cluster.pod_log(&ns, "client", None).await;
    assert_eq!(phase, "Succeeded", "client pod log:\n{log}");
    let service_ip = cluster
        .client()
        .request_text(
            http::Request::get(format!("/api/v1/namespaces/{ns}/services/target"))
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let service: serde_json::Value = serde_json::from_str(&service_ip).unwrap();
    let cluster_ip = service["spec"]["clusterIP"].as_str().unwrap();
    assert!(
        log.contains(&format!("resolved {cluster_ip}")),
        "the pod did not resolve target to its ClusterIP {cluster_ip}:\n{log}"
    );
    assert!(log.contains("target 200"), "{log}");
    assert!(log.contains("apiserver SSLCertVerificationError"), "{log}");
    let seen = cluster.target_requests(&ns).await;
    assert_eq!(seen["by_path"]["/from-a-pod"], 1, "{seen}");

    let out = cluster.run_kubectl(
        &[
            "exec",
            "-n",
            &ns,
            "target",
            "--",
            "python3",
            "-c",
            "print(6 * 7)",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "42",
        "kubectl exec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = cluster.run_kubectl(&["logs", "-n", &ns, "target"], None);
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("target listening"),
        "kubectl logs: {}",
        tail(&String::from_utf8_lossy(&logs.stderr), 5)
    );
}
