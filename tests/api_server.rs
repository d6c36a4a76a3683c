//! Against a real kube-apiserver (etcd + kube-apiserver, RBAC and PodSecurity on): the CRD as
//! users install it, the API server and the Rust validator agreeing on every fixture, spec
//! immutability, and least-privileged ServiceAccount identities.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use libtest_mimic::{Failed, Trial};
use locust_operator::api::crd::version_schema;
use locust_operator::api::validation::validate_object;
use serde_json::{Value, json};

use support::fixtures::{self, Fixture};
use support::{Cluster, Mode, crd, process};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The column names of kubectl's table output.
fn header_of(text: &str) -> Vec<&str> {
    text.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

async fn install_crd(cluster: &Cluster) {
    if let Err(error) = crd::install(cluster).await {
        panic!("{error}");
    }
}

/// Creates `object` in `namespace` the way kubectl does (field validation Strict); the
/// server's message when it refuses.
async fn create_strict(cluster: &Cluster, namespace: &str, object: &Value) -> Result<(), String> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let request = http::Request::post(format!(
        "/apis/{api_version}/namespaces/{namespace}/locusttests?fieldValidation=Strict&fieldManager=kubectl-create"
    ))
    .header("content-type", "application/json")
    .body(serde_json::to_vec(object).unwrap())
    .unwrap();
    match cluster.client().request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(other) => panic!("request failed without an answer from the API server: {other}"),
    }
}

async fn delete_locust_test(cluster: &Cluster, namespace: &str, object: &Value) {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let out = cluster.run_kubectl(
        &["delete", "lotest", name, "-n", namespace, "--wait=false"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn fixture_named(name: &str) -> Fixture {
    fixtures::all()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

async fn generated_crd_installs_with_client_side_apply_and_becomes_established(
    cluster: &'static Cluster,
) {
    install_crd(cluster).await;
    let out = cluster.run_kubectl(
        &[
            "get",
            "crd",
            crd::CRD_NAME,
            "-o",
            "jsonpath={.spec.versions[*].name}",
        ],
        None,
    );
    assert_eq!(stdout(&out), "v2 v1", "{}", stderr(&out));
}

async fn kubectl_explain_shows_our_field_descriptions(cluster: &'static Cluster) {
    install_crd(cluster).await;
    let schema = version_schema("v2").unwrap().unwrap();
    let description = schema
        .pointer("/properties/spec/properties/worker/properties/replicas/description")
        .and_then(Value::as_str)
        .expect("spec.worker.replicas has a description");
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    let out = support::wait::until_ok(
        "kubectl explain to know the LocustTest",
        Duration::from_secs(30),
        async || {
            let out = cluster.run_kubectl(&["explain", "locusttest.spec.worker.replicas"], None);
            if out.status.success() {
                Ok(out)
            } else {
                Err(stderr(&out))
            }
        },
    )
    .await;
    // kubectl wraps the text; compare words.
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words(&stdout(&out)).contains(&words(description)),
        "kubectl explain does not show {description:?}:\n{}",
        stdout(&out)
    );
}

async fn kubectl_get_lotest_shows_the_printer_columns(cluster: &'static Cluster) {
    install_crd(cluster).await;
    let ns = cluster.namespace("printer-columns").await;
    let fixture = fixture_named("valid/v2-minimal.yaml");
    create_strict(cluster, &ns, &fixture.value()).await.unwrap();

    let out = cluster.run_kubectl(&["get", "lotest", "-n", &ns], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = header_of(&text);
    assert_eq!(
        header,
        [
            "NAME",
            "PHASE",
            "WORKERS",
            "CONNECTED",
            "USERS",
            "RPS",
            "FAIL%",
            "AGE"
        ],
        "{text}"
    );

    // A running test shows its live figures.
    let name = fixture.value()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let tests: Api<locust_operator::api::v2::LocustTest> = Api::namespaced(cluster.client(), &ns);
    tests
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running", "connectedWorkers": 1,
                "liveStats": {"state": "running", "users": 20, "requestsPerSecond": 41.5,
                    "failPercent": 1.25, "requests": 830, "failures": 10,
                    "updatedAt": "2026-11-24T10:00:00Z"}}})),
        )
        .await
        .unwrap();
    let out = cluster.run_kubectl(&["get", "lotest", "-n", &ns, "--no-headers"], None);
    let row: Vec<String> = stdout(&out)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        row[..7],
        [&name, "Running", "1", "1", "20", "41.5", "1.25"],
        "{row:?}"
    );

    let out = cluster.run_kubectl(&["get", "lotest", "-n", &ns, "-o", "wide"], None);
    let text = stdout(&out);
    let header = header_of(&text);
    assert_eq!(
        header,
        [
            "NAME",
            "PHASE",
            "WORKERS",
            "CONNECTED",
            "USERS",
            "RPS",
            "FAIL%",
            "AGE",
            "IMAGE"
        ],
        "{text}"
    );
    let row = text.lines().nth(1).unwrap_or("");
    assert!(
        row.contains(fixture.value()["spec"]["image"].as_str().unwrap()),
        "{text}"
    );
}

/// Whether a Rust problem message is one of the OpenAPI (structural) kind, whose wording must
/// match the API server's exactly; CEL messages are ours and are compared by fragment.
fn is_structural(message: &str) -> bool {
    [
        "Invalid value: ",
        "Unsupported value: ",
        "Required value",
        "unknown field ",
    ]
    .iter()
    .any(|p| message.starts_with(p))
}

async fn api_server_and_rust_validator_agree_on_every_fixture(cluster: &'static Cluster) {
    install_crd(cluster).await;
    let ns = cluster.namespace("fixtures").await;
    let show = std::env::var_os("LOCUST_TEST_SHOW_MESSAGES").is_some();
    let mut failures = Vec::new();
    for fixture in fixtures::all() {
        let object = fixture.value();
        let server = create_strict(cluster, &ns, &object).await;
        let problems = validate_object(&object, &fixture.name, None);
        let rust = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let server_text = server.clone().err().unwrap_or_else(|| "accepted".into());
        let rust_text = if problems.is_empty() {
            "accepted"
        } else {
            &rust
        };
        let both = format!("  API server: {server_text}\n  Rust:       {rust_text}");
        if show {
            eprintln!("{}\n{both}", fixture.name);
        }
        match (&server, problems.is_empty()) {
            (Ok(()), true) => delete_locust_test(cluster, &ns, &object).await,
            (Err(_), false) => {}
            (Ok(()), false) => {
                delete_locust_test(cluster, &ns, &object).await;
                failures.push(format!(
                    "{}: the API server accepts it, the Rust validator refuses it\n{both}",
                    fixture.name
                ));
                continue;
            }
            (Err(_), true) => {
                failures.push(format!(
                    "{}: the API server refuses it, the Rust validator accepts it\n{both}",
                    fixture.name
                ));
                continue;
            }
        }
        if fixture.is_valid() && server.is_err() {
            failures.push(format!(
                "{}: valid fixture refused by both\n{both}",
                fixture.name
            ));
        }
        for fragment in &fixture.expected {
            if !server_text.contains(fragment.as_str()) {
                failures.push(format!(
                    "{}: the API server's message lacks the expected {fragment:?}\n{both}",
                    fixture.name
                ));
            }
            if !rust.contains(fragment.as_str()) {
                failures.push(format!(
                    "{}: the Rust message lacks the expected {fragment:?}\n{both}",
                    fixture.name
                ));
            }
        }
        for problem in problems.iter().filter(|p| is_structural(&p.message)) {
            // The server prefixes the field, except for unknown fields (a decoding error).
            let expected =
                if problem.message.starts_with("unknown field ") || problem.field.is_empty() {
                    problem.message.clone()
                } else {
                    format!("{}: {}", problem.field, problem.message)
                };
            if !server_text.contains(&expected) {
                failures.push(format!(
                    "{}: OpenAPI wording differs: the API server does not say {expected:?}\n{both}",
                    fixture.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `kubectl locust report` (the binary installed as the kubectl plugin `kubectl-locust`) prints
/// the result of a finished test and writes the HTML report kept in its report ConfigMap; the
/// same command without kubectl answers in JSON.
async fn kubectl_locust_report_prints_the_result_and_writes_the_html(cluster: &'static Cluster) {
    install_crd(cluster).await;
    let ns = cluster.namespace("report").await;
    let fixture = fixture_named("valid/v2-minimal.yaml");
    create_strict(cluster, &ns, &fixture.value()).await.unwrap();
    let name = fixture.value()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let tests: Api<locust_operator::api::v2::LocustTest> = Api::namespaced(cluster.client(), &ns);
    let test = tests.get(&name).await.unwrap();

    // What the operator stores when the master reports the test stopped.
    let html = format!(
        "<html><body>{}</body></html>",
        "<tr><td>GET /</td></tr>".repeat(20_000)
    );
    let parts = locust_operator::resources::report::ReportParts {
        stats_json: Some("{\"state\": \"stopped\"}".to_string()),
        report_html: Some(html.clone()),
        ..Default::default()
    };
    let report = locust_operator::resources::report::report_config_map(&test, &parts).unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client(), &ns);
    maps.create(&PostParams::default(), &report).await.unwrap();
    tests
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Succeeded",
                "conditions": [{"type": "TestCompleted", "status": "True", "reason": "TestSucceeded",
                    "message": "every threshold met (2 checked)", "lastTransitionTime": "2026-11-24T10:00:00Z"}],
                "result": {"totalRequests": 1200, "failedRequests": 3, "failureRatio": 0.0025,
                    "requestsPerSecond": 40.0, "p95ResponseTime": 18.0,
                    "reportConfigMap": report.metadata.name}}})),
        )
        .await
        .unwrap();

    let plugins = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_locust-k8s-operator"),
        plugins.path().join("kubectl-locust"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        plugins.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out_file = plugins.path().join("report.html");
    let out = Command::new(&cluster.kubectl_path)
        .args(["locust", "report", &name, "-n", &ns, "--html"])
        .arg(&out_file)
        .env("PATH", &path)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Test           {ns}/{name}")),
        "{text}"
    );
    assert!(
        text.contains("Verdict        TestSucceeded: every threshold met"),
        "{text}"
    );
    assert!(
        text.contains("Requests       1200 (3 failed, 0.25%)"),
        "{text}"
    );
    assert!(text.contains("HTML report written to"), "{text}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), html);

    let out = Command::new(env!("CARGO_BIN_EXE_locust-k8s-operator"))
        .args(["report", &name, "-n", &ns, "--json"])
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["phase"], "Succeeded");
    assert_eq!(value["result"]["totalRequests"], 1200);

    let out = Command::new(env!("CARGO_BIN_EXE_locust-k8s-operator"))
        .args(["report", "missing", "-n", &ns])
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("LocustTest missing not found in namespace {ns}")),
        "{}",
        stderr(&out)
    );
}

async fn spec_is_immutable_but_labels_may_change(cluster: &'static Cluster) {
    install_crd(cluster).await;
    let ns = cluster.namespace("immutable").await;
    let object = fixture_named("valid/v2-minimal.yaml").value();
    let name = object["metadata"]["name"].as_str().unwrap().to_string();
    create_strict(cluster, &ns, &object).await.unwrap();
    let tests = Api::<kube::api::DynamicObject>::namespaced_with(
        cluster.client(),
        &ns,
        &kube::api::ApiResource {
            group: "locust.io".into(),
            version: "v2".into(),
            api_version: "locust.io/v2".into(),
            kind: "LocustTest".into(),
            plural: "locusttests".into(),
        },
    );

    let spec_change = json!({ "spec": { "worker": { "replicas": 7 } } });
    let error = tests
        .patch(&name, &PatchParams::default(), &Patch::Merge(&spec_change))
        .await
        .expect_err("changing spec.worker.replicas must be refused");
    let message = match error {
        kube::Error::Api(status) => status.message,
        other => panic!("unexpected error: {other}"),
    };
    let rule = "spec is immutable once the test is created: delete the LocustTest and create it again to change the test";
    assert!(message.contains(rule), "{message}");

    // The Rust validator applies the same transition rule.
    let mut changed = object.clone();
    changed["spec"]["worker"]["replicas"] = json!(7);
    let problems = validate_object(&changed, "update", Some(&object));
    assert!(
        problems.iter().any(|p| p.message.contains(rule)),
        "the Rust validator misses the transition rule: {problems:?}"
    );

    let label_change = json!({ "metadata": { "labels": { "team": "checkout" } } });
    let updated = tests
        .patch(&name, &PatchParams::default(), &Patch::Merge(&label_change))
        .await
        .expect("labels may change");
    assert_eq!(
        updated
            .metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("checkout")
    );
}

async fn service_account_identity_has_only_what_its_role_grants(cluster: &'static Cluster) {
    let ns = cluster.namespace("rbac").await;
    let other = cluster.namespace("rbac-other").await;
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "configmap-editor" },
        "rules": [{
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "list", "create"],
        }],
    }))
    .unwrap();
    Api::<Role>::namespaced(cluster.client(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "limited-edits-configmaps" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-editor" },
        "subjects": [{ "kind": "ServiceAccount", "name": "limited", "namespace": ns }],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(cluster.client(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    let identity = cluster.service_account_identity(&ns, "limited").await;
    let configmap: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "allowed" } })).unwrap();
    Api::<ConfigMap>::namespaced(identity.client.clone(), &ns)
        .create(&PostParams::default(), &configmap)
        .await
        .expect("the Role allows creating ConfigMaps");
    let listed = Api::<ConfigMap>::namespaced(identity.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("the Role allows listing ConfigMaps");
    assert!(
        listed
            .items
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some("allowed"))
    );

    let forbidden = |result: Result<_, kube::Error>, what: &str| match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {
            assert!(
                status.message.contains(&identity.username),
                "{}",
                status.message
            );
        }
        Err(other) => panic!("{what}: expected 403 Forbidden, got {other}"),
        Ok(_) => panic!("{what}: expected 403 Forbidden, got success"),
    };
    forbidden(
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(identity.client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map(|_| ()),
        "listing Secrets",
    );
    forbidden(
        Api::<ConfigMap>::namespaced(identity.client.clone(), &other)
            .list(&ListParams::default())
            .await
            .map(|_| ()),
        "listing ConfigMaps in another namespace",
    );

    // The kubeconfig works for a separate process too.
    let out = Command::new(&cluster.kubectl_path)
        .args(["--kubeconfig"])
        .arg(&identity.kubeconfig)
        .args(["auth", "can-i", "create", "configmaps"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "yes", "{}", stderr(&out));
    let out = Command::new(&cluster.kubectl_path)
        .args(["--kubeconfig"])
        .arg(&identity.kubeconfig)
        .args(["auth", "can-i", "delete", "configmaps"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "no", "{}", stderr(&out));
}

/// The harness's last line of defence, without a cluster: a directory whose owner is gone has
/// its recorded process groups killed and is removed. (In a directory of its own: the shared
/// base is swept concurrently by the cluster start of the other tests.)
fn stale_cluster_of_an_interrupted_run_is_swept() -> Result<(), Failed> {
    let base = tempfile::tempdir()?;
    let dir = base.path().join("stale-cluster");
    std::fs::create_dir(&dir)?;
    // An owner that is gone: a process that has exited (and a start time that cannot match).
    let mut gone = Command::new("true").spawn()?;
    let gone_pid = gone.id();
    gone.wait()?;
    std::fs::write(dir.join(process::OWNER_FILE), format!("{gone_pid} 1\n"))?;
    // A component left behind: its own process group, a child of its own, its command line
    // naming the directory.
    let mut leftover = Command::new("sh")
        .arg("-c")
        .arg("sleep 120 & wait")
        .arg("leftover-component")
        .arg(&dir)
        .process_group(0)
        .spawn()?;
    std::fs::write(
        dir.join(process::GROUPS_FILE),
        format!("{} leftover-component\n", leftover.id()),
    )?;

    // spawn returns while exec may still be setting up the command line the sweep checks.
    let cmdline = format!("/proc/{}/cmdline", leftover.id());
    let marker = dir.to_string_lossy().into_owned();
    while !String::from_utf8_lossy(&std::fs::read(&cmdline)?).contains(&marker) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let swept = process::sweep(&dir);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = leftover.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let group = nix::unistd::Pid::from_raw(leftover.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            leftover.wait()?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(swept, "the stale directory was not swept");
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(9),
        "the leftover component was not killed"
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
    Ok(())
}

fn main() -> ExitCode {
    let mut tests = trials![
        generated_crd_installs_with_client_side_apply_and_becomes_established,
        kubectl_explain_shows_our_field_descriptions,
        kubectl_get_lotest_shows_the_printer_columns,
        kubectl_locust_report_prints_the_result_and_writes_the_html,
        api_server_and_rust_validator_agree_on_every_fixture,
        spec_is_immutable_but_labels_may_change,
        service_account_identity_has_only_what_its_role_grants,
    ];
    tests.push(Trial::test(
        "stale_cluster_of_an_interrupted_run_is_swept",
        stale_cluster_of_an_interrupted_run_is_swept,
    ));
    support::harness::main(Mode::ApiServer, tests)
}
