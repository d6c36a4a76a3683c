//! Reading the Locust master: live figures, the final result, threshold verdicts and the
//! report. `payload`, `figures` and `verdict` are pure; `reader` does the HTTP; `poller` is the
//! background task that reads every running test's master and asks the controller to
//! reconcile when something was read.

pub mod figures;
pub mod payload;
pub mod poller;
pub mod reader;
pub mod verdict;

use std::time::Duration;

pub use poller::{Capture, Poller, Reading, Readings, Sample};

/// How the operator reaches a master's web API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Access {
    /// Plain HTTP to the master Service (`<name>-master.<namespace>.svc:8089`): an operator
    /// running in the cluster.
    Direct,
    /// Through the API server's service proxy: an operator outside the cluster, or one that
    /// cannot reach pods. Needs `get` on `services/proxy`.
    ApiServerProxy,
    /// Do not read masters: no live stats, result or report; connectedWorkers is estimated.
    Off,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Direct => "direct",
            Access::ApiServerProxy => "apiserver-proxy",
            Access::Off => "off",
        }
    }
}

/// How the operator reads masters.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub access: Access,
    /// Time between two reads of one master.
    pub interval: Duration,
    /// Timeout of one read.
    pub timeout: Duration,
    /// Reads at once, over every test.
    pub concurrency: usize,
    /// How long a running master may stay silent before a condition says so.
    pub grace: Duration,
}

impl Settings {
    /// The defaults of `locust-k8s-operator run`.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const DEFAULT_CONCURRENCY: usize = 16;
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

    /// Minimum time between two writes of `status.liveStats` of one test, unless the state or
    /// the user count changes.
    pub fn live_write_interval(&self) -> Duration {
        (self.interval * 2).max(Duration::from_secs(10))
    }

    /// How old an answer may be and still count as the master's current word.
    pub fn freshness(&self) -> Duration {
        self.interval * 2 + self.timeout
    }
}
