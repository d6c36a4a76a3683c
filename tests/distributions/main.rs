//! The generated distributions checked by the real tools, without a cluster:
//! - [`helm`]: `helm lint --strict` and `helm template` for every value set, and the values
//!   schema refusing typos and wrong types;
//! - [`olm`]: `operator-sdk bundle validate` with the operatorframework suite (zero errors and
//!   zero warnings), `opm validate`, and broken bundles and catalogs that must fail;
//! - [`one_source`]: the promises of the single Rust source (the same CRD schema, RBAC rules,
//!   Deployment and version everywhere).
//!
//! tests/distributions_cluster.rs applies the same output to a real API server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Each binary uses part of the shared support modules.
#[allow(dead_code)]
#[path = "../support"]
mod support {
    pub mod distributions;
    pub mod tools;
}

mod helm;
mod olm;
mod one_source;
mod otel;

use serde_json::Value;

/// The operator container's environment: (name, value or valueFrom).
pub fn env_of(deployment: &Value) -> Vec<(String, Value)> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e.get("value").cloned().unwrap_or(e["valueFrom"].clone()),
            )
        })
        .collect()
}

/// The value of one variable of the operator container.
pub fn env_value(deployment: &Value, name: &str) -> Option<String> {
    env_of(deployment)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.as_str().map(str::to_string))
}
