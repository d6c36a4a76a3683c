//! The conversion webhook in the operator binary, on a simulated cluster: operator processes
//! (`locust-k8s-operator run`) with the generated RBAC, reached by the API server through a
//! TCP forwarder that plays the webhook Service (tests/webhook/proxy.rs).
//!
//! Self-managed mode end to end: replicas share one Secret and one CA, conversions go on while
//! replicas restart and while certificates rotate; directory mode waits for its files; and a
//! v1 manifest written for the Go operator runs the same test as its v2 equivalent.
//!
//! The CRD is cluster-wide and each test points its conversion at its own replicas, so tests
//! that touch it take [`CRD`] in turn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "webhook/common.rs"]
mod common;
#[path = "webhook/go_manifest.rs"]
mod go_manifest;
#[path = "webhook/migration.rs"]
mod migration;
#[path = "webhook/proxy.rs"]
mod proxy;
#[path = "webhook/replicas.rs"]
mod replicas;
#[path = "webhook/operator_scenarios.rs"]
mod scenarios;
#[path = "webhook/self_managed.rs"]
mod self_managed;
#[path = "webhook/serving.rs"]
mod serving;
mod support;

use std::process::ExitCode;

use support::Mode;

fn main() -> ExitCode {
    let mut trials = scenarios::trials();
    trials.extend(go_manifest::trials());
    trials.extend(migration::trials());
    trials.extend(self_managed::trials());
    support::harness::main(Mode::SimulatedCluster, trials)
}
