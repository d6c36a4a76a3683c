//! `templates/_helpers.tpl`: names, labels, and the operator configuration variables built
//! from `locustPods.*` (with the Java chart's `config.*` as fallback). The template text is
//! `src/manifests/helm/templates/_helpers.tpl`; the lines of `<chart>.locustPodsEnv` are
//! generated here, one per variable.

use crate::api::names::{
    LABEL_K8S_COMPONENT, LABEL_K8S_INSTANCE, LABEL_K8S_NAME, LABEL_K8S_PART_OF, OPERATOR_NAME,
};
use crate::config::{
    AFFINITY_INJECTION_VAR, Bound, DEFAULT_RUNTIME_CLASS_VAR, EXPORTER_IMAGE_VAR,
    EXPORTER_PORT_VAR, EXPORTER_PREFIX, EXPORTER_PULL_POLICY_VAR, JOB_TTL_VAR, MASTER_POD_PREFIX,
    POD_PREFIX, ResourceKind, TOLERATIONS_INJECTION_VAR, WORKER_POD_PREFIX, resource_variable,
};
use crate::manifests::deployment::{
    COMPONENT, METRICS_SERVICE_SUFFIX, WEBHOOK_SECRET_SUFFIX, WEBHOOK_SERVICE_SUFFIX,
};
use crate::manifests::yaml::RenderError;

use super::CHART;
use super::fill::source;

/// Names of the resource keys: (variable part, `locustPods` key, Java chart key stem).
fn resource_keys(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::Cpu => ("cpu", "cpu"),
        ResourceKind::Memory => ("memory", "mem"),
        ResourceKind::EphemeralStorage => ("ephemeralStorage", "ephemeral"),
    }
}

fn bound_keys(bound: Bound) -> (&'static str, &'static str) {
    match bound {
        Bound::Request => ("requests", "Request"),
        Bound::Limit => ("limits", "Limit"),
    }
}

/// `dig "a" "b" "" $dict`
fn dig(path: &[&str], dict: &str) -> String {
    let keys: Vec<String> = path.iter().map(|k| format!("{k:?}")).collect();
    format!("(dig {} \"\" {dict})", keys.join(" "))
}

/// The `include "<chart>.env"` line of one variable: its first candidate value set wins.
fn env_line(variable: &str, candidates: &[String]) -> Result<String, RenderError> {
    source!("parts/locust-pods-env.tpl").fill(&[
        ("CHART", &CHART),
        ("VARIABLE", &format!("{variable:?}")),
        ("CANDIDATES", &candidates.join(" ")),
    ])
}

/// A variable, its key path under `locustPods`, and its path under the Java chart's `config`.
type Source<'a> = (&'a str, &'a [&'a str], Option<&'a [&'a str]>);

/// One `include "<chart>.env"` per operator configuration variable the chart sets.
fn locust_pods_env() -> Result<String, RenderError> {
    let mut out = String::new();
    let levels: [Source; 4] = [
        (
            POD_PREFIX,
            &["resources"],
            Some(&["loadGenerationPods", "resource"]),
        ),
        (MASTER_POD_PREFIX, &["masterResources"], None),
        (WORKER_POD_PREFIX, &["workerResources"], None),
        (
            EXPORTER_PREFIX,
            &["metricsExporter", "resources"],
            Some(&["loadGenerationPods", "metricsExporter", "resource"]),
        ),
    ];
    for (prefix, new_path, legacy_path) in levels {
        for bound in Bound::ALL {
            for kind in ResourceKind::ALL {
                let (new_kind, legacy_kind) = resource_keys(kind);
                let (new_bound, legacy_bound) = bound_keys(bound);
                let mut path = new_path.to_vec();
                path.extend([new_bound, new_kind]);
                let mut candidates = vec![dig(&path, "$pods")];
                if let Some(legacy) = legacy_path {
                    let key = format!("{legacy_kind}{legacy_bound}");
                    let mut path = legacy.to_vec();
                    path.push(&key);
                    candidates.push(dig(&path, "$legacy"));
                }
                out.push_str(&env_line(
                    &resource_variable(prefix, kind, bound),
                    &candidates,
                )?);
            }
        }
    }
    let simple: [Source; 7] = [
        (
            EXPORTER_IMAGE_VAR,
            &["metricsExporter", "image"],
            Some(&["loadGenerationPods", "metricsExporter", "image"]),
        ),
        (
            EXPORTER_PORT_VAR,
            &["metricsExporter", "port"],
            Some(&["loadGenerationPods", "metricsExporter", "port"]),
        ),
        (
            EXPORTER_PULL_POLICY_VAR,
            &["metricsExporter", "pullPolicy"],
            Some(&["loadGenerationPods", "metricsExporter", "pullPolicy"]),
        ),
        (
            JOB_TTL_VAR,
            &["ttlSecondsAfterFinished"],
            Some(&["loadGenerationJobs", "ttlSecondsAfterFinished"]),
        ),
        (
            AFFINITY_INJECTION_VAR,
            &["affinityInjection"],
            Some(&["loadGenerationPods", "affinity", "enableCrInjection"]),
        ),
        (
            TOLERATIONS_INJECTION_VAR,
            &["tolerationsInjection"],
            Some(&[
                "loadGenerationPods",
                "taintTolerations",
                "enableCrInjection",
            ]),
        ),
        (DEFAULT_RUNTIME_CLASS_VAR, &["runtimeClassName"], None),
    ];
    for (variable, new_path, legacy_path) in simple {
        let mut candidates = vec![dig(new_path, "$pods")];
        if let Some(legacy) = legacy_path {
            candidates.push(dig(legacy, "$legacy"));
        }
        out.push_str(&env_line(variable, &candidates)?);
    }
    Ok(out)
}

/// The whole `_helpers.tpl`.
pub fn helpers() -> Result<String, RenderError> {
    source!("_helpers.tpl").fill(&[
        ("CHART", &CHART),
        ("LABEL_K8S_NAME", &LABEL_K8S_NAME),
        ("LABEL_K8S_INSTANCE", &LABEL_K8S_INSTANCE),
        ("LABEL_K8S_PART_OF", &LABEL_K8S_PART_OF),
        ("OPERATOR_NAME", &OPERATOR_NAME),
        ("LABEL_K8S_COMPONENT", &LABEL_K8S_COMPONENT),
        ("COMPONENT", &COMPONENT),
        ("WEBHOOK_SERVICE_SUFFIX", &WEBHOOK_SERVICE_SUFFIX),
        ("METRICS_SERVICE_SUFFIX", &METRICS_SERVICE_SUFFIX),
        ("WEBHOOK_SECRET_SUFFIX", &WEBHOOK_SECRET_SUFFIX),
        ("LOCUST_PODS_ENV", &locust_pods_env()?),
        ("OTEL_COLLECTOR", &super::otel::collector_helper()?),
    ])
}
