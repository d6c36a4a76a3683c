//! What the controller's caches keep of each watched object: only what status derivation,
//! diagnosis and adoption read. A Job's pod template and a Pod's container specs are most of
//! their bytes and are never read from the cache (an adopted child is read with a GET), so a
//! cached Job or Pod costs a fraction of the object the API server sends.
//!
//! | kind | kept | dropped |
//! |------|------|---------|
//! | LocustTest | everything but managed fields and `kubectl apply`'s copy of the manifest | managed fields, the `last-applied-configuration` annotation |
//! | Job | metadata (labels, owner references), status | spec, annotations, managed fields |
//! | Service | metadata (labels, owner references) | spec, status, annotations, managed fields |
//! | Pod | metadata (labels, owner references), status, the name of the first container, the ConfigMaps and Secrets it mounts (as a list in an annotation) | everything else of the spec, annotations, managed fields |

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Service};
use kube::Resource;

use super::diagnosis::{self, MOUNTS_ANNOTATION};
use crate::api::v2::LocustTest;

/// Strips from `object` what the controller never reads from its cache.
pub trait Projection {
    fn project(&mut self);
}

fn strip_metadata<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    meta.annotations = None;
}

/// `kubectl apply` (client-side) keeps a copy of the whole manifest here.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl Projection for LocustTest {
    fn project(&mut self) {
        self.metadata.managed_fields = None;
        // Other annotations stay (the v1 round-trip annotation, the user's own); the cached
        // test is never written back, so nothing is lost on the server.
        if let Some(annotations) = self.metadata.annotations.as_mut() {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                self.metadata.annotations = None;
            }
        }
    }
}

impl Projection for Job {
    fn project(&mut self) {
        strip_metadata(self);
        self.spec = None;
    }
}

impl Projection for Service {
    fn project(&mut self) {
        strip_metadata(self);
        self.spec = None;
        self.status = None;
    }
}

impl Projection for Pod {
    fn project(&mut self) {
        // Diagnosis names what a pod stuck creating mounts: a short list in place of the
        // volumes (a `Volume` is over 3 KB however little it holds).
        let mounted = diagnosis::mounted(self);
        strip_metadata(self);
        if !mounted.is_empty() {
            self.metadata.annotations =
                Some([(MOUNTS_ANNOTATION.to_string(), mounted.join("\n"))].into());
        }
        let Some(spec) = self.spec.take() else {
            return;
        };
        // ... and the first container in `kubectl logs` hints. New vectors, not collected in
        // place: those would keep the capacity of the originals.
        let containers = spec
            .containers
            .into_iter()
            .next()
            .map(|c| {
                vec![Container {
                    name: c.name,
                    ..Container::default()
                }]
            })
            .unwrap_or_default();
        self.spec = Some(PodSpec {
            containers,
            ..PodSpec::default()
        });
    }
}

#[cfg(test)]
#[path = "projection_tests.rs"]
mod tests;
