//! Shared by tests/distributions/ and tests/distributions_cluster.rs: the chart's value sets,
//! helm runs, and reading the generated YAML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

use crate::support::tools::tool;

/// The chart, relative to the repository root (the working directory of `cargo test`).
pub const CHART: &str = "charts/locust-k8s-operator";
/// Release name and namespace of every `helm template`.
pub const RELEASE: &str = "test";
pub const NAMESPACE: &str = "locust-system";
/// The Kubernetes version `helm lint` and `helm template` assume (the test clusters' version).
pub const KUBE_VERSION: &str = "1.36.3";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A named set of chart values: `--set` pairs and values files.
#[derive(Clone, Debug)]
pub struct ValueSet {
    pub name: &'static str,
    pub set: Vec<&'static str>,
    pub files: Vec<PathBuf>,
}

impl ValueSet {
    /// Base64 of a PEM header, enough for the API server to accept the CRD.
    pub const TEST_CA_BUNDLE: &'static str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==";

    pub fn default_values() -> Self {
        Self::named("default")
    }

    pub fn named(name: &str) -> Self {
        value_sets()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no value set {name}"))
    }

    /// Arguments for helm: `--set a=b ... -f file ...`.
    pub fn args(&self) -> Vec<&str> {
        let mut args = Vec::new();
        for set in &self.set {
            args.extend(["--set", set]);
        }
        for file in &self.files {
            args.extend(["-f", file.to_str().unwrap_or_default()]);
        }
        args
    }
}

/// Every value set the chart is checked with: the defaults, each certificate mode, the
/// OpenTelemetry Collector, Role mode, every optional object, and values files written for the
/// Go and Java operators' charts.
pub fn value_sets() -> Vec<ValueSet> {
    let fixture = |name: &str| repo().join(format!("tests/fixtures/helm/{name}.yaml"));
    let set = |name, set: Vec<&'static str>| ValueSet {
        name,
        set,
        files: Vec::new(),
    };
    vec![
        set("default", vec![]),
        set("cert-manager", vec!["webhook.certificates=cert-manager"]),
        set(
            "secret",
            vec![
                "webhook.certificates=secret",
                "webhook.secretName=my-webhook-tls",
                "webhook.caBundle=LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
            ],
        ),
        set("otel-collector", vec!["otelCollector.enabled=true"]),
        set("role", vec!["k8s.clusterRole.enabled=false"]),
        set(
            "live-stats-through-api-server",
            vec![
                "liveStats.access=apiserver-proxy",
                "liveStats.pollInterval=10s",
                "networkPolicy.locustNamespaces={default}",
            ],
        ),
        set(
            "optional-objects",
            vec![
                "metrics.serviceMonitor.enabled=true",
                "networkPolicy.enabled=true",
                "replicaCount=3",
                "leaderElection.enabled=true",
            ],
        ),
        ValueSet {
            name: "go-operator-2.3.0-values",
            set: vec![],
            files: vec![fixture("go-operator-2.3.0-values")],
        },
        ValueSet {
            name: "seed-open-telemetry-values",
            set: vec![],
            files: vec![fixture("seed-open-telemetry-values")],
        },
        ValueSet {
            name: "java-operator-config-values",
            set: vec![],
            files: vec![fixture("java-operator-config-values")],
        },
    ]
}

/// Runs helm (from `make tools`) in the repository root.
pub fn helm(args: &[&str]) -> Output {
    let helm = tool("helm").unwrap_or_else(|e| panic!("{e}"));
    Command::new(helm)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run helm: {e}"))
}

/// `helm template` of the chart with `set`, as text.
pub fn helm_template_text(set: &ValueSet) -> String {
    helm_template_text_in(set, NAMESPACE)
}

/// `helm template` of the chart with `set` for a release in `namespace`, as text.
pub fn helm_template_text_in(set: &ValueSet, namespace: &str) -> String {
    let mut args = vec![
        "template",
        RELEASE,
        CHART,
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ];
    args.extend(set.args());
    let out = helm(&args);
    assert!(
        out.status.success(),
        "helm template failed for {}:\n{}",
        set.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `helm template` of the chart with `set`, one value per object.
pub fn helm_template(set: &ValueSet) -> Vec<Value> {
    documents(&helm_template_text(set))
}

/// Every non-empty document of a multi-document YAML text.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter(|v| !v.is_null())
        .collect()
}

pub fn read_yaml_documents(path: &Path) -> Vec<Value> {
    documents(
        &std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
    )
}

pub fn read_yaml(path: &Path) -> Value {
    read_yaml_documents(path)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} is empty", path.display()))
}

pub fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| o["kind"].as_str().map(str::to_string))
        .collect()
}

/// The object of `kind` (named `name` when given); panics when absent.
pub fn find(objects: &[Value], kind: &str, name: Option<&str>) -> Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && name.is_none_or(|n| o["metadata"]["name"] == n))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} {name:?} among {:?}", kinds(objects)))
}
