//! Many tests at once, and leader election between replicas: tests that need the simulated
//! cluster to themselves (hundreds of pods, time bounds), so they run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "controller/common.rs"]
mod common;
#[path = "controller/leader.rs"]
mod leader;
#[path = "controller/scale.rs"]
mod scale;
mod support;

use std::process::ExitCode;
use std::time::Duration;

use leader::{
    a_leader_whose_lease_is_taken_writes_nothing_more_and_exits,
    sigterm_stops_the_leader_cleanly_and_hands_the_lease_over,
    standby_takes_over_within_the_lease_bound_having_done_nothing_before,
};
use scale::{
    hundred_tests_reach_running,
    twenty_kills_during_a_burst_of_two_hundred_tests_lose_and_duplicate_nothing,
};
use support::Mode;

fn main() -> ExitCode {
    support::harness::main_sequential(
        Mode::SimulatedCluster,
        Duration::from_secs(240),
        trials![
            twenty_kills_during_a_burst_of_two_hundred_tests_lose_and_duplicate_nothing,
            hundred_tests_reach_running,
            standby_takes_over_within_the_lease_bound_having_done_nothing_before,
            a_leader_whose_lease_is_taken_writes_nothing_more_and_exits,
            sigterm_stops_the_leader_cleanly_and_hands_the_lease_over,
        ],
    )
}
