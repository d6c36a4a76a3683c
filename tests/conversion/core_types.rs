//! Embedded core Kubernetes types: a few representative variants each, and for affinity and
//! tolerations both shapes v1 can express and shapes it cannot.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapKeySelector, ConfigMapVolumeSource, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectFieldSelector, PersistentVolumeClaimVolumeSource, PodAffinityTerm, PodAntiAffinity,
    PodSecurityContext, PreferredSchedulingTerm, ResourceClaim, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use proptest::collection::{btree_map, vec};
use proptest::option::of as maybe;
use proptest::prelude::*;

use super::specs::{label_key, legacy_toleration, name, string_map, text};

pub fn quantity() -> BoxedStrategy<Quantity> {
    prop_oneof![Just("500m"), Just("2"), Just("512Mi"), Just("1Gi")]
        .prop_map(|q| Quantity(q.to_string()))
        .boxed()
}

pub fn resources() -> BoxedStrategy<ResourceRequirements> {
    prop_oneof![
        Just(ResourceRequirements::default()),
        (quantity(), quantity()).prop_map(|(cpu, memory)| ResourceRequirements {
            limits: Some(BTreeMap::from([
                ("cpu".to_string(), cpu),
                ("memory".to_string(), memory)
            ])),
            ..Default::default()
        }),
        quantity().prop_map(|memory| ResourceRequirements {
            requests: Some(BTreeMap::from([("memory".to_string(), memory)])),
            limits: Some(BTreeMap::new()),
            ..Default::default()
        }),
        name().prop_map(|claim| ResourceRequirements {
            claims: Some(vec![ResourceClaim {
                name: claim,
                request: None,
            }]),
            ..Default::default()
        }),
    ]
    .boxed()
}

pub fn requirement(key: String, operator: &str, values: Vec<String>) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key,
        operator: operator.to_string(),
        values: Some(values),
    }
}

pub fn required_terms(terms: Vec<NodeSelectorTerm>) -> Affinity {
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn in_term(labels: Vec<(String, String)>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(
            labels
                .into_iter()
                .map(|(key, value)| requirement(key, "In", vec![value]))
                .collect(),
        ),
        match_fields: None,
    }
}

/// Affinities v1 can express (sorted or not) and many it cannot.
pub fn affinity() -> BoxedStrategy<Affinity> {
    let labels = || btree_map(label_key(), name(), 0..4);
    prop_oneof![
        labels().prop_map(|m| required_terms(vec![in_term(m.into_iter().collect())])),
        btree_map(label_key(), name(), 2..4)
            .prop_map(|m| required_terms(vec![in_term(m.into_iter().rev().collect())])),
        Just(Affinity::default()),
        Just(Affinity {
            node_affinity: Some(NodeAffinity::default()),
            ..Default::default()
        }),
        (
            label_key(),
            prop_oneof![Just("In"), Just("NotIn"), Just("Exists"), Just("Gt")],
            vec(name(), 0..3)
        )
            .prop_map(
                |(key, operator, values)| required_terms(vec![NodeSelectorTerm {
                    match_expressions: Some(vec![requirement(key, operator, values)]),
                    match_fields: None,
                }])
            ),
        (labels(), labels()).prop_map(|(a, b)| required_terms(vec![
            in_term(a.into_iter().collect()),
            in_term(b.into_iter().collect()),
        ])),
        (label_key(), name()).prop_map(|(key, value)| required_terms(vec![in_term(vec![
            (key.clone(), value.clone()),
            (key, format!("{value}x"))
        ])])),
        name().prop_map(|host| required_terms(vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![requirement("metadata.name".into(), "In", vec![host])]),
        }])),
        Just(required_terms(vec![NodeSelectorTerm::default()])),
        Just(required_terms(Vec::new())),
        (label_key(), name(), 1..=100i32).prop_map(|(key, value, weight)| Affinity {
            node_affinity: Some(NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        preference: in_term(vec![(key, value)]),
                        weight,
                    }
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        string_map().prop_map(|labels| Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_labels: Some(labels),
                        match_expressions: None,
                    }),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }),
    ]
    .boxed()
}

/// Tolerations v1 can express and arbitrary core ones.
pub fn toleration() -> BoxedStrategy<Toleration> {
    prop_oneof![
        legacy_toleration().prop_map(|t| Toleration {
            key: Some(t.key),
            operator: Some(t.operator.as_str().to_string()),
            value: t.value,
            effect: Some(t.effect.as_str().to_string()),
            toleration_seconds: None,
        }),
        (
            maybe(name()),
            maybe(prop_oneof![Just("Exists"), Just("Equal"), Just("Lt")]),
            maybe(text()),
            maybe(prop_oneof![
                Just("NoSchedule"),
                Just("PreferNoSchedule"),
                Just("NoExecute"),
                Just("")
            ]),
            maybe(0..600i64),
        )
            .prop_map(|(key, operator, value, effect, seconds)| Toleration {
                key,
                operator: operator.map(str::to_string),
                value,
                effect: effect.map(str::to_string),
                toleration_seconds: seconds,
            }),
    ]
    .boxed()
}

pub fn env_var() -> BoxedStrategy<EnvVar> {
    let from = |source: EnvVarSource| Some(source);
    prop_oneof![
        (name(), maybe(text())).prop_map(|(name, value)| EnvVar {
            name,
            value,
            value_from: None
        }),
        (name(), name(), name()).prop_map(move |(name, secret, key)| EnvVar {
            name,
            value: None,
            value_from: from(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret,
                    key,
                    optional: Some(true)
                }),
                ..Default::default()
            }),
        }),
        (name(), name(), name()).prop_map(move |(name, config_map, key)| EnvVar {
            name,
            value: None,
            value_from: from(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: config_map,
                    key,
                    optional: None
                }),
                ..Default::default()
            }),
        }),
        name().prop_map(move |name| EnvVar {
            name,
            value: None,
            value_from: from(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: Some("v1".into()),
                    field_path: "metadata.name".into()
                }),
                ..Default::default()
            }),
        }),
    ]
    .boxed()
}

pub fn volume() -> BoxedStrategy<Volume> {
    (name(), 0..4u8, name())
        .prop_map(|(name, kind, source)| {
            let mut volume = Volume {
                name,
                ..Default::default()
            };
            match kind {
                0 => {
                    volume.empty_dir = Some(EmptyDirVolumeSource {
                        medium: Some("Memory".into()),
                        size_limit: Some(Quantity("64Mi".into())),
                    })
                }
                1 => {
                    volume.config_map = Some(ConfigMapVolumeSource {
                        name: source,
                        default_mode: Some(0o444),
                        ..Default::default()
                    })
                }
                2 => {
                    volume.secret = Some(SecretVolumeSource {
                        secret_name: Some(source),
                        ..Default::default()
                    })
                }
                _ => {
                    volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                        claim_name: source,
                        read_only: Some(true),
                    })
                }
            }
            volume
        })
        .boxed()
}

pub fn pod_security_context() -> BoxedStrategy<PodSecurityContext> {
    prop_oneof![
        Just(PodSecurityContext::default()),
        Just(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(1000),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None
            }),
            ..Default::default()
        }),
        (0..70000i64, vec(0..70000i64, 0..3)).prop_map(|(group, groups)| PodSecurityContext {
            fs_group: Some(group),
            supplemental_groups: Some(groups),
            ..Default::default()
        }),
    ]
    .boxed()
}

pub fn container_security_context() -> BoxedStrategy<SecurityContext> {
    prop_oneof![
        Just(SecurityContext::default()),
        Just(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                add: None,
                drop: Some(vec!["ALL".into()])
            }),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        any::<bool>().prop_map(|privileged| SecurityContext {
            privileged: Some(privileged),
            run_as_user: Some(0),
            ..Default::default()
        }),
    ]
    .boxed()
}
