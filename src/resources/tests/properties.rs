//! Properties over generated specs: building never panics, and whatever builds carries the
//! labels and owner the controller relies on.

use proptest::prelude::*;

use super::test_with;
use crate::api::names::{LABEL_K8S_MANAGED_BY, LABEL_POD_NAME, OPERATOR_NAME};
use crate::config::Config;
use crate::resources::{BuildError, build_children, expected_workers};

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("--processes".to_string()),
        Just("--autoquit".to_string()),
        Just("--otel".to_string()),
        Just("--autostart".to_string()),
        Just("--only-summary".to_string()),
        Just("--master-host=x".to_string()),
        "-?[0-9]{1,12}",
        "--processes=-?[0-9]{1,12}",
        "[ -~]{0,12}",
    ]
}

proptest! {
    #[test]
    fn building_never_panics_and_children_stay_selectable(
        master_extra in prop::collection::vec(arg(), 0..6),
        worker_extra in prop::collection::vec(arg(), 0..6),
        worker_command in "[ a-z0-9=-]{0,40}",
        replicas in 1i32..=500,
        otel in any::<bool>(),
        autostart in any::<Option<bool>>(),
        autoquit_enabled in any::<Option<bool>>(),
        label_key in prop_oneof![Just("performance-test-pod-name"), Just("app"), Just("team")],
        name in "[a-z]([a-z0-9.-]{0,20}[a-z0-9])?",
    ) {
        let overlay = serde_json::json!({
            "master": {
                "extraArgs": master_extra,
                "autostart": autostart,
                "autoquit": {"enabled": autoquit_enabled},
                "labels": {label_key: "user"},
            },
            "worker": {"command": worker_command, "replicas": replicas, "extraArgs": worker_extra},
            "observability": {"openTelemetry": {"enabled": otel, "endpoint": "http://c:4317"}},
        });
        let mut test = test_with(&overlay.to_string());
        test.metadata.name = Some(name.clone());
        prop_assert!(expected_workers(&test.spec) >= replicas);
        match build_children(&test, &Config::default()) {
            Ok(children) => {
                let master_pod = children.master_job.spec.unwrap().template.metadata.unwrap();
                let labels = master_pod.labels.unwrap();
                prop_assert_eq!(labels.get(LABEL_K8S_MANAGED_BY).map(String::as_str), Some(OPERATOR_NAME));
                let expected_pod_name = format!("{}-master", name.replace('.', "-"));
                prop_assert_eq!(labels.get(LABEL_POD_NAME), Some(&expected_pod_name));
                prop_assert!(children.service.metadata.owner_references.is_some());
            }
            Err(BuildError::OperatorFlag { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
