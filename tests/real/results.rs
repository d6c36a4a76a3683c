//! What the operator reads from a real Locust master on real pods, through the API server's
//! service proxy (the shared host operator runs outside the cluster, so `--stats-access` auto
//! picks `apiserver-proxy`): live stats while the test runs, connected workers as Locust counts
//! them, the final result against what the target saw, the report ConfigMap and the `report`
//! command, the threshold verdict overriding Locust's exit code, stopOnBreach, and a
//! LocustTestSchedule's runs judged against the previous run (baseline thresholds).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

use locust_operator::api::names::{LABEL_K8S_COMPONENT, LABEL_TEST_NAME};
use locust_operator::api::v2::{LiveStats, LocustTest, Phase};
use locust_operator::resources::report::REPORT_KEY_HTML_GZ;

use crate::support::operator::http_get;
use crate::support::{Cluster, wait};

use super::common::{
    apply, condition, ensure_operator, event_reasons, exit_codes, follow_to_end, master_log,
    namespace_with_target,
};

/// Nine requests to `/` for each one to `/fail/checkout`, reported as `/checkout`: about 10 %
/// of the requests fail with a 500.
const LOCUSTFILE: &str = r#"from locust import HttpUser, constant, task


class Shopper(HttpUser):
    wait_time = constant(0.2)

    @task(9)
    def home(self):
        self.client.get("/")

    @task(1)
    def checkout(self):
        self.client.get("/fail/checkout", name="/checkout")
"#;

/// Every write of the test the watch sees: all of them, those that changed the live figures,
/// and the distinct live figures.
struct Writes {
    versions: BTreeSet<String>,
    live_writes: usize,
    live: Vec<LiveStats>,
}

/// Watches the test and records every write of its status until the returned handle is dropped.
fn record_writes(
    cluster: &Cluster,
    ns: &str,
    name: &str,
) -> (Arc<Mutex<Writes>>, tokio::task::JoinHandle<()>) {
    let writes = Arc::new(Mutex::new(Writes {
        versions: BTreeSet::new(),
        live_writes: 0,
        live: Vec::new(),
    }));
    let api = Api::<LocustTest>::namespaced(cluster.client(), ns);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let sink = writes.clone();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher(api, config).applied_objects());
        while let Some(Ok(test)) = stream.next().await {
            let mut w = sink.lock().unwrap();
            let new = test
                .metadata
                .resource_version
                .clone()
                .is_some_and(|v| w.versions.insert(v));
            if let Some(live) = test.status.and_then(|s| s.live_stats)
                && new
                && w.live.last() != Some(&live)
            {
                w.live.push(live);
                w.live_writes += 1;
            }
        }
    });
    (writes, task)
}

fn test_manifest(
    cluster: &Cluster,
    name: &str,
    target: &str,
    run_time: &str,
    thresholds: Value,
) -> Value {
    json!({
        "apiVersion": "locust.io/v2", "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": cluster.image("locust"),
            "master": {
                "command": format!("--locustfile /lotest/src/locustfile.py --host {target} --users 4 --spawn-rate 4 --run-time {run_time}"),
                "autoquit": {"enabled": true, "timeout": 15},
            },
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 2},
            "testFiles": {"configMapRef": format!("{name}-locustfile")},
            "thresholds": thresholds,
        },
    })
}

/// A two-minute test with about 10 % failed requests and generous thresholds: the live figures
/// move while it runs, the final result matches the target, the report is kept, Locust's exit
/// code 1 does not fail the test (the thresholds decide), and the status writes stay few.
pub async fn live_stats_result_and_report_through_the_api_server_proxy(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "results").await;
    let name = "shop";
    cluster
        .config_map(
            &ns,
            &format!("{name}-locustfile"),
            &[("locustfile.py", LOCUSTFILE)],
        )
        .await;
    let (writes, watch) = record_writes(cluster, &ns, name);
    let started = Instant::now();
    apply(
        cluster,
        &ns,
        &test_manifest(
            cluster,
            name,
            &target,
            "100s",
            json!({"aggregate": {"maxFailRatio": 0.5, "minRequests": 100},
                   "endpoints": [{"method": "GET", "name": "/", "limits": {"maxFailRatio": 0}}]}),
        ),
    );
    // While it runs, `ui` forwards a local port to the master's web UI (done long before the
    // 100 s run ends, so the end is still timed by follow_to_end).
    let ((phases, test), (ui_url, ui_answer)) = tokio::join!(
        follow_to_end(cluster, &ns, name, Duration::from_secs(240)),
        web_ui_through_the_ui_command(cluster, &ns, name)
    );
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    watch.abort();
    let log = master_log(cluster, &ns, name).await;
    assert_eq!(
        phases,
        [Phase::Pending, Phase::Running, Phase::Succeeded],
        "{test:?}\n{log}"
    );
    // Locust exits 1 because requests failed; the thresholds decided instead.
    assert_eq!(exit_codes(cluster, &ns, name, "master").await, [1], "{log}");
    let completed = condition(&test, "TestCompleted").unwrap();
    assert_eq!(completed.1, "TestSucceeded", "{completed:?}");
    assert!(
        completed.2.starts_with("every threshold met"),
        "{completed:?}"
    );
    let met = condition(&test, "ThresholdsMet").unwrap();
    assert_eq!(
        (met.0.as_str(), met.1.as_str()),
        ("True", "ThresholdsMet"),
        "{met:?}"
    );
    let stats = condition(&test, "StatsAvailable").unwrap();
    assert_eq!(
        (stats.0.as_str(), stats.1.as_str()),
        ("True", "FinalFiguresRead"),
        "{stats:?}"
    );

    let status = test.status.clone().unwrap();
    assert_eq!(status.connected_workers, Some(2));
    assert_eq!(
        condition(&test, "WorkersConnected").unwrap().2,
        "2/2 workers connected",
        "counted by the master, not estimated"
    );
    let result = status.result.clone().unwrap();
    assert!(!result.partial, "{result:?}");
    let seen = cluster.target_requests(&ns).await;
    let at_target = seen["total"].as_i64().unwrap();
    let total = result.total_requests.unwrap();
    assert!(
        (at_target - total).abs() <= 4,
        "the result counts {total} requests, the target saw {at_target}"
    );
    let failed = result.failed_requests.unwrap();
    let at_target_failed = seen["by_path"]["/fail/checkout"].as_i64().unwrap();
    assert!(
        (at_target_failed - failed).abs() <= 4,
        "{failed} vs {at_target_failed}"
    );
    let ratio = result.failure_ratio.unwrap();
    assert!((0.05..0.2).contains(&ratio), "failure ratio {ratio}");
    assert_eq!(result.top_failures.as_ref().unwrap()[0].name, "/checkout");
    assert!(result.p95_response_time.is_some() && result.requests_per_second.unwrap() > 1.0);

    // Live figures while it ran.
    let (total_writes, live_writes, live_values) = {
        let writes = writes.lock().unwrap();
        let running: Vec<&LiveStats> = writes
            .live
            .iter()
            .filter(|l| l.state == "running")
            .collect();
        assert!(
            running
                .iter()
                .any(|l| l.users == 4 && l.requests_per_second > 0.0),
            "no live figures with 4 users and a rate: {:?}",
            writes.live
        );
        assert_eq!(writes.live.last().unwrap().state, "stopped");
        (writes.versions.len(), writes.live_writes, writes.live.len())
    };
    // Rate-limited: a 100 s run read every 5 s (20 reads) writes live figures at most every
    // 10 s, plus one per Locust state change (ready, spawning, running, stopped).
    assert!(
        live_writes <= 100 / 10 + 4,
        "{live_writes} live-stats writes"
    );
    // Everything else: the creation, Pending, each pod and worker count change on the way to
    // Running (real pods start one by one), the master answering, Succeeded. Measured: 10.
    let other_writes = total_writes - live_writes;
    assert!(other_writes <= 12, "{other_writes} other writes");

    // The report, kept after the pods, and the report command.
    let report_name = result.report_config_map.clone().unwrap();
    let map = Api::<ConfigMap>::namespaced(cluster.client(), &ns)
        .get(&report_name)
        .await
        .unwrap();
    let gz = map.binary_data.as_ref().unwrap()[REPORT_KEY_HTML_GZ]
        .0
        .len();
    let data = map.data.clone().unwrap_or_default();
    assert!(data["requests.csv"].contains("/checkout"));
    assert!(
        data["stats.json"].contains("\"state\": \"stopped\"")
            || data["stats.json"].contains("\"state\":\"stopped\"")
    );
    let html_file = cluster.dir.join("shop-report.html");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_locust-k8s-operator"))
        .args(["report", name, "-n", &ns, "--html"])
        .arg(&html_file)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("Requests       {total} ({failed} failed")),
        "{table}"
    );
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(html.contains("<html") && html.len() > 500_000);
    let reasons = event_reasons(cluster, &ns, name).await;
    assert!(reasons.contains("ResultRecorded"), "{reasons:?}");
    assert!(
        ui_url.starts_with("http://127.0.0.1:") && ui_url.ends_with('/'),
        "{ui_url}"
    );
    assert!(
        ui_answer.contains("\"user_count\"") && ui_answer.contains("\"stats\""),
        "the master's /stats/requests through `ui`: {ui_answer}"
    );

    eprintln!(
        "FIGURES: {ns}/{name}: 100 s run, {:.0} s from creation to Succeeded; {total_writes} writes of the object ({live_writes} changed the live figures, {live_values} distinct, {other_writes} others incl. the creation); result {total} requests ({at_target} at the target), {failed} failed; report ConfigMap: HTML {} bytes gzipped to {gz}",
        took.as_secs_f64(),
        html.len()
    );
}

/// Runs `locust-k8s-operator ui NAME --port 0` once the master runs, reads the URL it prints,
/// and GETs `/stats/requests` through it. Returns the URL and the answer's body.
async fn web_ui_through_the_ui_command(
    cluster: &'static Cluster,
    ns: &str,
    name: &str,
) -> (String, String) {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), ns);
    wait::until(
        "the master pod to run",
        Duration::from_secs(120),
        async || {
            let list = pods
                .list(&ListParams::default().labels(&format!(
                    "{LABEL_TEST_NAME}={name},{LABEL_K8S_COMPONENT}=master"
                )))
                .await
                .ok()?;
            list.items
                .iter()
                .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .then_some(())
        },
    )
    .await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_locust-k8s-operator"))
        .args(["ui", name, "-n", ns, "--port", "0"])
        .env("KUBECONFIG", &cluster.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap()
    .trim()
    .to_string();
    if url.is_empty() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "`ui` printed no URL: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The master answers once Locust's web server is up; retry briefly.
    let answer = wait::until_ok(
        "the master's stats through `ui`",
        Duration::from_secs(30),
        async || match http_get(&format!("{url}stats/requests")).await {
            Ok((200, body)) => Ok(body),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    (url, answer)
}

/// Strict thresholds with stopOnBreach: the operator stops the load once the failure ratio has
/// been over its limit for the grace period, long before the run time, and fails the test with
/// ThresholdsBreached naming the breach.
pub async fn stop_on_breach_stops_real_load_and_fails_the_test(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "breach").await;
    let name = "breach";
    cluster
        .config_map(
            &ns,
            &format!("{name}-locustfile"),
            &[("locustfile.py", LOCUSTFILE)],
        )
        .await;
    let started = Instant::now();
    apply(
        cluster,
        &ns,
        &test_manifest(
            cluster,
            name,
            &target,
            "300s",
            json!({"aggregate": {"maxFailRatio": 0.01}, "stopOnBreach": true,
                   "stopGracePeriodSeconds": 5}),
        ),
    );
    let (phases, test) = follow_to_end(cluster, &ns, name, Duration::from_secs(150)).await;
    let took = started.elapsed();
    assert_eq!(
        phases,
        [Phase::Pending, Phase::Running, Phase::Failed],
        "{test:?}"
    );
    let completed = condition(&test, "TestCompleted").unwrap();
    assert_eq!(completed.1, "ThresholdsBreached", "{completed:?}");
    assert!(
        completed
            .2
            .starts_with("stopped the test: aggregate fail ratio"),
        "{completed:?}"
    );
    assert!(
        took < Duration::from_secs(120),
        "took {took:?} of a 300 s run"
    );
    // The users stopped: the target gets nothing more.
    let before = cluster.target_requests(&ns).await["total"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = cluster.target_requests(&ns).await["total"]
        .as_i64()
        .unwrap();
    assert!(after - before <= 2, "load went on: {before} -> {after}");
    let result = test.status.as_ref().unwrap().result.clone().unwrap();
    assert!(result.failed_requests.unwrap() > 0);
    let reasons = event_reasons(cluster, &ns, name).await;
    assert!(reasons.contains("ThresholdsBreached"), "{reasons:?}");
    eprintln!(
        "FIGURES: {ns}/{name}: a 300 s run stopped on a breach and Failed {:.0} s after creation",
        took.as_secs_f64()
    );
}

/// Two runs of a LocustTestSchedule started by its trigger annotation, each a real distributed
/// test: the first has no baseline and passes saying so; the second carries the first's
/// figures as its baseline reference, and its verdict shows its own figure and the baseline's.
pub async fn scheduled_runs_are_judged_against_the_previous_run(cluster: &'static Cluster) {
    ensure_operator(cluster).await;
    let (ns, target) = namespace_with_target(cluster, "schedule").await;
    let name = "nightly";
    cluster
        .config_map(
            &ns,
            &format!("{name}-locustfile"),
            &[("locustfile.py", LOCUSTFILE)],
        )
        .await;
    // Ratios no real run breaks: the point is the comparison, not a failure.
    let baseline = json!({"baseline": {
        "maxP95ResponseTimeRatio": 50.0,
        "minRequestsPerSecondRatio": 0.02,
    }});
    let run = test_manifest(cluster, name, &target, "10s", baseline);
    // Due once a year at most: only the trigger starts runs here.
    apply(
        cluster,
        &ns,
        &json!({
            "apiVersion": "locust.io/v1alpha1", "kind": "LocustTestSchedule",
            "metadata": {"name": name},
            "spec": {
                "schedule": "0 0 1 1 *",
                "successfulRunsHistoryLimit": 3,
                "template": {"spec": run["spec"]},
            },
        }),
    );
    let tests = Api::<LocustTest>::namespaced(cluster.client(), &ns);
    let runs = async |count: usize| -> Vec<LocustTest> {
        wait::until_ok(
            &format!("{count} runs of {ns}/{name}"),
            Duration::from_secs(30),
            async || {
                let mut list = tests
                    .list(&ListParams::default().labels(&format!("locust.io/schedule={name}")))
                    .await
                    .map_err(|e| e.to_string())?
                    .items;
                list.sort_by_key(|t| t.metadata.creation_timestamp.clone().map(|t| t.0));
                if list.len() == count {
                    Ok(list)
                } else {
                    Err(format!("{} runs", list.len()))
                }
            },
        )
        .await
    };
    let trigger = |value: &str| {
        let out = cluster.run_kubectl(
            &[
                "annotate",
                "-n",
                &ns,
                "lotestsched",
                name,
                &format!("locust.io/trigger={value}"),
                "--overwrite",
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    trigger("first");
    let first = runs(1).await.remove(0).name_any();
    let (_, done) = follow_to_end(cluster, &ns, &first, Duration::from_secs(120)).await;
    assert_eq!(
        done.status.as_ref().and_then(|s| s.phase),
        Some(Phase::Succeeded),
        "{done:?}"
    );
    let verdict = condition(&done, "ThresholdsMet").unwrap();
    assert_eq!(verdict.0, "True", "{verdict:?}");
    assert!(
        verdict.2.contains("no baseline to compare with"),
        "{verdict:?}"
    );
    let first_result = done.status.as_ref().unwrap().result.clone().unwrap();
    let first_p95 = first_result.p95_response_time.unwrap();

    trigger("second");
    let second = runs(2).await.remove(1);
    let reference =
        serde_json::to_value(&second.spec.thresholds).unwrap()["baseline"]["reference"].clone();
    assert_eq!(reference["run"], json!(first), "{reference}");
    assert_eq!(
        reference["p95ResponseTime"],
        json!(first_p95),
        "{reference}"
    );
    let second = second.name_any();
    let (_, done) = follow_to_end(cluster, &ns, &second, Duration::from_secs(120)).await;
    assert_eq!(
        done.status.as_ref().and_then(|s| s.phase),
        Some(Phase::Succeeded),
        "{done:?}"
    );
    let verdict = condition(&done, "ThresholdsMet").unwrap();
    assert_eq!(verdict.0, "True", "{verdict:?}");
    // Both figures: the run's own, and the baseline's with the run it came from.
    let p95 = done
        .status
        .as_ref()
        .unwrap()
        .result
        .clone()
        .unwrap()
        .p95_response_time
        .unwrap();
    // Figures as the verdict writes them: whole numbers bare, others with up to 4 decimals.
    let number = |v: f64| {
        if v.fract() == 0.0 {
            format!("{}", v as i64)
        } else {
            format!("{v:.4}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
    };
    assert!(
        verdict.2.contains(&format!(
            "aggregate p95 response time {} ms <= ",
            number(p95)
        )) && verdict.2.contains(&format!(
            "(50 x baseline {} ms of {first})",
            number(first_p95)
        )),
        "{verdict:?} (p95 {p95}, baseline {first_p95})"
    );

    // The schedule's status names the last run, its verdict and the trigger acted on.
    let schedule =
        cluster.run_kubectl(&["get", "-n", &ns, "lotestsched", name, "-o", "json"], None);
    let schedule: Value = serde_json::from_slice(&schedule.stdout).unwrap();
    let status = &schedule["status"];
    assert_eq!(status["lastRun"]["name"], json!(second), "{status}");
    assert_eq!(status["lastRun"]["phase"], "Succeeded", "{status}");
    assert_eq!(status["lastSuccessfulRun"], json!(second), "{status}");
    assert_eq!(status["lastTrigger"], "second", "{status}");
    eprintln!(
        "FIGURES: {ns}/{name}: run {first} p95 {first_p95} ms, run {second} p95 {p95} ms; verdict: {}",
        verdict.2
    );
}
