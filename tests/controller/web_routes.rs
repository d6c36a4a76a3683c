//! The routes to a test's web UI (`spec.master.webUI.ingress`, `.httpRoute`): created by the
//! operator under its generated RBAC, owned by the test, accepted by the real Gateway API CRD,
//! reported in WebUIExposed (also when the cluster has no Gateway API, or the name is taken),
//! and collected with the test.

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::DynamicObject;
use locust_operator::resources::web_route::http_route_resource;

use crate::common::*;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A LocustTest whose pods kwok keeps running, with `web_ui` as spec.master.webUI.
fn exposed_test(name: &str, web_ui: Value) -> Value {
    let mut test = locust_test(name, 1, "1h", "1h");
    test["spec"]["master"]["webUI"] = web_ui;
    test
}

/// Waits until WebUIExposed is set and returns (status, reason, message).
async fn exposed_condition(cluster: &Cluster, ns: &str, name: &str) -> (String, String, String) {
    let api = tests_api(cluster, ns);
    wait::until_ok(
        &format!("{ns}/{name} to have a WebUIExposed condition"),
        TIMEOUT,
        async || {
            let test = api.get(name).await.map_err(|e| e.to_string())?;
            match condition(&test, "WebUIExposed") {
                Some(c) => Ok((c.status.clone(), c.reason.clone(), c.message.clone())),
                None => Err(format!("{:?}", test.status)),
            }
        },
    )
    .await
}

/// Installs the Gateway API HTTPRoute CRD (standard channel, from `make tools`) and waits
/// until it is served.
async fn install_http_route_crd(cluster: &Cluster) {
    let dir = support::tools::directory("gateway-api").unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("gateway.networking.k8s.io_httproutes.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let crd: CustomResourceDefinition = serde_yaml::from_str(&text).unwrap();
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    crds.create(&PostParams::default(), &crd).await.unwrap();
    wait::until("the HTTPRoute CRD to be Established", TIMEOUT, async || {
        let crd = crds
            .get("httproutes.gateway.networking.k8s.io")
            .await
            .ok()?;
        let established = crd
            .status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        established.then_some(())
    })
    .await;
}

pub async fn web_ui_routes_are_created_owned_reported_and_collected(cluster: &'static Cluster) {
    let (ns, identity) = prepare(cluster, "routes").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    let ingresses = Api::<Ingress>::namespaced(cluster.client(), &ns);
    let routes =
        Api::<DynamicObject>::namespaced_with(cluster.client(), &ns, &http_route_resource());

    // The API server refuses a host that is not a DNS name, naming the field.
    let bad = exposed_test("bad-host", json!({ "ingress": { "host": "Not_A_Host" } }));
    let refused = tests_api(cluster, &ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(bad).unwrap(),
        )
        .await
        .expect_err("a host with '_' and capitals must be refused");
    assert!(
        refused
            .to_string()
            .contains("spec.master.webUI.ingress.host"),
        "{refused}"
    );

    // No Gateway API in the cluster yet: the Ingress is made, the HTTPRoute cannot be, the
    // condition says why, and the test runs anyway.
    let both = json!({
        "basePath": "/load",
        "ingress": { "host": "locust.example.com", "className": "nginx" },
        "httpRoute": { "parentRefs": [{ "name": "public" }] },
    });
    let early = create(cluster, &ns, exposed_test("early", both.clone())).await;
    let (status, reason, message) = exposed_condition(cluster, &ns, "early").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RouteAPIMissing")
    );
    assert!(
        message.contains("HTTPRoute") && message.contains("Gateway API"),
        "{message}"
    );
    assert!(
        message.contains("Ingress early-master created"),
        "{message}"
    );
    wait_phase(cluster, &ns, "early", Phase::Running, TIMEOUT).await;
    let ingress = ingresses.get("early-master").await.unwrap();
    assert_eq!(ingress.owner_references()[0].uid, early.uid().unwrap());
    let spec = serde_json::to_value(ingress.spec.unwrap()).unwrap();
    assert_eq!(spec["ingressClassName"], "nginx");
    assert_eq!(spec["rules"][0]["host"], "locust.example.com");
    let path = &spec["rules"][0]["http"]["paths"][0];
    assert_eq!(path["path"], "/load");
    assert_eq!(path["pathType"], "Prefix");
    assert_eq!(
        path["backend"]["service"],
        json!({ "name": "early-master", "port": { "name": "web-ui" } })
    );
    assert!(
        event_reasons(cluster, &ns, "early")
            .await
            .contains("RouteAPIMissing")
    );

    // With the Gateway API CRD, the real HTTPRoute schema accepts the route the operator
    // builds.
    install_http_route_crd(cluster).await;
    let later = create(cluster, &ns, exposed_test("later", both)).await;
    let (status, reason, message) = exposed_condition(cluster, &ns, "later").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "WebUIExposed"),
        "{message}"
    );
    assert_eq!(
        message,
        "Ingress later-master created; HTTPRoute later-master created"
    );
    let route = routes.get("later-master").await.unwrap();
    assert_eq!(route.owner_references()[0].uid, later.uid().unwrap());
    assert_eq!(
        route.data["spec"]["rules"][0]["matches"][0]["path"],
        json!({ "type": "PathPrefix", "value": "/load" })
    );
    assert_eq!(
        route.data["spec"]["rules"][0]["backendRefs"][0]["name"],
        "later-master"
    );
    assert_eq!(
        route.data["spec"]["rules"][0]["backendRefs"][0]["port"],
        8089
    );
    assert_eq!(route.data["spec"]["parentRefs"][0]["name"], "public");
    // The earlier test's verdict is final: it is not tried again.
    let (status, reason, _) = exposed_condition(cluster, &ns, "early").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RouteAPIMissing")
    );
    assert!(routes.get_opt("early-master").await.unwrap().is_none());

    // A name taken by someone else's Ingress is reported, and that Ingress is left alone.
    let foreign: Ingress = serde_json::from_value(json!({
        "metadata": { "name": "taken-master", "labels": { "owner": "someone" } },
        "spec": { "rules": [{ "host": "other.example.com" }] },
    }))
    .unwrap();
    ingresses
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    create(
        cluster,
        &ns,
        exposed_test(
            "taken",
            json!({ "ingress": { "host": "taken.example.com" } }),
        ),
    )
    .await;
    let (status, reason, message) = exposed_condition(cluster, &ns, "taken").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RouteNameConflict")
    );
    assert!(message.contains("Ingress taken-master"), "{message}");
    let kept = ingresses.get("taken-master").await.unwrap();
    assert!(kept.owner_references().is_empty());
    assert_eq!(
        kept.spec.unwrap().rules.unwrap()[0].host.as_deref(),
        Some("other.example.com")
    );

    // Deleting the test deletes its routes (garbage collection of owned objects).
    tests_api(cluster, &ns)
        .delete("later", &DeleteParams::background())
        .await
        .unwrap();
    wait::until("the routes of later to be collected", TIMEOUT, async || {
        let ingress = ingresses.get_opt("later-master").await.unwrap();
        let route = routes.get_opt("later-master").await.unwrap();
        (ingress.is_none() && route.is_none()).then_some(())
    })
    .await;
}
