//! Property tests of the v1 <-> v2 conversion: round trips are the identity on every object an
//! API server can hold, edits made through v1 keep the v2-only fields, and the webhook entry
//! point never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "conversion/core_types.rs"]
mod core_types;
#[path = "conversion/json.rs"]
mod json;
#[path = "conversion/specs.rs"]
mod specs;

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use locust_operator::api::conversion::{convert_object, to_v1, to_v2};
use locust_operator::api::names::{V1_SPEC_ANNOTATION, V2_SPEC_ANNOTATION};
use locust_operator::api::{v1, v2};
use proptest::collection::vec;
use proptest::option::of as maybe;
use proptest::prelude::*;
use serde_json::{Value, json};

use json::{api_version, arbitrary_json, mutate, mutation, valid_object_json};
use specs::{text, v1_object, v1_spec, v2_object, v2_spec};

const ROUND_TRIP_CASES: u32 = 512;
const NEVER_PANICS_CASES: u32 = 1024;
const V1: &str = "locust.io/v1";
const V2: &str = "locust.io/v2";

/// The parts of a v2 spec v1 has no field for.
fn v2_only_fields(spec: &v2::LocustTestSpec) -> Value {
    let files = spec.test_files.as_ref();
    let scheduling = spec.scheduling.as_ref();
    json!({
        "masterResources": spec.master.resources,
        "workerResources": spec.worker.resources,
        "masterExtraArgs": spec.master.extra_args,
        "workerExtraArgs": spec.worker.extra_args,
        "workerProcesses": spec.worker.processes,
        "masterWebUI": spec.master.web_ui,
        "autostart": spec.master.autostart,
        "autoquit": spec.master.autoquit,
        "srcMountPath": files.and_then(|f| f.src_mount_path.clone()).unwrap_or_else(|| "/lotest/src".into()),
        "libMountPath": files.and_then(|f| f.lib_mount_path.clone()).unwrap_or_else(|| "/opt/locust/lib".into()),
        "nodeSelector": scheduling.and_then(|s| s.node_selector.clone()),
        "runtimeClassName": scheduling.and_then(|s| s.runtime_class_name.clone()),
        "env": spec.env,
        "volumes": spec.volumes,
        "volumeMounts": spec.volume_mounts,
        "security": spec.security,
        "observability": spec.observability,
    })
}

fn has_annotation(metadata: &ObjectMeta, key: &str) -> bool {
    metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(key))
}

fn is_empty_role_maps(maps: &Option<v1::RoleMaps>) -> bool {
    maps.as_ref()
        .is_some_and(|m| m.master.is_none() && m.worker.is_none())
}

/// The only v1 forms v2 has no field for: a labels or annotations map with neither role.
fn has_empty_role_maps(spec: &v1::LocustTestSpec) -> bool {
    is_empty_role_maps(&spec.labels) || is_empty_role_maps(&spec.annotations)
}

/// `spec` as v2 can hold it: empty role maps read as absent.
fn without_empty_role_maps(mut spec: v1::LocustTestSpec) -> v1::LocustTestSpec {
    if is_empty_role_maps(&spec.labels) {
        spec.labels = None;
    }
    if is_empty_role_maps(&spec.annotations) {
        spec.annotations = None;
    }
    spec
}

/// What a v1 reader sees of `spec` from the v2 fields alone, ignoring `spec.v2Spec`.
fn plain_v1_view(spec: &v2::LocustTestSpec) -> v1::LocustTestSpec {
    without_v2_spec(
        to_v1(&v2::LocustTest::new("view", spec.clone()))
            .unwrap()
            .spec,
    )
}

fn without_v2_spec(mut spec: v1::LocustTestSpec) -> v1::LocustTestSpec {
    spec.v2_spec = None;
    spec
}

/// `object` with the help of `spec.v2Spec` and our annotations taken away: the v1 fields alone.
fn without_annotations(mut object: v1::LocustTest) -> v1::LocustTest {
    object.metadata.annotations = None;
    object.spec.v2_spec = None;
    object
}

/// Scheduling with what does not change its meaning normalized away: the order and repetition of
/// node requirements, and a toleration operator left to its default (Equal).
fn scheduling_meaning(spec: &v2::LocustTestSpec) -> (Option<Affinity>, Option<Vec<Toleration>>) {
    let scheduling = spec.scheduling.clone();
    let mut affinity = scheduling.as_ref().and_then(|s| s.affinity.clone());
    if let Some(terms) = affinity
        .as_mut()
        .and_then(|a| a.node_affinity.as_mut())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_mut()
        })
    {
        for term in &mut terms.node_selector_terms {
            if let Some(expressions) = &mut term.match_expressions {
                expressions.sort_by(|a, b| {
                    (&a.key, &a.operator, &a.values).cmp(&(&b.key, &b.operator, &b.values))
                });
                expressions.dedup();
            }
        }
    }
    let tolerations = scheduling.and_then(|s| s.tolerations).map(|list| {
        list.into_iter()
            .map(|mut t| {
                t.operator.get_or_insert_with(|| "Equal".to_string());
                t
            })
            .collect()
    });
    (affinity, tolerations)
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ROUND_TRIP_CASES))]

    #[test]
    fn v2_to_v1_to_v2_is_identity(object in v2_object()) {
        let v1 = to_v1(&object).unwrap();
        prop_assert_eq!(to_v2(&v1).unwrap(), object);
    }

    #[test]
    fn v1_to_v2_to_v1_is_identity(object in v1_object()) {
        let v2 = to_v2(&object).unwrap();
        prop_assert!(!has_annotation(&v2.metadata, V2_SPEC_ANNOTATION));
        // The mirror annotation is used only where v2 has no field for the v1 form.
        prop_assert_eq!(has_annotation(&v2.metadata, V1_SPEC_ANNOTATION), has_empty_role_maps(&object.spec));
        prop_assert_eq!(plain_v1_view(&v2.spec), without_empty_role_maps(object.spec.clone()));
        prop_assert_eq!(to_v1(&v2).unwrap(), object);
    }

    #[test]
    fn v1_view_of_a_v2_object_is_stable_through_v2(object in v2_object()) {
        let v1 = to_v1(&object).unwrap();
        prop_assert_eq!(to_v1(&to_v2(&v1).unwrap()).unwrap(), v1);
    }

    #[test]
    fn v1_shows_affinity_and_tolerations_only_when_they_mean_the_same(object in v2_object()) {
        let v1 = to_v1(&object).unwrap();
        let (affinity, tolerations) = scheduling_meaning(&object.spec);
        let shown = to_v2(&without_annotations(v1.clone())).unwrap();
        let (shown_affinity, shown_tolerations) = scheduling_meaning(&shown.spec);
        if v1.spec.affinity.is_some() {
            prop_assert_eq!(shown_affinity, affinity);
        }
        if v1.spec.tolerations.is_some() {
            prop_assert_eq!(shown_tolerations, tolerations);
        }
    }

    #[test]
    fn changing_replicas_or_image_through_v1_keeps_v2_only_fields(
        object in v2_object(),
        replicas in maybe(1..=500i32),
        image in maybe(text()),
    ) {
        let mut v1 = to_v1(&object).unwrap();
        let mut expected = object.clone();
        if let Some(replicas) = replicas {
            v1.spec.worker_replicas = replicas;
            expected.spec.worker.replicas = replicas;
        }
        if let Some(image) = image {
            v1.spec.image.clone_from(&image);
            expected.spec.image = image;
        }
        prop_assert_eq!(to_v2(&v1).unwrap(), expected);
    }

    #[test]
    fn any_v1_edit_reads_back_as_written_and_keeps_v2_only_fields(
        object in v2_object(),
        edit in v1_spec(),
    ) {
        // A v1 object created from an edited copy of another's v1 view: the v1 fields edited,
        // spec.v2Spec kept as read (a v1 write that changes it is refused by the API server).
        let mut v1 = to_v1(&object).unwrap();
        let carried = v1.spec.v2_spec.take();
        v1.spec = edit.clone();
        v1.spec.v2_spec = carried;
        let v2 = to_v2(&v1).unwrap();
        prop_assert_eq!(v2_only_fields(&v2.spec), v2_only_fields(&object.spec));
        // The edit lands in the v2 fields, not only in the mirror annotation.
        prop_assert_eq!(plain_v1_view(&v2.spec), without_empty_role_maps(edit.clone()));
        prop_assert_eq!(without_v2_spec(to_v1(&v2).unwrap().spec), edit);
    }

    #[test]
    fn any_v2_edit_of_a_v1_created_object_reaches_v1_and_survives(
        object in v1_object(),
        edit in v2_spec(),
    ) {
        let mut v2 = to_v2(&object).unwrap();
        v2.spec = edit.clone();
        let v1 = to_v1(&v2).unwrap();
        prop_assert_eq!(without_empty_role_maps(without_v2_spec(v1.spec.clone())), without_empty_role_maps(plain_v1_view(&edit)));
        let back = to_v2(&v1).unwrap();
        prop_assert_eq!(back.spec, edit);
        prop_assert!(!has_annotation(&back.metadata, V2_SPEC_ANNOTATION));
    }

    #[test]
    fn convert_object_round_trips_json_and_keeps_identity(object in valid_object_json()) {
        let (there, back) = if object["apiVersion"] == V1 {
            (V2, V1)
        } else {
            (V1, V2)
        };
        let converted = convert_object(&object, there).unwrap();
        prop_assert_eq!(converted["apiVersion"].as_str(), Some(there));
        for field in ["/kind", "/metadata/name", "/metadata/namespace", "/metadata/uid", "/status"] {
            prop_assert_eq!(converted.pointer(field), object.pointer(field));
        }
        prop_assert_eq!(convert_object(&converted, back).unwrap(), object.clone());
        prop_assert_eq!(convert_object(&object, back).unwrap(), object);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(NEVER_PANICS_CASES))]

    #[test]
    fn convert_object_never_panics_on_arbitrary_json(
        value in arbitrary_json(),
        spec in arbitrary_json(),
        metadata in arbitrary_json(),
        api_version in api_version(),
        kind in prop_oneof![Just("LocustTest".to_string()), ".{0,8}"],
        desired in api_version(),
    ) {
        let _ = convert_object(&value, &desired);
        let shaped = json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec});
        let _ = convert_object(&shaped, &desired);
    }

    #[test]
    fn convert_object_never_panics_on_mutated_objects(
        mut object in valid_object_json(),
        mutations in vec(mutation(), 1..4),
        desired in api_version(),
    ) {
        for mutation in &mutations {
            mutate(&mut object, mutation);
        }
        if let Ok(converted) = convert_object(&object, &desired) {
            for field in ["/kind", "/metadata/name", "/metadata/namespace", "/metadata/uid"] {
                prop_assert_eq!(converted.pointer(field), object.pointer(field));
            }
        }
    }
}
