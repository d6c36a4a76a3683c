//! Installing the LocustTest CRD the way users do: `locust-k8s-operator crd | kubectl apply -f -`
//! (plain client-side apply), once per cluster.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use tokio::sync::OnceCell;

use super::cluster::{Cluster, run_with_stdin};
use super::wait;

pub const CRD_NAME: &str = "locusttests.locust.io";

/// The CRD as `locust-k8s-operator crd` prints it: the binary when the caller is a test (Cargo
/// builds it for integration tests), the same library call otherwise.
pub fn crd_yaml() -> String {
    match option_env!("CARGO_BIN_EXE_locust-k8s-operator") {
        Some(binary) => {
            let out = std::process::Command::new(binary)
                .arg("crd")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {binary} crd: {e}"));
            assert!(
                out.status.success(),
                "{binary} crd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        None => locust_operator::api::crd::locust_test_crd()
            .map_err(|e| e.to_string())
            .and_then(|crd| locust_operator::manifests::to_yaml(&crd).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("cannot render the CRD: {e}")),
    }
}

/// Applies the CRD and waits until it is Established. Runs once; every caller gets the same
/// result, so a CRD the API server rejects fails each test that needs it with the server's
/// own words.
pub async fn install(cluster: &Cluster) -> Result<(), String> {
    static INSTALLED: OnceCell<Result<(), String>> = OnceCell::const_new();
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let Err(error) = INSTALLED.get_or_init(|| apply_and_wait(cluster)).await else {
        return Ok(());
    };
    // The whole answer once; a short pointer to it in every other failure.
    if REPORTED.swap(true, Ordering::Relaxed) {
        let first = error.lines().take(2).collect::<Vec<_>>().join(" ");
        Err(format!(
            "{first} ... (the full answer is in another failure above)"
        ))
    } else {
        Err(error.clone())
    }
}

async fn apply_and_wait(cluster: &Cluster) -> Result<(), String> {
    let out = run_with_stdin(
        cluster.kubectl().args(["apply", "-f", "-"]),
        Some(&crd_yaml()),
    );
    if !out.status.success() {
        return Err(format!(
            "the API server rejected the generated CRD (`locust-k8s-operator crd | kubectl apply -f -`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    wait::until_ok(
        "the LocustTest CRD to be Established",
        Duration::from_secs(30),
        async || {
            let crd = crds.get(CRD_NAME).await.map_err(|e| e.to_string())?;
            let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
            let established = conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                Ok(())
            } else {
                Err(format!("conditions: {conditions:?}"))
            }
        },
    )
    .await;
    // kubectl explain and client-side validation read the published OpenAPI document, which
    // follows Established by a moment.
    let client = cluster.client();
    wait::until_ok(
        "the LocustTest schema in the OpenAPI v3 document",
        Duration::from_secs(30),
        async || {
            let mut missing = Vec::new();
            for version in ["v1", "v2"] {
                let request = http::Request::get(format!("/openapi/v3/apis/locust.io/{version}"))
                    .body(Vec::new())
                    .map_err(|e| e.to_string())?;
                let document = client.request_text(request).await.unwrap_or_default();
                if !document.contains(&format!("io.locust.{version}.LocustTest")) {
                    missing.push(version);
                }
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not yet published: {missing:?}"))
            }
        },
    )
    .await;
    Ok(())
}

/// Applies the LocustTestSchedule CRD (as `config/crd/` ships it) and waits until it is
/// Established. Runs once per binary, like [`install`].
pub async fn install_schedule(cluster: &Cluster) -> Result<(), String> {
    static INSTALLED: OnceCell<Result<(), String>> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let crd =
                locust_operator::api::schedule_crd::schedule_crd().map_err(|e| e.to_string())?;
            let yaml = locust_operator::manifests::to_yaml(&crd).map_err(|e| e.to_string())?;
            let out = run_with_stdin(cluster.kubectl().args(["apply", "-f", "-"]), Some(&yaml));
            if !out.status.success() {
                return Err(format!(
                    "the API server rejected the LocustTestSchedule CRD:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let name = locust_operator::api::names::SCHEDULE_CRD_NAME;
            let crds = Api::<CustomResourceDefinition>::all(cluster.client());
            wait::until_ok(
                "the LocustTestSchedule CRD to be Established",
                Duration::from_secs(30),
                async || {
                    let crd = crds.get(name).await.map_err(|e| e.to_string())?;
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
            Ok(())
        })
        .await
        .clone()
}
