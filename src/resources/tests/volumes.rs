//! Volumes and mounts.

use serde_json::json;

use super::{base, build, build_err, json, locust, pod, test_with};
use crate::config::Config;
use crate::resources::BuildError;

#[test]
fn a_test_without_files_or_volumes_has_none() {
    let children = build(&base());
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(pod(job).volumes, None);
        assert_eq!(locust(job).volume_mounts, None);
    }
}

#[test]
fn test_files_are_mounted_from_a_volume_named_after_the_child() {
    let children = build(&test_with("testFiles: {configMapRef: demo-locustfile}"));
    for (job, volume) in [
        (&children.master_job, "demo-master"),
        (&children.worker_job, "demo-worker"),
    ] {
        assert_eq!(
            json(&pod(job).volumes),
            json!([{"name": volume, "configMap": {"name": "demo-locustfile"}}])
        );
        assert_eq!(
            json(&locust(job).volume_mounts),
            json!([{"name": volume, "mountPath": "/lotest/src"}])
        );
    }
}

#[test]
fn library_is_mounted_from_the_locust_lib_volume() {
    let children = build(&test_with(
        "testFiles: {configMapRef: files, libConfigMapRef: helpers, srcMountPath: /t, libMountPath: /l}",
    ));
    let job = &children.worker_job;
    assert_eq!(
        json(&pod(job).volumes),
        json!([
            {"name": "demo-worker", "configMap": {"name": "files"}},
            {"name": "locust-lib", "configMap": {"name": "helpers"}},
        ])
    );
    assert_eq!(
        json(&locust(job).volume_mounts),
        json!([
            {"name": "demo-worker", "mountPath": "/t"},
            {"name": "locust-lib", "mountPath": "/l"},
        ])
    );
    let lib_only = build(&test_with("testFiles: {libConfigMapRef: helpers}"));
    assert_eq!(
        json(&locust(&lib_only.master_job).volume_mounts),
        json!([{"name": "locust-lib", "mountPath": "/opt/locust/lib"}])
    );
}

#[test]
fn secret_mounts_become_secret_volumes_read_only_by_default() {
    let children = build(&test_with(
        r#"
env:
  secretMounts:
    - {name: tls, mountPath: /etc/tls}
    - {name: scratch, mountPath: /var/scratch, readOnly: false}
"#,
    ));
    for job in [&children.master_job, &children.worker_job] {
        assert_eq!(
            json(&pod(job).volumes),
            json!([
                {"name": "secret-tls", "secret": {"secretName": "tls"}},
                {"name": "secret-scratch", "secret": {"secretName": "scratch"}},
            ])
        );
        assert_eq!(
            json(&locust(job).volume_mounts),
            json!([
                {"name": "secret-tls", "mountPath": "/etc/tls", "readOnly": true},
                {"name": "secret-scratch", "mountPath": "/var/scratch", "readOnly": false},
            ])
        );
    }
}

const USER_VOLUMES: &str = r#"
volumes:
  - {name: results, emptyDir: {}}
  - {name: data, configMap: {name: payloads}}
  - {name: unused, emptyDir: {}}
  - {name: certs, secret: {secretName: ca}}
volumeMounts:
  - {name: results, mountPath: /results, target: master}
  - {name: data, mountPath: /data}
  - {name: data, mountPath: /data-again, subPath: big, readOnly: true}
  - {name: certs, mountPath: /certs, target: worker}
  - {name: data, mountPath: /both, target: both}
"#;

fn names<T: serde::Serialize>(items: &Option<Vec<T>>, key: &str) -> Vec<String> {
    json(items)
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn user_volumes_reach_only_the_pods_whose_role_mounts_them() {
    let children = build(&test_with(USER_VOLUMES));
    let master = &children.master_job;
    assert_eq!(names(&pod(master).volumes, "name"), ["results", "data"]);
    assert_eq!(
        names(&locust(master).volume_mounts, "mountPath"),
        ["/results", "/data", "/data-again", "/both"]
    );
    let worker = &children.worker_job;
    assert_eq!(names(&pod(worker).volumes, "name"), ["data", "certs"]);
    assert_eq!(
        names(&locust(worker).volume_mounts, "mountPath"),
        ["/data", "/data-again", "/certs", "/both"]
    );
}

#[test]
fn a_targeted_mount_keeps_every_field_of_a_volume_mount() {
    let children = build(&test_with(
        r#"
volumes: [{name: logs, emptyDir: {}}]
volumeMounts:
  - {name: logs, mountPath: /logs, subPathExpr: $(POD_NAME), readOnly: false,
     mountPropagation: None, target: worker}
"#,
    ));
    assert_eq!(
        json(&locust(&children.worker_job).volume_mounts),
        json!([{
            "name": "logs", "mountPath": "/logs", "subPathExpr": "$(POD_NAME)",
            "readOnly": false, "mountPropagation": "None",
        }])
    );
    assert_eq!(locust(&children.master_job).volume_mounts, None);
    assert_eq!(pod(&children.master_job).volumes, None);
}

#[test]
fn operator_volumes_come_before_user_volumes() {
    let children = build(&test_with(&format!(
        "{USER_VOLUMES}\ntestFiles: {{configMapRef: f, libConfigMapRef: l}}\nenv: {{secretMounts: [{{name: s, mountPath: /s}}]}}"
    )));
    assert_eq!(
        names(&pod(&children.master_job).volumes, "name"),
        ["demo-master", "locust-lib", "secret-s", "results", "data"]
    );
}

#[test]
fn a_mount_of_an_undefined_volume_is_refused() {
    let test = test_with("volumeMounts: [{name: ghost, mountPath: /ghost, target: worker}]");
    assert_eq!(
        build_err(&test, &Config::default()),
        BuildError::UnknownVolume {
            name: "ghost".to_string()
        }
    );
}
