//! Shared by the integration test binaries: the LocustTest fixtures, and a real control plane
//! (etcd and kube-apiserver; in simulated-cluster mode also kube-controller-manager,
//! kube-scheduler and kwok) started once per test binary. docs/development.md explains the design.
//!
//! A binary that only needs the fixtures declares `mod support { pub mod fixtures; }`; one that
//! needs a cluster declares `mod support;` and hands its tests to [`harness::main`].
// Each test binary uses a different part of this module.
#![allow(dead_code, unused_imports, unused_macros)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod certs;
pub mod cluster;
pub mod crd;
pub mod fixtures;
pub mod harness;
pub mod identity;
pub mod kwok;
pub mod operator;
pub mod process;
pub mod real;
pub mod simulation;
pub mod tools;
pub mod wait;

pub use cluster::{Cluster, Mode, audit};
pub use identity::Identity;
