//! The OLM bundle and the file-based catalog: the real validators, on the real output and on
//! broken copies of it.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::distributions::{read_yaml, read_yaml_documents, repo};
use crate::support::tools::tool;

fn operator_sdk_validate(bundle: &Path) -> (bool, Value, String) {
    let operator_sdk = tool("operator-sdk").unwrap_or_else(|e| panic!("{e}"));
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(operator_sdk)
        .args(["bundle", "validate"])
        .arg(bundle)
        .args([
            "--select-optional",
            "suite=operatorframework",
            "--output",
            "json-alpha1",
        ])
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        report,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn bundle_passes_operator_framework_suite_with_no_errors_and_no_warnings() {
    let (success, report, text) = operator_sdk_validate(&repo().join("bundle"));
    assert!(success, "operator-sdk bundle validate failed:\n{text}");
    assert_eq!(report["passed"], json!(true), "{text}");
    let outputs = report["outputs"].as_array().cloned().unwrap_or_default();
    assert!(outputs.is_empty(), "errors or warnings:\n{text}");
}

/// A copy of bundle/ with its CSV changed by `edit`.
fn broken_bundle(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["manifests", "metadata"] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in fs::read_dir(repo().join("bundle").join(sub)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    let csv_path = dir
        .path()
        .join("manifests/locust-k8s-operator.clusterserviceversion.yaml");
    let mut csv = read_yaml(&csv_path);
    edit(&mut csv);
    fs::write(&csv_path, serde_yaml::to_string(&csv).unwrap()).unwrap();
    dir
}

#[test]
fn broken_csvs_fail_bundle_validation() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 3] = [
        (
            "owned CRD missing",
            |csv| csv["spec"]["customresourcedefinitions"]["owned"] = json!([]),
            "is present in bundle \"locust-k8s-operator.v",
        ),
        (
            "conversion webhook with OwnNamespace",
            |csv| csv["spec"]["installModes"][0]["supported"] = json!(true),
            "only AllNamespaces InstallModeType is supported when conversionCRDs is present",
        ),
        (
            "category not in OLM's list",
            |csv| csv["metadata"]["annotations"]["categories"] = json!("Load Testing"),
            "is not in the set of standard categories",
        ),
    ];
    for (case, edit, expected) in cases {
        let bundle = broken_bundle(edit);
        let (success, report, text) = operator_sdk_validate(bundle.path());
        assert!(
            !success && report["passed"] == json!(false),
            "operator-sdk accepted a bundle with {case}:\n{text}"
        );
        let errors: Vec<&str> = report["outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["type"] == "error")
            .filter_map(|o| o["message"].as_str())
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{case}: no error saying {expected:?} in {errors:#?}"
        );
    }
}

fn opm_validate(dir: &Path) -> (bool, String) {
    let opm = tool("opm").unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(opm)
        .arg("validate")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn catalog_passes_opm_validate() {
    let (success, text) = opm_validate(&repo().join("catalog"));
    assert!(success, "opm validate catalog/ failed:\n{text}");
}

#[test]
fn catalog_upgrade_chain_of_several_releases_passes_opm_validate() {
    use locust_operator::manifests::olm::{catalog, csv};
    let previous = vec![
        catalog::PreviousRelease {
            version: "0.0.1".into(),
        },
        catalog::PreviousRelease {
            version: "0.0.2".into(),
        },
    ];
    let blobs = catalog::blobs(&csv::csv().unwrap(), &previous);
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("pkg")).unwrap();
    let text: Vec<String> = blobs
        .iter()
        .map(|b| serde_yaml::to_string(b).unwrap())
        .collect();
    fs::write(dir.path().join("pkg/catalog.yaml"), text.join("---\n")).unwrap();
    let (success, text) = opm_validate(dir.path());
    assert!(
        success,
        "opm validate refused a three-release chain:\n{text}"
    );
}

#[test]
fn broken_catalogs_fail_opm_validate() {
    let original = read_yaml_documents(&repo().join("catalog/locust-k8s-operator/catalog.yaml"));
    type Edit = fn(&mut Vec<Value>);
    let cases: [(&str, Edit); 3] = [
        ("a channel entry without a bundle", |blobs| {
            blobs[1]["entries"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "name": "locust-k8s-operator.v9.9.9" }));
        }),
        ("a default channel that does not exist", |blobs| {
            blobs[0]["defaultChannel"] = json!("fast");
        }),
        ("a bundle without a version", |blobs| {
            let bundle = blobs
                .iter_mut()
                .find(|b| b["schema"] == "olm.bundle")
                .unwrap();
            bundle["properties"]
                .as_array_mut()
                .unwrap()
                .retain(|p| p["type"] != "olm.package");
        }),
    ];
    for (case, edit) in cases {
        let mut blobs = original.clone();
        edit(&mut blobs);
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("pkg")).unwrap();
        let text: Vec<String> = blobs
            .iter()
            .map(|b| serde_yaml::to_string(b).unwrap())
            .collect();
        fs::write(dir.path().join("pkg/catalog.yaml"), text.join("---\n")).unwrap();
        let (success, text) = opm_validate(dir.path());
        assert!(!success, "opm validate accepted {case}:\n{text}");
    }
}

#[test]
fn csv_declares_the_conversion_webhook_for_olm() {
    let csv =
        read_yaml(&repo().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml"));
    let webhook = &csv["spec"]["webhookdefinitions"][0];
    assert_eq!(webhook["type"], json!("ConversionWebhook"));
    assert_eq!(webhook["conversionCRDs"], json!(["locusttests.locust.io"]));
    assert_eq!(
        webhook["deploymentName"],
        csv["spec"]["install"]["spec"]["deployments"][0]["name"]
    );
    assert_eq!(webhook["targetPort"], json!(9443));
    assert_eq!(webhook["webhookPath"], json!("/convert"));
    let modes = csv["spec"]["installModes"].as_array().unwrap();
    for mode in modes {
        assert_eq!(
            mode["supported"],
            json!(mode["type"] == "AllNamespaces"),
            "{mode}"
        );
    }
    let pod = &csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env = container["env"].as_array().unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(var("WEBHOOK_CERT_MODE")["value"], json!("directory"));
    assert_eq!(
        var("WATCH_NAMESPACE")["valueFrom"]["fieldRef"]["fieldPath"],
        json!("metadata.annotations['olm.targetNamespaces']")
    );
    // OLM mounts the certificates itself; the CSV must not carry a certificate volume.
    assert_eq!(
        pod["volumes"],
        json!([{ "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } }])
    );
    let examples: Value = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(examples[0]["apiVersion"], json!("locust.io/v2"));
    let images: BTreeSet<&str> = csv["spec"]["relatedImages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["image"].as_str())
        .collect();
    assert!(images.contains(container["image"].as_str().unwrap()));
    assert!(images.contains(var("METRICS_EXPORTER_IMAGE")["value"].as_str().unwrap()));
}

#[test]
fn examples_and_samples_pass_the_operators_own_validation() {
    let csv =
        read_yaml(&repo().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml"));
    let examples: Value = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let mut schedules = 0;
    for example in examples.as_array().unwrap() {
        // A schedule's template is a LocustTest spec: validated as the run it makes.
        let test = if example["kind"] == json!("LocustTestSchedule") {
            schedules += 1;
            json!({
                "apiVersion": "locust.io/v2", "kind": "LocustTest",
                "metadata": { "name": "run-29000000" },
                "spec": example["spec"]["template"]["spec"],
            })
        } else {
            example.clone()
        };
        assert_eq!(
            locust_operator::api::validation::validate_object(&test, "alm-examples", None),
            vec![]
        );
    }
    assert_eq!(schedules, 1, "the schedule sample is advertised");
}
