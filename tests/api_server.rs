//! Against a real kube-apiserver (etcd + kube-apiserver, RBAC on): the CRD, the agreement of
//! the API server and the Rust validator on every fixture, immutability, RBAC identities.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::ExitCode;

use support::{Cluster, Mode};

async fn cluster_serves_namespaces(cluster: &'static Cluster) {
    let ns = cluster.namespace("smoke").await;
    let out = cluster.run_kubectl(&["get", "namespace", &ns, "-o", "name"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() -> ExitCode {
    support::harness::main(Mode::ApiServer, trials![cluster_serves_namespaces])
}
