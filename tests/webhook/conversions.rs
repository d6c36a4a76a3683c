//! Reads and writes of both versions through the API server, converted by the webhook.

use std::time::{Duration, Instant};

use kube::api::{DynamicObject, ListParams, PostParams};
use libtest_mimic::Trial;
use locust_operator::api::conversion::convert_object;
use locust_operator::api::names::{V1_SPEC_ANNOTATION, V2_SPEC_ANNOTATION};
use serde_json::{Value, json};

use crate::common::{
    V1, V2, assert_same, contains, first_difference, locust_tests, quantities_as_strings,
    to_create, until_conversion_works,
};
use crate::serving::shared;
use crate::support::Cluster;
use crate::support::fixtures;

pub fn trials() -> Vec<Trial> {
    crate::trials![
        v1_manifest_applied_with_kubectl_reads_as_v2_with_defaults_filled,
        v2_only_fields_survive_a_v1_read_and_a_metadata_update_through_v1,
        a_v1_write_that_drops_or_edits_v2_only_data_is_refused,
        a_v1_manifest_saved_with_the_old_annotation_is_created_whole,
        a_namespace_holding_both_versions_lists_as_either,
        every_valid_fixture_survives_round_trips_through_the_api_server,
        an_unconvertible_object_reaches_the_client_as_the_webhook_message,
        conversion_throughput_through_the_api_server,
    ]
}

fn kubectl(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> String {
    let out = cluster.run_kubectl(args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fixture(name: &str) -> fixtures::Fixture {
    fixtures::all()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn data(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap()
}

async fn prepare(cluster: &'static Cluster, prefix: &str) -> String {
    shared(cluster).await;
    let ns = cluster.namespace(prefix).await;
    until_conversion_works(cluster, &ns).await;
    ns
}

async fn v1_manifest_applied_with_kubectl_reads_as_v2_with_defaults_filled(
    cluster: &'static Cluster,
) {
    let ns = prepare(cluster, "v1-to-v2").await;
    let minimal = fixture("valid/v1-minimal.yaml");
    kubectl(
        cluster,
        &["apply", "-n", &ns, "-f", "-"],
        Some(&minimal.text),
    );

    let v2 = data(
        &locust_tests(cluster, &ns, V2)
            .get("demo.minimal")
            .await
            .unwrap(),
    );
    assert_eq!(v2["apiVersion"], "locust.io/v2");
    let spec = &v2["spec"];
    let seed = minimal.value()["spec"]["masterCommandSeed"].clone();
    assert_eq!(spec["master"]["command"], seed, "{spec:#}");
    assert_eq!(spec["worker"]["replicas"], 1, "{spec:#}");
    assert_eq!(spec["master"]["autostart"], true, "{spec:#}");
    assert_eq!(
        spec["master"]["autoquit"],
        json!({"enabled": true, "timeout": 60}),
        "{spec:#}"
    );
    assert_eq!(spec["imagePullPolicy"], "IfNotPresent", "{spec:#}");
    assert_eq!(spec["testFiles"]["configMapRef"], "demo-map", "{spec:#}");
    assert_eq!(spec["testFiles"]["srcMountPath"], "/lotest/src", "{spec:#}");

    let text = kubectl(
        cluster,
        &[
            "get",
            "lotest.v2.locust.io",
            "demo.minimal",
            "-n",
            &ns,
            "-o",
            "json",
        ],
        None,
    );
    let through_kubectl: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(through_kubectl["apiVersion"], "locust.io/v2");
    assert_eq!(through_kubectl["spec"], *spec);
}

async fn v2_only_fields_survive_a_v1_read_and_a_metadata_update_through_v1(
    cluster: &'static Cluster,
) {
    let ns = prepare(cluster, "v2-via-v1").await;
    let full = fixture("valid/v2-full.yaml").value();
    let name = full["metadata"]["name"].as_str().unwrap().to_string();
    let v2_api = locust_tests(cluster, &ns, V2);
    let v1_api = locust_tests(cluster, &ns, V1);
    v2_api
        .create(&PostParams::default(), &to_create(&full, &name))
        .await
        .unwrap();
    let original = data(&v2_api.get(&name).await.unwrap());

    // Read as v1: the v1 view, with the v2 spec kept in spec.v2Spec.
    let mut as_v1 = data(&v1_api.get(&name).await.unwrap());
    assert_eq!(as_v1["apiVersion"], "locust.io/v1");
    assert_eq!(as_v1["spec"]["workerReplicas"], 500);
    assert_eq!(as_v1["spec"]["image"], full["spec"]["image"]);
    assert!(as_v1["spec"]["v2Spec"].is_string(), "{:#}", as_v1["spec"]);
    assert!(
        as_v1["metadata"]["annotations"]
            .get(V2_SPEC_ANNOTATION)
            .is_none(),
        "{:#}",
        as_v1["metadata"]
    );

    // Update labels and annotations through v1 with a full PUT of the v1 object.
    as_v1["metadata"]["labels"]["edited-through"] = json!("v1");
    as_v1["metadata"]["annotations"]["example.com/note"] = json!("hello");
    let updated: DynamicObject = serde_json::from_value(as_v1.clone()).unwrap();
    v1_api
        .replace(&name, &PostParams::default(), &updated)
        .await
        .unwrap_or_else(|e| panic!("a metadata update through v1 was refused: {e}"));
    // And a label through kubectl on the v1 resource (a patch).
    kubectl(
        cluster,
        &[
            "label",
            "lotest.v1.locust.io",
            &name,
            "-n",
            &ns,
            "via=kubectl",
        ],
        None,
    );

    // And a v1 manifest re-applied with kubectl apply: as a user writes it, without
    // spec.v2Spec, which apply leaves alone since it did not set it.
    let mut user_spec = as_v1["spec"].clone();
    user_spec.as_object_mut().unwrap().remove("v2Spec");
    let mut manifest_v1 = json!({
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": { "name": name, "labels": { "applied": "v1" } },
        "spec": user_spec,
    });
    manifest_v1["metadata"]["labels"]["team"] = json!("checkout");
    kubectl(
        cluster,
        &["apply", "-n", &ns, "-f", "-"],
        Some(&serde_json::to_string(&manifest_v1).unwrap()),
    );

    let after = data(&v2_api.get(&name).await.unwrap());
    assert_eq!(after["metadata"]["labels"]["applied"], "v1");
    assert_same(
        &quantities_as_strings(&after["spec"]),
        &quantities_as_strings(&original["spec"]),
        "the v2 spec after metadata updates through v1",
    );
    let labels = &after["metadata"]["labels"];
    assert_eq!(labels["edited-through"], "v1");
    assert_eq!(labels["via"], "kubectl");
    assert_eq!(labels["team"], "checkout");
    let annotations = &after["metadata"]["annotations"];
    assert_eq!(annotations["example.com/note"], "hello");
    assert!(
        annotations.get(V2_SPEC_ANNOTATION).is_none(),
        "{annotations:#}"
    );

    // A spec edit through v1 is refused by the immutability rule, as through v2...
    let mut edited = data(&v1_api.get(&name).await.unwrap());
    edited["spec"]["workerReplicas"] = json!(7);
    let refused = v1_api
        .replace(
            &name,
            &PostParams::default(),
            &serde_json::from_value(edited.clone()).unwrap(),
        )
        .await
        .expect_err("the spec is immutable");
    assert!(
        refused.to_string().contains("spec is immutable"),
        "{refused}"
    );
    // ... and were it allowed, the conversion carries the edit over and keeps the v2-only fields.
    let converted = convert_object(&edited, "locust.io/v2").unwrap();
    assert_eq!(converted["spec"]["worker"]["replicas"], 7);
    let mut expected = original["spec"].clone();
    expected["worker"]["replicas"] = json!(7);
    assert_same(
        &quantities_as_strings(&converted["spec"]),
        &quantities_as_strings(&expected),
        "a spec edit through v1, converted",
    );
}

async fn a_namespace_holding_both_versions_lists_as_either(cluster: &'static Cluster) {
    let ns = prepare(cluster, "both").await;
    for name in [
        "valid/v1-go-operator.yaml",
        "valid/v2-minimal.yaml",
        "valid/v1-minimal.yaml",
        "valid/v2-full.yaml",
    ] {
        kubectl(
            cluster,
            &["apply", "-n", &ns, "-f", "-"],
            Some(&fixture(name).text),
        );
    }
    let mut expected: Vec<String> = ["demo.test", "demo.minimal", "team.checkout-full"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let v2_minimal = fixture("valid/v2-minimal.yaml").value();
    expected.push(v2_minimal["metadata"]["name"].as_str().unwrap().to_string());
    expected.sort();

    for version in [V1, V2] {
        let list = locust_tests(cluster, &ns, version)
            .list(&ListParams::default())
            .await
            .unwrap();
        let mut names: Vec<String> = list
            .items
            .iter()
            .map(|o| o.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, expected, "list as {version}");
        for item in &list.items {
            assert_eq!(
                item.types.as_ref().map(|t| t.api_version.as_str()),
                Some(format!("locust.io/{version}").as_str())
            );
        }
        // The short name works with a version, but kubectl expands a short name to its group
        // and resource only and reads the preferred version (v2); the plural name keeps the
        // version asked for.
        let short = format!("lotest.{version}.locust.io");
        let table = kubectl(cluster, &["get", &short, "-n", &ns], None);
        for name in &expected {
            assert!(table.contains(name.as_str()), "{table}");
        }
        let plural = format!("locusttests.{version}.locust.io");
        let json: Value = serde_json::from_str(&kubectl(
            cluster,
            &["get", &plural, "-n", &ns, "-o", "json"],
            None,
        ))
        .unwrap();
        let versions: Vec<&Value> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["apiVersion"])
            .collect();
        assert_eq!(versions.len(), expected.len());
        assert!(
            versions
                .iter()
                .all(|v| **v == format!("locust.io/{version}")),
            "kubectl get {plural} -o json: {versions:?}"
        );
    }
}

/// For each valid fixture in version A: create it, read it as A and as B, create a copy from
/// the B form through B, and read the copy back as A and B: both views equal the original's.
async fn every_valid_fixture_survives_round_trips_through_the_api_server(
    cluster: &'static Cluster,
) {
    let ns = prepare(cluster, "round-trips").await;
    let valid: Vec<_> = fixtures::all()
        .into_iter()
        .filter(|f| f.is_valid())
        .collect();
    assert!(valid.len() >= 4);
    for (index, fixture) in valid.iter().enumerate() {
        let object = fixture.value();
        let own = if object["apiVersion"] == "locust.io/v1" {
            V1
        } else {
            V2
        };
        let other = if own == V1 { V2 } else { V1 };
        let name = format!("fixture-{index}");
        let (own_api, other_api) = (
            locust_tests(cluster, &ns, own),
            locust_tests(cluster, &ns, other),
        );
        own_api
            .create(&PostParams::default(), &to_create(&object, &name))
            .await
            .unwrap_or_else(|e| panic!("{}: create refused: {e}", fixture.name));
        let a = data(&own_api.get(&name).await.unwrap());
        assert!(
            contains(&a["spec"], &object["spec"]),
            "{}: the stored {own} spec differs from the manifest: {:?}",
            fixture.name,
            first_difference(&a["spec"], &object["spec"], "spec")
        );
        let b = data(&other_api.get(&name).await.unwrap());

        let copy = format!("{name}-copy");
        other_api
            .create(&PostParams::default(), &to_create(&b, &copy))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: creating from the {other} form refused: {e}",
                    fixture.name
                )
            });
        let a2 = data(&own_api.get(&copy).await.unwrap());
        let b2 = data(&other_api.get(&copy).await.unwrap());
        assert_same(
            &quantities_as_strings(&a2["spec"]),
            &quantities_as_strings(&a["spec"]),
            &format!("{}: {own} -> {other} -> {own}", fixture.name),
        );
        assert_same(
            &quantities_as_strings(&b2["spec"]),
            &quantities_as_strings(&b["spec"]),
            &format!("{}: {other} view of the copy", fixture.name),
        );
        for key in ["labels", "annotations"] {
            let strip = |v: &Value| {
                let mut v = v["metadata"][key].clone();
                if let Some(map) = v.as_object_mut() {
                    map.remove("kubectl.kubernetes.io/last-applied-configuration");
                }
                v
            };
            assert_eq!(strip(&a2), strip(&a), "{}: metadata.{key}", fixture.name);
            assert_eq!(
                strip(&b2),
                strip(&b),
                "{}: metadata.{key} ({other})",
                fixture.name
            );
        }
        // The converter's annotation for a version never shows on that version.
        let own_annotation = if own == V1 {
            V1_SPEC_ANNOTATION
        } else {
            V2_SPEC_ANNOTATION
        };
        for view in [&a, &a2] {
            assert!(
                view["metadata"]["annotations"]
                    .get(own_annotation)
                    .is_none(),
                "{}: {own_annotation} on a {own} object",
                fixture.name
            );
        }
    }
}

async fn an_unconvertible_object_reaches_the_client_as_the_webhook_message(
    cluster: &'static Cluster,
) {
    let ns = prepare(cluster, "unconvertible").await;
    let mut object = fixture("valid/v2-minimal.yaml").value();
    object["metadata"]["annotations"] = json!({ V1_SPEC_ANNOTATION: "{not json" });
    let v2_api = locust_tests(cluster, &ns, V2);
    v2_api
        .create(&PostParams::default(), &to_create(&object, "corrupt"))
        .await
        .unwrap();
    let error = locust_tests(cluster, &ns, V1)
        .get("corrupt")
        .await
        .expect_err("a corrupt annotation cannot be converted");
    let text = error.to_string();
    assert!(text.contains(V1_SPEC_ANNOTATION), "{text}");
    assert!(text.contains("remove it or restore"), "{text}");
    // The v2 view is unaffected, and removing the annotation makes it convertible again.
    kubectl(
        cluster,
        &[
            "annotate",
            "lotest.v2.locust.io",
            "corrupt",
            "-n",
            &ns,
            &format!("{V1_SPEC_ANNOTATION}-"),
        ],
        None,
    );
    locust_tests(cluster, &ns, V1).get("corrupt").await.unwrap();
}

/// Figures, not assertions: conversions per second through the API server on this machine.
async fn conversion_throughput_through_the_api_server(cluster: &'static Cluster) {
    let ns = prepare(cluster, "throughput").await;
    let full = fixture("valid/v2-full.yaml").value();
    let v2_api = locust_tests(cluster, &ns, V2);
    const OBJECTS: usize = 100;
    for i in 0..OBJECTS {
        v2_api
            .create(
                &PostParams::default(),
                &to_create(&full, &format!("bench-{i:03}")),
            )
            .await
            .unwrap();
    }
    let v1_api = locust_tests(cluster, &ns, V1);
    // Review counts include whatever other tests convert meanwhile: upper bounds.
    let reviews = || review_count(cluster);

    // The first LIST as v1 converts every object.
    let before = reviews();
    let started = Instant::now();
    assert_eq!(
        v1_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        OBJECTS
    );
    let first_list = started.elapsed().as_secs_f64();
    let first_list_reviews = reviews() - before;

    // Later LISTs come from the API server's watch cache, which keeps each object's encoding.
    let before = reviews();
    let started = Instant::now();
    let lists = 10u32;
    for _ in 0..lists {
        assert_eq!(
            v1_api
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            OBJECTS
        );
    }
    let cached_rate = f64::from(lists) * OBJECTS as f64 / started.elapsed().as_secs_f64();
    let cached_reviews = reviews() - before;

    // A GET reads etcd: one ConversionReview each.
    let before = reviews();
    let started = Instant::now();
    let mut gets = 0u32;
    while started.elapsed() < Duration::from_secs(5) {
        v1_api
            .get(&format!("bench-{:03}", gets as usize % OBJECTS))
            .await
            .unwrap();
        gets += 1;
    }
    let get_rate = f64::from(gets) / started.elapsed().as_secs_f64();
    let get_reviews = reviews() - before;

    let review = serde_json::to_vec(&crate::common::review_request(
        "bench",
        "locust.io/v1",
        (0..OBJECTS)
            .map(|i| {
                let mut o = full.clone();
                o["metadata"]["name"] = json!(format!("bench-{i:03}"));
                o["metadata"]["namespace"] = json!(ns);
                o
            })
            .collect(),
    ))
    .unwrap();
    let started = Instant::now();
    let rounds = 10u32;
    for _ in 0..rounds {
        let reviewed = locust_operator::webhook::review::review(&review);
        assert!(reviewed.failure.is_none());
    }
    let pure_rate = f64::from(rounds) * OBJECTS as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "figures: GET as v1 through the API server, sequential: {get_rate:.0}/s ({gets} GETs, \
         {get_reviews} ConversionReviews or fewer); first LIST of {OBJECTS} as v1: {:.0} ms \
         ({first_list_reviews} ConversionReviews or fewer); later LISTs: {cached_rate:.0} \
         objects/s ({cached_reviews} ConversionReviews or fewer); the handler alone (debug \
         build, no TLS): {pure_rate:.0} objects/s",
        first_list * 1000.0
    );
}

fn review_count(cluster: &'static Cluster) -> u64 {
    let text = futures::executor::block_on(shared(cluster))
        .server
        .metrics
        .render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("locust_operator_conversion_reviews_total ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The API server validates a write in the version it was sent in. The v2 fields v1 cannot show
/// are inside the v1 `spec` (`spec.v2Spec`), so the v1 immutability rule covers them: a v1
/// write that drops or edits them is refused with a message saying what to do, instead of
/// being stored as a v2 spec without them. Writes that keep it (server-side apply of a v1
/// manifest that lacks it, a PUT of the object as read) go through and lose nothing.
async fn a_v1_write_that_drops_or_edits_v2_only_data_is_refused(cluster: &'static Cluster) {
    let ns = prepare(cluster, "v2spec-drop").await;
    let full = fixture("valid/v2-full.yaml").value();
    let name = full["metadata"]["name"].as_str().unwrap().to_string();
    let v2_api = locust_tests(cluster, &ns, V2);
    v2_api
        .create(&PostParams::default(), &to_create(&full, &name))
        .await
        .unwrap();
    let original = data(&v2_api.get(&name).await.unwrap());
    let v1_api = locust_tests(cluster, &ns, V1);
    let as_read = data(&v1_api.get(&name).await.unwrap());

    let refusal = |what: &str, mut change: Box<dyn FnMut(&mut Value)>| {
        let mut object = as_read.clone();
        change(&mut object);
        let api = v1_api.clone();
        let name = name.clone();
        let what = what.to_string();
        async move {
            let error = api
                .replace(
                    &name,
                    &PostParams::default(),
                    &serde_json::from_value(object).unwrap(),
                )
                .await
                .expect_err(&format!("{what}: accepted"));
            let text = error.to_string();
            assert!(
                text.contains("spec.v2Spec holds the locust.io/v2 fields"),
                "{what}: {text}"
            );
            assert!(
                text.contains("Write the test as locust.io/v2"),
                "{what}: {text}"
            );
        }
    };
    // A full replace of an object that lost it (kubectl edit, kubectl replace, a PUT).
    refusal(
        "spec.v2Spec dropped",
        Box::new(|o| {
            o["spec"].as_object_mut().unwrap().remove("v2Spec");
        }),
    )
    .await;
    // The same, by a client that still writes the annotation of older releases.
    refusal(
        "spec.v2Spec moved back into the annotation",
        Box::new(|o| {
            let json = o["spec"].as_object_mut().unwrap().remove("v2Spec").unwrap();
            o["metadata"]["annotations"][V2_SPEC_ANNOTATION] = json;
        }),
    )
    .await;
    // An edit of a v2-only field inside it.
    refusal(
        "a v2-only field edited in spec.v2Spec",
        Box::new(|o| {
            let mut spec: Value =
                serde_json::from_str(o["spec"]["v2Spec"].as_str().unwrap()).unwrap();
            spec["master"]["extraArgs"] = json!(["--loglevel", "DEBUG"]);
            o["spec"]["v2Spec"] = json!(spec.to_string());
        }),
    )
    .await;

    // Writes that keep it go through: the object as read (a metadata change) ...
    let mut relabelled = as_read.clone();
    relabelled["metadata"]["labels"] = json!({"kept": "yes"});
    v1_api
        .replace(
            &name,
            &PostParams::default(),
            &serde_json::from_value(relabelled).unwrap(),
        )
        .await
        .unwrap();
    // ... and server-side apply of a v1 manifest as a user writes it, without spec.v2Spec.
    let mut user_spec = as_read["spec"].clone();
    user_spec.as_object_mut().unwrap().remove("v2Spec");
    let manifest = json!({
        "apiVersion": "locust.io/v1", "kind": "LocustTest",
        "metadata": {"name": name, "labels": {"applied": "server-side"}},
        "spec": user_spec,
    });
    kubectl(
        cluster,
        &["apply", "--server-side", "-n", &ns, "-f", "-"],
        Some(&manifest.to_string()),
    );

    let now = data(&v2_api.get(&name).await.unwrap());
    assert_eq!(now["metadata"]["labels"]["applied"], "server-side");
    assert_same(
        &quantities_as_strings(&now["spec"]),
        &quantities_as_strings(&original["spec"]),
        "the v2 spec after refused and accepted v1 writes",
    );
}

/// A v1 manifest saved from a v1 read before `spec.v2Spec` existed carries the v2 spec in the
/// annotation `locust.io/v2-spec`; created again (another cluster, a backup restore) it comes
/// back whole, and reads as v1 with `spec.v2Spec` from then on.
async fn a_v1_manifest_saved_with_the_old_annotation_is_created_whole(cluster: &'static Cluster) {
    let ns = prepare(cluster, "old-annotation").await;
    let full = fixture("valid/v2-full.yaml").value();
    let name = full["metadata"]["name"].as_str().unwrap().to_string();
    let v2_api = locust_tests(cluster, &ns, V2);
    v2_api
        .create(&PostParams::default(), &to_create(&full, &name))
        .await
        .unwrap();
    let original = data(&v2_api.get(&name).await.unwrap());
    let mut saved = data(&locust_tests(cluster, &ns, V1).get(&name).await.unwrap());
    let json = saved["spec"]
        .as_object_mut()
        .unwrap()
        .remove("v2Spec")
        .unwrap();
    let manifest = json!({
        "apiVersion": "locust.io/v1", "kind": "LocustTest",
        "metadata": {"name": "restored", "annotations": {V2_SPEC_ANNOTATION: json}},
        "spec": saved["spec"],
    });
    kubectl(
        cluster,
        &["apply", "-n", &ns, "-f", "-"],
        Some(&manifest.to_string()),
    );
    let restored = data(&v2_api.get("restored").await.unwrap());
    assert_same(
        &quantities_as_strings(&restored["spec"]),
        &quantities_as_strings(&original["spec"]),
        "a test created from a v1 manifest with the old annotation",
    );
    assert!(
        restored["metadata"]["annotations"]
            .get(V2_SPEC_ANNOTATION)
            .is_none()
    );
    let as_v1 = data(
        &locust_tests(cluster, &ns, V1)
            .get("restored")
            .await
            .unwrap(),
    );
    assert!(as_v1["spec"]["v2Spec"].is_string());
}
