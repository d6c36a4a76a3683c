//! The scenarios of tests/webhook_operator.rs.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use libtest_mimic::Trial;
use locust_operator::api::names::CRD_NAME;
use locust_operator::webhook::certs::authority::inspect_pem;
use locust_operator::webhook::certs::parse_certificates;
use locust_operator::webhook::certs::rotation::{Policy, certificate_set};
use locust_operator::webhook::certs::self_managed::{
    BUNDLE_KEY, CA_CERT_KEY, Settings, TLS_CERT_KEY, load_or_create,
};
use locust_operator::webhook::service_names;
use tokio::sync::Mutex;

use crate::common::{
    V2, install_crd_calling, locust_tests, manifest, served_leaf, tls_client, to_create,
    until_conversion_works,
};
use crate::proxy::Proxy;
use crate::replicas::{Replica, ReplicaSettings, SERVICE, Traffic, secret_text};
use crate::serving::{CertDir, TestCa};
use crate::support::operator::{OperatorOptions, OperatorProcess, http_get, operator_identity};
use crate::support::{Cluster, wait};

/// Held by every test that points the CRD's conversion at its own replicas.
pub static CRD: Mutex<()> = Mutex::const_new(());

pub fn trials() -> Vec<Trial> {
    crate::trials![
        replicas_share_one_secret_and_one_ca_and_convert_through_restarts,
        replicas_racing_to_create_the_secret_all_end_with_the_winners,
        a_forced_rotation_fails_no_conversion,
        directory_mode_waits_for_its_files_then_serves_and_is_ready,
    ]
}

const V2_FULL: &str = include_str!("../fixtures/valid/v2-full.yaml");

/// Conversions a SIGKILLed replica may cost: the ones it was answering (the traffic has two
/// clients, so at most two) and those on connections the stand-in Service sent it before its
/// next readiness probe (every 100 ms). Measured: see the figures the test prints.
const SIGKILL_FAILURE_BOUND: usize = 4;

fn der(pem: &str) -> Vec<u8> {
    parse_certificates(pem).unwrap()[0].to_vec()
}

async fn crd_bundle(cluster: &Cluster) -> Option<String> {
    let crd = Api::<CustomResourceDefinition>::all(cluster.client())
        .get(CRD_NAME)
        .await
        .ok()?;
    locust_operator::webhook::certs::self_managed::crd_ca_bundle(&crd)
}

async fn replicas_share_one_secret_and_one_ca_and_convert_through_restarts(
    cluster: &'static Cluster,
) {
    let _crd = CRD.lock().await;
    let namespace = cluster.namespace("operator-shared").await;
    let data = cluster.namespace("shared-data").await;
    let identity = operator_identity(cluster, &namespace).await;
    let proxy = Proxy::start().await;
    install_crd_calling(cluster, &proxy.url(), None).await;
    let settings = ReplicaSettings {
        namespace: namespace.clone(),
        watch_namespace: Some(data.clone()),
        secret: "webhook-shared".into(),
        env: Vec::new(),
    };
    // Started together: both find no Secret and race to create it.
    let mut a = Replica::start(cluster, &identity, &settings, "replica-a", None, &proxy);
    let mut b = Replica::start(cluster, &identity, &settings, "replica-b", None, &proxy);
    a.process.wait_ready().await;
    b.process.wait_ready().await;

    let creators = [&a, &b]
        .iter()
        .filter(|r| r.process.log_text().contains("created the webhook CA"))
        .count();
    assert_eq!(creators, 1, "exactly one replica creates the Secret");
    let ca = secret_text(cluster, &namespace, &settings.secret, CA_CERT_KEY).await;
    let serving = secret_text(cluster, &namespace, &settings.secret, TLS_CERT_KEY).await;
    let info = inspect_pem(&serving).unwrap();
    for name in service_names(SERVICE, &namespace) {
        assert!(
            info.names.contains(&name),
            "{name} missing from {:?}",
            info.names
        );
    }
    // Leader or not, both serve the Secret's certificate, trusted through the Secret's CA.
    let client = tls_client(&ca, &[b"http/1.1"]);
    for replica in [&a, &b] {
        wait::until(
            &format!("{} to serve the Secret's certificate", replica.name),
            Duration::from_secs(10),
            async || {
                let leaf = served_leaf(replica.webhook, client.clone()).await.ok()?;
                (leaf == der(&serving)).then_some(())
            },
        )
        .await;
    }
    let bundle = secret_text(cluster, &namespace, &settings.secret, BUNDLE_KEY).await;
    wait::until(
        "the CA bundle in the CRD",
        Duration::from_secs(30),
        async || {
            let injected = crd_bundle(cluster).await?;
            (certificate_set(&injected) == certificate_set(&bundle)).then_some(())
        },
    )
    .await;

    until_conversion_works(cluster, &data).await;
    locust_tests(cluster, &data, V2)
        .create(
            &PostParams::default(),
            &to_create(&manifest(V2_FULL), "restarts"),
        )
        .await
        .unwrap();

    let traffic = Traffic::start(cluster, &data, "restarts", 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut stop_times = Vec::new();
    for round in 0..4 {
        let victim = if round % 2 == 0 { &mut a } else { &mut b };
        stop_times.push(victim.restart(cluster, &identity, &settings, &proxy).await);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (ok, failed, seconds) = traffic.finish().await;
    eprintln!(
        "figures: {ok} conversions through the API server in {seconds:.0} s while replicas \
         restarted 4 times (SIGTERM; exits took {stop_times:?}); {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failed conversions: {failed:#?}");
    assert!(ok > 50, "too little traffic to mean anything: {ok}");
    assert_eq!(
        secret_text(cluster, &namespace, &settings.secret, CA_CERT_KEY).await,
        ca,
        "restarts keep the CA"
    );

    // A crash (SIGKILL): the requests the killed replica was answering are lost with it, and
    // so are connections the Service sends it before its readiness probe fails (here within
    // 100 ms; a kubelet takes seconds). Nothing else may fail, and the API server does not
    // retry a conversion: at most a few failures, all right after the kill.
    let conversions_before = a
        .process
        .metric("locust_operator_conversion_reviews_total")
        .await;
    let traffic = Traffic::start(cluster, &data, "restarts", 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_after = traffic.elapsed();
    b.process.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    b = Replica::start(
        cluster,
        &identity,
        &settings,
        "replica-b",
        Some(b.webhook),
        &proxy,
    );
    b.process.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ok, failed, seconds) = traffic.finish().await;
    let survivor = a
        .process
        .metric("locust_operator_conversion_reviews_total")
        .await
        - conversions_before;
    let restarted = b
        .process
        .metric("locust_operator_conversion_reviews_total")
        .await;
    eprintln!(
        "figures: SIGKILL of one replica: {ok} conversions in {seconds:.0} s ({survivor} answered by the survivor, {restarted} by the restarted replica); {} failed {failed:?}",
        failed.len()
    );
    assert!(ok > 50, "too little traffic to mean anything: {ok}");
    // The API server keeps its connections: the restarted replica may get none of them.
    assert!(survivor > 0.0, "the surviving replica converted nothing");
    assert!(
        failed.len() <= SIGKILL_FAILURE_BOUND,
        "{} conversions failed (bound {SIGKILL_FAILURE_BOUND}): {failed:#?}",
        failed.len()
    );
    for (at, message) in &failed {
        assert!(
            (killed_after..killed_after + 1.0).contains(at),
            "a conversion failed {at:.2} s into the run, not right after the kill at {killed_after:.2} s: {message}"
        );
    }
    drop((a, b));
}

async fn replicas_racing_to_create_the_secret_all_end_with_the_winners(cluster: &'static Cluster) {
    let namespace = cluster.namespace("secret-race").await;
    let identity = operator_identity(cluster, &namespace).await;
    let settings = Settings {
        namespace: namespace.clone(),
        secret_name: "raced".into(),
        crd_name: CRD_NAME.into(),
        policy: Policy {
            ca_validity: Duration::from_secs(3600),
            serving_validity: Duration::from_secs(600),
            names: service_names(SERVICE, &namespace),
        },
    };
    let secrets = Api::<Secret>::namespaced(identity.client.clone(), &namespace);
    let contenders = (0..8).map(|_| {
        let (secrets, settings) = (secrets.clone(), settings.clone());
        tokio::spawn(async move { load_or_create(&secrets, &settings).await.unwrap().0 })
    });
    let results = futures::future::join_all(contenders).await;
    let stored = secret_text(cluster, &namespace, "raced", CA_CERT_KEY).await;
    for material in results {
        assert_eq!(
            material.unwrap().ca.cert,
            stored,
            "a contender kept its own CA"
        );
    }
}

async fn a_forced_rotation_fails_no_conversion(cluster: &'static Cluster) {
    let _crd = CRD.lock().await;
    let namespace = cluster.namespace("operator-rotation").await;
    let data = cluster.namespace("rotation-data").await;
    let identity = operator_identity(cluster, &namespace).await;
    let proxy = Proxy::start().await;
    install_crd_calling(cluster, &proxy.url(), None).await;
    // CA for 30 s and serving certificates for 12 s: a renewal every ~9 s and a CA rotation
    // every ~22 s, instead of every 8 months and 40 months.
    let settings = ReplicaSettings {
        namespace: namespace.clone(),
        watch_namespace: Some(data.clone()),
        secret: "webhook-rotation".into(),
        env: vec![
            ("WEBHOOK_CA_VALIDITY", "30s".into()),
            ("WEBHOOK_CERT_VALIDITY", "12s".into()),
        ],
    };
    let mut a = Replica::start(cluster, &identity, &settings, "rotor-a", None, &proxy);
    let mut b = Replica::start(cluster, &identity, &settings, "rotor-b", None, &proxy);
    a.process.wait_ready().await;
    b.process.wait_ready().await;
    until_conversion_works(cluster, &data).await;
    locust_tests(cluster, &data, V2)
        .create(
            &PostParams::default(),
            &to_create(&manifest(V2_FULL), "rotating"),
        )
        .await
        .unwrap();

    let traffic = Traffic::start(cluster, &data, "rotating", 2);
    let (mut cas, mut servings) = (Vec::<String>::new(), Vec::<String>::new());
    let mut overlaps = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(50) {
        let ca = secret_text(cluster, &namespace, &settings.secret, CA_CERT_KEY).await;
        let serving = secret_text(cluster, &namespace, &settings.secret, TLS_CERT_KEY).await;
        if cas.last() != Some(&ca) {
            // When a new CA starts signing, the CRD trusts it and still the previous one, so a
            // replica serving a certificate of either is trusted (overlap).
            if let Some(previous) = cas.last() {
                let trusted = certificate_set(&crd_bundle(cluster).await.unwrap());
                assert!(
                    trusted.is_superset(&certificate_set(&ca)),
                    "new CA not trusted yet"
                );
                assert!(
                    trusted.is_superset(&certificate_set(previous)),
                    "old CA left the bundle when the new one took over"
                );
                overlaps += 1;
            }
            cas.push(ca);
        }
        if servings.last() != Some(&serving) {
            servings.push(serving);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (ok, failed, seconds) = traffic.finish().await;
    eprintln!(
        "figures: forced rotation: {ok} conversions through the API server in {seconds:.0} s, \
         across {} CAs and {} serving certificates; {} failed",
        cas.len(),
        servings.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failed conversions: {failed:#?}");
    assert!(cas.len() >= 2, "no CA rotation happened");
    assert!(
        servings.len() >= 4,
        "too few serving certificates: {}",
        servings.len()
    );
    assert_eq!(overlaps, cas.len() - 1, "each CA change was checked");
    // Whatever was served last is trusted by the CRD's bundle.
    let injected = crd_bundle(cluster).await.unwrap();
    let trusted = certificate_set(&injected);
    assert!(trusted.is_superset(&certificate_set(cas.last().unwrap())));
    for replica in [&mut a, &mut b] {
        assert!(replica.process.is_running(), "{} exited", replica.name);
    }
}

async fn directory_mode_waits_for_its_files_then_serves_and_is_ready(cluster: &'static Cluster) {
    let namespace = cluster.namespace("operator-directory").await;
    let identity = operator_identity(cluster, &namespace).await;
    let dir = CertDir::new(cluster.dir.join("operator-certs"));
    let webhook: std::net::SocketAddr = crate::support::operator::free_address().parse().unwrap();
    let mut options = OperatorOptions::new(&identity.kubeconfig, &namespace);
    options.env = vec![
        ("WEBHOOK_CERT_MODE", "directory".to_string()),
        ("WEBHOOK_CERT_DIR", dir.path.display().to_string()),
        ("WEBHOOK_BIND_ADDRESS", webhook.to_string()),
        ("RUST_LOG", "info".to_string()),
    ];
    let mut operator = OperatorProcess::start(cluster, "directory", &options);
    let readyz = format!("http://{}/readyz", operator.health);
    let (code, body) = wait::until_ok("/readyz to answer", Duration::from_secs(30), async || {
        http_get(&readyz).await
    })
    .await;
    assert_eq!(
        (code, body.as_str()),
        (503, "webhook certificate not loaded")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(operator.is_running(), "it waits instead of exiting");
    let log = operator.log_text();
    assert!(log.contains("waiting for the webhook certificate"), "{log}");
    assert!(log.contains(&dir.path.display().to_string()), "{log}");

    let ca = TestCa::new();
    let pair = ca.serving();
    dir.publish(&pair);
    operator.wait_ready().await;
    let leaf = served_leaf(webhook, tls_client(&ca.ca.cert, &[b"http/1.1"]))
        .await
        .unwrap();
    assert_eq!(leaf, der(&pair.cert));
    assert!(
        operator
            .log_text()
            .contains("loaded the webhook certificate")
    );
}
