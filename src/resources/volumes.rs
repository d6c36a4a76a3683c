//! Volumes of a Locust pod and the mounts of its Locust container, in this order: test files,
//! library, Secret mounts, then the user's volumes that a mount of this role references.

use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, SecretVolumeSource, Volume, VolumeMount};

use crate::api::names::{
    DEFAULT_LIB_MOUNT_PATH, DEFAULT_MOUNT_TARGET, DEFAULT_SECRET_MOUNT_READ_ONLY,
    DEFAULT_SRC_MOUNT_PATH, LIB_VOLUME_NAME, Role, SECRET_VOLUME_PREFIX, child_name,
};
use crate::api::v2::{LocustTestSpec, MountTarget, TargetedVolumeMount};

use super::BuildError;

/// The volumes of a pod and the matching mounts of its Locust container.
#[derive(Debug, Default)]
pub(crate) struct PodVolumes {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

impl PodVolumes {
    fn add(&mut self, volume: Volume, mount: VolumeMount) {
        self.volumes.push(volume);
        self.mounts.push(mount);
    }
}

pub(crate) fn pod_volumes(
    spec: &LocustTestSpec,
    test_name: &str,
    role: Role,
) -> Result<PodVolumes, BuildError> {
    let mut pod = PodVolumes::default();

    if let Some(files) = &spec.test_files {
        if let Some(config_map) = &files.config_map_ref {
            // Named after the child, as the Go operator did; the CRD keeps user volumes off it.
            let name = child_name(test_name, role);
            pod.add(
                config_map_volume(&name, config_map),
                mount(
                    &name,
                    files.src_mount_path.as_deref(),
                    DEFAULT_SRC_MOUNT_PATH,
                ),
            );
        }
        if let Some(config_map) = &files.lib_config_map_ref {
            pod.add(
                config_map_volume(LIB_VOLUME_NAME, config_map),
                mount(
                    LIB_VOLUME_NAME,
                    files.lib_mount_path.as_deref(),
                    DEFAULT_LIB_MOUNT_PATH,
                ),
            );
        }
    }

    let secret_mounts = spec.env.as_ref().and_then(|e| e.secret_mounts.as_ref());
    for secret in secret_mounts.into_iter().flatten() {
        let name = format!("{SECRET_VOLUME_PREFIX}{}", secret.name);
        pod.add(
            Volume {
                name: name.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.name.clone()),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            VolumeMount {
                name,
                mount_path: secret.mount_path.clone(),
                read_only: Some(secret.read_only.unwrap_or(DEFAULT_SECRET_MOUNT_READ_ONLY)),
                ..VolumeMount::default()
            },
        );
    }

    let user_volumes = spec.volumes.as_deref().unwrap_or_default();
    let role_mounts: Vec<&TargetedVolumeMount> = spec
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| targets(m.target.unwrap_or(DEFAULT_MOUNT_TARGET), role))
        .collect();
    if let Some(unknown) = role_mounts
        .iter()
        .find(|m| !user_volumes.iter().any(|v| v.name == m.name))
    {
        // The CRD refuses this; a pod referencing a missing volume would be rejected.
        return Err(BuildError::UnknownVolume {
            name: unknown.name.clone(),
        });
    }
    pod.volumes.extend(
        user_volumes
            .iter()
            .filter(|v| role_mounts.iter().any(|m| m.name == v.name))
            .cloned(),
    );
    pod.mounts
        .extend(role_mounts.into_iter().map(core_volume_mount));
    Ok(pod)
}

fn targets(target: MountTarget, role: Role) -> bool {
    matches!(
        (target, role),
        (MountTarget::Both, _)
            | (MountTarget::Master, Role::Master)
            | (MountTarget::Worker, Role::Worker)
    )
}

fn config_map_volume(volume_name: &str, config_map: &str) -> Volume {
    Volume {
        name: volume_name.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_string(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn mount(volume_name: &str, path: Option<&str>, default_path: &str) -> VolumeMount {
    VolumeMount {
        name: volume_name.to_string(),
        mount_path: path.unwrap_or(default_path).to_string(),
        ..VolumeMount::default()
    }
}

fn core_volume_mount(mount: &TargetedVolumeMount) -> VolumeMount {
    VolumeMount {
        name: mount.name.clone(),
        mount_path: mount.mount_path.clone(),
        sub_path: mount.sub_path.clone(),
        sub_path_expr: mount.sub_path_expr.clone(),
        read_only: mount.read_only,
        mount_propagation: mount.mount_propagation.clone(),
        recursive_read_only: None,
    }
}
