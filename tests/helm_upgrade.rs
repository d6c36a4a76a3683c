//! `helm upgrade` of a release installed from the Go operator's chart package (2.3.0,
//! tests/fixtures/go-operator-2.3.0) to this chart, on a simulated cluster, with the commands
//! docs/upgrade.md gives: once with the Go chart's default values, once with a values file
//! using its `locustPods.*` and deprecated `config.*` keys.
//!
//! Checked: the upgrade succeeds; object names keep and the Deployment, ServiceAccount and CRD
//! are updated in place (same uid); nothing of the Go release is left behind; the operator
//! configuration the Go values produced is the same; LocustTests the Go operator left stay
//! readable as v2 and, once our operator runs, as v1; and our operator, started with the
//! chart's ServiceAccount, its RBAC and its Deployment's environment, wins the leader election,
//! releases the Go finalizer and runs a new test.
//!
//! kwok runs no containers, so the operator runs as a process here, and a TCP forwarder plays
//! the webhook Service (the API server has no kube-proxy to reach it). Both scenarios own the
//! cluster-wide CRDs through a Helm release, so they take [`CRD`] in turn and delete the CRDs
//! ([`CRD`] and [`SCHEDULE_CRD`]) when done; no other test of this binary touches them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "go_upgrade/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "webhook/proxy.rs"]
mod proxy;
mod support;

use std::collections::BTreeSet;
use std::process::{ExitCode, Output};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use common::{GO_TEST, create_go_test, fixture, fixture_dir, text, wait_test};
use locust_operator::api::v2::{LocustTest, Phase};
use proxy::Proxy;
use support::operator::{OperatorOptions, OperatorProcess, free_address};
use support::tools::tool;
use support::{Cluster, Mode, wait};

const RELEASE: &str = "locust-operator";
const CRD: &str = "locusttests.locust.io";
/// The release also installs the LocustTestSchedule CRD (kept on uninstall as well).
const SCHEDULE_CRD: &str = locust_operator::api::names::SCHEDULE_CRD_NAME;
const OUR_CHART: &str = "charts/locust-k8s-operator";
const TIMEOUT: Duration = Duration::from_secs(90);

/// The CRD belongs to one release at a time.
static CRD_LOCK: Mutex<()> = Mutex::const_new(());

fn main() -> ExitCode {
    support::harness::main(
        Mode::SimulatedCluster,
        trials![
            go_release_with_default_values_upgrades_in_place,
            go_release_with_locust_pods_and_config_values_upgrades_in_place,
            install_notes_name_the_collector_tests_send_to,
        ],
    )
}

fn helm(cluster: &Cluster, args: &[&str]) -> Output {
    let helm = tool("helm").unwrap_or_else(|e| panic!("{e}"));
    std::process::Command::new(helm)
        .args(args)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn helm_ok(cluster: &Cluster, args: &[&str]) -> String {
    let out = helm(cluster, args);
    assert!(out.status.success(), "helm {args:?}:\n{}", text(&out));
    text(&out)
}

/// Replaces the objects of `yaml` wholesale (test clean-up only).
fn replace(cluster: &Cluster, yaml: &str) {
    common::kubectl(cluster, &["replace", "-f", "-"], Some(yaml));
}

/// (kind, name) of every object of a release revision.
fn manifest(cluster: &Cluster, ns: &str, revision: &str) -> BTreeSet<(String, String)> {
    let out = helm_ok(
        cluster,
        &["get", "manifest", RELEASE, "-n", ns, "--revision", revision],
    );
    serde_yaml::Deserializer::from_str(&out)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter(|v| !v.is_null())
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Whether an object of the release (kind, name) exists, and its uid.
fn uid_of(cluster: &Cluster, ns: &str, kind: &str, name: &str) -> Option<String> {
    let out = cluster.run_kubectl(
        &[
            "get",
            kind,
            name,
            "-n",
            ns,
            "--ignore-not-found",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!uid.is_empty()).then_some(uid)
}

/// The operator container's literal environment.
async fn operator_env(client: &Client, ns: &str) -> Vec<(String, String)> {
    let deployment = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(RELEASE)
        .await
        .unwrap();
    let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
    container
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect()
}

fn locust_tests(cluster: &Cluster, ns: &str, version: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("locust.io", version, "LocustTest");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "locusttests");
    Api::namespaced_with(cluster.client(), ns, &resource)
}

async fn go_release_with_default_values_upgrades_in_place(cluster: &'static Cluster) {
    upgrade_scenario(cluster, "helm-go-default", None).await;
}

async fn go_release_with_locust_pods_and_config_values_upgrades_in_place(
    cluster: &'static Cluster,
) {
    upgrade_scenario(
        cluster,
        "helm-go-values",
        Some("tests/fixtures/helm/go-operator-upgrade-values.yaml"),
    )
    .await;
}

/// The notes `helm install` prints for the OpenTelemetry Collector, in both values layouts.
/// (A client-side dry run still checks who owns the CRD: it takes [`CRD_LOCK`].)
async fn install_notes_name_the_collector_tests_send_to(cluster: &'static Cluster) {
    let _crd = CRD_LOCK.lock().await;
    let ns = cluster.namespace("helm-notes").await;
    let notes = |set: &[&str]| {
        let mut args = vec!["install", "notes", OUR_CHART, "-n", &ns, "--dry-run=client"];
        for s in set {
            args.extend(["--set", s]);
        }
        let out = helm_ok(cluster, &args);
        out.split_once("NOTES:")
            .map(|(_, n)| n.to_string())
            .unwrap_or(out)
    };
    let endpoint = format!(
        r#"spec.observability.openTelemetry: {{enabled: true, endpoint: "http://notes-locust-k8s-operator-otel-collector.{ns}:4317", insecure: true}}"#
    );
    for set in [
        &["otelCollector.enabled=true"][..],
        &["openTelemetry.collector.deploy=true"][..],
    ] {
        let printed = notes(set);
        assert!(printed.contains(&endpoint), "{set:?}:\n{printed}");
    }
    let printed = notes(&["openTelemetry.collector.externalEndpoint=http://otel.monitoring:4317"]);
    assert!(
        printed.contains(
            r#"spec.observability.openTelemetry: {enabled: true, endpoint: "http://otel.monitoring:4317"}"#
        ),
        "{printed}"
    );
    assert!(printed.contains("not injected into tests"), "{printed}");
    let printed = notes(&[]);
    assert!(!printed.contains("OpenTelemetry"), "{printed}");
}

async fn upgrade_scenario(cluster: &'static Cluster, prefix: &str, values: Option<&str>) {
    let _crd = CRD_LOCK.lock().await;
    let ns = cluster.namespace(prefix).await;
    let data = cluster.namespace(&format!("{prefix}-tests")).await;
    let client = cluster.client();
    let work = cluster.dir.join(&ns);
    std::fs::create_dir_all(&work).unwrap();

    // 1. The Go operator's release, as its users installed it.
    let go_chart = fixture_dir().join("locust-k8s-operator-2.3.0.tgz");
    let go_chart = go_chart.to_str().unwrap();
    let mut install = vec![
        "install",
        RELEASE,
        go_chart,
        "-n",
        &ns,
        "--wait",
        "--timeout",
        "2m",
    ];
    if let Some(values) = values {
        install.extend(["-f", values]);
    }
    helm_ok(cluster, &install);
    let go_objects = manifest(cluster, &ns, "1");
    let go_env = operator_env(&client, &ns).await;
    let before: Vec<(&str, &str, String)> = [
        ("deployment", RELEASE),
        ("serviceaccount", RELEASE),
        ("customresourcedefinition", CRD),
    ]
    .into_iter()
    .map(|(kind, name)| (kind, name, uid_of(cluster, &ns, kind, name).unwrap()))
    .collect();

    // Tests the Go operator left: one finished (its finalizer still on), one in Terminating.
    let finished_status = fixture("locusttest-after-run.yaml")["status"].clone();
    let finished = create_go_test(cluster, &data, GO_TEST, finished_status).await;
    create_go_test(
        cluster,
        &data,
        "go-deleted",
        common::go_running_status("2026-11-24T13:27:30Z"),
    )
    .await;
    Api::<LocustTest>::namespaced(client.clone(), &data)
        .delete("go-deleted", &Default::default())
        .await
        .unwrap();
    // The Go operator's CRD took names our rules refuse (more than 56 characters).
    let long_name = "a".repeat(60);
    if values.is_none() {
        create_go_test(
            cluster,
            &data,
            &long_name,
            common::go_running_status("2026-11-24T13:27:30Z"),
        )
        .await;
    }

    // 2. The upgrade, with the commands of docs/upgrade.md.
    let old_values = work.join("old-values.yaml");
    let got = helm_ok(
        cluster,
        &["get", "values", RELEASE, "-n", &ns, "-o", "yaml"],
    );
    std::fs::write(&old_values, got).unwrap();
    let stored = common::kubectl(
        cluster,
        &["get", "crd", CRD, "-o", "jsonpath={.status.storedVersions}"],
        None,
    );
    assert_eq!(stored, r#"["v2"]"#);
    let started = std::time::Instant::now();
    let notes = helm_ok(
        cluster,
        &[
            "upgrade",
            RELEASE,
            OUR_CHART,
            "-n",
            &ns,
            "-f",
            old_values.to_str().unwrap(),
            "--set",
            "fullnameOverride=locust-operator",
            "--wait",
            "--timeout",
            "2m",
        ],
    );
    assert!(notes.contains("Run a first test"), "our NOTES: {notes}");
    let upgrade_seconds = started.elapsed().as_secs_f64();

    // 3. Names keep; the Deployment, ServiceAccount and CRD are the same objects, updated.
    let our_objects = manifest(cluster, &ns, "2");
    for (kind, name, uid) in &before {
        assert_eq!(
            uid_of(cluster, &ns, kind, name).as_ref(),
            Some(uid),
            "{kind} {name} was replaced, not updated"
        );
        let kind_name = our_objects
            .iter()
            .any(|(k, n)| k.eq_ignore_ascii_case(kind) && n == name);
        assert!(kind_name, "{kind} {name} not in the new release");
    }
    // Nothing of the Go release is left unless the new release owns it.
    for (kind, name) in &go_objects {
        if !our_objects.contains(&(kind.clone(), name.clone())) {
            assert_eq!(
                uid_of(cluster, &ns, kind, name),
                None,
                "{kind} {name} of the Go release left behind"
            );
        }
    }
    for (kind, name) in &our_objects {
        assert!(
            uid_of(cluster, &ns, kind, name).is_some(),
            "{kind} {name} of the new release missing"
        );
    }
    let labelled = common::kubectl(
        cluster,
        &[
            "get",
            "deployments,replicasets,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,configmaps,clusterroles,clusterrolebindings,customresourcedefinitions",
            "-n",
            &ns,
            "-l",
            &format!("app.kubernetes.io/instance={RELEASE}"),
            "-o",
            "jsonpath={range .items[*]}{.kind}/{.metadata.name}{\"\\n\"}{end}",
        ],
        None,
    );
    for line in labelled.lines().filter(|l| !l.starts_with("ReplicaSet/")) {
        let (kind, name) = line.split_once('/').unwrap();
        assert!(
            our_objects.contains(&(kind.to_string(), name.to_string())),
            "{line} carries the release's label but is not in it"
        );
    }

    // The CRD is ours now: conversion webhook, our rules, kept on uninstall.
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get(CRD)
        .await
        .unwrap();
    assert_eq!(
        crd.annotations()
            .get("helm.sh/resource-policy")
            .map(String::as_str),
        Some("keep")
    );
    let conversion = crd.spec.conversion.clone().unwrap();
    assert_eq!(conversion.strategy, "Webhook");
    let v2 = crd.spec.versions.iter().find(|v| v.name == "v2").unwrap();
    let schema = serde_json::to_string(&v2.schema).unwrap();
    assert!(schema.contains("spec is immutable"), "our CEL rules");
    assert_eq!(
        crd.status.unwrap().stored_versions,
        Some(vec!["v2".to_string()])
    );

    // The operator configuration is what the Go values produced.
    let our_env = operator_env(&client, &ns).await;
    for (name, value) in &go_env {
        if name.starts_with("KAFKA_") {
            continue;
        }
        let ours = our_env.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        assert_eq!(
            ours,
            Some(value),
            "{name}: Go chart {value:?}, ours {ours:?}"
        );
    }

    if values.is_some() {
        // The deprecated config.* keys filled the empty locustPods values, in both charts.
        for (name, value) in [
            ("POD_CPU_LIMIT", "4000m"),
            ("JOB_TTL_SECONDS_AFTER_FINISHED", "3600"),
            ("WORKER_POD_MEM_REQUEST", "512Mi"),
            ("ENABLE_AFFINITY_CR_INJECTION", "false"),
        ] {
            assert!(
                our_env.contains(&(name.to_string(), value.to_string())),
                "{name}={value} in {our_env:?}"
            );
        }
    }
    eprintln!(
        "figures: helm upgrade --wait took {upgrade_seconds:.1} s; the Go release had {go_objects:?}, \
         ours has {our_objects:?}"
    );

    // The Go operator's tests read as v2 at once, unchanged.
    let v2_view = locust_tests(cluster, &data, "v2")
        .get(GO_TEST)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&v2_view.data["status"]).unwrap(),
        serde_json::to_value(&finished.status).unwrap()
    );

    // 4. Our operator, as the chart runs it: its ServiceAccount, its environment, leader
    // election; a forwarder stands in for the webhook Service.
    let identity = cluster.service_account_identity(&ns, RELEASE).await;
    let proxy = Proxy::start().await;
    Api::<CustomResourceDefinition>::all(client.clone())
        .patch(
            CRD,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"conversion": {"webhook": {"clientConfig": {
                "service": null, "url": proxy.url(),
            }}}}})),
        )
        .await
        .unwrap();
    let webhook = free_address();
    let mut options = OperatorOptions::new(&identity.kubeconfig, &ns);
    options.watch_namespace = None;
    options.leader_elect = true;
    options.env = our_env
        .iter()
        .filter(|(n, _)| !n.ends_with("_BIND_ADDRESS"))
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    options.env.extend([
        ("WEBHOOK_BIND_ADDRESS", webhook.clone()),
        ("WEBHOOK_EXTRA_SANS", "127.0.0.1".to_string()),
    ]);
    let name = format!("{ns}-replica");
    let mut operator = OperatorProcess::start(cluster, &name, &options);
    proxy.set_backend(&name, webhook.parse().unwrap(), &operator.health);
    operator.wait_ready().await;
    let leases = Api::<Lease>::namespaced(client.clone(), &ns);
    wait::until("our operator to hold the lease", TIMEOUT, async || {
        let lease = leases
            .get_opt("locust-k8s-operator.locust.io")
            .await
            .ok()??;
        (lease.spec?.holder_identity? == name).then_some(())
    })
    .await;

    // Readable as v1 through the webhook; the Go finalizers released.
    wait::until_ok("v1 reads through the webhook", TIMEOUT, async || {
        locust_tests(cluster, &data, "v1")
            .get(GO_TEST)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
    let as_v1 = locust_tests(cluster, &data, "v1")
        .get(GO_TEST)
        .await
        .unwrap();
    assert_eq!(as_v1.data["spec"]["workerReplicas"], 2);
    wait_test(cluster, &data, GO_TEST, "the Go finalizer released", |t| {
        t.metadata.finalizers.as_ref().is_none_or(Vec::is_empty)
    })
    .await;
    let tests = Api::<LocustTest>::namespaced(client.clone(), &data);
    wait::until("the Terminating Go test to go", TIMEOUT, async || {
        tests
            .get_opt("go-deleted")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    if values.is_none() {
        // Such a test takes no change at all under our CRD, not even losing the finalizer: a
        // delete hangs, and the operator says why (docs/upgrade.md: delete them before).
        tests.delete(&long_name, &Default::default()).await.unwrap();
        wait::until("the FinalizerNotRemoved event", TIMEOUT, async || {
            common::event_reasons(cluster, &data, &long_name)
                .await
                .contains("FinalizerNotRemoved")
                .then_some(())
        })
        .await;
        assert!(tests.get_opt(&long_name).await.unwrap().is_some());
        // Clean up as the test's own business: under the Go operator's CRD (no such rule) the
        // finalizer can go.
        let go_crd = helm_ok(
            cluster,
            &[
                "template",
                "x",
                go_chart,
                "--show-only",
                "templates/crd.yaml",
            ],
        );
        replace(cluster, &go_crd);
        // The API server takes the replaced CRD's rules a moment later: until then our name
        // rule still refuses the patch (422).
        wait::until_ok("the Go CRD to let the finalizer go", TIMEOUT, async || {
            tests
                .patch(
                    &long_name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
        wait::until("the long-named test to go", TIMEOUT, async || {
            tests
                .get_opt(&long_name)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await;
    }
    let kept = tests.get(GO_TEST).await.unwrap();
    assert_eq!(
        kept.status.as_ref().and_then(|s| s.phase),
        Some(Phase::Succeeded)
    );

    // A new test runs under the upgraded release, with its locustfile ConfigMap (the operator
    // waits for the ConfigMaps a test references before it creates anything).
    let mut fresh = fixture("locusttest-after-run.yaml");
    let spec = fresh["spec"].take();
    let plan: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": spec["testFiles"]["configMapRef"]},
        "data": {"locustfile.py": "from locust import HttpUser\n"},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), &data)
        .create(&PostParams::default(), &plan)
        .await
        .unwrap();
    let fresh: LocustTest = serde_json::from_value(json!({
        "apiVersion": "locust.io/v2", "kind": "LocustTest",
        "metadata": {"name": "after-upgrade"}, "spec": spec,
    }))
    .unwrap();
    tests.create(&PostParams::default(), &fresh).await.unwrap();
    wait_test(cluster, &data, "after-upgrade", "Succeeded", |t| {
        t.status.as_ref().and_then(|s| s.phase) == Some(Phase::Succeeded)
    })
    .await;
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), &ns);
    assert!(accounts.get_opt(RELEASE).await.unwrap().is_some());

    // Leave the cluster to the other scenario: no release, no CRD.
    drop(operator);
    helm_ok(cluster, &["uninstall", RELEASE, "-n", &ns, "--wait"]);
    common::kubectl(
        cluster,
        &[
            "delete",
            "crd",
            CRD,
            SCHEDULE_CRD,
            "--wait=true",
            "--timeout=60s",
        ],
        None,
    );
}
