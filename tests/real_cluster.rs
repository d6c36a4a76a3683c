//! End-to-end scenarios on a real node (kubelet, containerd, runc, CNI, kube-proxy, CoreDNS):
//! real Locust pods run what the operator builds. One node for the binary, tests one at a time
//! in this order (the last ones install the operator into the cluster and take over the CRD).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "real/common.rs"]
mod common;
#[path = "real/failures.rs"]
mod failures;
#[path = "real/injection.rs"]
mod injection;
#[path = "real/install.rs"]
mod install;
#[path = "real/node.rs"]
mod node;
#[path = "real/results.rs"]
mod results;
#[path = "real/samples.rs"]
mod samples;
#[path = "real/security.rs"]
mod security;
#[path = "real/telemetry.rs"]
mod telemetry;

use std::process::ExitCode;
use std::time::Duration;

use support::Mode;

use failures::{
    failing_requests_fail_the_test_with_master_failed, missing_env_config_map_is_named,
    missing_locustfile_config_map_is_named, missing_secret_mount_leaves_pods_stuck_and_is_named,
    unpullable_image_is_named,
};
use injection::env_secrets_and_volumes_reach_the_locust_process;
use install::{
    config_directory_runs_the_operator_in_the_cluster, helm_chart_runs_the_operator_in_the_cluster,
};
use node::pods_reach_services_by_name_and_the_host_reaches_pods;
use results::{
    live_stats_result_and_report_through_the_api_server_proxy,
    scheduled_runs_are_judged_against_the_previous_run,
    stop_on_breach_stops_real_load_and_fails_the_test,
};
use samples::{
    readme_v2_sample_runs_a_real_distributed_test, v1_sample_runs_a_real_distributed_test,
};
use security::restricted_namespace_runs_locust_with_the_documented_security_block;
use telemetry::{
    exporter_sidecar_serves_metrics_and_the_master_job_completes,
    open_telemetry_exports_to_an_in_cluster_receiver,
};

fn main() -> ExitCode {
    let trials = trials![
        pods_reach_services_by_name_and_the_host_reaches_pods,
        readme_v2_sample_runs_a_real_distributed_test,
        v1_sample_runs_a_real_distributed_test,
        env_secrets_and_volumes_reach_the_locust_process,
        exporter_sidecar_serves_metrics_and_the_master_job_completes,
        open_telemetry_exports_to_an_in_cluster_receiver,
        failing_requests_fail_the_test_with_master_failed,
        missing_locustfile_config_map_is_named,
        missing_env_config_map_is_named,
        missing_secret_mount_leaves_pods_stuck_and_is_named,
        unpullable_image_is_named,
        restricted_namespace_runs_locust_with_the_documented_security_block,
        live_stats_result_and_report_through_the_api_server_proxy,
        stop_on_breach_stops_real_load_and_fails_the_test,
        scheduled_runs_are_judged_against_the_previous_run,
        helm_chart_runs_the_operator_in_the_cluster,
        config_directory_runs_the_operator_in_the_cluster,
    ];
    support::harness::main_sequential(Mode::RealCluster, Duration::from_secs(300), trials)
}
