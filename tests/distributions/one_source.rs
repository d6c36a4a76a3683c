//! One source: the CRD schema, the RBAC rules, the Deployment and the version are the same in
//! config/, the chart and the bundle.

use std::fs;

use locust_operator::manifests::rbac::{Choices, Scope, role_sets};
use locust_operator::manifests::release;
use serde_json::{Value, json};

use crate::support::distributions::{
    CHART, ValueSet, find, helm, helm_template, read_yaml, read_yaml_documents, repo, value_sets,
};

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
    let crd = serde_json::to_value(locust_operator::api::crd::locust_test_crd().unwrap()).unwrap();
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

#[test]
fn schedule_crd_is_byte_identical_in_chart_config_and_bundle() {
    let config =
        fs::read_to_string(repo().join("config/crd/locusttestschedules.locust.io.yaml")).unwrap();
    let bundle =
        fs::read_to_string(repo().join("bundle/manifests/locust.io_locusttestschedules.yaml"))
            .unwrap();
    let out = helm(&[
        "template",
        "test",
        CHART,
        "--namespace",
        "locust-system",
        "--kube-version",
        "1.36.3",
        "--show-only",
        "templates/crd-schedule.yaml",
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
        "bundle schedule CRD differs"
    );
    assert_eq!(
        versions_block(&chart),
        reference,
        "chart schedule CRD differs"
    );
    let crd =
        serde_json::to_value(locust_operator::api::schedule_crd::schedule_crd().unwrap()).unwrap();
    for text in [&config, &bundle, &chart] {
        let parsed: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(parsed["spec"]["versions"], crd["spec"]["versions"]);
        assert_eq!(
            parsed["spec"]["names"]["shortNames"],
            json!(["lotestsched"])
        );
        // It converts nothing: no webhook stanza.
        assert_eq!(parsed["spec"]["conversion"], Value::Null);
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
    // The chart's default reads Locust masters directly, as config/ does.
    let all = Choices {
        leader_election: true,
        self_managed_certificates: true,
        stats_through_api_server: false,
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
        stats_through_api_server: false,
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

/// `liveStats.access` reaches the operator's environment, and only `apiserver-proxy` grants the
/// service proxy; `networkPolicy.locustNamespaces` admits the operator to the masters there.
#[test]
fn live_stats_access_sets_the_env_and_the_proxy_rule() {
    let proxy_rule = |objects: &[Value]| {
        objects
            .iter()
            .filter(|o| o["kind"] == "ClusterRole")
            .flat_map(|o| o["rules"].as_array().cloned().unwrap_or_default())
            .any(|r| r["resources"] == json!(["services/proxy"]) && r["verbs"] == json!(["get"]))
    };
    let env_of = |objects: &[Value], name: &str| {
        let deployment = find(objects, "Deployment", None);
        deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    let default = helm_template(&ValueSet::default_values());
    assert!(!proxy_rule(&default));
    assert_eq!(env_of(&default, "STATS_ACCESS"), Some(json!("direct")));
    assert_eq!(env_of(&default, "STATS_POLL_INTERVAL"), Some(json!("5s")));
    assert!(
        !default.iter().any(|o| o["kind"] == "NetworkPolicy"),
        "no NetworkPolicy by default"
    );

    let proxy = helm_template(&ValueSet::named("live-stats-through-api-server"));
    assert!(proxy_rule(&proxy));
    assert_eq!(
        env_of(&proxy, "STATS_ACCESS"),
        Some(json!("apiserver-proxy"))
    );
    assert_eq!(env_of(&proxy, "STATS_POLL_INTERVAL"), Some(json!("10s")));
    let policy = proxy
        .iter()
        .find(|o| o["kind"] == "NetworkPolicy")
        .expect("a NetworkPolicy in the Locust namespace");
    assert_eq!(policy["metadata"]["namespace"], "default");
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "master"
    );
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "web-ui");
    let from = &policy["spec"]["ingress"][0]["from"][0];
    assert!(from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].is_string());
    assert!(
        from["podSelector"]["matchLabels"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
    );
    let bad = helm(&["template", "x", CHART, "--set", "liveStats.access=sideways"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("liveStats"));
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
