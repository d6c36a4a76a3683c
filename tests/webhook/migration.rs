//! The procedure of docs/migration-v1-to-v2.md against a real API server and its etcd: objects
//! stored as v1 (as an older install kept them) are rewritten as v2 by reading and replacing
//! them, then v1 leaves the CRD's `status.storedVersions`; nothing about the objects changes.

use std::process::Command;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use libtest_mimic::Trial;
use locust_operator::api::names::CRD_NAME;
use serde_json::Value;

use crate::common::{
    V1, V2, assert_same, install_crd, locust_tests, quantities_as_strings, until_conversion_works,
};
use crate::scenarios::CRD;
use crate::serving::{CertDir, InProcess, TestCa};
use crate::support::{Cluster, fixtures, process, tools};

pub fn trials() -> Vec<Trial> {
    crate::trials![objects_stored_as_v1_move_to_v2_with_the_documented_procedure]
}

fn kubectl(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = cluster.run_kubectl(args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The API server's `--etcd-servers`, from its command line.
fn etcd_endpoint(cluster: &Cluster) -> String {
    let groups = std::fs::read_to_string(cluster.dir.join(process::GROUPS_FILE)).unwrap();
    let pid = groups
        .lines()
        .find_map(|l| l.strip_suffix(" kube-apiserver"))
        .expect("the API server's process group");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    String::from_utf8_lossy(&cmdline)
        .split('\0')
        .find_map(|arg| arg.strip_prefix("--etcd-servers=").map(str::to_string))
        .expect("--etcd-servers")
}

/// The apiVersion an object is stored in, read from etcd itself.
fn stored_api_version(cluster: &Cluster, namespace: &str, name: &str) -> String {
    let etcdctl = tools::tool("etcdctl").unwrap();
    let key = format!("/registry/locust.io/locusttests/{namespace}/{name}");
    let out = Command::new(etcdctl)
        .args([
            "--endpoints",
            &etcd_endpoint(cluster),
            "get",
            &key,
            "--print-value-only",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{key} is not JSON in etcd ({e})"));
    stored["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn stored_versions(cluster: &Cluster) -> Vec<String> {
    Api::<CustomResourceDefinition>::all(cluster.client())
        .get(CRD_NAME)
        .await
        .unwrap()
        .status
        .and_then(|s| s.stored_versions)
        .unwrap_or_default()
}

/// Every object's spec as `version`, by name.
async fn specs(cluster: &Cluster, namespace: &str, version: &str) -> Vec<(String, Value)> {
    let mut all: Vec<(String, Value)> = locust_tests(cluster, namespace, version)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|o| {
            (
                o.metadata.name.unwrap(),
                quantities_as_strings(&o.data["spec"]),
            )
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

async fn objects_stored_as_v1_move_to_v2_with_the_documented_procedure(cluster: &'static Cluster) {
    let _crd = CRD.lock().await;
    let ca = TestCa::new();
    let dir = CertDir::new(cluster.dir.join("migration-certs"));
    dir.publish(&ca.serving());
    let webhook = InProcess::start(cluster, dir).await;
    webhook.until_loaded().await;

    // An older install: v1 is the storage version.
    install_crd(cluster, &webhook.url(), Some(&ca.ca.cert), V1).await;
    let namespace = cluster.namespace("migration").await;
    until_conversion_works(cluster, &namespace).await;
    let names = [
        "valid/v1-go-operator.yaml",
        "valid/v1-minimal.yaml",
        "valid/v2-full.yaml",
    ];
    let mut objects = Vec::new();
    for fixture in fixtures::all()
        .into_iter()
        .filter(|f| names.contains(&f.name.as_str()))
    {
        kubectl(
            cluster,
            &["apply", "-n", &namespace, "-f", "-"],
            Some(&fixture.text),
        );
        objects.push(
            fixture.value()["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for name in &objects {
        assert_eq!(
            stored_api_version(cluster, &namespace, name),
            "locust.io/v1"
        );
    }
    let (v1_before, v2_before) = (
        specs(cluster, &namespace, V1).await,
        specs(cluster, &namespace, V2).await,
    );

    // The upgrade installs the CRD with v2 as storage version; nothing is rewritten yet.
    install_crd(cluster, &webhook.url(), Some(&ca.ca.cert), V2).await;
    let versions = stored_versions(cluster).await;
    assert!(versions.contains(&"v1".to_string()), "{versions:?}");
    assert_eq!(
        stored_api_version(cluster, &namespace, &objects[0]),
        "locust.io/v1"
    );

    // The documented procedure.
    let listed = kubectl(
        cluster,
        &["get", "locusttests.locust.io", "-A", "-o", "json"],
        None,
    );
    kubectl(cluster, &["replace", "-f", "-"], Some(&listed));
    for name in &objects {
        assert_eq!(
            stored_api_version(cluster, &namespace, name),
            "locust.io/v2",
            "{name} after kubectl replace"
        );
    }
    kubectl(
        cluster,
        &[
            "patch",
            "customresourcedefinition",
            CRD_NAME,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"storedVersions":["v2"]}}"#,
        ],
        None,
    );
    assert_eq!(stored_versions(cluster).await, ["v2"]);

    // The objects read the same as before, in both versions.
    let (v1_after, v2_after) = (
        specs(cluster, &namespace, V1).await,
        specs(cluster, &namespace, V2).await,
    );
    assert_same(
        &serde_json::to_value(&v2_after).unwrap(),
        &serde_json::to_value(&v2_before).unwrap(),
        "v2 views after the migration",
    );
    assert_same(
        &serde_json::to_value(&v1_after).unwrap(),
        &serde_json::to_value(&v1_before).unwrap(),
        "v1 views after the migration",
    );
    webhook.webhook.shutdown().await;
}
