//! The controller's safety net, against a real kube-apiserver whose LocustTest CRD was installed
//! without its CEL rules (`x-kubernetes-validations` stripped, as a hand-edited or truncated
//! install would leave it): every invalid fixture the API server then lets through is failed
//! by the operator with `InvalidSpec` and the same message the API server would have given,
//! and nothing is created for it.
//!
//! A binary of its own: the CRD is cluster-wide, and every other test needs it whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use serde_json::Value;

use locust_operator::api::v2::{LocustTest, Phase};
use support::cluster::run_with_stdin;
use support::fixtures;
use support::operator::{OperatorOptions, OperatorProcess, operator_identity};
use support::{Cluster, Mode, wait};

fn main() -> ExitCode {
    support::harness::main(
        Mode::ApiServer,
        trials![specs_the_api_server_lets_through_fail_as_invalid_spec],
    )
}

fn strip_rules(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut stripped = usize::from(map.remove("x-kubernetes-validations").is_some());
            for child in map.values_mut() {
                stripped += strip_rules(child);
            }
            stripped
        }
        Value::Array(items) => items.iter_mut().map(strip_rules).sum(),
        _ => 0,
    }
}

/// The generated CRD without its CEL rules; returns how many rule lists were removed.
async fn install_crd_without_rules(cluster: &Cluster) -> usize {
    let mut crd: Value = serde_yaml::from_str(&support::crd::crd_yaml()).unwrap();
    let stripped = strip_rules(&mut crd);
    let out = run_with_stdin(
        cluster.kubectl().args(["apply", "-f", "-"]),
        Some(&serde_json::to_string(&crd).unwrap()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Polled, not `kubectl wait`: that fails outright when it reads the CRD before the API
    // server wrote any status (".status.conditions accessor error", seen once).
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    wait::until_ok(
        "the rule-less CRD to be Established",
        Duration::from_secs(30),
        async || {
            let crd = crds
                .get("locusttests.locust.io")
                .await
                .map_err(|e| e.to_string())?;
            let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
            if conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
            {
                Ok(())
            } else {
                Err(format!("conditions: {conditions:?}"))
            }
        },
    )
    .await;
    stripped
}

/// Creates `object` as kubectl does (field validation Strict); the server's message when it
/// refuses.
async fn create_strict(cluster: &Cluster, namespace: &str, object: &Value) -> Result<(), String> {
    let request = http::Request::post(format!(
        "/apis/locust.io/v2/namespaces/{namespace}/locusttests?fieldValidation=Strict"
    ))
    .header("content-type", "application/json")
    .body(serde_json::to_vec(object).unwrap())
    .unwrap();
    match cluster.client().request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(other) => panic!("no answer from the API server: {other}"),
    }
}

async fn specs_the_api_server_lets_through_fail_as_invalid_spec(cluster: &'static Cluster) {
    let stripped = install_crd_without_rules(cluster).await;
    assert!(stripped >= 10, "only {stripped} rule lists in the CRD");
    let home = cluster.namespace("operator").await;
    let identity = operator_identity(cluster, &home).await;
    let mut options = OperatorOptions::new(&identity.kubeconfig, &home);
    options.watch_namespace = None;
    let mut operator = OperatorProcess::start(cluster, "operator", &options);
    operator.wait_ready().await;

    // Every invalid v2 fixture in a namespace of its own (their names repeat).
    let mut let_through = Vec::new();
    let mut refused = Vec::new();
    for (i, fixture) in fixtures::all()
        .into_iter()
        .filter(|f| !f.is_valid() && f.name.starts_with("invalid/v2-"))
        .enumerate()
    {
        let object = fixture.value();
        let ns = cluster.namespace(&format!("slipped-{i}")).await;
        match create_strict(cluster, &ns, &object).await {
            Ok(()) => let_through.push((fixture, ns, object)),
            Err(message) => refused.push((fixture.name, message)),
        }
    }
    eprintln!(
        "FIGURES: without its {stripped} CEL rule lists the API server let {} of {} invalid v2 fixtures through; \
         it still refused {:?} (OpenAPI bounds, unknown fields)",
        let_through.len(),
        let_through.len() + refused.len(),
        refused.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
    );
    assert!(
        let_through.len() >= 15,
        "too few fixtures slipped through to mean anything: {}",
        let_through.len()
    );

    let started = Instant::now();
    for (fixture, ns, object) in &let_through {
        let name = object["metadata"]["name"].as_str().unwrap();
        let api = Api::<LocustTest>::namespaced(cluster.client(), ns);
        let test = wait::until_ok(
            &format!("{} to fail", fixture.name),
            Duration::from_secs(30),
            async || {
                let test = api.get(name).await.map_err(|e| e.to_string())?;
                match test.status.as_ref().and_then(|s| s.phase) {
                    Some(Phase::Failed) => Ok(test),
                    other => Err(format!("phase {other:?}")),
                }
            },
        )
        .await;
        let completed = test
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "TestCompleted"))
            .unwrap();
        assert_eq!(
            completed.reason, "InvalidSpec",
            "{}: {}",
            fixture.name, completed.message
        );
        for fragment in &fixture.expected {
            assert!(
                completed.message.contains(fragment.as_str()),
                "{}: {fragment:?} not in {:?}",
                fixture.name,
                completed.message
            );
        }
        let jobs = Api::<Job>::namespaced(cluster.client(), ns)
            .list(&ListParams::default())
            .await
            .unwrap();
        assert!(jobs.items.is_empty(), "{}: Jobs were created", fixture.name);
    }
    eprintln!(
        "all {} were Failed with InvalidSpec, naming what the API server would have ({:.1}s to check them all)",
        let_through.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(operator.is_running());
}
