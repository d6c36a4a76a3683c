//! The Prometheus exporter of the master pod (`containersol/locust_exporter`), which reads
//! Locust's stats API on the master's web port and serves `/metrics`.
//!
//! It is a native sidecar (an init container with `restartPolicy: Always`, Kubernetes 1.29+):
//! the kubelet stops it when the Locust container exits, so the master Job can complete. As a
//! regular container it kept the Go operator's master Jobs running forever.

use k8s_openapi::api::core::v1::{Container, SecurityContext};

use crate::api::names::{
    CONTAINER_PORT_NAME_METRICS, ENV_EXPORTER_LISTEN_ADDRESS, ENV_EXPORTER_URI,
    EXPORTER_CONTAINER_NAME,
};
use crate::api::v2::LocustTestSpec;
use crate::config::Config;

use super::container::{container_port, drop_all_capabilities, resources_or_none};
use super::env::literal;
use super::web_ui::master_web_ui;

pub(crate) fn exporter_sidecar(spec: &LocustTestSpec, config: &Config) -> Container {
    let exporter = &config.exporter;
    let ui = master_web_ui(spec);
    Container {
        name: EXPORTER_CONTAINER_NAME.to_string(),
        image: Some(exporter.image.clone()),
        image_pull_policy: Some(exporter.pull_policy.as_str().to_string()),
        // This is what makes an init container a native sidecar.
        restart_policy: Some("Always".to_string()),
        env: Some(vec![
            literal(
                ENV_EXPORTER_URI,
                &format!("http://localhost:{}{}", ui.port, ui.base_path),
            ),
            literal(ENV_EXPORTER_LISTEN_ADDRESS, &format!(":{}", exporter.port)),
        ]),
        ports: Some(vec![container_port(
            Some(CONTAINER_PORT_NAME_METRICS),
            exporter.port,
        )]),
        resources: resources_or_none(config.exporter_resources()),
        security_context: Some(SecurityContext {
            read_only_root_filesystem: Some(true),
            ..drop_all_capabilities()
        }),
        ..Container::default()
    }
}
