//! Round trips through `spec.v2Spec` and the annotations, and edits made in the other version.

use super::*;

#[test]
fn v2_only_fields_survive_a_v1_round_trip() {
    let v2 = to_v2(&to_v1(&v2_object(rich_v2())).unwrap()).unwrap();
    assert_eq!(v2, to_v2(&to_v1(&v2).unwrap()).unwrap());
    let original = v2_object(rich_v2());
    let v1 = to_v1(&original).unwrap();
    let stored = v1.spec.v2_spec.as_deref().expect("spec.v2Spec");
    let stored: Value = serde_json::from_str(stored).unwrap();
    assert_eq!(annotation(&v1.metadata, V2_SPEC_ANNOTATION), None);
    assert_eq!(stored, spec_json(&defaulted_v2(&original.spec).unwrap()));
    // v1 readers still see what v1 can hold.
    assert_eq!(v1.spec.config_map.as_deref(), Some("demo-src"));
    assert_eq!(v1.spec.worker_replicas, 3);
    assert_eq!(stored["worker"]["processes"], 4);
    let back = to_v2(&v1).unwrap();
    assert_eq!(back.spec, defaulted_v2(&original.spec).unwrap());
    assert_eq!(back.metadata, original.metadata);
}

#[test]
fn changing_replicas_through_v1_keeps_v2_only_fields() {
    let original = v2_object(rich_v2());
    let mut v1 = to_v1(&original).unwrap();
    v1.spec.worker_replicas = 42;
    v1.spec.image = "locustio/locust:2.46.7".into();
    let v2 = to_v2(&v1).unwrap();
    let mut expected = defaulted_v2(&original.spec).unwrap();
    expected.worker.replicas = 42;
    expected.image = "locustio/locust:2.46.7".into();
    assert_eq!(v2.spec, expected);
    assert_eq!(annotation(&v2.metadata, V2_SPEC_ANNOTATION), None);
}

#[test]
fn changing_affinity_through_v1_replaces_the_v2_affinity() {
    let original = v2_object(with(
        minimal_v2(),
        json!({"scheduling": {"runtimeClassName": "gvisor", "affinity": {"podAntiAffinity": {}}}}),
    ));
    let mut v1 = to_v1(&original).unwrap();
    v1.spec.affinity = Some(LegacyAffinity {
        node_affinity: Some(LegacyNodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(BTreeMap::from([(
                "pool".into(),
                "load".into(),
            )])),
        }),
    });
    let scheduling = to_v2(&v1).unwrap().spec.scheduling.unwrap();
    assert_eq!(scheduling.runtime_class_name.as_deref(), Some("gvisor"));
    let affinity = scheduling.affinity.unwrap();
    assert_eq!(affinity.pod_anti_affinity, None);
    assert!(affinity.node_affinity.is_some());
}

#[test]
fn removing_config_map_through_v1_drops_an_emptied_test_files_block() {
    let original = v2_object(with(
        minimal_v2(),
        json!({"testFiles": {"configMapRef": "src"}, "master": {"command": "m", "autostart": false}}),
    ));
    let mut v1 = to_v1(&original).unwrap();
    v1.spec.config_map = None;
    let v2 = to_v2(&v1).unwrap();
    assert_eq!(v2.spec.test_files, None);
    assert_eq!(v2.spec.master.autostart, Some(false));
}

#[test]
fn empty_v1_role_maps_survive_a_v2_round_trip() {
    let v1 = stored_v1(v1_object(with(
        minimal_v1(),
        json!({"labels": {}, "annotations": {"master": {}}}),
    )));
    let v2 = to_v2(&v1).unwrap();
    assert_eq!(v2.spec.master.labels, None);
    assert_eq!(v2.spec.master.annotations, Some(BTreeMap::new()));
    let stored = annotation(&v2.metadata, V1_SPEC_ANNOTATION).expect("v1 spec annotation");
    assert_eq!(
        serde_json::from_str::<Value>(stored).unwrap()["labels"],
        json!({})
    );
    let back = to_v1(&v2).unwrap();
    assert_eq!(back, v1);
}

#[test]
fn labels_added_in_v2_reach_v1_despite_a_stored_v1_spec() {
    let v1 = v1_object(with(minimal_v1(), json!({"labels": {}})));
    let mut v2 = to_v2(&v1).unwrap();
    v2.spec.worker.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
    v2.spec.worker.replicas = 7;
    let back = to_v1(&v2).unwrap();
    assert_eq!(back.spec.worker_replicas, 7);
    assert_eq!(
        back.spec.labels,
        Some(RoleMaps {
            master: None,
            worker: Some(BTreeMap::from([("team".into(), "a".into())]))
        })
    );
    assert_eq!(back.metadata.annotations, None);
}

#[test]
fn foreign_annotations_are_untouched() {
    let foreign = BTreeMap::from([
        ("example.com/owner".to_string(), "team-a".to_string()),
        (
            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
            "{}".to_string(),
        ),
    ]);
    let mut original = v2_object(rich_v2());
    original.metadata.annotations = Some(foreign.clone());
    let v1 = to_v1(&original).unwrap();
    assert_eq!(v1.metadata.annotations, Some(foreign.clone()));
    let back = to_v2(&v1).unwrap();
    assert_eq!(back.metadata.annotations, Some(foreign));
}

#[test]
fn our_annotations_never_leak_into_the_other_version() {
    let mut v1 = to_v1(&v2_object(rich_v2())).unwrap();
    set_annotation(&mut v1.metadata, V1_SPEC_ANNOTATION, Some("stale".into()));
    let v2 = to_v2(&v1).unwrap();
    assert_eq!(annotation(&v2.metadata, V2_SPEC_ANNOTATION), None);
    assert_eq!(annotation(&v2.metadata, V1_SPEC_ANNOTATION), None);
    for spec in [minimal_v2(), rich_v2()] {
        let mut v2 = v2_object(spec);
        set_annotation(&mut v2.metadata, V2_SPEC_ANNOTATION, Some("stale".into()));
        let v1 = to_v1(&v2).unwrap();
        assert_eq!(annotation(&v1.metadata, V2_SPEC_ANNOTATION), None);
        assert_eq!(annotation(&v1.metadata, V1_SPEC_ANNOTATION), None);
        assert_ne!(v1.spec.v2_spec.as_deref(), Some("stale"));
    }
    // spec.v2Spec is not a v2 field: it cannot reach a v2 object.
    let v2 = to_v2(&to_v1(&v2_object(rich_v2())).unwrap()).unwrap();
    assert!(!serde_json::to_string(&v2).unwrap().contains("v2Spec"));
}

#[test]
fn a_v1_object_saved_with_the_old_annotation_reads_through_it() {
    // Read as v1 before spec.v2Spec existed, saved, and created again from the saved manifest.
    let original = v2_object(rich_v2());
    let mut saved = to_v1(&original).unwrap();
    let json = saved.spec.v2_spec.take().unwrap();
    set_annotation(&mut saved.metadata, V2_SPEC_ANNOTATION, Some(json));
    let v2 = to_v2(&saved).unwrap();
    assert_eq!(v2.spec, defaulted_v2(&original.spec).unwrap());
    assert_eq!(annotation(&v2.metadata, V2_SPEC_ANNOTATION), None);
    // Read as v1 again, the data is in spec.v2Spec and the annotation is gone.
    let again = to_v1(&v2).unwrap();
    assert_eq!(annotation(&again.metadata, V2_SPEC_ANNOTATION), None);
    assert!(again.spec.v2_spec.is_some());
}

#[test]
fn spec_v2_spec_wins_over_the_old_annotation() {
    let original = v2_object(rich_v2());
    let mut v1 = to_v1(&original).unwrap();
    let other = to_v1(&v2_object(with(rich_v2(), json!({"image": "other:1"}))))
        .unwrap()
        .spec
        .v2_spec;
    set_annotation(&mut v1.metadata, V2_SPEC_ANNOTATION, other);
    let v2 = to_v2(&v1).unwrap();
    assert_eq!(v2.spec, defaulted_v2(&original.spec).unwrap());
}

#[test]
fn corrupt_spec_v2_spec_is_an_error_naming_it() {
    let mut v1 = to_v1(&v2_object(rich_v2())).unwrap();
    v1.spec.v2_spec = Some("{not json".into());
    let error = to_v2(&v1).unwrap_err();
    assert!(matches!(error, ConversionError::CorruptV2Spec { .. }));
    assert!(error.to_string().contains("spec.v2Spec"), "{error}");
}

#[test]
fn corrupt_v2_spec_annotation_is_an_error() {
    let mut v1 = v1_object(minimal_v1());
    set_annotation(
        &mut v1.metadata,
        V2_SPEC_ANNOTATION,
        Some("{not json".into()),
    );
    let error = to_v2(&v1).unwrap_err();
    assert!(matches!(
        error,
        ConversionError::CorruptSpecAnnotation {
            annotation: V2_SPEC_ANNOTATION,
            ..
        }
    ));
    assert!(error.to_string().contains("locust.io/v2-spec"));
    // Valid JSON that is no v2 spec is just as corrupt.
    set_annotation(&mut v1.metadata, V2_SPEC_ANNOTATION, Some("{}".into()));
    assert!(to_v2(&v1).is_err());
}

#[test]
fn corrupt_v1_spec_annotation_is_an_error() {
    let mut v2 = v2_object(minimal_v2());
    set_annotation(&mut v2.metadata, V1_SPEC_ANNOTATION, Some("[]".into()));
    let error = to_v1(&v2).unwrap_err();
    assert!(error.to_string().contains("locust.io/v1-spec"));
}

#[test]
fn status_passes_through_unchanged() {
    let mut original = v2_object(minimal_v2());
    original.status = Some(v2::LocustTestStatus {
        phase: Some(v2::Phase::Running),
        connected_workers: Some(3),
        ..Default::default()
    });
    let v1 = to_v1(&original).unwrap();
    assert_eq!(v1.status, original.status);
    assert_eq!(to_v2(&v1).unwrap().status, original.status);
}
