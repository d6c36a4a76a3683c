//! Arbitrary JSON and mutated valid objects, for the never-panics properties.

use locust_operator::api::names::{V1_SPEC_ANNOTATION, V2_SPEC_ANNOTATION};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::specs::{text, v1_object, v1_spec, v2_object, v2_spec};
use super::{V1, V2};

pub fn arbitrary_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
    ];
    let key = prop_oneof![
        "[a-zA-Z]{0,8}",
        prop::sample::select(vec![
            "spec",
            "metadata",
            "status",
            "image",
            "master",
            "worker",
            "command",
            "replicas",
            "labels",
            "annotations",
            "affinity",
            "nodeAffinity",
            "tolerations",
            "scheduling",
            "masterCommandSeed",
            "workerCommandSeed",
            "workerReplicas",
            "testFiles",
            "name",
            "v2Spec",
            V1_SPEC_ANNOTATION,
            V2_SPEC_ANNOTATION,
        ])
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key.clone(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
    .boxed()
}

pub fn api_version() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just(V1.to_string()),
        2 => Just(V2.to_string()),
        1 => ".{0,12}",
    ]
    .boxed()
}

/// JSON pointers of every node below the root, in a stable order.
pub fn pointers(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (segment, child) in children {
        let pointer = format!("{prefix}/{segment}");
        out.push(pointer.clone());
        pointers(child, &pointer, out);
    }
}

#[derive(Clone, Debug)]
pub enum Mutation {
    Remove(usize),
    Replace(usize, Value),
    SpecAnnotation(&'static str, String),
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), arbitrary_json()).prop_map(|(at, value)| Mutation::Replace(at, value)),
        (
            prop_oneof![Just(V1_SPEC_ANNOTATION), Just(V2_SPEC_ANNOTATION)],
            prop_oneof![
                text(),
                arbitrary_json().prop_map(|v| v.to_string()),
                v2_spec().prop_map(|s| serde_json::to_string(&s).unwrap()),
                v1_spec().prop_map(|s| serde_json::to_string(&s).unwrap()),
            ]
        )
            .prop_map(|(key, value)| Mutation::SpecAnnotation(key, value)),
    ]
    .boxed()
}

pub fn mutate(object: &mut Value, mutation: &Mutation) {
    let mut all = Vec::new();
    pointers(object, "", &mut all);
    match mutation {
        Mutation::Remove(at) if !all.is_empty() => {
            let pointer = &all[at % all.len()];
            let (parent, last) = pointer.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            match object.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&last);
                }
                Some(Value::Array(items)) => {
                    if let Ok(index) = last.parse::<usize>()
                        && index < items.len()
                    {
                        items.remove(index);
                    }
                }
                _ => {}
            }
        }
        Mutation::Replace(at, value) if !all.is_empty() => {
            if let Some(node) = object.pointer_mut(&all[at % all.len()]) {
                *node = value.clone();
            }
        }
        Mutation::SpecAnnotation(key, value) => {
            if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
                let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
                if let Value::Object(annotations) = annotations {
                    annotations.insert(key.to_string(), Value::String(value.clone()));
                }
            }
        }
        _ => {}
    }
}

pub fn valid_object_json() -> BoxedStrategy<Value> {
    prop_oneof![
        v1_object().prop_map(|o| serde_json::to_value(o).unwrap()),
        v2_object().prop_map(|o| serde_json::to_value(o).unwrap()),
    ]
    .boxed()
}
