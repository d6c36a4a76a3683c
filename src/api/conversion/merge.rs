//! Facets: the parts of a spec v1 can express, compared and copied one at a time, so a spec
//! kept in an annotation can take over exactly what a user changed in the other version.

use crate::api::names::{DEFAULT_LIB_MOUNT_PATH, DEFAULT_SRC_MOUNT_PATH};
use crate::api::{v1, v2};

use super::plain::{plain_v1_to_v2, plain_v2_to_v1};
use super::{ConversionError, defaulted_v1, defaulted_v2};

/// One v1 field and the v2 place(s) it maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Facet {
    Image,
    ImagePullPolicy,
    ImagePullSecrets,
    MasterCommand,
    WorkerCommand,
    WorkerReplicas,
    ConfigMap,
    LibConfigMap,
    /// Both roles: v1 `labels`, v2 `master.labels` and `worker.labels`.
    Labels,
    /// Both roles: v1 `annotations`, v2 `master.annotations` and `worker.annotations`.
    Annotations,
    Affinity,
    Tolerations,
}

const FACETS: [Facet; 12] = [
    Facet::Image,
    Facet::ImagePullPolicy,
    Facet::ImagePullSecrets,
    Facet::MasterCommand,
    Facet::WorkerCommand,
    Facet::WorkerReplicas,
    Facet::ConfigMap,
    Facet::LibConfigMap,
    Facet::Labels,
    Facet::Annotations,
    Facet::Affinity,
    Facet::Tolerations,
];

impl Facet {
    fn same_in_v1(self, a: &v1::LocustTestSpec, b: &v1::LocustTestSpec) -> bool {
        match self {
            Facet::Image => a.image == b.image,
            Facet::ImagePullPolicy => a.image_pull_policy == b.image_pull_policy,
            Facet::ImagePullSecrets => a.image_pull_secrets == b.image_pull_secrets,
            Facet::MasterCommand => a.master_command_seed == b.master_command_seed,
            Facet::WorkerCommand => a.worker_command_seed == b.worker_command_seed,
            Facet::WorkerReplicas => a.worker_replicas == b.worker_replicas,
            Facet::ConfigMap => a.config_map == b.config_map,
            Facet::LibConfigMap => a.lib_config_map == b.lib_config_map,
            Facet::Labels => a.labels == b.labels,
            Facet::Annotations => a.annotations == b.annotations,
            Facet::Affinity => a.affinity == b.affinity,
            Facet::Tolerations => a.tolerations == b.tolerations,
        }
    }

    fn copy_v1(self, from: &v1::LocustTestSpec, to: &mut v1::LocustTestSpec) {
        match self {
            Facet::Image => to.image.clone_from(&from.image),
            Facet::ImagePullPolicy => to.image_pull_policy = from.image_pull_policy,
            Facet::ImagePullSecrets => to.image_pull_secrets.clone_from(&from.image_pull_secrets),
            Facet::MasterCommand => to.master_command_seed.clone_from(&from.master_command_seed),
            Facet::WorkerCommand => to.worker_command_seed.clone_from(&from.worker_command_seed),
            Facet::WorkerReplicas => to.worker_replicas = from.worker_replicas,
            Facet::ConfigMap => to.config_map.clone_from(&from.config_map),
            Facet::LibConfigMap => to.lib_config_map.clone_from(&from.lib_config_map),
            Facet::Labels => to.labels.clone_from(&from.labels),
            Facet::Annotations => to.annotations.clone_from(&from.annotations),
            Facet::Affinity => to.affinity.clone_from(&from.affinity),
            Facet::Tolerations => to.tolerations.clone_from(&from.tolerations),
        }
    }

    fn copy_v2(self, from: &v2::LocustTestSpec, to: &mut v2::LocustTestSpec) {
        match self {
            Facet::Image => to.image.clone_from(&from.image),
            Facet::ImagePullPolicy => to.image_pull_policy = from.image_pull_policy,
            Facet::ImagePullSecrets => to.image_pull_secrets.clone_from(&from.image_pull_secrets),
            Facet::MasterCommand => to.master.command.clone_from(&from.master.command),
            Facet::WorkerCommand => to.worker.command.clone_from(&from.worker.command),
            Facet::WorkerReplicas => to.worker.replicas = from.worker.replicas,
            Facet::ConfigMap => {
                let value = from
                    .test_files
                    .as_ref()
                    .and_then(|t| t.config_map_ref.clone());
                test_files_mut(to).config_map_ref = value;
            }
            Facet::LibConfigMap => {
                let value = from
                    .test_files
                    .as_ref()
                    .and_then(|t| t.lib_config_map_ref.clone());
                test_files_mut(to).lib_config_map_ref = value;
            }
            Facet::Labels => {
                to.master.labels.clone_from(&from.master.labels);
                to.worker.labels.clone_from(&from.worker.labels);
            }
            Facet::Annotations => {
                to.master.annotations.clone_from(&from.master.annotations);
                to.worker.annotations.clone_from(&from.worker.annotations);
            }
            Facet::Affinity => {
                let value = from.scheduling.as_ref().and_then(|s| s.affinity.clone());
                scheduling_mut(to).affinity = value;
            }
            Facet::Tolerations => {
                let value = from.scheduling.as_ref().and_then(|s| s.tolerations.clone());
                scheduling_mut(to).tolerations = value;
            }
        }
    }
}

fn test_files_mut(spec: &mut v2::LocustTestSpec) -> &mut v2::TestFilesSpec {
    spec.test_files.get_or_insert(v2::TestFilesSpec {
        config_map_ref: None,
        lib_config_map_ref: None,
        src_mount_path: None,
        lib_mount_path: None,
    })
}

fn scheduling_mut(spec: &mut v2::LocustTestSpec) -> &mut v2::SchedulingSpec {
    spec.scheduling.get_or_insert(v2::SchedulingSpec {
        affinity: None,
        tolerations: None,
        node_selector: None,
        runtime_class_name: None,
    })
}

/// After a v1 edit emptied them, drops `testFiles` and `scheduling` blocks that say nothing, as
/// the plain v1 -> v2 mapping would not have created them.
fn drop_emptied_blocks(spec: &mut v2::LocustTestSpec, changed: &[Facet]) {
    let touched = |facets: [Facet; 2]| facets.iter().any(|f| changed.contains(f));
    if touched([Facet::ConfigMap, Facet::LibConfigMap])
        && let Some(files) = &spec.test_files
        && files.config_map_ref.is_none()
        && files.lib_config_map_ref.is_none()
        && files
            .src_mount_path
            .as_deref()
            .is_none_or(|p| p == DEFAULT_SRC_MOUNT_PATH)
        && files
            .lib_mount_path
            .as_deref()
            .is_none_or(|p| p == DEFAULT_LIB_MOUNT_PATH)
    {
        spec.test_files = None;
    }
    if touched([Facet::Affinity, Facet::Tolerations])
        && let Some(scheduling) = &spec.scheduling
        && scheduling.affinity.is_none()
        && scheduling.tolerations.is_none()
        && scheduling.node_selector.is_none()
        && scheduling.runtime_class_name.is_none()
    {
        spec.scheduling = None;
    }
}

/// The stored v2 spec with the facets a v1 user changed taken from the v1 spec. A facet is
/// unchanged when it equals the v1 view of the stored spec.
pub(super) fn merge_v1_changes_into_v2(
    stored: &v2::LocustTestSpec,
    v1_spec: &v1::LocustTestSpec,
) -> Result<v2::LocustTestSpec, ConversionError> {
    let shown = defaulted_v1(&plain_v2_to_v1(stored))?;
    let converted = plain_v1_to_v2(v1_spec);
    let changed: Vec<Facet> = FACETS
        .into_iter()
        .filter(|facet| !facet.same_in_v1(v1_spec, &shown))
        .collect();
    let mut merged = stored.clone();
    for facet in &changed {
        facet.copy_v2(&converted, &mut merged);
    }
    drop_emptied_blocks(&mut merged, &changed);
    defaulted_v2(&merged)
}

/// The stored v1 spec with the facets changed in v2 since it was stored taken from the v2 spec.
pub(super) fn merge_v2_changes_into_v1(
    stored: &v1::LocustTestSpec,
    v2_spec: &v2::LocustTestSpec,
) -> Result<v1::LocustTestSpec, ConversionError> {
    let shown_then = defaulted_v1(&plain_v2_to_v1(&defaulted_v2(&plain_v1_to_v2(stored))?))?;
    let shown_now = defaulted_v1(&plain_v2_to_v1(v2_spec))?;
    let mut merged = stored.clone();
    for facet in FACETS {
        if !facet.same_in_v1(&shown_now, &shown_then) {
            facet.copy_v1(&shown_now, &mut merged);
        }
    }
    defaulted_v1(&merged)
}
