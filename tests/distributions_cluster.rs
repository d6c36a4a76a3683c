//! The generated distributions against a real API server, on a simulated cluster: every chart
//! value set, `config/` and the bundle's objects pass a server-side dry-run (and the chart's pods
//! the `restricted` Pod Security Standard); the chart installs with `helm install`, its
//! Deployment becomes Available on kwok's nodes, and `helm uninstall` leaves the CRD and nothing
//! else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/distributions.rs"]
#[allow(dead_code)]
mod distributions;
mod support;

use std::process::{ExitCode, Output};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::json;

use distributions::{CHART, ValueSet, read_yaml, repo, value_sets};
use support::cluster::run_with_stdin;
use support::tools::tool;
use support::{Cluster, Mode, wait};

const CRD: &str = "locusttests.locust.io";
const TIMEOUT: Duration = Duration::from_secs(120);

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kubectl apply --server-side --dry-run=server`: the API server validates and admits every
/// object (schemas, CEL, PodSecurity warnings) without storing any.
fn dry_run(cluster: &Cluster, yaml: &str) -> Output {
    run_with_stdin(
        cluster.kubectl().args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=distribution-dry-run",
            "--dry-run=server",
            "-f",
            "-",
        ]),
        Some(yaml),
    )
}

fn helm(cluster: &Cluster, args: &[&str]) -> Output {
    let helm = tool("helm").unwrap_or_else(|e| panic!("{e}"));
    std::process::Command::new(helm)
        .args(args)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .current_dir(repo())
        .output()
        .unwrap()
}

/// A namespace where pods must pass the `restricted` Pod Security Standard, and whose workloads
/// get a warning when their pod template would not.
async fn restricted_namespace(cluster: &Cluster, prefix: &str) -> String {
    let ns = cluster.namespace(prefix).await;
    let out = cluster.run_kubectl(
        &[
            "label",
            "namespace",
            &ns,
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/warn=restricted",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    ns
}

/// Schema-less stand-ins for the cert-manager and Prometheus Operator CRDs, so that the
/// Issuer, Certificate and ServiceMonitor of the chart reach the API server. Their own schemas
/// are those projects' business; the API server still checks names, namespaces and metadata.
fn third_party_crds() -> String {
    let crd = |group: &str, kind: &str, plural: &str| {
        serde_yaml::to_string(&json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": format!("{plural}.{group}") },
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": { "kind": kind, "plural": plural, "singular": kind.to_lowercase() },
                "versions": [{
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "schema": { "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                    }},
                }],
            },
        }))
        .unwrap()
    };
    [
        crd("cert-manager.io", "Issuer", "issuers"),
        crd("cert-manager.io", "Certificate", "certificates"),
        crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
    ]
    .join("---\n")
}

async fn wait_established(cluster: &Cluster, name: &str) {
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    wait::until_ok(&format!("CRD {name} Established"), TIMEOUT, async || {
        let crd = crds.get(name).await.map_err(|e| e.to_string())?;
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
            .then_some(())
            .ok_or(format!("{conditions:?}"))
    })
    .await;
}

async fn chart_passes_server_side_dry_run_for_every_value_set(cluster: &'static Cluster) {
    let out = cluster.run_kubectl(&["apply", "-f", "-"], Some(&third_party_crds()));
    assert!(out.status.success(), "{}", text(&out));
    for name in [
        "issuers.cert-manager.io",
        "certificates.cert-manager.io",
        "servicemonitors.monitoring.coreos.com",
    ] {
        wait_established(cluster, name).await;
    }
    let ns = restricted_namespace(cluster, "chart-dry-run").await;
    for set in value_sets() {
        let yaml = distributions::helm_template_text_in(&set, &ns);
        let out = dry_run(cluster, &yaml);
        let output = text(&out);
        assert!(
            out.status.success(),
            "the API server refused the chart with values {}:\n{output}",
            set.name
        );
        assert!(
            !output.contains("would violate PodSecurity"),
            "values {}: a pod template breaks the restricted Pod Security Standard:\n{output}",
            set.name
        );
    }

    // The check above can fail: a privileged operator container is reported.
    let mut privileged = ValueSet::default_values();
    privileged
        .set
        .push("containerSecurityContext.allowPrivilegeEscalation=true");
    let out = dry_run(
        cluster,
        &distributions::helm_template_text_in(&privileged, &ns),
    );
    assert!(
        text(&out).contains("would violate PodSecurity"),
        "no PodSecurity warning for allowPrivilegeEscalation=true:\n{}",
        text(&out)
    );
}

async fn config_and_bundle_objects_pass_server_side_dry_run(cluster: &'static Cluster) {
    // config/ installs into a fixed namespace; a dry-run cannot create it for the objects in it.
    let csv =
        read_yaml(&repo().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml"));
    let config_namespace = read_yaml(&repo().join("config/namespace.yaml"));
    let out = cluster.run_kubectl(
        &["create", "-f", "-"],
        Some(&serde_yaml::to_string(&config_namespace).unwrap()),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cluster.run_kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=distribution-dry-run",
            "--dry-run=server",
            "-k",
            repo().join("config").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "kubectl apply -k config/ (dry-run):\n{}",
        text(&out)
    );
    // The bundle: its CRD and Service as files, and what OLM makes of the CSV: the Deployment,
    // the ServiceAccount, a ClusterRole and a Role with the CSV's rules.
    let ns = restricted_namespace(cluster, "bundle-dry-run").await;
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(repo().join("bundle/manifests")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("clusterserviceversion") {
            let mut object = read_yaml(&path);
            if object["kind"] == "Service" {
                object["metadata"]["namespace"] = json!(ns);
            }
            documents.push(object);
        }
    }
    let strategy = &csv["spec"]["install"]["spec"];
    let deployment = &strategy["deployments"][0];
    documents.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": deployment["name"], "namespace": ns, "labels": deployment["label"] },
        "spec": deployment["spec"],
    }));
    let account = &strategy["clusterPermissions"][0]["serviceAccountName"];
    documents.push(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": { "name": account, "namespace": ns },
    }));
    documents.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": { "name": format!("{ns}-csv") },
        "rules": strategy["clusterPermissions"][0]["rules"],
    }));
    documents.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": { "name": "csv", "namespace": ns },
        "rules": strategy["permissions"][0]["rules"],
    }));
    let yaml: Vec<String> = documents
        .iter()
        .map(|d| serde_yaml::to_string(d).unwrap())
        .collect();
    let out = dry_run(cluster, &yaml.join("---\n"));
    let output = text(&out);
    assert!(
        out.status.success(),
        "the API server refused the bundle's objects:\n{output}"
    );
    assert!(
        !output.contains("would violate PodSecurity"),
        "the CSV's Deployment breaks the restricted Pod Security Standard:\n{output}"
    );
}

async fn chart_installs_becomes_available_and_uninstall_keeps_only_the_crds(
    cluster: &'static Cluster,
) {
    let ns = restricted_namespace(cluster, "helm-install").await;
    let release = "locust";
    let out = helm(
        cluster,
        &[
            "install",
            release,
            CHART,
            "--namespace",
            &ns,
            "--wait",
            "--timeout",
            "2m",
        ],
    );
    assert!(out.status.success(), "helm install failed:\n{}", text(&out));
    assert!(
        text(&out).contains("Run a first test"),
        "NOTES.txt not shown:\n{}",
        text(&out)
    );
    wait_established(cluster, CRD).await;

    let deployments = Api::<Deployment>::namespaced(cluster.client(), &ns);
    let name = format!("{release}-locust-k8s-operator");
    wait::until_ok(
        "the operator Deployment to be Available",
        TIMEOUT,
        async || {
            let deployment = deployments.get(&name).await.map_err(|e| e.to_string())?;
            let status = deployment.status.unwrap_or_default();
            let available = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Available" && c.status == "True");
            (available && status.ready_replicas == Some(2))
                .then_some(())
                .ok_or(format!("{status:?}"))
        },
    )
    .await;

    let out = helm(
        cluster,
        &["uninstall", release, "--namespace", &ns, "--wait"],
    );
    assert!(
        out.status.success(),
        "helm uninstall failed:\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains("kept due to the resource policy"),
        "{}",
        text(&out)
    );

    let selector = format!("app.kubernetes.io/instance={release}");
    let left = cluster.run_kubectl(
        &[
            "get",
            "deployments,replicasets,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,configmaps,secrets",
            "--namespace",
            &ns,
            "--selector",
            &selector,
            "--output",
            "name",
        ],
        None,
    );
    assert!(left.status.success(), "{}", text(&left));
    assert_eq!(
        String::from_utf8_lossy(&left.stdout),
        "",
        "left in {ns} after uninstall"
    );
    let left = cluster.run_kubectl(
        &[
            "get",
            "clusterroles,clusterrolebindings,customresourcedefinitions",
            "--selector",
            &selector,
            "--output",
            "name",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        format!(
            "customresourcedefinition.apiextensions.k8s.io/{CRD}\ncustomresourcedefinition.apiextensions.k8s.io/{}",
            locust_operator::api::names::SCHEDULE_CRD_NAME
        ),
        "cluster-scoped objects after uninstall (both CRDs are kept)"
    );
    let releases = cluster.run_kubectl(
        &[
            "get",
            "secrets",
            "--namespace",
            &ns,
            "--selector",
            "owner=helm",
            "--output",
            "name",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&releases.stdout),
        "",
        "Helm release records left"
    );
}

fn main() -> ExitCode {
    support::harness::main(
        Mode::SimulatedCluster,
        trials![
            chart_passes_server_side_dry_run_for_every_value_set,
            config_and_bundle_objects_pass_server_side_dry_run,
            chart_installs_becomes_available_and_uninstall_keeps_only_the_crds,
        ],
    )
}
