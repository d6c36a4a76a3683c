//! An in-place upgrade from the Go operator (locust-k8s-operator 2.3.0) on a simulated cluster,
//! from what the Go operator really leaves (tests/fixtures/go-operator-2.3.0): its LocustTests
//! (finalizer, status), their Jobs, Service and pods, and its Helm chart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "go_upgrade/adoption.rs"]
mod adoption;
#[path = "go_upgrade/common.rs"]
mod common;
#[path = "go_upgrade/gitops.rs"]
mod gitops;

use std::process::ExitCode;

use adoption::{
    finished_and_deleted_go_tests_are_released, go_label_selectors_match_our_children,
    running_go_test_is_adopted_and_followed_to_its_end,
};
use gitops::edited_manifests_are_refused_and_the_gitops_recipes_recreate_the_test;
use support::Mode;

fn main() -> ExitCode {
    support::harness::main(
        Mode::SimulatedCluster,
        trials![
            running_go_test_is_adopted_and_followed_to_its_end,
            finished_and_deleted_go_tests_are_released,
            go_label_selectors_match_our_children,
            edited_manifests_are_refused_and_the_gitops_recipes_recreate_the_test,
        ],
    )
}
