//! Spec and status descriptors of the LocustTest in the CSV: how the OpenShift console builds
//! its form and shows the status. Paths are checked against the v2 schema by a test.

use serde_json::{Value, json};

pub(super) const TEXT: &str = "urn:alm:descriptor:com.tectonic.ui:text";
pub(super) const NUMBER: &str = "urn:alm:descriptor:com.tectonic.ui:number";
const POD_COUNT: &str = "urn:alm:descriptor:com.tectonic.ui:podCount";
pub(super) const SWITCH: &str = "urn:alm:descriptor:com.tectonic.ui:booleanSwitch";
const PULL_POLICY: &str = "urn:alm:descriptor:com.tectonic.ui:imagePullPolicy";
const RESOURCES: &str = "urn:alm:descriptor:com.tectonic.ui:resourceRequirements";
const NODE_SELECTOR: &str = "urn:alm:descriptor:com.tectonic.ui:nodeSelector";
const NODE_AFFINITY: &str = "urn:alm:descriptor:com.tectonic.ui:nodeAffinity";
const ADVANCED: &str = "urn:alm:descriptor:com.tectonic.ui:advanced";
const CONFIG_MAP: &str = "urn:alm:descriptor:io.kubernetes:ConfigMap";
pub(super) const PHASE: &str = "urn:alm:descriptor:io.kubernetes.phase";
pub(super) const CONDITIONS: &str = "urn:alm:descriptor:io.kubernetes.conditions";
/// A select of the schedule's concurrency policies.
pub(super) const SELECT_CONCURRENCY: [&str; 3] = [
    "urn:alm:descriptor:com.tectonic.ui:select:Forbid",
    "urn:alm:descriptor:com.tectonic.ui:select:Replace",
    "urn:alm:descriptor:com.tectonic.ui:select:Allow",
];
pub(super) const STATUS_TEXT: &str = "urn:alm:descriptor:text";
pub(super) const TIMESTAMP: &str = "urn:alm:descriptor:timestamp";

pub(super) fn descriptor(path: &str, name: &str, description: &str, x: &[&str]) -> Value {
    json!({
        "path": path,
        "displayName": name,
        "description": description,
        "x-descriptors": x,
    })
}

/// Form fields, in the order the console shows them.
pub fn spec_descriptors() -> Vec<Value> {
    let autoquit_on =
        "urn:alm:descriptor:com.tectonic.ui:fieldDependency:master.autoquit.enabled:true";
    vec![
        descriptor(
            "image",
            "Locust image",
            "Container image with Locust, for example locustio/locust:2.43.3",
            &[TEXT],
        ),
        descriptor(
            "imagePullPolicy",
            "Image pull policy",
            "When the kubelet pulls the image",
            &[PULL_POLICY, ADVANCED],
        ),
        descriptor(
            "master.command",
            "Master command",
            "Locust arguments of the master, for example --locustfile /lotest/src/locustfile.py --host https://example.com --users 20 --run-time 2m",
            &[TEXT],
        ),
        descriptor(
            "master.autostart",
            "Start automatically",
            "Start the test as soon as the workers are connected",
            &[SWITCH, ADVANCED],
        ),
        descriptor(
            "master.autoquit.enabled",
            "Quit when done",
            "Stop the master after the run time, so the test completes",
            &[SWITCH, ADVANCED],
        ),
        descriptor(
            "master.autoquit.timeout",
            "Quit after (seconds)",
            "Seconds the master waits after the test ends before it quits",
            &[NUMBER, autoquit_on, ADVANCED],
        ),
        descriptor(
            "master.resources",
            "Master resources",
            "Requests and limits of the master container",
            &[RESOURCES, ADVANCED],
        ),
        descriptor(
            "worker.command",
            "Worker command",
            "Locust arguments of the workers, for example --locustfile /lotest/src/locustfile.py",
            &[TEXT],
        ),
        descriptor(
            "worker.replicas",
            "Workers",
            "Number of worker pods",
            &[POD_COUNT],
        ),
        descriptor(
            "master.webUI.basePath",
            "Web UI base path",
            "Path prefix the master's web UI is served under (--web-base-path), for example /locust behind an Ingress; the operator's live-stats reader and the ui command follow it",
            &[TEXT, ADVANCED],
        ),
        descriptor(
            "master.webUI.ingress.host",
            "Web UI Ingress host",
            "Host of an Ingress the operator creates for the web UI (owned by the test, deleted with it); the path is the base path or /",
            &[TEXT, ADVANCED],
        ),
        descriptor(
            "master.webUI.ingress.className",
            "Web UI IngressClass",
            "IngressClass of that Ingress; the cluster's default class when empty",
            &[TEXT, ADVANCED],
        ),
        descriptor(
            "worker.processes",
            "Processes per worker",
            "Locust worker processes in each worker pod (--processes), 1 to 64; each uses about one CPU core, so size the worker resources for all of them",
            &[NUMBER, ADVANCED],
        ),
        descriptor(
            "worker.resources",
            "Worker resources",
            "Requests and limits of each worker container",
            &[RESOURCES, ADVANCED],
        ),
        descriptor(
            "testFiles.configMapRef",
            "Test files",
            "ConfigMap holding the locustfile, mounted at /lotest/src",
            &[CONFIG_MAP],
        ),
        descriptor(
            "testFiles.libConfigMapRef",
            "Library files",
            "ConfigMap holding Python modules, mounted at /opt/locust/lib",
            &[CONFIG_MAP, ADVANCED],
        ),
        descriptor(
            "scheduling.nodeSelector",
            "Node selector",
            "Node labels the Locust pods must run on",
            &[NODE_SELECTOR, ADVANCED],
        ),
        descriptor(
            "scheduling.affinity.nodeAffinity",
            "Node affinity",
            "Node affinity of the Locust pods",
            &[NODE_AFFINITY, ADVANCED],
        ),
        descriptor(
            "observability.openTelemetry.enabled",
            "OpenTelemetry",
            "Export traces and metrics with OpenTelemetry instead of the Prometheus exporter",
            &[SWITCH, ADVANCED],
        ),
        descriptor(
            "observability.openTelemetry.endpoint",
            "OTLP endpoint",
            "Collector endpoint, for example http://otel-collector.monitoring:4317",
            &[
                TEXT,
                "urn:alm:descriptor:com.tectonic.ui:fieldDependency:observability.openTelemetry.enabled:true",
                ADVANCED,
            ],
        ),
        descriptor(
            "thresholds.aggregate.maxFailRatio",
            "Highest failure ratio",
            "Pass/fail: the share of failed requests may not exceed this, 0 to 1",
            &[NUMBER],
        ),
        descriptor(
            "thresholds.aggregate.maxP95ResponseTime",
            "Highest p95 response time (ms)",
            "Pass/fail: the 95th percentile response time may not exceed this",
            &[NUMBER],
        ),
        descriptor(
            "thresholds.aggregate.minRequestsPerSecond",
            "Lowest requests per second",
            "Pass/fail: the mean throughput must reach this",
            &[NUMBER, ADVANCED],
        ),
        descriptor(
            "thresholds.stopOnBreach",
            "Stop on breach",
            "Stop the load as soon as a maximum has been breached for the grace period",
            &[SWITCH, ADVANCED],
        ),
    ]
}

/// Status fields shown on the test's details page.
pub fn status_descriptors() -> Vec<Value> {
    vec![
        descriptor(
            "phase",
            "Phase",
            "Pending, Running, Succeeded or Failed",
            &[PHASE],
        ),
        descriptor(
            "conditions",
            "Conditions",
            "Ready, WorkersConnected, TestCompleted, PodsHealthy, StatsAvailable and ThresholdsMet",
            &[CONDITIONS],
        ),
        descriptor(
            "expectedWorkers",
            "Expected workers",
            "Workers the master waits for",
            &[STATUS_TEXT],
        ),
        descriptor(
            "connectedWorkers",
            "Connected workers",
            "Workers connected to the master",
            &[STATUS_TEXT],
        ),
        descriptor(
            "startTime",
            "Started",
            "When the test started running",
            &[TIMESTAMP],
        ),
        descriptor(
            "completionTime",
            "Completed",
            "When the test finished",
            &[TIMESTAMP],
        ),
        descriptor(
            "result.totalRequests",
            "Requests",
            "Requests sent",
            &[STATUS_TEXT],
        ),
        descriptor(
            "result.failedRequests",
            "Failed requests",
            "Requests that failed",
            &[STATUS_TEXT],
        ),
        descriptor(
            "result.failureRatio",
            "Failure ratio",
            "Failed requests divided by requests, 0 to 1",
            &[STATUS_TEXT],
        ),
        descriptor(
            "result.requestsPerSecond",
            "Requests per second",
            "Mean throughput over the test",
            &[STATUS_TEXT],
        ),
        descriptor(
            "result.averageResponseTime",
            "Average response time (ms)",
            "Mean response time in milliseconds",
            &[STATUS_TEXT],
        ),
        descriptor(
            "result.p95ResponseTime",
            "p95 response time (ms)",
            "95th percentile response time in milliseconds",
            &[STATUS_TEXT],
        ),
        descriptor(
            "result.reportConfigMap",
            "Report",
            "ConfigMap holding the final statistics and the HTML report",
            &[STATUS_TEXT],
        ),
        descriptor(
            "liveStats.users",
            "Users",
            "Simulated users now",
            &[STATUS_TEXT],
        ),
        descriptor(
            "liveStats.requestsPerSecond",
            "Requests per second now",
            "Current throughput, read from the Locust master",
            &[STATUS_TEXT],
        ),
        descriptor(
            "liveStats.failPercent",
            "Failed requests (%)",
            "Failed requests so far, percent",
            &[STATUS_TEXT],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::crd::version_schema;

    fn resolves(root: &Value, path: &str) -> bool {
        path.split('.')
            .try_fold(root, |node, key| node.get("properties")?.get(key))
            .is_some()
    }

    #[test]
    fn every_descriptor_path_exists_in_the_v2_schema() {
        let schema = version_schema("v2").ok().flatten().unwrap_or(&Value::Null);
        for (section, descriptors) in [
            ("spec", spec_descriptors()),
            ("status", status_descriptors()),
        ] {
            let root = schema
                .get("properties")
                .and_then(|p| p.get(section))
                .unwrap_or(&Value::Null);
            for d in descriptors {
                let path = d["path"].as_str().unwrap_or_default();
                assert!(
                    resolves(root, path),
                    "{section}.{path} is not in the v2 schema"
                );
            }
        }
    }
}
