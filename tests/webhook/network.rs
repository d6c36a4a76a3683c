//! The webhook's HTTPS surface: garbage in over the network, the TLS policy, and certificate
//! files replaced under a running server (alone, and while the API server converts through it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kube::api::PostParams;
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::common::{
    V1, V2, WebhookConnection, connect, locust_tests, manifest, review_request, served_leaf,
    tls_client, to_create, until_conversion_works,
};
use crate::serving::{CertDir, InProcess, TestCa, shared};
use crate::support::{Cluster, wait};

pub fn trials() -> Vec<Trial> {
    crate::trials![
        malformed_and_random_requests_over_https_get_failure_reviews,
        tls_is_1_2_or_later_and_http_1_1_only,
        the_webhook_waits_for_its_files_and_follows_replacements_without_a_restart,
        replacing_the_files_under_the_api_server_loses_no_conversion,
    ]
}

const V2_FULL: &str = include_str!("../fixtures/valid/v2-full.yaml");

fn stored_object(namespace: &str, uid: &str) -> Value {
    let mut object = manifest(V2_FULL);
    object["metadata"]["namespace"] = json!(namespace);
    object["metadata"]["uid"] = json!(uid);
    object
}

/// A small deterministic generator: the same garbage every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % max;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

async fn malformed_and_random_requests_over_https_get_failure_reviews(cluster: &'static Cluster) {
    let shared = shared(cluster).await;
    let address = shared.server.webhook.local_addr();
    let client = tls_client(&shared.ca.ca.cert, &[b"http/1.1"]);
    let mut connection = WebhookConnection::open(address, client.clone()).await;

    let valid = review_request("uid-valid", "locust.io/v1", vec![stored_object("a", "o-1")]);
    let mut wrong_object = valid.clone();
    wrong_object["request"]["objects"][0]["spec"]["worker"]["replicas"] = json!("many");
    let mut wrong_kind = valid.clone();
    wrong_kind["request"]["objects"][0]["kind"] = json!("Deployment");
    let mut no_desired = valid.clone();
    no_desired["request"]
        .as_object_mut()
        .unwrap()
        .remove("desiredAPIVersion");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), ""),
        (b"{".to_vec(), ""),
        (b"null".to_vec(), ""),
        (deep.into_bytes(), ""),
        (
            serde_json::to_vec(&json!({"kind": "ConversionReview"})).unwrap(),
            "",
        ),
        (serde_json::to_vec(&wrong_object).unwrap(), "uid-valid"),
        (serde_json::to_vec(&wrong_kind).unwrap(), "uid-valid"),
        (serde_json::to_vec(&no_desired).unwrap(), "uid-valid"),
    ];
    let mut failures = 0;
    for (body, uid) in cases {
        let (status, answer) = connection.review(body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["kind"], "ConversionReview");
        assert_eq!(answer["response"]["uid"], uid);
        assert_eq!(
            answer["response"]["result"]["status"], "Failure",
            "{answer:#}"
        );
        assert!(
            !answer["response"]["result"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
        failures += 1;
    }

    // Random bytes, and valid reviews with random bytes spliced in, on the same connection.
    let mut random = XorShift(0x5eed_1234_abcd_ef01);
    let valid_bytes = serde_json::to_vec(&valid).unwrap();
    for round in 0..300 {
        let body = if round % 2 == 0 {
            random.bytes(2048)
        } else {
            let mut body = valid_bytes.clone();
            let at = (random.next() as usize) % body.len();
            let junk = random.bytes(16);
            body.splice(at..at + junk.len().min(body.len() - at), junk);
            body
        };
        let (status, answer) = connection.review(body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["kind"], "ConversionReview");
        if answer["response"]["result"]["status"] == "Failure" {
            failures += 1;
        }
    }

    // The connection survived all of it and still converts.
    let (status, answer) = connection.review(serde_json::to_vec(&valid).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["response"]["result"]["status"], "Success",
        "{answer:#}"
    );
    assert_eq!(answer["response"]["uid"], "uid-valid");
    assert_eq!(
        answer["response"]["convertedObjects"][0]["metadata"]["uid"],
        "o-1"
    );

    let (status, _) = connection.send("GET", "/convert", Vec::new()).await;
    assert_eq!(status, 405);
    let (status, _) = connection.send("POST", "/elsewhere", Vec::new()).await;
    assert_eq!(status, 404);

    let metrics = shared.server.metrics.render();
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(counter("locust_operator_conversion_review_failures_total") >= failures);
    assert!(counter("locust_operator_conversion_reviews_total") > failures);
}

async fn tls_is_1_2_or_later_and_http_1_1_only(cluster: &'static Cluster) {
    let shared = shared(cluster).await;
    let address = shared.server.webhook.local_addr();
    let ca = &shared.ca.ca.cert;

    let stream = connect(address, tls_client(ca, &[b"h2", b"http/1.1"]))
        .await
        .unwrap();
    let session = stream.get_ref().1;
    assert_eq!(
        session.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "HTTP/2 is off"
    );
    assert_eq!(
        session.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );

    assert!(
        connect(address, tls_client(ca, &[b"h2"])).await.is_err(),
        "an HTTP/2-only client must be refused"
    );

    let mut roots = rustls::RootCertStore::empty();
    for cert in
        <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(
            ca.as_bytes(),
        )
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let stream = connect(address, Arc::new(tls12)).await.unwrap();
    assert_eq!(
        stream.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );

    // A TLS 1.1 ClientHello (no supported_versions extension) gets a protocol_version alert.
    let mut hello = vec![0x03, 0x02];
    hello.extend([7u8; 32]); // random
    hello.push(0); // no session id
    hello.extend([0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // two TLS 1.1 cipher suites
    hello.extend([0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00];
    handshake.extend(u16::try_from(hello.len()).unwrap().to_be_bytes());
    handshake.extend(hello);
    let mut record = vec![0x16, 0x03, 0x02];
    record.extend(u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend(handshake);
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(address).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tcp.write_all(&record).unwrap();
        let mut answer = vec![0u8; 7];
        tcp.read_exact(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    // An alert record, fatal: protocol_version (70) or handshake_failure (40); never a
    // ServerHello.
    assert_eq!(answer[0], 0x15, "an alert record: {answer:?}");
    assert_eq!(answer[5], 2, "a fatal alert: {answer:?}");
    assert!([40, 70].contains(&answer[6]), "a refusal: {answer:?}");
}

async fn the_webhook_waits_for_its_files_and_follows_replacements_without_a_restart(
    cluster: &'static Cluster,
) {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = CertDir::new(cluster.dir.join(format!(
        "webhook-reload-{}",
        N.fetch_add(1, Ordering::SeqCst)
    )));
    let server = InProcess::start(cluster, dir).await;
    let address = server.webhook.local_addr();
    let ca = TestCa::new();
    let client = tls_client(&ca.ca.cert, &[b"http/1.1"]);

    // No files: not ready, and no handshake completes; the server does not exit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        server.webhook.status().ready(),
        Err("webhook certificate not loaded")
    );
    assert!(connect(address, client.clone()).await.is_err());

    let first = ca.serving();
    server.dir.publish(&first);
    server.until_loaded().await;
    let first_der = der(&first.cert);
    assert_eq!(
        served_leaf(address, client.clone()).await.unwrap(),
        first_der
    );

    // An open keep-alive connection keeps working across the swap.
    let mut connection = WebhookConnection::open(address, client.clone()).await;
    let second = ca.serving();
    server.dir.publish(&second);
    let second_der = der(&second.cert);
    let started = Instant::now();
    wait::until(
        "the new certificate to be served",
        Duration::from_secs(10),
        async || {
            let leaf = served_leaf(address, client.clone()).await.ok()?;
            (leaf == second_der).then_some(())
        },
    )
    .await;
    eprintln!(
        "figures: replaced certificate served after {:.1} s (poll interval 2 s)",
        started.elapsed().as_secs_f64()
    );
    let review = review_request("u", "locust.io/v1", vec![stored_object("a", "o")]);
    let (status, answer) = connection
        .review(serde_json::to_vec(&review).unwrap())
        .await;
    assert_eq!(
        (status, &answer["response"]["result"]["status"]),
        (200, &json!("Success"))
    );
    assert_eq!(
        server.webhook.local_addr(),
        address,
        "same server, no restart"
    );
    server.webhook.shutdown().await;
}

async fn replacing_the_files_under_the_api_server_loses_no_conversion(cluster: &'static Cluster) {
    let shared = shared(cluster).await;
    let ns = cluster.namespace("dir-swap").await;
    until_conversion_works(cluster, &ns).await;
    let full = manifest(V2_FULL);
    locust_tests(cluster, &ns, V2)
        .create(&PostParams::default(), &to_create(&full, "swap"))
        .await
        .unwrap();
    let address = shared.server.webhook.local_addr();
    let client = tls_client(&shared.ca.ca.cert, &[b"http/1.1"]);
    let before = served_leaf(address, client.clone()).await.unwrap();

    let v1 = locust_tests(cluster, &ns, V1);
    let (done_tx, done) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        let (mut ok, mut failed) = (0u32, Vec::new());
        while !*done.borrow() {
            match v1.get("swap").await {
                Ok(_) => ok += 1,
                Err(e) => failed.push(e.to_string()),
            }
        }
        (ok, failed)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let replacement = shared.ca.serving();
    shared.server.dir.publish(&replacement);
    let after = der(&replacement.cert);
    wait::until(
        "the replacement to be served",
        Duration::from_secs(10),
        async || {
            let leaf = served_leaf(address, client.clone()).await.ok()?;
            (leaf == after).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    done_tx.send(true).unwrap();
    let (ok, failed) = reader.await.unwrap();
    assert_ne!(before, after);
    eprintln!(
        "figures: {ok} conversions through the API server while the files were replaced, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failed conversions: {failed:?}");
    assert!(ok > 0);
}

fn der(pem: &str) -> Vec<u8> {
    locust_operator::webhook::certs::parse_certificates(pem).unwrap()[0].to_vec()
}
