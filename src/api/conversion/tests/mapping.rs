//! The plain mapping, rule by rule.

use super::*;

#[test]
fn v1_to_v2_maps_every_field() {
    let v1 = v1_object(with(
        minimal_v1(),
        json!({
            "imagePullPolicy": "Always",
            "imagePullSecrets": ["registry"],
            "configMap": "demo-src",
            "libConfigMap": "demo-lib",
            "labels": {"master": {"role": "m"}, "worker": {"role": "w"}},
            "annotations": {"worker": {"note": "x"}},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"pool": "load"}}},
            "tolerations": [{"key": "spot", "operator": "Equal", "value": "yes", "effect": "NoExecute"}],
        }),
    ));
    let v2 = to_v2(&v1).unwrap();
    assert_eq!(
        spec_json(&v2.spec),
        json!({
            "image": "locustio/locust:2.43.3",
            "imagePullPolicy": "Always",
            "imagePullSecrets": [{"name": "registry"}],
            "master": {
                "command": "--locustfile /lotest/src/demo.py --users 10",
                "labels": {"role": "m"},
                "autostart": true,
                "autoquit": {"enabled": true, "timeout": 60},
            },
            "worker": {
                "command": "--locustfile /lotest/src/demo.py",
                "replicas": 3,
                "labels": {"role": "w"},
                "annotations": {"note": "x"},
            },
            "testFiles": {
                "configMapRef": "demo-src",
                "libConfigMapRef": "demo-lib",
                "srcMountPath": "/lotest/src",
                "libMountPath": "/opt/locust/lib",
            },
            "scheduling": {
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "pool", "operator": "In", "values": ["load"]}
                    ]}]
                }}},
                "tolerations": [{"key": "spot", "operator": "Equal", "value": "yes", "effect": "NoExecute"}],
            },
        })
    );
    assert_eq!(v2.metadata, v1.metadata);
}

#[test]
fn v1_to_v2_fills_autostart_and_autoquit() {
    let v2 = to_v2(&v1_object(minimal_v1())).unwrap();
    assert_eq!(v2.spec.master.autostart, Some(true));
    assert_eq!(
        v2.spec.master.autoquit,
        Some(v2::AutoquitSpec {
            enabled: Some(true),
            timeout: Some(60)
        })
    );
}

#[test]
fn v1_node_affinity_becomes_sorted_in_requirements() {
    let v1 = v1_object(with(
        minimal_v1(),
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"zone": "b", "arch": "arm64", "pool": "load"}}}}),
    ));
    let v2 = to_v2(&v1).unwrap();
    let affinity = spec_json(&v2.spec.scheduling.unwrap().affinity);
    assert_eq!(
        affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!({"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "arch", "operator": "In", "values": ["arm64"]},
            {"key": "pool", "operator": "In", "values": ["load"]},
            {"key": "zone", "operator": "In", "values": ["b"]},
        ]}]})
    );
}

#[test]
fn test_files_appear_only_with_a_config_map() {
    let v2 = to_v2(&v1_object(minimal_v1())).unwrap();
    assert_eq!(v2.spec.test_files, None);
    let v2 = to_v2(&v1_object(with(
        minimal_v1(),
        json!({"libConfigMap": "lib"}),
    )))
    .unwrap();
    let files = v2.spec.test_files.unwrap();
    assert_eq!(files.config_map_ref, None);
    assert_eq!(files.lib_config_map_ref.as_deref(), Some("lib"));
}

#[test]
fn v1_input_is_defaulted_before_conversion() {
    let v1 = v1_object(json!({
        "masterCommandSeed": "m", "workerCommandSeed": "w", "image": "img"
    }));
    let v2 = to_v2(&v1).unwrap();
    assert_eq!(
        v2.spec.image_pull_policy,
        Some(v2::PullPolicy::IfNotPresent)
    );
    assert_eq!(v2.spec.worker.replicas, 1);
    assert_eq!(annotation(&v2.metadata, V1_SPEC_ANNOTATION), None);
}

#[test]
fn v2_to_v1_maps_every_expressible_field_without_annotation() {
    let v1 = v1_object(with(
        minimal_v1(),
        json!({
            "imagePullSecrets": ["registry"],
            "configMap": "demo-src",
            "labels": {"worker": {"role": "w"}},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"a": "1", "b": "2"}}},
            "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
        }),
    ));
    let v2 = to_v2(&v1).unwrap();
    let back = to_v1(&v2).unwrap();
    assert_eq!(back.metadata.annotations, None);
    assert_eq!(back.spec, defaulted_v1(&v1.spec).unwrap());
}

#[test]
fn v2_spec_that_v1_expresses_exactly_needs_no_annotation() {
    let v2 = v2_object(with(
        minimal_v2(),
        json!({"master": {"command": "m", "autoquit": {}}}),
    ));
    let v1 = to_v1(&v2).unwrap();
    assert_eq!(v1.metadata.annotations, None);
}

#[test]
fn v2_affinity_v1_cannot_express_stays_out_of_v1_and_survives() {
    let term = |expressions: Value| json!({"matchExpressions": expressions});
    let required = |terms: Value| json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
    let in_zone = json!({"key": "zone", "operator": "In", "values": ["a"]});
    for scheduling in [
        required(json!([term(
            json!([{"key": "zone", "operator": "NotIn", "values": ["a"]}])
        )])),
        required(json!([term(
            json!([{"key": "zone", "operator": "In", "values": ["a", "b"]}])
        )])),
        required(json!([
            term(json!([in_zone.clone()])),
            term(json!([in_zone.clone()]))
        ])),
        required(json!([{"matchFields": [in_zone.clone()]}])),
        required(json!([term(
            json!([in_zone, {"key": "zone", "operator": "In", "values": ["b"]}])
        )])),
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname"}
        ]}}}),
    ] {
        let original = v2_object(with(minimal_v2(), json!({"scheduling": scheduling})));
        let v1 = to_v1(&original).unwrap();
        assert_eq!(v1.spec.affinity, None, "{scheduling}");
        assert!(v1.spec.v2_spec.is_some());
        let back = to_v2(&v1).unwrap();
        assert_eq!(
            back.spec,
            defaulted_v2(&original.spec).unwrap(),
            "{scheduling}"
        );
    }
}

#[test]
fn unsorted_v2_node_affinity_shows_in_v1_and_keeps_its_order() {
    let original = v2_object(with(
        minimal_v2(),
        json!({"scheduling": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["b"]},
                {"key": "arch", "operator": "In", "values": ["arm64"]},
            ]}]
        }}}}}),
    ));
    let v1 = to_v1(&original).unwrap();
    let required = v1
        .spec
        .affinity
        .clone()
        .and_then(|a| a.node_affinity)
        .and_then(|n| n.required_during_scheduling_ignored_during_execution)
        .unwrap();
    assert_eq!(
        required,
        BTreeMap::from([("arch".into(), "arm64".into()), ("zone".into(), "b".into())])
    );
    assert_eq!(
        to_v2(&v1).unwrap().spec,
        defaulted_v2(&original.spec).unwrap()
    );
}

#[test]
fn empty_v1_affinity_maps_to_an_empty_core_affinity_and_back() {
    for affinity in [json!({}), json!({"nodeAffinity": {}})] {
        let v1 = stored_v1(v1_object(with(minimal_v1(), json!({"affinity": affinity}))));
        let v2 = to_v2(&v1).unwrap();
        assert_eq!(annotation(&v2.metadata, V1_SPEC_ANNOTATION), None);
        assert_eq!(
            spec_json(&v2.spec.scheduling.as_ref().unwrap().affinity),
            affinity
        );
        assert_eq!(to_v1(&v2).unwrap(), v1);
    }
}

#[test]
fn tolerations_v1_cannot_express_stay_out_of_v1_and_survive() {
    for toleration in [
        json!({"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}),
        json!({"operator": "Exists"}),
        json!({"key": "spot", "operator": "Exists"}),
        json!({"key": "spot", "operator": "Like", "effect": "NoSchedule"}),
    ] {
        let original = v2_object(with(
            minimal_v2(),
            json!({"scheduling": {"tolerations": [
                {"key": "ok", "operator": "Exists", "effect": "NoSchedule"},
                toleration,
            ]}}),
        ));
        let v1 = to_v1(&original).unwrap();
        assert_eq!(v1.spec.tolerations, None, "{toleration}");
        let back = to_v2(&v1).unwrap();
        assert_eq!(back.spec, defaulted_v2(&original.spec).unwrap());
    }
}

#[test]
fn toleration_without_operator_shows_as_equal_in_v1() {
    let original = v2_object(with(
        minimal_v2(),
        json!({"scheduling": {"tolerations": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
    ));
    let v1 = to_v1(&original).unwrap();
    let tolerations = v1.spec.tolerations.clone().unwrap();
    assert_eq!(tolerations[0].operator, TolerationOperator::Equal);
    assert_eq!(
        to_v2(&v1).unwrap().spec,
        defaulted_v2(&original.spec).unwrap()
    );
}
