//! Pod diagnosis: reads the kubelet's and scheduler's reports on a test's pods and names what
//! keeps the test from running, with a message that tells the user what to fix.
//!
//! Pure: pods and the time in, findings out. Problems that may clear up by themselves (an image
//! still pulling, a pod waiting for capacity) count only after a grace period; problems that
//! cannot (an evicted master, a master that exited) count at once.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::ResourceExt;
use regex::Regex;
use tracing::instrument;

use crate::api::names::{LABEL_K8S_COMPONENT, LABEL_POD_NAME, Role};

/// Stable reasons, used in conditions, events and metrics.
pub mod reason {
    pub const PODS_STARTING: &str = "PodsStarting";
    pub const PODS_HEALTHY: &str = "PodsHealthy";
    pub const IMAGE_PULL_ERROR: &str = "ImagePullError";
    pub const CONFIGURATION_ERROR: &str = "ConfigurationError";
    pub const SCHEDULING_ERROR: &str = "SchedulingError";
    pub const CRASH_LOOP: &str = "CrashLoopBackOff";
    pub const CONTAINER_CREATION_STUCK: &str = "ContainerCreationStuck";
    pub const MASTER_EVICTED: &str = "MasterEvicted";
    pub const MASTER_FAILED: &str = "MasterFailed";
    pub const WORKER_FAILED: &str = "WorkerFailed";
}

/// One problem found on the pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub reason: &'static str,
    pub message: String,
}

/// What the pods say about a test.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Diagnosis {
    /// A problem that fails the test now.
    pub fatal: Option<Finding>,
    /// A problem seen but still inside the grace period, and when the grace period ends.
    pub pending: Option<(Finding, Duration)>,
}

/// Which role a Locust pod plays: `app.kubernetes.io/component`, or for a pod of a Job the Go
/// operator created (it lacks that label) the suffix of `performance-test-pod-name`.
pub fn role_of(pod: &Pod) -> Option<Role> {
    let labels = pod.metadata.labels.as_ref()?;
    if let Some(component) = labels.get(LABEL_K8S_COMPONENT) {
        return [Role::Master, Role::Worker]
            .into_iter()
            .find(|role| role.as_str() == component);
    }
    let pod_name = labels.get(LABEL_POD_NAME)?;
    [Role::Master, Role::Worker]
        .into_iter()
        .find(|role| pod_name.ends_with(&format!("-{}", role.as_str())))
}

/// Diagnoses the pods of one test.
#[instrument(level = "debug", skip_all, fields(pods = pods.len()))]
pub fn diagnose(pods: &[&Pod], now: Timestamp, grace: Duration) -> Diagnosis {
    let mut diagnosis = Diagnosis::default();
    let mut found: Vec<(Rank, Finding, Option<Duration>)> = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.as_deref().unwrap_or("<unnamed>");
        let role = role_of(pod);
        let age = pod
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| now.duration_since(t.0).try_into().ok())
            .unwrap_or(Duration::ZERO);
        let remaining = grace.checked_sub(age);

        if role == Some(Role::Master)
            && let Some(finding) = master_lost(pod, name)
        {
            found.push((Rank::MasterLost, finding, None));
            continue;
        }
        if role == Some(Role::Master)
            && let Some(finding) = master_exited(pod, name)
        {
            found.push((Rank::MasterExited, finding, None));
            continue;
        }
        if let Some((rank, finding)) = waiting_problem(pod, name) {
            found.push((rank, finding, remaining));
            continue;
        }
        if let Some(finding) = unschedulable(pod, name) {
            found.push((Rank::Unschedulable, finding, remaining));
        }
    }
    found.sort_by_key(|(rank, _, _)| *rank);
    for (_, finding, remaining) in found {
        match remaining {
            None if diagnosis.fatal.is_none() => diagnosis.fatal = Some(finding),
            Some(left) if diagnosis.pending.is_none() => diagnosis.pending = Some((finding, left)),
            _ => {}
        }
    }
    diagnosis
}

/// Which finding wins when pods show several: ordered by how directly the finding tells the
/// user what to fix (first wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    MasterLost,
    MasterExited,
    Configuration,
    ImagePull,
    CrashLoop,
    Unschedulable,
    CreationStuck,
}

fn master_lost(pod: &Pod, name: &str) -> Option<Finding> {
    let status = pod.status.as_ref()?;
    let disrupted = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True");
    // DisruptionTarget is set just before a pod is terminated by an eviction, preemption,
    // taint or node loss: the master is gone even while its phase still says Running.
    let evicted = status.reason.as_deref() == Some("Evicted");
    if !(evicted || disrupted.is_some()) {
        return None;
    }
    let why = disrupted
        .and_then(|c| c.message.clone())
        .or_else(|| status.message.clone())
        .unwrap_or_else(|| "evicted".to_string());
    Some(Finding {
        reason: reason::MASTER_EVICTED,
        message: format!(
            "the master pod {name} was lost ({why}); a test cannot continue without its master: create the LocustTest again, and keep the master off nodes that are drained or reclaimed (spec.scheduling)"
        ),
    })
}

fn master_exited(pod: &Pod, name: &str) -> Option<Finding> {
    let status = pod.status.as_ref()?;
    let locust = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == pod_main_container(pod).unwrap_or_default())?;
    let terminated = locust.state.as_ref()?.terminated.as_ref()?;
    if terminated.exit_code == 0 {
        return None;
    }
    let hint = match terminated.exit_code {
        1 => {
            "; Locust exits 1 when any request failed (pass --exit-code-on-error 0 in spec.master.extraArgs to succeed despite failed requests)"
        }
        137 => "; it was killed (out of memory or by a signal): raise spec.master.resources",
        _ => "",
    };
    Some(Finding {
        reason: reason::MASTER_FAILED,
        message: format!(
            "the Locust master (pod {name}) exited with code {}{hint}; see `kubectl logs {name}`",
            terminated.exit_code
        ),
    })
}

fn pod_main_container(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| c.name.clone())
}

fn all_container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            status
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
}

fn waiting_problem(pod: &Pod, name: &str) -> Option<(Rank, Finding)> {
    for container in all_container_statuses(pod) {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let why = waiting.reason.as_deref().unwrap_or_default();
        let detail = waiting.message.as_deref().unwrap_or_default();
        let image = container.image.as_str();
        let finding = match why {
            "CreateContainerConfigError" | "CreateContainerError" => (
                Rank::Configuration,
                Finding {
                    reason: reason::CONFIGURATION_ERROR,
                    message: configuration_message(name, &container.name, detail),
                },
            ),
            r if r.contains("ImagePull") || r == "InvalidImageName" || r == "ErrImageNeverPull" => {
                (
                    Rank::ImagePull,
                    Finding {
                        reason: reason::IMAGE_PULL_ERROR,
                        message: format!(
                            "pod {name} cannot pull image {image:?} for container {} ({why}: {detail}): check spec.image and spec.imagePullSecrets, or the operator's METRICS_EXPORTER_IMAGE for the exporter",
                            container.name
                        ),
                    },
                )
            }
            "CrashLoopBackOff" => (
                Rank::CrashLoop,
                Finding {
                    reason: reason::CRASH_LOOP,
                    message: format!(
                        "container {} of pod {name} keeps crashing ({detail}); see `kubectl logs {name} -c {}`",
                        container.name, container.name
                    ),
                },
            ),
            "ContainerCreating" | "PodInitializing" => (
                Rank::CreationStuck,
                Finding {
                    reason: reason::CONTAINER_CREATION_STUCK,
                    message: creation_stuck_message(pod, name, &container.name),
                },
            ),
            _ => continue,
        };
        return Some(finding);
    }
    None
}

/// The ConfigMaps and Secrets `pod` mounts (`ConfigMap "name"`, `Secret "name"`): from its
/// volumes, or for a pod in the controller's cache, which keeps no volumes, from the list the
/// projection left in its annotations ([`super::projection`]).
pub fn mounted(pod: &Pod) -> Vec<String> {
    if let Some(list) = pod.annotations().get(MOUNTS_ANNOTATION) {
        return list.lines().map(str::to_string).collect();
    }
    pod.spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .filter_map(|volume| {
            if let Some(config_map) = &volume.config_map {
                Some(format!("ConfigMap {:?}", config_map.name))
            } else {
                let secret = volume.secret.as_ref()?.secret_name.as_ref()?;
                Some(format!("Secret {secret:?}"))
            }
        })
        .collect()
}

/// Where a cached pod's projection keeps [`mounted`], one per line. Only in the cache: the
/// operator never writes pods.
pub const MOUNTS_ANNOTATION: &str = "cache.locust.io/mounts";

/// A pod stuck in ContainerCreating: the kubelet reports a volume it cannot mount only in
/// events (FailedMount), not in the pod status, so the message names every ConfigMap and
/// Secret the pod mounts, the missing one among them.
fn creation_stuck_message(pod: &Pod, name: &str, container: &str) -> String {
    let mounted = mounted(pod);
    let suspects = if mounted.is_empty() {
        "a ConfigMap or Secret it mounts may be missing".to_string()
    } else {
        format!(
            "it mounts {}; one of them may be missing from the test's namespace",
            mounted.join(", ")
        )
    };
    format!(
        "pod {name} is still creating container {container}: {suspects} (spec.testFiles, spec.env.secretMounts, spec.volumes); see `kubectl describe pod {name}`"
    )
}

fn configuration_message(pod: &str, container: &str, detail: &str) -> String {
    let missing = Regex::new(r#"(configmap|secret) "([^"]+)" not found"#)
        .ok()
        .and_then(|re| {
            re.captures(detail).map(|c| {
                let kind = if &c[1] == "configmap" {
                    "ConfigMap"
                } else {
                    "Secret"
                };
                format!("{kind} {:?} does not exist", &c[2])
            })
        });
    match missing {
        Some(missing) => format!(
            "{missing}: create it in the test's namespace (it is referenced by container {container} of pod {pod}; see spec.testFiles, spec.env)"
        ),
        None => format!(
            "container {container} of pod {pod} cannot be configured: {detail}; check spec.env and the ConfigMaps and Secrets it references"
        ),
    }
}

fn unschedulable(pod: &Pod, name: &str) -> Option<Finding> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    if condition.reason.as_deref() != Some("Unschedulable") {
        return None;
    }
    Some(Finding {
        reason: reason::SCHEDULING_ERROR,
        message: format!(
            "pod {name} cannot be scheduled: {}; check spec.scheduling (nodeSelector, affinity, tolerations) and the requested resources",
            condition.message.as_deref().unwrap_or("no node fits")
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const GRACE: Duration = Duration::from_secs(120);

    fn now() -> Timestamp {
        "2026-11-22T10:00:00Z".parse().unwrap()
    }

    fn pod(role: &str, age_secs: i64, status: serde_json::Value) -> Pod {
        let created = now() - jiff::SignedDuration::from_secs(age_secs);
        serde_json::from_value(json!({
            "metadata": {
                "name": format!("demo-{role}-abcde"),
                "labels": {"app.kubernetes.io/component": role},
                "creationTimestamp": created.to_string(),
            },
            "spec": {"containers": [{"name": format!("demo-{role}")}]},
            "status": status,
        }))
        .unwrap()
    }

    fn waiting(reason: &str, message: &str) -> serde_json::Value {
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "demo-worker", "image": "locustio/locust:nope", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}}}]})
    }

    #[test]
    fn missing_configmap_is_named_after_the_grace_period() {
        let p = pod(
            "worker",
            200,
            waiting("CreateContainerConfigError", "configmap \"plan\" not found"),
        );
        let d = diagnose(&[&p], now(), GRACE);
        let fatal = d.fatal.unwrap();
        assert_eq!(fatal.reason, reason::CONFIGURATION_ERROR);
        assert!(
            fatal
                .message
                .starts_with("ConfigMap \"plan\" does not exist"),
            "{}",
            fatal.message
        );
    }

    #[test]
    fn pod_stuck_creating_names_what_it_mounts() {
        let mut p = pod("worker", 200, waiting("ContainerCreating", ""));
        p.spec.as_mut().unwrap().volumes = Some(
            serde_json::from_value(json!([
                {"name": "demo-worker", "configMap": {"name": "plan"}},
                {"name": "locust-lib", "configMap": {"name": "plan-lib"}},
                {"name": "secret-tls", "secret": {"secretName": "tls-client"}},
                {"name": "scratch", "emptyDir": {}},
            ]))
            .unwrap(),
        );
        let fatal = diagnose(&[&p], now(), GRACE).fatal.unwrap();
        assert_eq!(fatal.reason, reason::CONTAINER_CREATION_STUCK);
        assert!(
            fatal.message.contains(
                "it mounts ConfigMap \"plan\", ConfigMap \"plan-lib\", Secret \"tls-client\"; one of them may be missing"
            ),
            "{}",
            fatal.message
        );
    }

    #[test]
    fn image_pull_error_within_grace_is_only_pending() {
        let p = pod(
            "worker",
            30,
            waiting("ImagePullBackOff", "back-off pulling"),
        );
        let d = diagnose(&[&p], now(), GRACE);
        assert!(d.fatal.is_none());
        let (finding, left) = d.pending.unwrap();
        assert_eq!(finding.reason, reason::IMAGE_PULL_ERROR);
        assert_eq!(left, Duration::from_secs(90));
    }

    #[test]
    fn unschedulable_pod_fails_after_grace() {
        let p = pod(
            "master",
            121,
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/3 nodes are available"}]}),
        );
        let fatal = diagnose(&[&p], now(), GRACE).fatal.unwrap();
        assert_eq!(fatal.reason, reason::SCHEDULING_ERROR);
        assert!(fatal.message.contains("0/3 nodes are available"));
    }

    #[test]
    fn evicted_master_fails_at_once() {
        let p = pod(
            "master",
            5,
            json!({"phase": "Failed", "reason": "Evicted", "message": "node drained",
                "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]}),
        );
        let fatal = diagnose(&[&p], now(), GRACE).fatal.unwrap();
        assert_eq!(fatal.reason, reason::MASTER_EVICTED);
    }

    #[test]
    fn master_being_evicted_fails_before_its_phase_changes() {
        let p = pod(
            "master",
            5,
            json!({"phase": "Running", "conditions": [{"type": "DisruptionTarget", "status": "True",
                "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]}),
        );
        let fatal = diagnose(&[&p], now(), GRACE).fatal.unwrap();
        assert_eq!(fatal.reason, reason::MASTER_EVICTED);
        assert!(fatal.message.contains("Eviction API"), "{}", fatal.message);
    }

    #[test]
    fn evicted_worker_is_not_a_finding() {
        let p = pod(
            "worker",
            500,
            json!({"phase": "Failed", "reason": "Evicted",
                "conditions": [{"type": "DisruptionTarget", "status": "True"}]}),
        );
        assert_eq!(diagnose(&[&p], now(), GRACE), Diagnosis::default());
    }

    #[test]
    fn master_exit_code_one_explains_failed_requests() {
        let p = pod(
            "master",
            60,
            json!({"phase": "Failed", "containerStatuses": [{"name": "demo-master", "image": "x",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
        );
        let fatal = diagnose(&[&p], now(), GRACE).fatal.unwrap();
        assert_eq!(fatal.reason, reason::MASTER_FAILED);
        assert!(fatal.message.contains("exits 1 when any request failed"));
    }

    #[test]
    fn go_operator_pods_get_their_role_from_the_pod_name_label() {
        let text = include_str!("../../tests/fixtures/go-operator-2.3.0/pods.yaml");
        let list: serde_json::Value = serde_yaml::from_str(text).unwrap();
        let roles: Vec<_> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let pod: Pod = serde_json::from_value(item.clone()).unwrap();
                role_of(&pod)
            })
            .collect();
        assert_eq!(roles.len(), 3);
        assert_eq!(
            roles.iter().filter(|r| **r == Some(Role::Master)).count(),
            1
        );
        assert_eq!(
            roles.iter().filter(|r| **r == Some(Role::Worker)).count(),
            2
        );
        // Our own label wins.
        let ours = pod("master", 5, json!({"phase": "Running"}));
        assert_eq!(role_of(&ours), Some(Role::Master));
    }

    #[test]
    fn running_pods_are_healthy() {
        let p = pod("worker", 500, json!({"phase": "Running"}));
        assert_eq!(diagnose(&[&p], now(), GRACE), Diagnosis::default());
    }
}
