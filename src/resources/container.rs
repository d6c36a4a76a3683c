//! Container building blocks that the Locust containers and the exporter sidecar share.

use k8s_openapi::api::core::v1::{
    Capabilities, ContainerPort, ResourceRequirements, SecurityContext,
};

/// A TCP container port, optionally named.
pub(crate) fn container_port(name: Option<&str>, port: i32) -> ContainerPort {
    ContainerPort {
        name: name.map(str::to_string),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..ContainerPort::default()
    }
}

/// `None` for requirements without any value, so nothing empty is applied.
pub(crate) fn resources_or_none(resources: ResourceRequirements) -> Option<ResourceRequirements> {
    (resources != ResourceRequirements::default()).then_some(resources)
}

/// No privilege escalation and no capabilities: the part of the `restricted` Pod Security
/// Standard every container can meet without knowing its image.
pub(crate) fn drop_all_capabilities() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            add: None,
            drop: Some(vec!["ALL".to_string()]),
        }),
        ..SecurityContext::default()
    }
}
