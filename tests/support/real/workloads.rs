//! What the real-node tests run besides Locust, and how they read it: the HTTP target that
//! records every request, the OTLP receiver, locustfile ConfigMaps, the operator (as a host
//! process serving the conversion webhook, or its image for in-cluster installs), pod logs.
//!
//! Reads go through the API server's service proxy (`/api/v1/namespaces/N/services/S:P/proxy/`),
//! which dials the pod IP from the host: the same path an operator outside the cluster uses.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::{Api, LogParams, PostParams};
use serde_json::{Value, json};

use super::super::cluster::Cluster;
use super::super::wait;
use super::images;

/// Port of the target's Service (the pod listens on 8080).
pub const TARGET_PORT: u16 = 80;

impl Cluster {
    /// The real node; panics in another mode.
    pub fn node(&self) -> &super::RealNode {
        self.real
            .as_ref()
            .unwrap_or_else(|| panic!("this test needs Mode::RealCluster, not {}", self.mode))
    }

    /// A locally built image by key: `locust`, `target`, `otlp-receiver`, `exporter`, `pause`.
    pub fn image(&self, key: &str) -> String {
        self.node().images.reference(key)
    }

    /// Creates (or replaces) a ConfigMap of text files.
    pub async fn config_map(&self, namespace: &str, name: &str, files: &[(&str, &str)]) {
        let data: serde_json::Map<String, Value> = files
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let config_map: ConfigMap =
            serde_json::from_value(json!({ "metadata": { "name": name }, "data": data }))
                .unwrap_or_default();
        let api = Api::<ConfigMap>::namespaced(self.client(), namespace);
        let _ = api.delete(name, &Default::default()).await;
        api.create(&PostParams::default(), &config_map)
            .await
            .unwrap_or_else(|e| panic!("cannot create ConfigMap {namespace}/{name}: {e}"));
    }

    /// Runs a single-container pod behind a Service of the same name and waits until it is
    /// Ready (a readiness probe on `ready_path` of the first port).
    pub async fn service_pod(
        &self,
        namespace: &str,
        name: &str,
        image: &str,
        ports: &[(u16, u16)],
        ready_path: &str,
    ) {
        let container_ports: Vec<Value> = ports
            .iter()
            .map(|(_, target)| json!({ "containerPort": target }))
            .collect();
        let service_ports: Vec<Value> = ports
            .iter()
            .map(|(port, target)| json!({ "name": format!("p{port}"), "port": port, "targetPort": target }))
            .collect();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "app": name } },
            "spec": {
                "containers": [{
                    "name": name,
                    "image": image,
                    "imagePullPolicy": "Never",
                    "ports": container_ports,
                    // Ready at the first answer, and then kept in the Service: with the
                    // defaults (1 s timeout, 3 failures) a node busy with Locust pods could
                    // take it out for a moment, and its ClusterIP then refuses connections.
                    "readinessProbe": {
                        "httpGet": { "path": ready_path, "port": ports[0].1 },
                        "periodSeconds": 1,
                        "timeoutSeconds": 5,
                        "failureThreshold": 60,
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "capabilities": { "drop": ["ALL"] },
                        "runAsNonRoot": true,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                }],
                "terminationGracePeriodSeconds": 1,
                "automountServiceAccountToken": false,
            },
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let service: Service = serde_json::from_value(json!({
            "metadata": { "name": name },
            "spec": { "selector": { "app": name }, "ports": service_ports },
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        Api::<Pod>::namespaced(self.client(), namespace)
            .create(&PostParams::default(), &pod)
            .await
            .unwrap_or_else(|e| panic!("cannot create pod {namespace}/{name}: {e}"));
        let service = Api::<Service>::namespaced(self.client(), namespace)
            .create(&PostParams::default(), &service)
            .await
            .unwrap_or_else(|e| panic!("cannot create Service {namespace}/{name}: {e}"));
        self.wait_pod_ready(namespace, name, Duration::from_secs(60))
            .await;
        // A Ready pod is not yet a reachable Service: until kube-proxy has its endpoint, the
        // Service IP refuses connections, and a Locust pod starting then counts failures.
        let cluster_ip = service
            .spec
            .and_then(|s| s.cluster_ip)
            .unwrap_or_else(|| panic!("Service {namespace}/{name} has no cluster IP"));
        wait_answers(&cluster_ip, ports[0].0, ready_path).await;
    }

    /// Waits until a pod is Ready; the panic names its container states.
    pub async fn wait_pod_ready(&self, namespace: &str, name: &str, timeout: Duration) {
        let pods = Api::<Pod>::namespaced(self.client(), namespace);
        wait::until_ok(
            &format!("pod {namespace}/{name} to be Ready"),
            timeout,
            async || {
                let pod = pods.get(name).await.map_err(|e| e.to_string())?;
                let status = pod.status.unwrap_or_default();
                let ready = status
                    .conditions
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                if ready {
                    Ok(())
                } else {
                    // The conditions carry the scheduler's reason (a taint, no room).
                    let conditions: Vec<String> = status
                        .conditions
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| {
                            format!(
                                "{}={} {} {}",
                                c.type_,
                                c.status,
                                c.reason.unwrap_or_default(),
                                c.message.unwrap_or_default()
                            )
                        })
                        .collect();
                    Err(format!(
                        "phase {:?}, conditions {conditions:?}, containers {:?}",
                        status.phase, status.container_statuses
                    ))
                }
            },
        )
        .await;
    }

    /// The HTTP target in `namespace`: Service `target` on port 80, reachable from pods as
    /// `http://target.<namespace>.svc`.
    pub async fn start_target(&self, namespace: &str) -> String {
        self.service_pod(
            namespace,
            "target",
            &self.image("target"),
            &[(TARGET_PORT, 8080)],
            "/_target/requests",
        )
        .await;
        format!("http://target.{namespace}.svc")
    }

    /// What reached the target so far: `{"total", "by_path", "by_method", "recent",
    /// "distinct"}` (see hack/images/target.py).
    pub async fn target_requests(&self, namespace: &str) -> Value {
        self.service_proxy_json(namespace, "target", TARGET_PORT, "_target/requests")
            .await
    }

    /// The OTLP receiver in `namespace`: Service `otel-collector` with 4317 (gRPC) and 4318
    /// (HTTP).
    pub async fn start_otlp_receiver(&self, namespace: &str) {
        self.service_pod(
            namespace,
            "otel-collector",
            &self.image("otlp-receiver"),
            &[(4318, 4318), (4317, 4317)],
            "/_receiver/received",
        )
        .await;
    }

    /// What the OTLP receiver got, per signal.
    pub async fn otlp_received(&self, namespace: &str) -> Value {
        self.service_proxy_json(namespace, "otel-collector", 4318, "_receiver/received")
            .await
    }

    /// GET through the API server's service proxy, parsed as JSON.
    pub async fn service_proxy_json(
        &self,
        namespace: &str,
        service: &str,
        port: u16,
        path: &str,
    ) -> Value {
        // Ports are named `p<port>` (service_pod); the proxy takes a port name.
        let uri = format!("/api/v1/namespaces/{namespace}/services/{service}:p{port}/proxy/{path}");
        let request = http::Request::get(&uri)
            .body(Vec::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let text = self
            .client()
            .request_text(request)
            .await
            .unwrap_or_else(|e| panic!("GET {uri}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {uri}: {e}: {text}"))
    }

    /// A container's log (the kubelet's, through the API server).
    pub async fn pod_log(&self, namespace: &str, pod: &str, container: Option<&str>) -> String {
        let params = LogParams {
            container: container.map(str::to_string),
            ..LogParams::default()
        };
        Api::<Pod>::namespaced(self.client(), namespace)
            .logs(pod, &params)
            .await
            .unwrap_or_else(|e| format!("(no log of {namespace}/{pod}: {e})"))
    }

    /// Loads the operator image built from `binary` (this checkout's, e.g.
    /// `env!("CARGO_BIN_EXE_locust-k8s-operator")`) into the node; returns its reference: the
    /// chart's default image, so an install with default values runs it.
    pub fn load_operator_image(&self, binary: &std::path::Path) -> String {
        let reference = format!(
            "{}:{}",
            locust_operator::manifests::release::OPERATOR_IMAGE_REPOSITORY,
            locust_operator::manifests::release::VERSION
        );
        let archive =
            images::operator_archive(binary, &reference).unwrap_or_else(|e| panic!("{e}"));
        images::import(&self.node().containerd_socket, &[&archive])
            .unwrap_or_else(|e| panic!("{e}"));
        reference
    }
}

/// Waits until `GET path` on `ip:port` answers 200 from the host (ClusterIPs answer from the
/// host through kube-proxy's rules, as from pods).
async fn wait_answers(ip: &str, port: u16, path: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = format!("{ip}:{port}");
    wait::until_ok(
        &format!("http://{address}{path} to answer 200"),
        Duration::from_secs(30),
        async || {
            let exchange = async {
                let mut stream = tokio::net::TcpStream::connect(&address).await?;
                stream
                    .write_all(format!("GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").as_bytes())
                    .await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                Ok::<_, std::io::Error>(answer)
            };
            let answer = tokio::time::timeout(Duration::from_secs(2), exchange)
                .await
                .map_err(|_| "no answer within 2 s".to_string())?
                .map_err(|e| e.to_string())?;
            let status = String::from_utf8_lossy(&answer)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            if status.split_whitespace().nth(1) == Some("200") {
                Ok(())
            } else {
                Err(format!("answered {status:?}"))
            }
        },
    )
    .await;
}
