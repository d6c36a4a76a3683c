//! The local sandbox behind `hack/sandbox.sh` (`make sandbox`): the simulated cluster of the
//! integration tests (tests/support), started in a fixed directory and kept running until
//! SIGTERM or SIGINT. One implementation for tests and sandbox, so both behave alike.
//!
//! Usage: `sandbox <directory> [simulated|real]`; writes `<directory>/kubeconfig`, then
//! `<directory>/ready`. `real` starts the real node of the real-cluster tests (root, `make
//! tools`); `simulated` (the default) the kwok cluster.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Only the cluster part of tests/support: the rest is for test binaries (it may use what
// Cargo provides to tests only, such as CARGO_BIN_EXE_*).
#[path = "../tests/support"]
#[allow(dead_code)]
mod support {
    pub mod certs;
    pub mod cluster;
    pub mod identity;
    pub mod kwok;
    pub mod process;
    pub mod real;
    pub mod simulation;
    pub mod tools;
    pub mod wait;
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use support::cluster::{Cluster, Location, Mode};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: sandbox <state directory> [simulated|real]");
        return ExitCode::from(2);
    };
    let mode = match std::env::args().nth(2).as_deref() {
        None | Some("simulated") => Mode::SimulatedCluster,
        Some("real") => Mode::RealCluster,
        Some(other) => {
            eprintln!("unknown mode {other:?}: simulated or real");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(serve(dir, mode))
}

async fn serve(dir: PathBuf, mode: Mode) -> ExitCode {
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let cluster = match Cluster::start(mode, Location::Fixed(dir.clone())).await {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("the sandbox did not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::write(dir.join("ready"), cluster.server.as_bytes()) {
        eprintln!("cannot write {}: {error}", dir.join("ready").display());
        return ExitCode::FAILURE;
    }
    println!(
        "sandbox ready in {:.1} s ({mode}); export KUBECONFIG={}",
        cluster.start_up.as_secs_f64(),
        cluster.kubeconfig.display()
    );
    let mut health = tokio::time::interval(Duration::from_secs(2));
    let code = loop {
        tokio::select! {
            _ = terminate.recv() => break ExitCode::SUCCESS,
            _ = interrupt.recv() => break ExitCode::SUCCESS,
            _ = health.tick() => {
                if let Err(error) = cluster.check_running() {
                    eprintln!("the sandbox lost a component, stopping: {error}");
                    break ExitCode::FAILURE;
                }
            }
        }
    };
    cluster.stop();
    println!("sandbox stopped");
    code
}
