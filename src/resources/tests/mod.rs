//! Tests of the builders, one file per concern. Tests build a LocustTest from YAML: the base
//! test below, with the fields of each case merged into its spec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod args;
mod env;
mod exporter;
mod jobs;
mod labels;
mod metadata;
mod properties;
mod scheduling;
mod schema_defaults;
mod security;
mod service;
mod volumes;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_yaml::Value;

use super::{BuildError, Children, build_children};
use crate::api::v2::LocustTest;
use crate::config::Config;

pub(super) const BASE: &str = r#"
apiVersion: locust.io/v2
kind: LocustTest
metadata:
  name: demo
  namespace: load
  uid: 6f1c2a9e-3b7d-4c1e-9a55-0d2b8f7e4a10
spec:
  image: locustio/locust:2.43.3
  master:
    command: --locustfile /lotest/src/demo.py --host https://shop.example --users 10
  worker:
    command: --locustfile /lotest/src/demo.py
    replicas: 3
"#;

/// The base test with `spec_overlay` (YAML) merged into its spec, mappings recursively.
pub(super) fn test_with(spec_overlay: &str) -> LocustTest {
    let mut value: Value = serde_yaml::from_str(BASE).unwrap();
    let overlay: Value = serde_yaml::from_str(spec_overlay).unwrap();
    if !overlay.is_null() {
        merge(&mut value["spec"], overlay);
    }
    serde_yaml::from_value(value).unwrap()
}

pub(super) fn base() -> LocustTest {
    test_with("")
}

fn merge(target: &mut Value, overlay: Value) {
    match (target, overlay) {
        (Value::Mapping(target), Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, overlay) => *target = overlay,
    }
}

pub(super) fn build(test: &LocustTest) -> Children {
    build_with(test, &Config::default())
}

pub(super) fn build_with(test: &LocustTest, config: &Config) -> Children {
    build_children(test, config).unwrap()
}

pub(super) fn build_err(test: &LocustTest, config: &Config) -> BuildError {
    build_children(test, config).unwrap_err()
}

pub(super) fn pod(job: &Job) -> &PodSpec {
    job.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

pub(super) fn pod_meta(job: &Job) -> &ObjectMeta {
    job.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
}

/// The Locust container of a Job's pod.
pub(super) fn locust(job: &Job) -> &Container {
    let containers = &pod(job).containers;
    assert_eq!(containers.len(), 1, "one Locust container per pod");
    &containers[0]
}

pub(super) fn args(job: &Job) -> Vec<&str> {
    locust(job)
        .args
        .iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

/// `(name, value)` of every env var of the Locust container.
pub(super) fn env(job: &Job) -> Vec<(&str, Option<&str>)> {
    locust(job)
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.as_str(), e.value.as_deref()))
        .collect()
}

/// The object as JSON, to compare with a literal.
pub(super) fn json<T: serde::Serialize>(object: &T) -> serde_json::Value {
    serde_json::to_value(object).unwrap()
}
