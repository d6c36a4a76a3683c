//! The chart: lint, templates per value set, the values schema.

use std::collections::BTreeSet;

use locust_operator::api::names::CRD_NAME;
use serde_json::{Value, json};

use crate::support::distributions::{
    CHART, ValueSet, find, helm, helm_template, kinds, read_yaml, repo, value_sets,
};
use crate::{env_of, env_value};

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
fn values_schema_refuses_wrong_types_typos_and_unknown_modes() {
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
        // `helm template` validates values as `helm install` does, before anything is sent.
        for command in [
            &["lint", "--strict", "--kube-version", "1.36.3", CHART][..],
            &["template", "test", CHART, "--kube-version", "1.36.3"][..],
        ] {
            let out = helm(&[command, &["--set", set][..]].concat());
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.status.success(),
                "helm {} accepted --set {set}:\n{text}",
                command[0]
            );
            assert!(
                text.contains(expected),
                "helm {} --set {set} did not say {expected:?}:\n{text}",
                command[0]
            );
        }
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
    let crd = find(&objects, "CustomResourceDefinition", Some(CRD_NAME));
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        json!("keep")
    );
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
    let crd = find(&objects, "CustomResourceDefinition", Some(CRD_NAME));
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
    let crd = find(&objects, "CustomResourceDefinition", Some(CRD_NAME));
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
    let crd = find(&objects, "CustomResourceDefinition", Some(CRD_NAME));
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
    // Every variable the chart sets is one the operator reads: a configuration variable or
    // the environment name of a `run` flag.
    let mut known: BTreeSet<String> = locust_operator::config::Config::variable_names()
        .into_iter()
        .collect();
    let run =
        <locust_operator::operator::RunArgs as clap::Args>::augment_args(clap::Command::new("run"));
    known.extend(
        run.get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned()),
    );
    for (name, _) in env_of(&deployment) {
        assert!(
            known.contains(&name)
                || name == "EXTRA_SETTING"
                || name.starts_with("POD_NAME")
                || name == "POD_NAMESPACE",
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
