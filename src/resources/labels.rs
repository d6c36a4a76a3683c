//! Labels and annotations of the children and their pods.
//!
//! Every object carries `app.kubernetes.io/managed-by` (the operator's watches select on it),
//! `app.kubernetes.io/name`, `instance` and `component`. The Service carries
//! `component=master`: it fronts the master pod, so `-l app.kubernetes.io/component=master`
//! lists the master's Job, pod and Service together. `app.kubernetes.io/part-of` is left out:
//! it names the higher-level application a component belongs to, which is the user's system
//! under test, not the operator; `managed-by` already says who made the object.
//!
//! Pods and Jobs also carry the Go operator's labels (`app`, `managed-by`,
//! `performance-test-name`, `performance-test-pod-name`) and the user's pod labels, as the Go
//! operator's did, so selectors, dashboards and scripts written for it keep working. The Go
//! master Service had no labels; ours has only the recommended ones.

use std::collections::BTreeMap;

use crate::api::names::{
    ANNOTATION_PROMETHEUS_PATH, ANNOTATION_PROMETHEUS_PORT, ANNOTATION_PROMETHEUS_SCRAPE,
    APP_NAME_LOCUST, LABEL_APP, LABEL_K8S_COMPONENT, LABEL_K8S_INSTANCE, LABEL_K8S_MANAGED_BY,
    LABEL_K8S_NAME, LABEL_MANAGED_BY_LEGACY, LABEL_POD_NAME, LABEL_TEST_NAME, METRICS_PATH,
    OPERATOR_NAME, RESERVED_POD_LABEL_KEYS, Role, child_name,
};

/// The recommended labels of a child of `role`: all the Service carries, and the base of the
/// pod (and Job) labels.
pub(crate) fn object_labels(test_name: &str, role: Role) -> BTreeMap<String, String> {
    [
        (LABEL_K8S_MANAGED_BY, OPERATOR_NAME),
        (LABEL_K8S_NAME, APP_NAME_LOCUST),
        (LABEL_K8S_INSTANCE, test_name),
        (LABEL_K8S_COMPONENT, role.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The label the master Service selects its pod by.
pub(crate) fn master_selector(test_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(
        LABEL_POD_NAME.to_string(),
        child_name(test_name, Role::Master),
    )])
}

/// Labels of a Locust pod: the object labels, the Go operator's labels, then the user's labels
/// except those the operator selects or filters on ([`RESERVED_POD_LABEL_KEYS`]).
pub(crate) fn pod_labels(
    test_name: &str,
    role: Role,
    user: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut labels = object_labels(test_name, role);
    labels.extend(
        [
            (LABEL_APP, test_name.to_string()),
            (LABEL_TEST_NAME, test_name.to_string()),
            (LABEL_POD_NAME, child_name(test_name, role)),
            (LABEL_MANAGED_BY_LEGACY, OPERATOR_NAME.to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    for (key, value) in user.into_iter().flatten() {
        if !RESERVED_POD_LABEL_KEYS.contains(&key.as_str()) {
            labels.insert(key.clone(), value.clone());
        }
    }
    labels
}

/// Annotations of a Locust pod: the Prometheus scrape annotations when `exporter_port` is
/// given (master with the exporter sidecar), then the user's annotations. The user's win, so a
/// test can opt out of scraping with `prometheus.io/scrape: "false"` (as in the Go operator).
pub(crate) fn pod_annotations(
    user: Option<&BTreeMap<String, String>>,
    exporter_port: Option<i32>,
) -> Option<BTreeMap<String, String>> {
    let mut annotations = BTreeMap::new();
    if let Some(port) = exporter_port {
        annotations.insert(ANNOTATION_PROMETHEUS_SCRAPE.to_string(), "true".to_string());
        annotations.insert(
            ANNOTATION_PROMETHEUS_PATH.to_string(),
            METRICS_PATH.to_string(),
        );
        annotations.insert(ANNOTATION_PROMETHEUS_PORT.to_string(), port.to_string());
    }
    annotations.extend(
        user.into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    (!annotations.is_empty()).then_some(annotations)
}
