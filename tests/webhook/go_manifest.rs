//! The Done criterion of the webhook: a v1 manifest written for the Go operator, applied with
//! `kubectl apply`, runs the same test as its v2 equivalent.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::common::{
    V1, V2, contains, install_crd_calling, locust_tests, manifest, until_conversion_works,
};
use crate::proxy::Proxy;
use crate::replicas::{Replica, ReplicaSettings};
use crate::scenarios::CRD;
use crate::support::operator::operator_identity;
use crate::support::{Cluster, fixtures, wait};

pub fn trials() -> Vec<Trial> {
    crate::trials![a_go_operator_v1_manifest_runs_the_same_test_as_its_v2_equivalent]
}

/// The Go operator's example manifest in v2, written by hand.
const V2_EQUIVALENT: &str = r#"
apiVersion: locust.io/v2
kind: LocustTest
metadata:
  name: demo.test
spec:
  image: locustio/locust:2.20.0
  imagePullPolicy: IfNotPresent
  imagePullSecrets: [{name: registry-credentials}]
  master:
    command: --locustfile /lotest/src/demo_test.py --host https://example.com --users 100 --spawn-rate 3 --run-time 3m
    labels: {locust-role: master}
    annotations: {owner: perf-team}
  worker:
    command: --locustfile /lotest/src/demo_test.py
    replicas: 3
    labels: {locust-role: worker}
    annotations: {owner: perf-team}
  testFiles:
    configMapRef: demo-test-map
    libConfigMapRef: demo-lib-map
  scheduling:
    affinity:
      nodeAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms:
            - matchExpressions:
                - {key: node-pool, operator: In, values: [load]}
                - {key: zone, operator: In, values: [eu-west-1a]}
    tolerations:
      - {key: dedicated, operator: Equal, value: load, effect: NoSchedule}
      - {key: spot, operator: Exists, effect: PreferNoSchedule}
"#;

/// A child's spec with what depends on the parent's identity (uids, namespaces) taken out.
fn comparable(mut value: Value) -> Value {
    fn scrub(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|k, _| {
                    !matches!(
                        k.as_str(),
                        "controller-uid"
                            | "batch.kubernetes.io/controller-uid"
                            | "clusterIP"
                            | "clusterIPs"
                    )
                });
                map.values_mut().for_each(scrub);
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut value);
    value
}

async fn a_go_operator_v1_manifest_runs_the_same_test_as_its_v2_equivalent(
    cluster: &'static Cluster,
) {
    let _crd = CRD.lock().await;
    let namespace = cluster.namespace("operator-go-v1").await;
    let identity = operator_identity(cluster, &namespace).await;
    let proxy = Proxy::start().await;
    install_crd_calling(cluster, &proxy.url(), None).await;
    // The manifest asks for nodes in pool `load`, zone eu-west-1a.
    for node in Api::<Node>::all(cluster.client())
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        let name = node.metadata.name.unwrap();
        Api::<Node>::all(cluster.client())
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"labels": {"node-pool": "load", "zone": "eu-west-1a"}}}),
                ),
            )
            .await
            .unwrap();
    }
    let settings = ReplicaSettings {
        namespace: namespace.clone(),
        watch_namespace: None,
        secret: "webhook-go".into(),
        env: vec![
            ("ENABLE_AFFINITY_CR_INJECTION", "true".into()),
            ("ENABLE_TAINT_TOLERATIONS_CR_INJECTION", "true".into()),
        ],
    };
    let mut replica = Replica::start(cluster, &identity, &settings, "go-compat", None, &proxy);
    replica.process.wait_ready().await;

    let from_v1 = cluster.namespace("from-v1").await;
    let from_v2 = cluster.namespace("from-v2").await;
    until_conversion_works(cluster, &from_v1).await;
    let v1_manifest = fixtures::all()
        .into_iter()
        .find(|f| f.name == "valid/v1-go-operator.yaml")
        .unwrap();
    for (ns, text) in [
        (&from_v1, v1_manifest.text.as_str()),
        (&from_v2, V2_EQUIVALENT),
    ] {
        for map in ["demo-test-map", "demo-lib-map"] {
            let config_map: ConfigMap =
                serde_json::from_value(json!({"metadata": {"name": map}, "data": {"x": "y"}}))
                    .unwrap();
            Api::<ConfigMap>::namespaced(cluster.client(), ns)
                .create(&PostParams::default(), &config_map)
                .await
                .unwrap();
        }
        let out = cluster.run_kubectl(&["apply", "-n", ns, "-f", "-"], Some(text));
        assert!(
            out.status.success(),
            "kubectl apply in {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Both run to the end (kwok plays the kubelet: pods start, then the Job pods exit 0) and
    // end the same way.
    let mut outcomes = Vec::new();
    for ns in [&from_v1, &from_v2] {
        let tests = locust_tests(cluster, ns, V2);
        let status = wait::until_ok(
            &format!("the test in {ns} to finish"),
            Duration::from_secs(90),
            async || {
                let test = tests.get("demo.test").await.map_err(|e| e.to_string())?;
                let status = test.data["status"].clone();
                let done = matches!(status["phase"].as_str(), Some("Succeeded" | "Failed"));
                done.then_some(status.clone()).ok_or(format!("{status:#}"))
            },
        )
        .await;
        let conditions: Vec<Value> = status["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|c| json!([c["type"], c["status"], c["reason"], c["message"]]))
            .collect();
        outcomes.push(json!({
            "phase": status["phase"],
            "expectedWorkers": status["expectedWorkers"],
            "conditions": conditions,
        }));
    }
    assert_eq!(outcomes[0]["phase"], "Succeeded", "{:#}", outcomes[0]);
    assert_eq!(outcomes[0], outcomes[1], "the two tests ended differently");
    // The same children, to the byte, apart from identities.
    for job in ["demo-test-master", "demo-test-worker"] {
        let spec = |ns: &str| {
            let api = Api::<Job>::namespaced(cluster.client(), ns);
            async move { comparable(serde_json::to_value(api.get(job).await.unwrap().spec).unwrap()) }
        };
        assert_eq!(spec(&from_v1).await, spec(&from_v2).await, "Job {job}");
    }
    let service = |ns: &str| {
        let api = Api::<Service>::namespaced(cluster.client(), ns);
        async move {
            comparable(
                serde_json::to_value(api.get("demo-test-master").await.unwrap().spec).unwrap(),
            )
        }
    };
    assert_eq!(service(&from_v1).await, service(&from_v2).await, "Service");
    // And each reads as the other's version the way it was written.
    let v1_view = locust_tests(cluster, &from_v2, V1)
        .get("demo.test")
        .await
        .unwrap();
    assert!(
        contains(&v1_view.data["spec"], &v1_manifest.value()["spec"]),
        "the v2 equivalent read as v1 is not the Go manifest:\n{:#}",
        v1_view.data["spec"]
    );
    let v2_view = locust_tests(cluster, &from_v1, V2)
        .get("demo.test")
        .await
        .unwrap();
    assert!(
        contains(&v2_view.data["spec"], &manifest(V2_EQUIVALENT)["spec"]),
        "the Go manifest read as v2 is not the v2 equivalent:\n{:#}",
        v2_view.data["spec"]
    );
    assert!(replica.process.is_running());
}
