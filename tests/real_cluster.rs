//! End-to-end scenarios on a real node (kubelet, containerd, runc, CNI, kube-proxy, CoreDNS):
//! real Locust pods run what the operator builds. One node for the binary, tests one at a time
//! in this order (the last ones install the operator into the cluster and take over the CRD).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "real/common.rs"]
mod common;
#[path = "real/failures.rs"]
mod failures;
#[path = "real/node.rs"]
mod node;
#[path = "real/samples.rs"]
mod samples;

use std::process::ExitCode;
use std::time::Duration;

use support::Mode;

use failures::{
    failing_requests_fail_the_test_with_master_failed, missing_env_config_map_is_named,
    missing_locustfile_config_map_is_named, unpullable_image_is_named,
};
use node::pods_reach_services_by_name_and_the_host_reaches_pods;
use samples::{
    readme_v2_sample_runs_a_real_distributed_test, v1_sample_runs_a_real_distributed_test,
};

fn main() -> ExitCode {
    support::harness::main_sequential(
        Mode::RealCluster,
        Duration::from_secs(300),
        trials![
            pods_reach_services_by_name_and_the_host_reaches_pods,
            readme_v2_sample_runs_a_real_distributed_test,
            v1_sample_runs_a_real_distributed_test,
            failing_requests_fail_the_test_with_master_failed,
            missing_locustfile_config_map_is_named,
            missing_env_config_map_is_named,
            unpullable_image_is_named,
        ],
    )
}
