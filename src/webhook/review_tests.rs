#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use super::*;

const V2_FULL: &str = include_str!("../../tests/fixtures/valid/v2-full.yaml");
const V1_GO: &str = include_str!("../../tests/fixtures/valid/v1-go-operator.yaml");

fn stored(yaml: &str, namespace: &str, uid: &str) -> Value {
    let mut object: Value = serde_yaml::from_str(yaml).unwrap();
    object["metadata"]["namespace"] = json!(namespace);
    object["metadata"]["uid"] = json!(uid);
    object["metadata"]["resourceVersion"] = json!("42");
    object
}

fn request(desired: &str, objects: Vec<Value>) -> Value {
    json!({
        "apiVersion": REVIEW_API_VERSION,
        "kind": REVIEW_KIND,
        "request": { "uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "desiredAPIVersion": desired, "objects": objects },
    })
}

fn answer(request: &Value) -> (Reviewed, Value) {
    let reviewed = review(&serde_json::to_vec(request).unwrap());
    let body: Value = serde_json::from_slice(&reviewed.body).unwrap();
    (reviewed, body)
}

#[test]
fn converts_every_object_in_order_and_keeps_the_uid() {
    let objects = vec![
        stored(V2_FULL, "a", "u-1"),
        stored(V1_GO, "b", "u-2"),
        stored(V2_FULL, "c", "u-3"),
    ];
    let (reviewed, body) = answer(&request("locust.io/v1", objects.clone()));
    assert_eq!(reviewed.failure, None);
    assert_eq!(reviewed.objects, 3);
    assert_eq!(body["apiVersion"], REVIEW_API_VERSION);
    assert_eq!(body["kind"], REVIEW_KIND);
    assert_eq!(
        body["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(body["response"]["result"]["status"], "Success");
    let converted = body["response"]["convertedObjects"].as_array().unwrap();
    assert_eq!(converted.len(), 3);
    for (before, after) in objects.iter().zip(converted) {
        assert_eq!(after["apiVersion"], "locust.io/v1");
        assert_eq!(after["kind"], before["kind"]);
        assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
        assert_eq!(
            after["metadata"]["namespace"],
            before["metadata"]["namespace"]
        );
    }
    // The v1 object came back untouched.
    assert_eq!(converted[1], objects[1]);
}

#[test]
fn an_empty_request_succeeds_with_no_objects() {
    for objects in [json!([]), Value::Null] {
        let mut request = request("locust.io/v2", vec![]);
        request["request"]["objects"] = objects;
        let (reviewed, body) = answer(&request);
        assert_eq!(reviewed.failure, None);
        assert_eq!(body["response"]["convertedObjects"], json!([]));
    }
}

#[test]
fn one_bad_object_fails_the_review_and_names_it() {
    let mut bad = stored(V2_FULL, "load", "u-9");
    bad["metadata"]["name"] = json!("broken");
    bad["spec"]["worker"]["replicas"] = json!("many");
    let (reviewed, body) = answer(&request(
        "locust.io/v1",
        vec![stored(V2_FULL, "load", "u-1"), bad],
    ));
    let message = reviewed.failure.unwrap();
    assert!(
        message.contains("LocustTest load/broken (object 2)"),
        "{message}"
    );
    assert!(message.contains("locust.io/v1"), "{message}");
    assert_eq!(body["response"]["result"]["status"], "Failure");
    assert_eq!(body["response"]["result"]["message"], json!(message));
    assert_eq!(
        body["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(body["response"]["convertedObjects"], json!([]));
}

#[test]
fn malformed_reviews_get_a_failure_with_a_reason() {
    let valid = request("locust.io/v1", vec![stored(V2_FULL, "a", "u")]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "not JSON"),
        (b"{\"apiVersion\":".to_vec(), "not JSON"),
        (b"[1,2]".to_vec(), "not a JSON object"),
        (
            serde_json::to_vec(&json!({"apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "ConversionReview"})).unwrap(),
            "v1beta1",
        ),
        (
            serde_json::to_vec(&json!({"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview"})).unwrap(),
            "AdmissionReview",
        ),
        (
            serde_json::to_vec(&json!({"apiVersion": REVIEW_API_VERSION, "kind": REVIEW_KIND})).unwrap(),
            "no request",
        ),
        (
            serde_json::to_vec(&json!({"apiVersion": REVIEW_API_VERSION, "kind": REVIEW_KIND, "request": {"desiredAPIVersion": "locust.io/v1"}})).unwrap(),
            "no uid",
        ),
    ];
    for (body, expected) in cases {
        let reviewed = review(&body);
        let message = reviewed.failure.clone().unwrap();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        let answer: Value = serde_json::from_slice(&reviewed.body).unwrap();
        assert_eq!(answer["response"]["result"]["status"], "Failure");
    }
    let mut no_desired = valid.clone();
    no_desired["request"]
        .as_object_mut()
        .unwrap()
        .remove("desiredAPIVersion");
    let (reviewed, body) = answer(&no_desired);
    assert!(reviewed.failure.unwrap().contains("desiredAPIVersion"));
    assert_eq!(
        body["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    let mut unknown = valid;
    unknown["request"]["desiredAPIVersion"] = json!("locust.io/v3");
    assert!(answer(&unknown).0.failure.unwrap().contains("locust.io/v3"));
}

// ---------------------------------------------------------------------------------------------
// Garbage in: whatever arrives, an answer that is a ConversionReview and keeps its promises.

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9./:-]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("locust.io/v1"),
            Just("locust.io/v2"),
            Just("LocustTest"),
            Just(REVIEW_API_VERSION),
            Just(REVIEW_KIND),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `value`.
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        _ => {}
    }
}

/// A valid review with up to three places replaced by arbitrary JSON or removed.
fn mutated_review() -> impl Strategy<Value = Value> {
    let base = request(
        "locust.io/v1",
        vec![stored(V2_FULL, "a", "u-1"), stored(V1_GO, "b", "u-2")],
    );
    let mut all = Vec::new();
    pointers(&base, String::new(), &mut all);
    let count = all.len();
    prop::collection::vec((0..count, prop::option::of(arbitrary_json())), 1..4).prop_map(
        move |edits| {
            let mut review = base.clone();
            for (index, replacement) in edits {
                let pointer = &all[index];
                let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
                match (review.pointer_mut(parent), replacement) {
                    (Some(Value::Object(map)), None) => {
                        map.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    (Some(Value::Array(items)), None) => {
                        if let Ok(i) = key.parse::<usize>()
                            && i < items.len()
                        {
                            items.remove(i);
                        }
                    }
                    (Some(_), Some(value)) => {
                        if let Some(slot) = review.pointer_mut(pointer) {
                            *slot = value;
                        }
                    }
                    _ => {}
                }
            }
            review
        },
    )
}

/// The promises every answer keeps, whatever the request.
fn check_answer(request: &[u8], reviewed: &Reviewed) -> Result<(), TestCaseError> {
    let answer: Value = serde_json::from_slice(&reviewed.body)
        .map_err(|e| TestCaseError::fail(format!("the answer is not JSON: {e}")))?;
    prop_assert_eq!(&answer["apiVersion"], REVIEW_API_VERSION);
    prop_assert_eq!(&answer["kind"], REVIEW_KIND);
    let sent: Option<Value> = serde_json::from_slice(request).ok();
    let uid = sent
        .as_ref()
        .and_then(|s| s.pointer("/request/uid"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    prop_assert_eq!(&answer["response"]["uid"], uid);
    let converted = answer["response"]["convertedObjects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match &reviewed.failure {
        Some(message) => {
            prop_assert!(!message.is_empty());
            prop_assert_eq!(&answer["response"]["result"]["status"], "Failure");
            prop_assert!(converted.is_empty());
        }
        None => {
            prop_assert_eq!(&answer["response"]["result"]["status"], "Success");
            let objects = sent
                .as_ref()
                .and_then(|s| s.pointer("/request/objects"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let desired = sent
                .as_ref()
                .and_then(|s| s.pointer("/request/desiredAPIVersion"))
                .cloned()
                .unwrap_or(Value::Null);
            prop_assert_eq!(converted.len(), objects.len());
            for (before, after) in objects.iter().zip(&converted) {
                prop_assert_eq!(&after["apiVersion"], &desired);
                prop_assert_eq!(&after["kind"], &before["kind"]);
                prop_assert_eq!(
                    after.pointer("/metadata/name"),
                    before.pointer("/metadata/name")
                );
                prop_assert_eq!(
                    after.pointer("/metadata/namespace"),
                    before.pointer("/metadata/namespace")
                );
                prop_assert_eq!(
                    after.pointer("/metadata/uid"),
                    before.pointer("/metadata/uid")
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_always_get_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let reviewed = review(&bytes);
        check_answer(&bytes, &reviewed)?;
    }

    #[test]
    fn random_json_always_gets_an_answer(value in arbitrary_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        check_answer(&bytes, &review(&bytes))?;
    }

    #[test]
    fn random_reviews_around_the_shape_always_get_an_answer(
        desired in prop_oneof![
            Just("locust.io/v1".to_string()),
            Just("locust.io/v2".to_string()),
            "[a-z./0-9]{0,12}",
        ],
        objects in prop::collection::vec(arbitrary_json(), 0..4),
    ) {
        let bytes = serde_json::to_vec(&request(&desired, objects)).unwrap();
        check_answer(&bytes, &review(&bytes))?;
    }

    #[test]
    fn mutated_valid_reviews_always_get_an_answer(review_json in mutated_review()) {
        let bytes = serde_json::to_vec(&review_json).unwrap();
        check_answer(&bytes, &review(&bytes))?;
    }

    #[test]
    fn truncated_valid_reviews_always_get_an_answer(cut in 0usize..4000) {
        let bytes = serde_json::to_vec(&request(
            "locust.io/v2",
            vec![stored(V1_GO, "a", "u-1")],
        ))
        .unwrap();
        let cut = cut.min(bytes.len());
        check_answer(&bytes[..cut], &review(&bytes[..cut]))?;
    }
}
