//! `config/`: plain manifests for `kubectl apply -k config/` (or `-f` file by file). The
//! operator runs in [`release::NAMESPACE`], watches every namespace and manages its own webhook
//! certificates, so nothing else needs to be installed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use crate::api::names::{CRD_NAME, SCHEDULE_CRD_NAME};
use crate::api::schedule_crd::schedule_crd;

use super::crd::crd_with_conversion;
use super::deployment::{
    Certificates, OperatorDeployment, Watch, distribution_config_env, webhook_secret_name,
    webhook_service_name,
};
use super::rbac::{Choices, RoleSet, Scope, role_sets};
use super::yaml::{self, RenderError};
use super::{GENERATED_HEADER, release, sample_schedule, sample_v1, sample_v2, to_yaml};

/// The operator as `config/` deploys it.
pub fn operator() -> OperatorDeployment {
    OperatorDeployment {
        name: release::PACKAGE.to_string(),
        namespace: Some(release::NAMESPACE.to_string()),
        image: release::operator_image(),
        service_account: release::PACKAGE.to_string(),
        certificates: Certificates::SelfManaged {
            service: webhook_service_name(release::PACKAGE),
            secret: webhook_secret_name(release::PACKAGE),
        },
        watch: Watch::AllNamespaces,
        config_env: distribution_config_env(),
    }
}

/// Everything `config/` holds, by path.
pub fn render() -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let operator = operator();
    let labels = operator.labels();
    let meta = |name: &str, namespaced: bool| ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespaced.then(|| release::NAMESPACE.to_string()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let mut files = BTreeMap::new();
    let mut add = |path: String, content: String| {
        files.insert(PathBuf::from(format!("config/{path}")), content);
    };

    add(
        "namespace.yaml".into(),
        to_yaml(&Namespace {
            metadata: meta(release::NAMESPACE, false),
            ..Default::default()
        })?,
    );
    add(
        format!("crd/{CRD_NAME}.yaml"),
        to_yaml(&crd_with_conversion(
            &webhook_service_name(release::PACKAGE),
            release::NAMESPACE,
        )?)?,
    );
    add(
        format!("crd/{SCHEDULE_CRD_NAME}.yaml"),
        to_yaml(&schedule_crd()?)?,
    );
    add(
        "rbac/service-account.yaml".into(),
        to_yaml(&ServiceAccount {
            metadata: meta(release::PACKAGE, true),
            ..Default::default()
        })?,
    );
    // In a pod the operator reads Locust masters directly (`--stats-access` auto).
    let choices = Choices {
        leader_election: true,
        self_managed_certificates: true,
        stats_through_api_server: false,
    };
    let mut rbac_files = Vec::new();
    for set in role_sets() {
        if set.policy_rules(choices).is_empty() {
            continue;
        }
        let path = format!("rbac/{}.yaml", role_file_name(&set));
        add(path.clone(), role_and_binding(&set, choices, &meta)?);
        rbac_files.push(path);
    }
    add(
        "manager/deployment.yaml".into(),
        to_yaml(&operator.deployment())?,
    );
    add(
        "manager/webhook-service.yaml".into(),
        to_yaml(&operator.webhook_service())?,
    );
    add(
        "manager/metrics-service.yaml".into(),
        to_yaml(&operator.metrics_service())?,
    );
    add("samples/locusttest-v2.yaml".into(), to_yaml(&sample_v2())?);
    add("samples/locusttest-v1.yaml".into(), to_yaml(&sample_v1())?);
    add(
        "samples/locusttestschedule.yaml".into(),
        to_yaml(&sample_schedule())?,
    );

    let mut resources = vec![
        "namespace.yaml".to_string(),
        format!("crd/{CRD_NAME}.yaml"),
        format!("crd/{SCHEDULE_CRD_NAME}.yaml"),
        "rbac/service-account.yaml".to_string(),
    ];
    resources.extend(rbac_files);
    resources.extend(
        [
            "manager/deployment.yaml",
            "manager/webhook-service.yaml",
            "manager/metrics-service.yaml",
        ]
        .map(String::from),
    );
    add(
        "kustomization.yaml".into(),
        format!(
            "{GENERATED_HEADER}# The operator without the samples: kubectl apply --server-side -k config/\n{}",
            yaml::plain(&json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            }))?
        ),
    );
    Ok(files)
}

fn role_file_name(set: &RoleSet) -> String {
    let base = set.suffix.trim_start_matches('-');
    if base.is_empty() {
        "role".to_string()
    } else {
        format!("role-{base}")
    }
}

/// A ClusterRole or Role with one comment per rule, and its binding to the operator's account.
fn role_and_binding(
    set: &RoleSet,
    choices: Choices,
    meta: &dyn Fn(&str, bool) -> ObjectMeta,
) -> Result<String, RenderError> {
    let name = format!("{}{}", release::PACKAGE, set.suffix);
    let namespaced = set.scope == Scope::OwnNamespace;
    let role_kind = if namespaced { "Role" } else { "ClusterRole" };
    let role = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {role_kind}\n{}\n{}",
        yaml::field("metadata", &meta(&name, namespaced), 0)?,
        yaml::rules(&set.rules_for(choices), |_| None)?
    );
    let subjects = vec![Subject {
        kind: "ServiceAccount".to_string(),
        name: release::PACKAGE.to_string(),
        namespace: Some(release::NAMESPACE.to_string()),
        ..Default::default()
    }];
    let role_ref = RoleRef {
        api_group: "rbac.authorization.k8s.io".to_string(),
        kind: role_kind.to_string(),
        name: name.clone(),
    };
    let binding = if namespaced {
        yaml::plain(&RoleBinding {
            metadata: meta(&name, true),
            role_ref,
            subjects: Some(subjects),
        })?
    } else {
        yaml::plain(&ClusterRoleBinding {
            metadata: meta(&name, false),
            role_ref,
            subjects: Some(subjects),
        })?
    };
    Ok(format!("{GENERATED_HEADER}{role}---\n{binding}"))
}
