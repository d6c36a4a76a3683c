//! The optional OpenTelemetry Collector in both values layouts: `otelCollector.*` and the
//! original design's `openTelemetry.collector.*`.

use serde_json::{Value, json};

use crate::support::distributions::{ValueSet, find, helm_template, kinds};

const COLLECTOR: &str = "test-locust-k8s-operator-otel-collector";

fn render(set: Vec<&'static str>, files: Vec<&str>) -> Vec<Value> {
    let repo = crate::support::distributions::repo();
    helm_template(&ValueSet {
        name: "otel",
        set,
        files: files
            .into_iter()
            .map(|f| repo.join("tests/fixtures/helm").join(f))
            .collect(),
    })
}

fn collector_objects(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .filter(|o| o["metadata"]["name"] == COLLECTOR)
        .cloned()
        .collect()
}

fn collector_config(objects: &[Value]) -> Value {
    let map = find(objects, "ConfigMap", Some(COLLECTOR));
    serde_yaml::from_str(map["data"]["config.yaml"].as_str().unwrap()).unwrap()
}

#[test]
fn the_original_layout_renders_the_same_collector_as_otel_collector() {
    let seed = render(vec![], vec!["seed-open-telemetry-values.yaml"]);
    let native = render(
        vec![
            "otelCollector.enabled=true",
            "otelCollector.image=otel/opentelemetry-collector-contrib:0.145.0",
            "otelCollector.resources.requests.cpu=100m",
            "otelCollector.resources.requests.memory=128Mi",
            "otelCollector.resources.limits=null",
            "otelCollector.exporters.otlp.endpoint=tempo.monitoring:4317",
            "otelCollector.exporters.prometheus.enabled=true",
            "otelCollector.exporters.prometheus.port=9090",
        ],
        vec![],
    );
    let objects = collector_objects(&seed);
    assert_eq!(objects.len(), 3, "{:?}", kinds(&objects));
    assert_eq!(objects, collector_objects(&native));

    // What the exporters mean: OTLP for both pipelines, Prometheus for metrics on its port.
    let config = collector_config(&seed);
    assert_eq!(
        config["exporters"]["otlp"]["endpoint"],
        "tempo.monitoring:4317"
    );
    assert_eq!(
        config["exporters"]["prometheus"]["endpoint"],
        "0.0.0.0:9090"
    );
    assert!(config["exporters"].get("debug").is_none(), "{config:#}");
    let pipelines = &config["service"]["pipelines"];
    assert_eq!(pipelines["traces"]["exporters"], json!(["otlp"]));
    assert_eq!(
        pipelines["metrics"]["exporters"],
        json!(["otlp", "prometheus"])
    );
    let service = find(&seed, "Service", Some(COLLECTOR));
    let ports: Vec<(Value, Value)> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].clone(), p["port"].clone()))
        .collect();
    assert!(
        ports.contains(&(json!("prometheus"), json!(9090))),
        "{ports:?}"
    );
    let deployment = find(&seed, "Deployment", Some(COLLECTOR));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}})
    );
}

#[test]
fn each_key_set_under_open_telemetry_collector_wins() {
    // deploy wins over enabled, image over image; keys it leaves out come from otelCollector.
    let objects = render(
        vec![
            "otelCollector.enabled=false",
            "otelCollector.image=ignored:1",
            "otelCollector.replicas=2",
            "openTelemetry.collector.deploy=true",
            "openTelemetry.collector.image=chosen:2",
        ],
        vec![],
    );
    let deployment = find(&objects, "Deployment", Some(COLLECTOR));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "chosen:2"
    );
    assert_eq!(deployment["spec"]["replicas"], 2);
    let off = render(
        vec![
            "otelCollector.enabled=true",
            "openTelemetry.collector.deploy=false",
        ],
        vec![],
    );
    assert!(collector_objects(&off).is_empty());
    // An external endpoint alone deploys nothing.
    let external = render(
        vec!["openTelemetry.collector.externalEndpoint=otel.monitoring:4317"],
        vec![],
    );
    assert!(collector_objects(&external).is_empty());
}

#[test]
fn without_exporters_the_collector_logs_and_a_config_replaces_the_written_one() {
    let objects = render(vec!["otelCollector.enabled=true"], vec![]);
    let config = collector_config(&objects);
    assert_eq!(
        config["exporters"],
        json!({"debug": {"verbosity": "basic"}})
    );
    assert_eq!(
        config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
        "0.0.0.0:4317"
    );
    assert_eq!(
        config["extensions"]["health_check"]["endpoint"],
        "0.0.0.0:13133"
    );
    let own = "receivers: {otlp: {protocols: {grpc: {}}}}\nexporters: {debug: {}}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}\n";
    let objects = render(
        vec![
            "otelCollector.enabled=true",
            "otelCollector.exporters.otlp.endpoint=x:4317",
        ],
        vec![],
    );
    assert_eq!(
        collector_config(&objects)["exporters"]["otlp"]["endpoint"],
        "x:4317"
    );
    // --set would split the text at its commas: a values file carries it.
    let file = std::env::temp_dir().join(format!("otel-config-{}.yaml", std::process::id()));
    let values = serde_yaml::to_string(&json!({"otelCollector": {"enabled": true, "config": own}}));
    std::fs::write(&file, values.unwrap()).unwrap();
    let objects = helm_template(&ValueSet {
        name: "own-config",
        set: vec![],
        files: vec![file.clone()],
    });
    let _ = std::fs::remove_file(&file);
    let map = find(&objects, "ConfigMap", Some(COLLECTOR));
    assert_eq!(
        map["data"]["config.yaml"].as_str().unwrap().trim(),
        own.trim()
    );
}

#[test]
fn the_values_schema_checks_the_original_layout() {
    for (set, expected) in [
        (
            "openTelemetry.collector.deploy=maybe",
            "/openTelemetry/collector/deploy",
        ),
        (
            "openTelemetry.collector.colector=1",
            "additional properties 'colector' not allowed",
        ),
        (
            "openTelemetry.collector.exporters.prometheus.port=70000",
            "/openTelemetry/collector/exporters/prometheus/port",
        ),
    ] {
        let out = crate::support::distributions::helm(&[
            "template",
            "test",
            crate::support::distributions::CHART,
            "--kube-version",
            "1.36.3",
            "--set",
            set,
        ]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "accepted {set}");
        assert!(text.contains(expected), "{set}: {text}");
    }
}
