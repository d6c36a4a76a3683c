//! The `main` of a cluster test binary (`harness = false` in Cargo.toml), on libtest-mimic:
//! the usual test CLI (filters, `--list`, `--test-threads`, `--ignored`), one cluster per
//! binary started by the first test that runs, shared by all, and stopped after the last one,
//! whether tests passed, failed or panicked.
//!
//! Why not `#[tokio::test]`: the built-in harness has no hook after the last test, so teardown
//! would rest on the reaper alone, and every test would own a runtime while a `kube::Client`
//! stays bound to the runtime that created it. Here one multi-threaded runtime lives as long as
//! the binary; each test runs on it with `block_on`, so the shared admin client works everywhere.

use std::future::Future;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

use super::cluster::{Cluster, Location, Mode};

/// A test that runs longer has hung; fail it rather than the whole run.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(180);

static MODE: OnceLock<Mode> = OnceLock::new();
static CLUSTER: OnceCell<Result<Cluster, String>> = OnceCell::const_new();

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the tokio runtime: {e}"))
    })
}

/// The binary's cluster, started on first use. A start-up failure fails every test with the
/// same message (a missing tool says to run `make tools`).
pub async fn cluster() -> Result<&'static Cluster, String> {
    let mode = *MODE.get().ok_or("harness::main was not called")?;
    CLUSTER
        .get_or_init(|| Cluster::start(mode, Location::Temporary))
        .await
        .as_ref()
        .map_err(|e| format!("the test cluster ({mode}) did not start: {e}"))
}

/// Runs the trials against one cluster of `mode`, then stops it; returns the exit code.
pub fn main(mode: Mode, trials: Vec<Trial>) -> ExitCode {
    run(mode, Arguments::from_args(), trials)
}

/// Like [`main`], but one test at a time in the order given unless `--test-threads` says
/// otherwise, each with its own timeout: for a binary whose tests share one real node (two
/// cores, real Locust pods) and change cluster-wide things in turn (the CRD, an install).
pub fn main_sequential(mode: Mode, timeout: Duration, trials: Vec<Trial>) -> ExitCode {
    let _ = TIMEOUT.set(timeout);
    let mut arguments = Arguments::from_args();
    arguments.test_threads.get_or_insert(1);
    run(mode, arguments, trials)
}

static TIMEOUT: OnceLock<Duration> = OnceLock::new();

fn run(mode: Mode, arguments: Arguments, trials: Vec<Trial>) -> ExitCode {
    let _ = MODE.set(mode);
    let conclusion = libtest_mimic::run(&arguments, trials);
    if let Some(Ok(cluster)) = CLUSTER.get() {
        cluster.stop();
    }
    conclusion.exit_code()
}

/// One test: an async function of the shared cluster.
pub fn trial<Fut>(name: &str, test: fn(&'static Cluster) -> Fut) -> Trial
where
    Fut: Future<Output = ()> + 'static,
{
    let name_owned = name.to_string();
    Trial::test(name, move || {
        runtime().block_on(async move {
            let cluster = cluster().await.map_err(Failed::from)?;
            let timeout = *TIMEOUT.get().unwrap_or(&TEST_TIMEOUT);
            let started = std::time::Instant::now();
            let outcome = tokio::time::timeout(timeout, test(cluster))
                .await
                .map_err(|_| Failed::from(format!("timed out after {timeout:?}")));
            // Sequential binaries (the real node) say what each scenario cost.
            if TIMEOUT.get().is_some() {
                eprintln!("{name_owned}: {:.1} s", started.elapsed().as_secs_f64());
            }
            outcome
        })
    })
}

/// `trials![a, b]` is `vec![trial("a", a), trial("b", b)]`.
#[macro_export]
macro_rules! trials {
    ($($test:ident),* $(,)?) => {
        vec![$($crate::support::harness::trial(stringify!($test), $test)),*]
    };
}
