//! The JSON entry point the conversion webhook calls.

use super::*;

fn object_json(api_version: &str, spec: Value) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": "LocustTest",
        "metadata": {
            "name": "demo",
            "namespace": "load",
            "uid": "0d6c-11",
            "resourceVersion": "17",
            "creationTimestamp": "2026-05-01T10:00:00Z",
            "managedFields": [{"manager": "kubectl", "operation": "Update", "time": "2026-05-01T10:00:00Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
            "annotations": {"example.com/owner": "team-a"},
        },
        "spec": spec,
        "status": {"phase": "Succeeded", "result": {"failureRatio": 0, "requestsPerSecond": 12}},
    })
}

#[test]
fn convert_object_keeps_metadata_and_status_verbatim() {
    let original = object_json("locust.io/v2", rich_v2());
    let v1 = convert_object(&original, "locust.io/v1").unwrap();
    assert_eq!(v1["apiVersion"], "locust.io/v1");
    assert_eq!(v1["kind"], "LocustTest");
    assert_eq!(v1["status"], original["status"]);
    assert_eq!(v1["metadata"], original["metadata"]);
    assert!(v1["spec"]["v2Spec"].is_string());
    assert_eq!(v1["spec"]["workerReplicas"], 3);

    let back = convert_object(&v1, "locust.io/v2").unwrap();
    assert_eq!(back["metadata"], original["metadata"]);
    assert_eq!(back["status"], original["status"]);
    assert_eq!(
        back["spec"],
        spec_json(&defaulted_v2(&v2_object(rich_v2()).spec).unwrap())
    );
}

#[test]
fn convert_object_applies_target_defaults() {
    let v1 = object_json(
        "locust.io/v1",
        json!({"masterCommandSeed": "m", "workerCommandSeed": "w", "image": "img", "configMap": "src"}),
    );
    let v2 = convert_object(&v1, "locust.io/v2").unwrap();
    assert_eq!(v2["spec"]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(v2["spec"]["worker"]["replicas"], 1);
    assert_eq!(v2["spec"]["testFiles"]["srcMountPath"], "/lotest/src");
}

#[test]
fn convert_object_returns_same_version_unchanged() {
    let original = object_json("locust.io/v2", json!({"anything": true}));
    assert_eq!(convert_object(&original, "locust.io/v2").unwrap(), original);
}

#[test]
fn convert_object_names_the_problem() {
    let v2 = object_json("locust.io/v2", minimal_v2());
    let message =
        |object: &Value, desired: &str| convert_object(object, desired).unwrap_err().to_string();
    assert!(message(&v2, "locust.io/v3").contains("\"locust.io/v3\""));
    let mut other = v2.clone();
    other["apiVersion"] = json!("apps/v1");
    assert!(message(&other, "locust.io/v1").contains("\"apps/v1\""));
    other["apiVersion"] = json!("locust.io/v2");
    other["kind"] = json!("Deployment");
    assert!(message(&other, "locust.io/v1").contains("Deployment"));
    other.as_object_mut().unwrap().remove("kind");
    assert!(message(&other, "locust.io/v1").contains("kind is missing"));
    let mut broken = v2.clone();
    broken["spec"]["worker"]["replicas"] = json!("many");
    let text = message(&broken, "locust.io/v1");
    assert!(
        text.contains("not a valid locust.io/v2 LocustTest"),
        "{text}"
    );
    assert!(message(&json!([1, 2]), "locust.io/v1").contains("not a JSON object"));
    let no_spec = object_json("locust.io/v1", Value::Null);
    assert!(message(&no_spec, "locust.io/v2").contains("locust.io/v1"));
}
