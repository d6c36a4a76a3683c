//! The conversion webhook against a real kube-apiserver: the CRD's conversion calls a webhook
//! running in this process (directory mode, a CA made for the run, `https://127.0.0.1:<port>`),
//! and every read and write below goes through the API server, which calls it over TLS.
//!
//! Also: malformed and random requests over HTTPS, the TLS policy, and certificate files
//! replaced under a running server. Operator processes (self-managed mode, restarts, rotation)
//! are in tests/webhook_operator.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "webhook/common.rs"]
mod common;
#[path = "webhook/serving.rs"]
mod serving;
mod support;

use std::process::ExitCode;

use support::Mode;

#[path = "webhook/conversions.rs"]
mod conversions;
#[path = "webhook/network.rs"]
mod network;

fn main() -> ExitCode {
    let mut trials = conversions::trials();
    trials.extend(network::trials());
    support::harness::main(Mode::ApiServer, trials)
}
