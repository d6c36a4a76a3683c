//! Self-managed certificates behind a `service:` clientConfig, the way the chart installs the
//! CRD: the API server resolves the webhook Service (an ExternalName Service to loopback here,
//! since the simulated cluster has no Service routing) and checks the serving certificate for
//! `<service>.<namespace>.svc`. A Secret deleted while the replicas run comes back with the
//! same CA, and no conversion fails; a CRD replaced without its caBundle gets it back at once.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    ServiceReference, WebhookClientConfig,
};
use kube::api::{Api, DeleteParams, PostParams};
use libtest_mimic::Trial;
use locust_operator::webhook::certs::rotation::certificate_set;
use locust_operator::webhook::certs::self_managed::{BUNDLE_KEY, CA_CERT_KEY, crd_ca_bundle};
use serde_json::json;

use crate::common::{
    V2, crd_with_webhook, install_crd_with, locust_tests, manifest, to_create,
    until_conversion_works,
};
use crate::proxy::Proxy;
use crate::replicas::{Replica, ReplicaSettings, SERVICE, Traffic, secret_text};
use crate::scenarios::CRD;
use crate::support::operator::operator_identity;
use crate::support::{Cluster, wait};

pub fn trials() -> Vec<Trial> {
    crate::trials![a_service_webhook_survives_a_deleted_secret_and_a_crd_replaced_without_its_ca]
}

const V2_FULL: &str = include_str!("../fixtures/valid/v2-full.yaml");

/// The CRD's conversion calling the webhook Service `SERVICE` in `namespace` on `port`.
fn service_client_config(namespace: &str, port: u16) -> WebhookClientConfig {
    WebhookClientConfig {
        ca_bundle: None,
        service: Some(ServiceReference {
            name: SERVICE.to_string(),
            namespace: namespace.to_string(),
            path: Some("/convert".to_string()),
            port: Some(i32::from(port)),
        }),
        url: None,
    }
}

async fn crd_bundle(cluster: &Cluster) -> Option<String> {
    let crds = Api::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>::all(cluster.client());
    crd_ca_bundle(&crds.get(locust_operator::api::names::CRD_NAME).await.ok()?)
}

async fn a_service_webhook_survives_a_deleted_secret_and_a_crd_replaced_without_its_ca(
    cluster: &'static Cluster,
) {
    let _crd = CRD.lock().await;
    let namespace = cluster.namespace("operator-service").await;
    let data = cluster.namespace("service-data").await;
    let identity = operator_identity(cluster, &namespace).await;
    let proxy = Proxy::start().await;
    // The webhook Service: resolved by the API server to the stand-in forwarder on loopback.
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": SERVICE},
        "spec": {"type": "ExternalName", "externalName": "127.0.0.1"},
    }))
    .unwrap();
    Api::<Service>::namespaced(cluster.client(), &namespace)
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let client_config = service_client_config(&namespace, proxy.address.port());
    install_crd_with(cluster, crd_with_webhook(client_config.clone(), V2)).await;
    let settings = ReplicaSettings {
        namespace: namespace.clone(),
        watch_namespace: Some(data.clone()),
        secret: "webhook-service".into(),
        env: Vec::new(),
    };
    let mut a = Replica::start(cluster, &identity, &settings, "service-a", None, &proxy);
    let mut b = Replica::start(cluster, &identity, &settings, "service-b", None, &proxy);
    a.process.wait_ready().await;
    b.process.wait_ready().await;
    until_conversion_works(cluster, &data).await;
    locust_tests(cluster, &data, V2)
        .create(
            &PostParams::default(),
            &to_create(&manifest(V2_FULL), "behind-a-service"),
        )
        .await
        .unwrap();
    let ca = secret_text(cluster, &namespace, &settings.secret, CA_CERT_KEY).await;

    // The Secret deleted while conversions go on: restored from what the replicas serve.
    let traffic = Traffic::start(cluster, &data, "behind-a-service", 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let secrets = Api::<Secret>::namespaced(cluster.client(), &namespace);
    let deleted_at = Instant::now();
    secrets
        .delete(&settings.secret, &DeleteParams::default())
        .await
        .unwrap();
    let restored = wait::until(
        "the Secret to be back",
        Duration::from_secs(30),
        async || secrets.get_opt(&settings.secret).await.unwrap(),
    )
    .await;
    let back_after = deleted_at.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ok, failed, seconds) = traffic.finish().await;
    let restored_ca = String::from_utf8(restored.data.unwrap()[CA_CERT_KEY].0.clone()).unwrap();
    eprintln!(
        "figures: Secret deleted: back after {:.2} s with the same CA; {ok} conversions through the webhook Service in {seconds:.0} s, {} failed",
        back_after.as_secs_f64(),
        failed.len()
    );
    assert_eq!(restored_ca, ca, "the Secret came back with another CA");
    assert!(failed.is_empty(), "failed conversions: {failed:#?}");
    assert!(ok > 20, "too little traffic to mean anything: {ok}");
    assert!(
        [&a, &b].iter().any(|r| r
            .process
            .log_text()
            .contains("restored the deleted webhook certificate Secret")),
        "no replica says it restored the Secret"
    );

    // The CRD replaced without its caBundle (kubectl replace, a GitOps tool re-creating it):
    // the replicas watch it and put the bundle back at once.
    let bundle = secret_text(cluster, &namespace, &settings.secret, BUNDLE_KEY).await;
    let mut bare = crd_with_webhook(client_config, V2);
    bare.metadata.managed_fields = None;
    let yaml = serde_yaml::to_string(&bare).unwrap();
    let replaced_at = Instant::now();
    let out = cluster.run_kubectl(&["replace", "-f", "-"], Some(&yaml));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait::until(
        "the CA bundle to be back",
        Duration::from_secs(10),
        async || {
            let injected = crd_bundle(cluster).await?;
            (certificate_set(&injected) == certificate_set(&bundle)).then_some(())
        },
    )
    .await;
    let reinjected = replaced_at.elapsed();
    until_conversion_works(cluster, &data).await;
    eprintln!(
        "figures: CRD replaced without its caBundle: injected again after {:.2} s",
        reinjected.as_secs_f64()
    );
    assert!(
        reinjected < Duration::from_secs(5),
        "re-injection took {reinjected:?}"
    );
    for replica in [&mut a, &mut b] {
        assert!(replica.process.is_running(), "{} exited", replica.name);
    }
}
