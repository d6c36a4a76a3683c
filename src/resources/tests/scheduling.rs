//! Scheduling and resources of the Locust pods.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::json;

use super::{base, build, build_err, build_with, json, locust, pod, test_with};
use crate::config::{Bound, Config, QuantitySetting, ResourceKind, ResourceSettings};
use crate::resources::BuildError;

const AFFINITY: &str = r#"
scheduling:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [load]}]}]
"#;
const TOLERATIONS: &str = r#"
scheduling:
  tolerations: [{key: dedicated, operator: Equal, value: load, effect: NoSchedule}]
"#;

#[test]
fn affinity_without_injection_is_refused_naming_the_switch() {
    let err = build_err(&test_with(AFFINITY), &Config::default());
    assert_eq!(
        err,
        BuildError::ForbiddenField {
            field: "spec.scheduling.affinity",
            switch: "ENABLE_AFFINITY_CR_INJECTION",
        }
    );
    assert!(
        err.to_string()
            .contains("ENABLE_AFFINITY_CR_INJECTION=false")
    );
}

#[test]
fn tolerations_without_injection_are_refused_naming_the_switch() {
    assert_eq!(
        build_err(&test_with(TOLERATIONS), &Config::default()),
        BuildError::ForbiddenField {
            field: "spec.scheduling.tolerations",
            switch: "ENABLE_TAINT_TOLERATIONS_CR_INJECTION",
        }
    );
}

#[test]
fn affinity_and_tolerations_are_applied_to_both_roles_with_injection() {
    let config = Config {
        affinity_injection: true,
        tolerations_injection: true,
        ..Config::default()
    };
    let test = test_with(&format!(
        "{AFFINITY}\n{}",
        TOLERATIONS.replace("scheduling:\n", "")
    ));
    let children = build_with(&test, &config);
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(
            json(&pod(job).affinity),
            json(&test.spec.scheduling.as_ref().unwrap().affinity)
        );
        assert_eq!(
            json(&pod(job).tolerations),
            json!([{"key": "dedicated", "operator": "Equal", "value": "load", "effect": "NoSchedule"}])
        );
    }
}

#[test]
fn empty_affinity_or_tolerations_set_nothing_and_are_not_refused() {
    let test = test_with("scheduling: {affinity: {}, tolerations: []}");
    let children = build(&test);
    assert_eq!(pod(&children.master_job).affinity, None);
    assert_eq!(pod(&children.worker_job).tolerations, None);
}

#[test]
fn node_selector_is_always_applied() {
    let children = build(&test_with(
        "scheduling: {nodeSelector: {pool: load, arch: arm64}}",
    ));
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(
            json(&pod(job).node_selector),
            json!({"pool": "load", "arch": "arm64"})
        );
    }
    assert_eq!(pod(&build(&base()).master_job).node_selector, None);
}

#[test]
fn runtime_class_from_spec_wins_empty_opts_out_absent_takes_the_default() {
    let with_default = Config {
        default_runtime_class_name: Some("kata".to_string()),
        ..Config::default()
    };
    for (overlay, config, expected) in [
        (
            "scheduling: {runtimeClassName: gvisor}",
            &with_default,
            Some("gvisor"),
        ),
        ("scheduling: {runtimeClassName: ''}", &with_default, None),
        (
            "scheduling: {nodeSelector: {a: b}}",
            &with_default,
            Some("kata"),
        ),
        ("", &with_default, Some("kata")),
        ("", &Config::default(), None),
        (
            "scheduling: {runtimeClassName: gvisor}",
            &Config::default(),
            Some("gvisor"),
        ),
    ] {
        let children = build_with(&test_with(overlay), config);
        for job in [&children.master_job, &children.worker_job] {
            assert_eq!(
                pod(job).runtime_class_name.as_deref(),
                expected,
                "{overlay}"
            );
        }
    }
}

#[test]
fn cr_resources_replace_operator_defaults_completely() {
    let test = test_with(
        r#"
master: {resources: {requests: {cpu: "2"}}}
worker: {resources: {limits: {memory: 2Gi}}}
"#,
    );
    let children = build(&test);
    assert_eq!(
        json(&locust(&children.master_job).resources),
        json!({"requests": {"cpu": "2"}})
    );
    assert_eq!(
        json(&locust(&children.worker_job).resources),
        json!({"limits": {"memory": "2Gi"}})
    );
}

#[test]
fn cr_resources_without_any_value_keep_the_operator_defaults() {
    let test =
        test_with("{master: {resources: {requests: {}, limits: {}}}, worker: {resources: {}}}");
    let defaults = build(&base());
    let children = build(&test);
    assert_eq!(
        locust(&children.master_job).resources,
        locust(&defaults.master_job).resources
    );
    assert_eq!(
        locust(&children.worker_job).resources,
        locust(&defaults.worker_job).resources
    );
}

#[test]
fn operator_resources_are_per_role() {
    let config = Config {
        worker_resources: ResourceSettings::inherit()
            .with(ResourceKind::Cpu, Bound::Limit, QuantitySetting::Off)
            .with(
                ResourceKind::Cpu,
                Bound::Request,
                QuantitySetting::Set(Quantity("500m".to_string())),
            ),
        ..Config::default()
    };
    let children = build_with(&base(), &config);
    assert_eq!(
        json(&locust(&children.worker_job).resources),
        json!({
            "requests": {"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "30M"},
            "limits": {"memory": "1024Mi", "ephemeral-storage": "50M"},
        })
    );
    assert_eq!(
        json(&locust(&children.master_job).resources),
        json(&Config::default().locust_resources(crate::api::names::Role::Master))
    );
}

#[test]
fn operator_resources_all_off_leave_resources_unset() {
    let off = ResourceSettings::uniform(QuantitySetting::Off);
    let config = Config {
        pod_resources: off,
        ..Config::default()
    };
    assert_eq!(
        locust(&build_with(&base(), &config).master_job).resources,
        None
    );
}
