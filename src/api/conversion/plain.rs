//! The plain field-by-field mapping between v1 and v2, without annotations or defaults.
//!
//! v1 -> v2 then v2 -> v1 gives back every v1 spec except `labels: {}` and `annotations: {}` (a
//! map with neither role); v2 -> v1 keeps a facet only when v1 can show it exactly.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, Toleration,
};

use crate::api::names::Role;
use crate::api::v1::{
    LegacyAffinity, LegacyNodeAffinity, LegacyToleration, RoleMaps, TaintEffect, TolerationOperator,
};
use crate::api::{v1, v2};

/// Autoquit delay the Go operator gave every v1 test; v1 has no field for it.
const V1_AUTOQUIT_TIMEOUT_SECONDS: i32 = 60;
const OPERATOR_IN: &str = "In";

pub(super) fn plain_v1_to_v2(spec: &v1::LocustTestSpec) -> v2::LocustTestSpec {
    let test_files =
        (spec.config_map.is_some() || spec.lib_config_map.is_some()).then(|| v2::TestFilesSpec {
            config_map_ref: spec.config_map.clone(),
            lib_config_map_ref: spec.lib_config_map.clone(),
            src_mount_path: None,
            lib_mount_path: None,
        });
    let affinity = spec.affinity.as_ref().map(affinity_to_v2);
    let tolerations = spec
        .tolerations
        .as_ref()
        .map(|list| list.iter().map(toleration_to_v2).collect());
    let scheduling = (affinity.is_some() || tolerations.is_some()).then_some(v2::SchedulingSpec {
        affinity,
        tolerations,
        node_selector: None,
        runtime_class_name: None,
    });
    v2::LocustTestSpec {
        image: spec.image.clone(),
        image_pull_policy: spec.image_pull_policy,
        image_pull_secrets: spec.image_pull_secrets.as_ref().map(|names| {
            names
                .iter()
                .map(|name| LocalObjectReference { name: name.clone() })
                .collect()
        }),
        master: v2::MasterSpec {
            command: spec.master_command_seed.clone(),
            resources: None,
            labels: role_entries(&spec.labels, Role::Master),
            annotations: role_entries(&spec.annotations, Role::Master),
            autostart: Some(true),
            autoquit: Some(v2::AutoquitSpec {
                enabled: Some(true),
                timeout: Some(V1_AUTOQUIT_TIMEOUT_SECONDS),
            }),
            extra_args: None,
            web_ui: None,
        },
        worker: v2::WorkerSpec {
            command: spec.worker_command_seed.clone(),
            replicas: spec.worker_replicas,
            processes: None,
            resources: None,
            labels: role_entries(&spec.labels, Role::Worker),
            annotations: role_entries(&spec.annotations, Role::Worker),
            extra_args: None,
        },
        test_files,
        scheduling,
        env: None,
        volumes: None,
        volume_mounts: None,
        security: None,
        observability: None,
        thresholds: None,
    }
}

pub(super) fn plain_v2_to_v1(spec: &v2::LocustTestSpec) -> v1::LocustTestSpec {
    let test_files = spec.test_files.as_ref();
    let scheduling = spec.scheduling.as_ref();
    v1::LocustTestSpec {
        master_command_seed: spec.master.command.clone(),
        worker_command_seed: spec.worker.command.clone(),
        worker_replicas: spec.worker.replicas,
        image: spec.image.clone(),
        image_pull_policy: spec.image_pull_policy,
        image_pull_secrets: spec
            .image_pull_secrets
            .as_ref()
            .map(|secrets| secrets.iter().map(|s| s.name.clone()).collect()),
        config_map: test_files.and_then(|t| t.config_map_ref.clone()),
        lib_config_map: test_files.and_then(|t| t.lib_config_map_ref.clone()),
        labels: role_maps(&spec.master.labels, &spec.worker.labels),
        annotations: role_maps(&spec.master.annotations, &spec.worker.annotations),
        affinity: scheduling
            .and_then(|s| s.affinity.as_ref())
            .and_then(affinity_to_v1),
        tolerations: scheduling
            .and_then(|s| s.tolerations.as_ref())
            .and_then(|list| list.iter().map(toleration_to_v1).collect()),
        v2_spec: None,
    }
}

fn role_entries(maps: &Option<RoleMaps>, role: Role) -> Option<BTreeMap<String, String>> {
    let maps = maps.as_ref()?;
    match role {
        Role::Master => maps.master.clone(),
        Role::Worker => maps.worker.clone(),
    }
}

fn role_maps(
    master: &Option<BTreeMap<String, String>>,
    worker: &Option<BTreeMap<String, String>>,
) -> Option<RoleMaps> {
    (master.is_some() || worker.is_some()).then(|| RoleMaps {
        master: master.clone(),
        worker: worker.clone(),
    })
}

/// One node selector term with an `In` requirement per label, in key order (the map's order),
/// so the result is deterministic.
fn affinity_to_v2(legacy: &LegacyAffinity) -> Affinity {
    let node_affinity = legacy.node_affinity.as_ref().map(|node| NodeAffinity {
        required_during_scheduling_ignored_during_execution: node
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(|labels| NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(
                        labels
                            .iter()
                            .map(|(key, value)| NodeSelectorRequirement {
                                key: key.clone(),
                                operator: OPERATOR_IN.to_string(),
                                values: Some(vec![value.clone()]),
                            })
                            .collect(),
                    ),
                    match_fields: None,
                }],
            }),
        preferred_during_scheduling_ignored_during_execution: None,
    });
    Affinity {
        node_affinity,
        pod_affinity: None,
        pod_anti_affinity: None,
    }
}

/// The v1 form of an affinity, when v1 can state the same constraint.
fn affinity_to_v1(affinity: &Affinity) -> Option<LegacyAffinity> {
    if affinity.pod_affinity.is_some() || affinity.pod_anti_affinity.is_some() {
        return None;
    }
    let Some(node) = &affinity.node_affinity else {
        return Some(LegacyAffinity {
            node_affinity: None,
        });
    };
    if node
        .preferred_during_scheduling_ignored_during_execution
        .is_some()
    {
        return None;
    }
    let required = match &node.required_during_scheduling_ignored_during_execution {
        Some(selector) => Some(required_node_labels(selector)?),
        None => None,
    };
    Some(LegacyAffinity {
        node_affinity: Some(LegacyNodeAffinity {
            required_during_scheduling_ignored_during_execution: required,
        }),
    })
}

/// Node labels of a selector that is one term of single-value `In` requirements. Order does not
/// change what the term selects, so any order is accepted (the annotation keeps the original).
fn required_node_labels(selector: &NodeSelector) -> Option<BTreeMap<String, String>> {
    let [term] = selector.node_selector_terms.as_slice() else {
        return None;
    };
    if term.match_fields.is_some() {
        return None;
    }
    let mut labels = BTreeMap::new();
    for requirement in term.match_expressions.as_ref()? {
        let [value] = requirement.values.as_deref()? else {
            return None;
        };
        if requirement.operator != OPERATOR_IN {
            return None;
        }
        // Two different values for one key select nothing; a map cannot say that.
        if let Some(previous) = labels.insert(requirement.key.clone(), value.clone())
            && previous != *value
        {
            return None;
        }
    }
    Some(labels)
}

fn toleration_to_v2(legacy: &LegacyToleration) -> Toleration {
    Toleration {
        key: Some(legacy.key.clone()),
        operator: Some(legacy.operator.as_str().to_string()),
        value: legacy.value.clone(),
        effect: Some(legacy.effect.as_str().to_string()),
        toleration_seconds: None,
    }
}

fn toleration_to_v1(toleration: &Toleration) -> Option<LegacyToleration> {
    if toleration.toleration_seconds.is_some() {
        return None;
    }
    // Kubernetes reads a missing operator as Equal.
    let operator = match toleration.operator.as_deref() {
        None | Some("Equal") => TolerationOperator::Equal,
        Some("Exists") => TolerationOperator::Exists,
        Some(_) => return None,
    };
    let effect = match toleration.effect.as_deref()? {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        _ => return None,
    };
    Some(LegacyToleration {
        key: toleration.key.clone()?,
        operator,
        value: toleration.value.clone(),
        effect,
    })
}
