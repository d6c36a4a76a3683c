//! The master Service `<name>-master`: workers connect to the master through it, and it
//! exposes the web UI and, while the exporter runs, the Prometheus metrics.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::names::{
    MASTER_BIND_PORT, MASTER_SECONDARY_PORT, PORT_NAME_MASTER, PORT_NAME_MASTER_SECONDARY,
    PORT_NAME_METRICS, PORT_NAME_WEB, Role, WEB_PORT,
};
use crate::api::v2::LocustTest;
use crate::config::Config;

use super::labels::{master_selector, object_labels};
use super::web_ui::master_web_ui;
use super::{BuildError, Owner, exporter_runs};

/// ClusterIP Service selecting the master pod by `performance-test-pod-name`. Unlike the Go
/// operator it also exposes the web UI (8089, forwarded to the master's `--web-port`), so the UI
/// and the stats API are reachable without a port-forward to the pod.
pub fn master_service(test: &LocustTest, config: &Config) -> Result<Service, BuildError> {
    let owner = Owner::of(test)?;
    let mut ports = vec![
        service_port(PORT_NAME_MASTER, MASTER_BIND_PORT, MASTER_BIND_PORT),
        service_port(
            PORT_NAME_MASTER_SECONDARY,
            MASTER_SECONDARY_PORT,
            MASTER_SECONDARY_PORT,
        ),
        service_port(PORT_NAME_WEB, WEB_PORT, master_web_ui(&test.spec).port),
    ];
    if exporter_runs(&test.spec) {
        ports.push(service_port(
            PORT_NAME_METRICS,
            config.exporter.port,
            config.exporter.port,
        ));
    }
    Ok(Service {
        metadata: owner.child_metadata(Role::Master, object_labels(owner.name, Role::Master)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            selector: Some(master_selector(owner.name)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

fn service_port(name: &str, port: i32, target: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_string()),
        port,
        target_port: Some(IntOrString::Int(target)),
        protocol: Some("TCP".to_string()),
        ..ServicePort::default()
    }
}
