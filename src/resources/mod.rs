//! Pure builders: (LocustTest, Config) -> the master Service, master Job and worker Job.
//!
//! Nothing here talks to a cluster. The controller server-side applies what
//! [`build_children`] returns; every object carries the operator's labels (its watches select
//! on them) and a controller owner reference to the test (garbage collection cleans up).
//!
//! An absent spec field resolves to the default the CRD schema documents (constants in
//! [`crate::api::names`]), so a test read from the API server and a test written by hand build
//! the same children.

mod args;
mod container;
mod env;
mod exporter;
mod jobs;
mod labels;
mod pod;
pub mod report;
mod service;
mod volumes;
pub mod web_route;
pub mod web_ui;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use crate::api::names::{Role, child_name};
use crate::api::v2::{LocustTest, LocustTestSpec, OpenTelemetrySpec};
use crate::config::Config;

pub use args::{expected_workers, master_args, processes_per_pod, worker_args};
pub use jobs::{master_job, worker_job};
pub use service::master_service;

/// Everything the operator creates for one LocustTest.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    /// `<name>-master`: lets workers reach the master and exposes the web UI and metrics.
    pub service: Service,
    /// `<name>-master`: one master pod; its outcome is the test's outcome.
    pub master_job: Job,
    /// `<name>-worker`: `spec.worker.replicas` worker pods.
    pub worker_job: Job,
}

/// Why the children of a test cannot be built. The message is shown to the user as a status
/// condition, so it names the field and says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(
        "the LocustTest has no metadata.{field}; children can only be built for a test read from the API server"
    )]
    MissingMetadata { field: &'static str },

    #[error(
        "{field} is set but the operator runs with {switch}=false; remove the field or enable the switch"
    )]
    ForbiddenField {
        field: &'static str,
        switch: &'static str,
    },

    #[error(
        "{field} contains {flag}: the operator sets it to connect the master and its workers; remove it"
    )]
    OperatorFlag { field: &'static str, flag: String },

    #[error(
        "spec.volumeMounts mounts the volume {name:?}, which spec.volumes does not define; add the volume or remove the mount"
    )]
    UnknownVolume { name: String },

    #[error("spec.observability.openTelemetry.endpoint is required when openTelemetry is enabled")]
    MissingOtelEndpoint,

    #[error(
        "spec.worker.processes may not be combined with --processes in spec.worker.command or spec.worker.extraArgs; keep spec.worker.processes and remove --processes from the command line"
    )]
    ProcessesTwice,
}

/// Builds the master Service, the master Job and the worker Job of `test`.
pub fn build_children(test: &LocustTest, config: &Config) -> Result<Children, BuildError> {
    Ok(Children {
        service: master_service(test, config)?,
        master_job: master_job(test, config)?,
        worker_job: worker_job(test, config)?,
    })
}

/// The identity every child derives from: the test's name, namespace and owner reference.
pub(crate) struct Owner<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    reference: OwnerReference,
}

impl<'a> Owner<'a> {
    pub fn of(test: &'a LocustTest) -> Result<Self, BuildError> {
        let meta = &test.metadata;
        let present = |value: &'a Option<String>, field| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .ok_or(BuildError::MissingMetadata { field })
        };
        let name = present(&meta.name, "name")?;
        let namespace = present(&meta.namespace, "namespace")?;
        present(&meta.uid, "uid")?;
        let reference = test
            .controller_owner_ref(&())
            .ok_or(BuildError::MissingMetadata { field: "uid" })?;
        Ok(Self {
            name,
            namespace,
            reference,
        })
    }

    /// The controller owner reference to the test.
    pub fn reference(&self) -> OwnerReference {
        self.reference.clone()
    }

    /// `<name>-master` or `<name>-worker`.
    pub fn child_name(&self, role: Role) -> String {
        child_name(self.name, role)
    }

    /// Metadata of a child object of `role`: name, namespace, labels and the owner reference.
    pub fn child_metadata(&self, role: Role, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.child_name(role)),
            namespace: Some(self.namespace.to_string()),
            labels: Some(labels),
            owner_references: Some(vec![self.reference.clone()]),
            ..ObjectMeta::default()
        }
    }
}

/// The OpenTelemetry settings, only when OpenTelemetry is enabled.
pub(crate) fn open_telemetry(spec: &LocustTestSpec) -> Option<&OpenTelemetrySpec> {
    spec.observability
        .as_ref()
        .and_then(|o| o.open_telemetry.as_ref())
        .filter(|otel| otel.enabled)
}

/// The Prometheus exporter sidecar runs on the master exactly when OpenTelemetry is off.
pub(crate) fn exporter_runs(spec: &LocustTestSpec) -> bool {
    open_telemetry(spec).is_none()
}

/// `Some(list)` for a non-empty list, `None` otherwise: an empty list in an applied object
/// would make the operator own an empty field for nothing.
pub(crate) fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
