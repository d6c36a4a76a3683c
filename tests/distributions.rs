//! The generated distributions checked by the real tools, without a cluster: `helm lint
//! --strict` and `helm template` for every value set, `operator-sdk bundle validate` with the
//! operatorframework suite (zero errors and zero warnings), `opm validate`, negative cases for
//! each, and the promises of the single source (same CRD schema, same RBAC rules, same
//! Deployment, same version everywhere). tests/distributions_cluster.rs applies the same
//! output to a real API server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each binary uses part of the shared support modules.
#[allow(dead_code)]
mod support {
    pub mod distributions;
    pub mod tools;
}

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use locust_operator::manifests::rbac::{Choices, Scope, role_sets};
use locust_operator::manifests::release;
use serde_json::{Value, json};

use support::distributions::{
    CHART, ValueSet, find, helm, helm_template, kinds, read_yaml, read_yaml_documents, repo,
    value_sets,
};
use support::tools::tool;

// ---------------------------------------------------------------------------------------------
// Helm

#[test]
fn helm_lint_strict_passes_for_every_value_set() {
    for set in value_sets() {
        let out = helm(
            &[
                &["lint", "--strict", "--kube-version", "1.36.3", CHART][..],
                &set.args(),
            ]
            .concat(),
        );
        assert!(
            out.status.success(),
            "helm lint --strict failed for {}:\n{}{}",
            set.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn helm_lint_refuses_wrong_types_typos_and_unknown_modes() {
    for (set, expected) in [
        (
            "replicaCount=two",
            "/replicaCount': got string, want integer",
        ),
        (
            "replicaCont=2",
            "additional properties 'replicaCont' not allowed",
        ),
        (
            "webhook.certificates=vault",
            "value must be one of 'self-managed', 'cert-manager', 'secret'",
        ),
        (
            "locustPods.resources.limits.cpu=lots",
            "/locustPods/resources/limits/cpu",
        ),
        (
            "locustPods.metricsExporter.port=70000",
            "/locustPods/metricsExporter/port",
        ),
    ] {
        let out = helm(&[
            "lint",
            "--strict",
            "--kube-version",
            "1.36.3",
            CHART,
            "--set",
            set,
        ]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "helm lint accepted --set {set}:\n{text}"
        );
        assert!(
            text.contains(expected),
            "helm lint --set {set} did not say {expected:?}:\n{text}"
        );
    }
}

#[test]
fn default_chart_renders_every_core_object() {
    let objects = helm_template(&ValueSet::default_values());
    let kinds = kinds(&objects);
    for kind in [
        "CustomResourceDefinition",
        "Deployment",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    for kind in [
        "Issuer",
        "Certificate",
        "NetworkPolicy",
        "ServiceMonitor",
        "ConfigMap",
    ] {
        assert!(!kinds.contains(kind), "{kind} rendered by default");
    }
    let crd = find(&objects, "CustomResourceDefinition", None);
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        json!("keep")
    );
}

fn env_of(deployment: &Value) -> Vec<(String, Value)> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e.get("value").cloned().unwrap_or(e["valueFrom"].clone()),
            )
        })
        .collect()
}

fn env_value(deployment: &Value, name: &str) -> Option<String> {
    env_of(deployment)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.as_str().map(str::to_string))
}

#[test]
fn certificate_modes_configure_the_operator_and_the_crd() {
    // self-managed (default): the operator writes the Secret and injects the CA itself.
    let objects = helm_template(&ValueSet::default_values());
    let deployment = find(&objects, "Deployment", None);
    assert_eq!(
        env_value(&deployment, "WEBHOOK_CERT_MODE").as_deref(),
        Some("self-managed")
    );
    assert_eq!(
        env_value(&deployment, "WEBHOOK_SERVICE_NAME").as_deref(),
        Some("test-locust-k8s-operator-webhook")
    );
    assert_eq!(
        env_value(&deployment, "WEBHOOK_SECRET_NAME").as_deref(),
        Some("test-locust-k8s-operator-webhook-certs")
    );
    let crd = find(&objects, "CustomResourceDefinition", None);
    let client = &crd["spec"]["conversion"]["webhook"]["clientConfig"];
    assert_eq!(
        client["service"]["name"],
        json!("test-locust-k8s-operator-webhook")
    );
    assert_eq!(client["service"]["namespace"], json!("locust-system"));
    assert_eq!(client["service"]["path"], json!("/convert"));
    assert_eq!(client["service"]["port"], json!(443));
    assert!(client.get("caBundle").is_none());

    // cert-manager: Issuer, Certificate, CA injection, Secret mounted, directory mode.
    let objects = helm_template(&ValueSet::named("cert-manager"));
    let certificate = find(&objects, "Certificate", None);
    assert_eq!(
        certificate["spec"]["dnsNames"][0],
        json!("test-locust-k8s-operator-webhook.locust-system.svc")
    );
    assert_eq!(
        certificate["spec"]["secretName"],
        json!("test-locust-k8s-operator-webhook-certs")
    );
    find(&objects, "Issuer", None);
    let crd = find(&objects, "CustomResourceDefinition", None);
    assert_eq!(
        crd["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        json!("locust-system/test-locust-k8s-operator-serving-cert")
    );
    let deployment = find(&objects, "Deployment", None);
    assert_eq!(
        env_value(&deployment, "WEBHOOK_CERT_MODE").as_deref(),
        Some("directory")
    );
    assert_mounts_secret(&deployment, "test-locust-k8s-operator-webhook-certs");

    // secret: the user's Secret mounted, the user's CA in the CRD.
    let objects = helm_template(&ValueSet::named("secret"));
    assert!(!kinds(&objects).contains("Certificate"));
    let deployment = find(&objects, "Deployment", None);
    assert_eq!(
        env_value(&deployment, "WEBHOOK_CERT_MODE").as_deref(),
        Some("directory")
    );
    assert_mounts_secret(&deployment, "my-webhook-tls");
    let crd = find(&objects, "CustomResourceDefinition", None);
    assert_eq!(
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"],
        json!(ValueSet::TEST_CA_BUNDLE)
    );
}

fn assert_mounts_secret(deployment: &Value, secret: &str) {
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["secret"]["secretName"] == json!(secret))
        .unwrap_or_else(|| panic!("no volume of Secret {secret}: {}", pod["volumes"]));
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the certificate volume is not mounted");
    assert_eq!(
        mount["mountPath"],
        json!("/tmp/k8s-webhook-server/serving-certs")
    );
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        json!(true)
    );
}

#[test]
fn role_mode_grants_and_watches_only_the_release_namespace() {
    let objects = helm_template(&ValueSet::named("role"));
    let deployment = find(&objects, "Deployment", None);
    assert_eq!(
        env_value(&deployment, "WATCH_NAMESPACE").as_deref(),
        Some("locust-system")
    );
    let role = find(&objects, "Role", Some("test-locust-k8s-operator"));
    assert_eq!(role["metadata"]["namespace"], json!("locust-system"));
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"] == json!(["locusttests"])),
        "the watched-namespace rules are not in the Role: {role}"
    );
    let cluster_roles: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole")
        .collect();
    for role in cluster_roles {
        assert_ne!(
            role["metadata"]["name"],
            json!("test-locust-k8s-operator"),
            "a ClusterRole for the watched namespaces in Role mode"
        );
    }
    // Default mode watches every namespace.
    let deployment = find(
        &helm_template(&ValueSet::default_values()),
        "Deployment",
        None,
    );
    assert_eq!(env_value(&deployment, "WATCH_NAMESPACE"), None);
}

#[test]
fn go_operator_values_map_to_the_same_variables() {
    let objects = helm_template(&ValueSet::named("go-operator-2.3.0-values"));
    let deployment = find(&objects, "Deployment", Some("locust-operator"));
    let expected = [
        ("POD_CPU_REQUEST", "500m"),
        ("POD_MEM_REQUEST", "256Mi"),
        ("POD_EPHEMERAL_REQUEST", "30M"),
        ("POD_CPU_LIMIT", "2000m"),
        ("POD_MEM_LIMIT", "2048Mi"),
        ("POD_EPHEMERAL_LIMIT", "50M"),
        ("MASTER_POD_CPU_LIMIT", "1000m"),
        ("WORKER_POD_MEM_REQUEST", "512Mi"),
        (
            "METRICS_EXPORTER_IMAGE",
            "containersol/locust_exporter:v0.5.0",
        ),
        ("METRICS_EXPORTER_PORT", "9646"),
        ("METRICS_EXPORTER_IMAGE_PULL_POLICY", "Always"),
        ("METRICS_EXPORTER_CPU_REQUEST", "100m"),
        ("METRICS_EXPORTER_MEM_LIMIT", "128Mi"),
        ("JOB_TTL_SECONDS_AFTER_FINISHED", "3600"),
        ("ENABLE_AFFINITY_CR_INJECTION", "false"),
        ("ENABLE_TAINT_TOLERATIONS_CR_INJECTION", "true"),
        ("EXTRA_SETTING", "1"),
    ];
    for (name, value) in expected {
        assert_eq!(
            env_value(&deployment, name).as_deref(),
            Some(value),
            "{name}"
        );
    }
    // Empty Go values are not rendered: the operator's own default applies.
    for name in ["MASTER_POD_CPU_REQUEST", "DEFAULT_RUNTIME_CLASS_NAME"] {
        assert_eq!(env_value(&deployment, name), None, "{name}");
    }
    // Every variable the chart sets is one the operator reads.
    let known: BTreeSet<String> = locust_operator::config::Config::variable_names()
        .into_iter()
        .collect();
    for (name, _) in env_of(&deployment) {
        assert!(
            known.contains(&name)
                || name == "EXTRA_SETTING"
                || name.starts_with("POD_NAME")
                || name == "POD_NAMESPACE"
                || name.starts_with("WEBHOOK_")
                || [
                    "WATCH_NAMESPACE",
                    "LEADER_ELECT",
                    "LOG_FORMAT",
                    "HEALTH_PROBE_BIND_ADDRESS",
                    "METRICS_BIND_ADDRESS"
                ]
                .contains(&name.as_str()),
            "the chart sets {name}, which nothing reads"
        );
    }
}

#[test]
fn java_operator_config_values_are_the_fallback() {
    let objects = helm_template(&ValueSet::named("java-operator-config-values"));
    let deployment = find(&objects, "Deployment", None);
    for (name, value) in [
        ("POD_CPU_REQUEST", "300m"),
        ("POD_MEM_LIMIT", "2Gi"),
        ("METRICS_EXPORTER_PORT", "9700"),
        ("JOB_TTL_SECONDS_AFTER_FINISHED", "120"),
        ("ENABLE_AFFINITY_CR_INJECTION", "false"),
        // Not blanked in locustPods: the new path wins.
        ("POD_MEM_REQUEST", "128Mi"),
    ] {
        assert_eq!(
            env_value(&deployment, name).as_deref(),
            Some(value),
            "{name}"
        );
    }
}

#[test]
fn chart_deployment_is_the_rust_deployment() {
    let chart = find(
        &helm_template(&ValueSet::default_values()),
        "Deployment",
        None,
    );
    let plain = read_yaml(&repo().join("config/manager/deployment.yaml"));
    let pod = |d: &Value| d["spec"]["template"]["spec"].clone();
    let container = |d: &Value| pod(d)["containers"][0].clone();
    for key in [
        "name",
        "image",
        "args",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
        "volumeMounts",
        "imagePullPolicy",
    ] {
        assert_eq!(
            container(&chart)[key],
            container(&plain)[key],
            "container {key}"
        );
    }
    for key in [
        "securityContext",
        "volumes",
        "terminationGracePeriodSeconds",
    ] {
        assert_eq!(pod(&chart)[key], pod(&plain)[key], "pod {key}");
    }
    assert_eq!(chart["spec"]["replicas"], plain["spec"]["replicas"]);
    let names = |d: &Value| {
        env_of(d)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<BTreeSet<_>>()
    };
    let missing: Vec<_> = names(&plain).difference(&names(&chart)).cloned().collect();
    assert!(
        missing.is_empty(),
        "config/ sets {missing:?}, the chart does not"
    );
    for (name, value) in env_of(&plain) {
        if !name.starts_with("WEBHOOK_SERVICE") && !name.starts_with("WEBHOOK_SECRET") {
            assert_eq!(
                env_of(&chart)
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v),
                Some(value),
                "{name}"
            );
        }
    }
    let spread = &pod(&chart)["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], json!("kubernetes.io/hostname"));
    assert_eq!(
        spread["labelSelector"]["matchLabels"],
        chart["spec"]["selector"]["matchLabels"]
    );
}

// ---------------------------------------------------------------------------------------------
// One source: CRD, RBAC, version

/// The `versions:` block of a CRD's spec, as text: from `  versions:` to the next key of the
/// spec or the end of the document.
fn versions_block(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "  versions:")
        .expect("no versions block");
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.starts_with("  ") || l[2..].starts_with(|c: char| c.is_ascii_alphabetic()))
        .map_or(lines.len(), |n| start + 1 + n);
    lines[start..end].join("\n")
}

#[test]
fn crd_schema_is_byte_identical_in_chart_config_and_bundle() {
    let config = fs::read_to_string(repo().join("config/crd/locusttests.locust.io.yaml")).unwrap();
    let bundle =
        fs::read_to_string(repo().join("bundle/manifests/locust.io_locusttests.yaml")).unwrap();
    let out = helm(&[
        "template",
        "test",
        CHART,
        "--namespace",
        "locust-system",
        "--kube-version",
        "1.36.3",
        "--show-only",
        "templates/crd.yaml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chart = String::from_utf8(out.stdout).unwrap();
    let reference = versions_block(&config);
    assert!(
        reference.len() > 10_000,
        "suspiciously small versions block"
    );
    assert_eq!(
        versions_block(&bundle),
        reference,
        "bundle CRD schema differs from config/"
    );
    assert_eq!(
        versions_block(&chart),
        reference,
        "chart CRD schema differs from config/"
    );
    // And the same as the library's CRD.
    let crd = serde_json::to_value(locust_operator::api::crd::locust_test_crd()).unwrap();
    for text in [&config, &bundle, &chart] {
        let parsed: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(parsed["spec"]["versions"], crd["spec"]["versions"]);
        assert_eq!(parsed["spec"]["names"], crd["spec"]["names"]);
        assert_eq!(parsed["spec"]["conversion"]["strategy"], json!("Webhook"));
        assert_eq!(
            parsed["spec"]["conversion"]["webhook"]["conversionReviewVersions"],
            json!(["v1"])
        );
    }
}

fn rules_of(objects: &[Value], kind: &str, name_suffix: &str) -> Vec<Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with(&format!("locust-k8s-operator{name_suffix}")))
        })
        .flat_map(|o| o["rules"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn source_rules(scope: Scope, choices: Choices) -> Vec<Value> {
    role_sets()
        .into_iter()
        .filter(|s| s.scope == scope)
        .flat_map(|s| s.policy_rules(choices))
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

#[test]
fn rbac_source_rules_are_in_config_chart_and_csv() {
    let all = Choices {
        leader_election: true,
        self_managed_certificates: true,
    };
    let config: Vec<Value> = fs::read_dir(repo().join("config/rbac"))
        .unwrap()
        .flat_map(|e| read_yaml_documents(&e.unwrap().path()))
        .collect();
    let chart = helm_template(&ValueSet::default_values());
    for set in role_sets() {
        let (kind, expected) = match set.scope {
            Scope::OwnNamespace => ("Role", set.policy_rules(all)),
            _ => ("ClusterRole", set.policy_rules(all)),
        };
        let expected: Vec<Value> = expected
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect();
        assert_eq!(
            rules_of(&config, kind, set.suffix),
            expected,
            "config/ {kind}{}",
            set.suffix
        );
        assert_eq!(
            rules_of(&chart, kind, set.suffix),
            expected,
            "chart {kind}{}",
            set.suffix
        );
    }

    // The CSV: OLM provides the certificates, so the rules for self-managed ones are left out.
    let csv =
        read_yaml(&repo().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml"));
    let olm = Choices {
        leader_election: true,
        self_managed_certificates: false,
    };
    let strategy = &csv["spec"]["install"]["spec"];
    let mut cluster = source_rules(Scope::Watched, olm);
    cluster.extend(source_rules(Scope::Cluster, olm));
    assert_eq!(strategy["clusterPermissions"][0]["rules"], json!(cluster));
    assert_eq!(
        strategy["permissions"][0]["rules"],
        json!(source_rules(Scope::OwnNamespace, olm))
    );
}

/// Every rule of every rendering: none may read Secrets cluster-wide or create CRDs.
#[test]
fn rbac_is_least_privilege_everywhere() {
    let mut renderings: Vec<(String, Vec<Value>)> = value_sets()
        .into_iter()
        .map(|set| (format!("chart ({})", set.name), helm_template(&set)))
        .collect();
    let config: Vec<Value> = fs::read_dir(repo().join("config/rbac"))
        .unwrap()
        .flat_map(|e| read_yaml_documents(&e.unwrap().path()))
        .collect();
    renderings.push(("config/".into(), config));
    let csv =
        read_yaml(&repo().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml"));
    let strategy = &csv["spec"]["install"]["spec"];
    renderings.push((
        "CSV".into(),
        vec![
            json!({ "kind": "ClusterRole", "rules": strategy["clusterPermissions"][0]["rules"] }),
            json!({ "kind": "Role", "rules": strategy["permissions"][0]["rules"] }),
        ],
    ));
    for (name, objects) in renderings {
        for object in objects
            .iter()
            .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
        {
            for rule in object["rules"].as_array().into_iter().flatten() {
                let has = |field: &str, value: &str| {
                    rule[field]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|v| v == value || v == "*")
                };
                assert!(
                    !(object["kind"] == "ClusterRole" && has("resources", "secrets")),
                    "{name}: cluster-wide Secret access: {rule}"
                );
                if has("resources", "customresourcedefinitions") {
                    assert!(
                        !has("verbs", "create") && !has("verbs", "delete"),
                        "{name}: {rule}"
                    );
                    assert!(
                        rule["resourceNames"] == json!(["locusttests.locust.io"]),
                        "{name}: {rule}"
                    );
                }
                assert!(
                    !has("verbs", "*") && !has("apiGroups", "*"),
                    "{name}: wildcard: {rule}"
                );
            }
        }
    }
}

#[test]
fn every_distribution_carries_the_cargo_version() {
    let version = env!("CARGO_PKG_VERSION");
    let chart = read_yaml(&repo().join(format!("{CHART}/Chart.yaml")));
    assert_eq!(chart["version"], json!(version));
    assert_eq!(chart["appVersion"], json!(version));
    assert_eq!(chart["kubeVersion"], json!(">=1.29.0-0"));
    let csv =
        read_yaml(&repo().join("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml"));
    assert_eq!(
        csv["metadata"]["name"],
        json!(format!("locust-k8s-operator.v{version}"))
    );
    assert_eq!(csv["spec"]["version"], json!(version));
    let image = format!("{}:{version}", release::OPERATOR_IMAGE_REPOSITORY);
    assert_eq!(
        csv["metadata"]["annotations"]["containerImage"],
        json!(image)
    );
    assert_eq!(
        csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"]
            [0]["image"],
        json!(image)
    );
    let deployment = read_yaml(&repo().join("config/manager/deployment.yaml"));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(image)
    );
    let chart_deployment = find(
        &helm_template(&ValueSet::default_values()),
        "Deployment",
        None,
    );
    assert_eq!(
        chart_deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(image)
    );
    let catalog = read_yaml_documents(&repo().join("catalog/locust-k8s-operator/catalog.yaml"));
    let bundle = catalog
        .iter()
        .find(|b| b["schema"] == "olm.bundle")
        .unwrap();
    assert_eq!(bundle["properties"][0]["value"]["version"], json!(version));
}

// ---------------------------------------------------------------------------------------------
// OLM

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
    for example in examples.as_array().unwrap() {
        assert_eq!(
            locust_operator::api::validation::validate_object(example, "alm-examples", None),
            vec![]
        );
    }
}
