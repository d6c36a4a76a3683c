//! Shared by the webhook test binaries: the CRD with its conversion webhook pointed at a test
//! URL, a TLS client that trusts a given CA, ConversionReview requests over HTTPS, and
//! LocustTests read and written as either version.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, WebhookClientConfig, WebhookConversion,
};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use locust_operator::api::crd::locust_test_crd;
use locust_operator::api::names::CRD_NAME;
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{Cluster, wait};

pub const V1: &str = "v1";
pub const V2: &str = "v2";

/// LocustTests as `version` in `namespace`.
pub fn locust_tests(cluster: &Cluster, namespace: &str, version: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("locust.io", version, "LocustTest");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "locusttests");
    Api::namespaced_with(cluster.client(), namespace, &resource)
}

/// The CRD as `crd` prints it, with `spec.conversion` calling `url` and trusting `ca_bundle`
/// (none: the operator injects it). Applied server-side, then waited on until Established.
pub async fn install_crd_calling(cluster: &Cluster, url: &str, ca_bundle: Option<&str>) {
    install_crd(cluster, url, ca_bundle, V2).await;
}

/// [`install_crd_calling`] with `storage` as the storage version (v1 as older installs had it).
pub async fn install_crd(cluster: &Cluster, url: &str, ca_bundle: Option<&str>, storage: &str) {
    let client_config = WebhookClientConfig {
        ca_bundle: ca_bundle.map(|pem| ByteString(pem.as_bytes().to_vec())),
        service: None,
        url: Some(url.to_string()),
    };
    install_crd_with(cluster, crd_with_webhook(client_config, storage)).await;
}

/// The CRD as `crd` prints it, its conversion calling the webhook `client_config` names, with
/// `storage` as the storage version.
pub fn crd_with_webhook(
    client_config: WebhookClientConfig,
    storage: &str,
) -> CustomResourceDefinition {
    let mut crd = locust_test_crd().unwrap();
    for version in &mut crd.spec.versions {
        version.storage = version.name == storage;
    }
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".to_string(),
        webhook: Some(WebhookConversion {
            client_config: Some(client_config),
            conversion_review_versions: vec!["v1".to_string()],
        }),
    });
    crd
}

/// Applies `crd` server-side and waits until it is Established.
pub async fn install_crd_with(cluster: &Cluster, crd: CustomResourceDefinition) {
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("webhook-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot apply the CRD with a conversion webhook: {e}"));
    wait::until_ok(
        "the LocustTest CRD to be Established",
        Duration::from_secs(30),
        async || {
            let crd = crds.get(CRD_NAME).await.map_err(|e| e.to_string())?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            established.then_some(()).ok_or("not yet".to_string())
        },
    )
    .await;
}

/// The first fixture-like object: a YAML manifest as JSON.
pub fn manifest(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("not YAML: {e}"))
}

/// `object` as a DynamicObject to create (server-managed metadata dropped).
pub fn to_create(object: &Value, name: &str) -> DynamicObject {
    let mut object = object.clone();
    let metadata = object["metadata"].clone();
    object["metadata"] = json!({
        "name": name,
        "labels": metadata.get("labels").cloned().unwrap_or(Value::Null),
        "annotations": metadata.get("annotations").cloned().unwrap_or(Value::Null),
    });
    if let Some(status) = object.as_object_mut() {
        status.remove("status");
    }
    serde_json::from_value(object).unwrap_or_else(|e| panic!("not an object: {e}"))
}

/// Waits until the API server converts through the webhook (a fresh CRD or a new caBundle
/// takes a moment to reach the API server's webhook client).
pub async fn until_conversion_works(cluster: &Cluster, namespace: &str) {
    let v1 = locust_tests(cluster, namespace, V1);
    wait::until_ok(
        "the API server to convert through the webhook",
        Duration::from_secs(60),
        async || {
            v1.list(&Default::default())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
}

/// A TLS client trusting only `ca_pem`, offering `alpn`.
pub fn tls_client(ca_pem: &str, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `address`, checking the certificate for 127.0.0.1.
pub async fn connect(
    address: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(address).await?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

/// The leaf certificate (DER) the server at `address` presents.
pub async fn served_leaf(
    address: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<Vec<u8>> {
    let stream = connect(address, config).await?;
    let (_, session) = stream.get_ref();
    Ok(session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default())
}

/// An HTTP/1.1 connection over TLS for several requests.
pub struct WebhookConnection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl WebhookConnection {
    pub async fn open(address: SocketAddr, config: Arc<ClientConfig>) -> Self {
        let stream = connect(address, config).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Self { sender }
    }

    /// Sends one request; returns status and body.
    pub async fn send(&mut self, method: &str, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body.to_vec())
    }

    /// Posts a ConversionReview body to /convert; returns status and the parsed answer.
    pub async fn review(&mut self, body: Vec<u8>) -> (u16, Value) {
        let (status, bytes) = self.send("POST", "/convert", body).await;
        let answer = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {bytes:?}"));
        (status, answer)
    }
}

/// A ConversionReview request.
pub fn review_request(uid: &str, desired: &str, objects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": { "uid": uid, "desiredAPIVersion": desired, "objects": objects },
    })
}

/// Whether every field of `expected` is in `actual` with the same value: objects and lists
/// recursively (the API server adds defaults inside them), everything else exactly.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    first_difference(actual, expected, "").is_none()
}

/// Where `actual` first lacks a field of `expected` or holds another value (for messages).
pub fn first_difference(actual: &Value, expected: &Value, path: &str) -> Option<String> {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected.iter().find_map(|(k, v)| {
            let here = format!("{path}.{k}");
            match actual.get(k) {
                None => Some(format!("{here}: missing, expected {v}")),
                Some(a) => first_difference(a, v, &here),
            }
        }),
        (Value::Array(actual), Value::Array(expected)) if actual.len() == expected.len() => actual
            .iter()
            .zip(expected)
            .enumerate()
            .find_map(|(i, (a, e))| first_difference(a, e, &format!("{path}[{i}]"))),
        _ if actual == expected => None,
        _ => Some(format!("{path}: {actual} instead of {expected}")),
    }
}

/// Panics with the first difference (either way) unless `actual == expected`.
pub fn assert_same(actual: &Value, expected: &Value, what: &str) {
    if actual != expected {
        let difference = first_difference(actual, expected, "")
            .or_else(|| first_difference(expected, actual, "").map(|d| format!("(reversed) {d}")));
        panic!("{what}: {difference:?}");
    }
}

/// `spec` with every resource quantity written as a string. The conversion reads quantities
/// into `Quantity`, which serializes as a string, so `cpu: 2` comes back as `cpu: "2"` from a
/// trip through the other version: the same quantity, another spelling.
pub fn quantities_as_strings(spec: &Value) -> Value {
    let mut spec = spec.clone();
    for role in ["master", "worker"] {
        for kind in ["requests", "limits"] {
            if let Some(Value::Object(map)) = spec.pointer_mut(&format!("/{role}/resources/{kind}"))
            {
                for value in map.values_mut() {
                    if let Value::Number(n) = value {
                        *value = Value::String(n.to_string());
                    }
                }
            }
        }
    }
    spec
}
