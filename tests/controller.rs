//! The simulated-cluster binary (API server, controller-manager, scheduler, kwok fake nodes):
//! the cluster behaviour the operator relies on, then the controller run as a separate
//! `locust-k8s-operator run` process with only the RBAC we ship, by theme (tests/controller/),
//! and the in-place upgrade from the Go operator (tests/go_upgrade/). Tests that change
//! cluster-wide state or need the cluster to themselves have binaries of their own
//! (docs/development.md, "Architecture").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "controller/churn.rs"]
mod churn;
#[path = "controller/cluster_behaviour.rs"]
mod cluster_behaviour;
#[path = "controller/common.rs"]
mod common;
#[path = "controller/configuration.rs"]
mod configuration;
#[path = "controller/failures.rs"]
mod failures;
#[path = "go_upgrade/adoption.rs"]
mod go_adoption;
#[path = "go_upgrade/common.rs"]
mod go_common;
#[path = "go_upgrade/gitops.rs"]
mod go_gitops;
#[path = "controller/lifecycle.rs"]
mod lifecycle;
#[path = "controller/permissions.rs"]
mod permissions;
#[path = "controller/references.rs"]
mod references;
#[path = "controller/schedules.rs"]
mod schedules;
mod support;
#[path = "controller/web_routes.rs"]
mod web_routes;

use std::process::ExitCode;

use churn::pod_churn_does_not_blind_the_controller;
use cluster_behaviour::{
    garbage_collector_deletes_the_dependents_of_a_deleted_owner,
    job_pod_runs_on_a_fake_node_and_the_job_completes,
    pod_complete_delay_annotation_keeps_a_job_pod_running,
    pod_security_admission_enforces_the_namespace_level,
};
use common::*;
use configuration::configuration_environment_reaches_the_jobs_and_metrics_are_served;
use failures::{
    pod_problems_fail_the_test_with_their_reason, taken_names_and_rejected_children_fail_the_test,
};
use go_adoption::{
    finished_and_deleted_go_tests_are_released, go_label_selectors_match_our_children,
    running_go_test_is_adopted_and_followed_to_its_end,
};
use go_gitops::edited_manifests_are_refused_and_the_gitops_recipes_recreate_the_test;
use lifecycle::{
    deleted_children_are_recreated_while_running_and_left_alone_after,
    deleting_a_test_removes_its_children_even_without_the_operator,
    evicted_worker_is_replaced_and_evicted_master_fails_the_test,
    master_failure_fails_the_test_with_a_reason,
    v2_test_runs_to_succeeded_with_children_status_and_events,
};
use permissions::{
    baseline_and_restricted_namespaces_admit_the_pods,
    forbidden_field_fails_the_test_naming_field_and_switch,
    operator_identity_holds_only_the_generated_rights,
};
use references::config_maps_are_waited_for_then_missing_ones_fail_the_test;
use schedules::{
    schedule_passes_its_last_succeeded_runs_figures_as_the_baseline,
    schedule_replace_deletes_the_active_run_then_starts_the_new_one,
    schedule_trigger_runs_are_owned_labelled_forbidden_to_overlap_and_pruned,
    suspended_schedule_catches_up_and_bad_patterns_and_refused_runs_are_reported,
};
use web_routes::web_ui_routes_are_created_owned_reported_and_collected;

fn main() -> ExitCode {
    support::harness::main(
        Mode::SimulatedCluster,
        trials![
            // What the operator relies on from the cluster, proven first.
            job_pod_runs_on_a_fake_node_and_the_job_completes,
            pod_complete_delay_annotation_keeps_a_job_pod_running,
            garbage_collector_deletes_the_dependents_of_a_deleted_owner,
            pod_security_admission_enforces_the_namespace_level,
            v2_test_runs_to_succeeded_with_children_status_and_events,
            master_failure_fails_the_test_with_a_reason,
            config_maps_are_waited_for_then_missing_ones_fail_the_test,
            pod_problems_fail_the_test_with_their_reason,
            taken_names_and_rejected_children_fail_the_test,
            deleted_children_are_recreated_while_running_and_left_alone_after,
            evicted_worker_is_replaced_and_evicted_master_fails_the_test,
            deleting_a_test_removes_its_children_even_without_the_operator,
            forbidden_field_fails_the_test_naming_field_and_switch,
            operator_identity_holds_only_the_generated_rights,
            configuration_environment_reaches_the_jobs_and_metrics_are_served,
            baseline_and_restricted_namespaces_admit_the_pods,
            pod_churn_does_not_blind_the_controller,
            // Installs the Gateway API HTTPRoute CRD midway; no other test reads CRDs.
            web_ui_routes_are_created_owned_reported_and_collected,
            // LocustTestSchedules (tests/controller/schedules.rs).
            schedule_trigger_runs_are_owned_labelled_forbidden_to_overlap_and_pruned,
            suspended_schedule_catches_up_and_bad_patterns_and_refused_runs_are_reported,
            schedule_passes_its_last_succeeded_runs_figures_as_the_baseline,
            schedule_replace_deletes_the_active_run_then_starts_the_new_one,
            // An in-place upgrade from the Go operator 2.3.0 (tests/go_upgrade/).
            running_go_test_is_adopted_and_followed_to_its_end,
            finished_and_deleted_go_tests_are_released,
            go_label_selectors_match_our_children,
            edited_manifests_are_refused_and_the_gitops_recipes_recreate_the_test,
        ],
    )
}
