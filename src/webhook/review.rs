//! The ConversionReview exchange (`apiextensions.k8s.io/v1`): request bytes in, response bytes
//! out. Pure and total: whatever arrives, the answer is a ConversionReview, with
//! `result.status: Failure` and a message when the request cannot be converted, and the
//! request's uid whenever it can be read. Objects come back in the request's order; a result
//! that changed an object's kind, name, namespace or uid is refused here rather than sent.

use serde_json::{Map, Value, json};

use crate::api::conversion::convert_object;
use crate::api::text::shorten;

/// The only ConversionReview version served (the CRD lists it in `conversionReviewVersions`).
pub const REVIEW_API_VERSION: &str = "apiextensions.k8s.io/v1";
pub const REVIEW_KIND: &str = "ConversionReview";

/// The response and what to record about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reviewed {
    /// The response body (JSON).
    pub body: Vec<u8>,
    /// The request uid, empty when it could not be read.
    pub uid: String,
    /// Objects in the request, 0 when it could not be read.
    pub objects: usize,
    /// `None` on success, else the failure message sent back.
    pub failure: Option<String>,
    /// `namespace/name` of the first object, for the logs; empty when there is none.
    pub first_object: String,
}

/// Answers one ConversionReview request body.
pub fn review(request: &[u8]) -> Reviewed {
    let parsed: Value = match serde_json::from_slice(request) {
        Ok(value) => value,
        Err(error) => {
            return failure(
                String::new(),
                0,
                format!("the request body is not JSON: {error}"),
            );
        }
    };
    let uid = parsed
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let first_object = first_object(&parsed);
    match convert_review(&parsed) {
        Ok(converted) => {
            let objects = converted.len();
            Reviewed {
                body: response_body(&uid, converted, None),
                uid,
                objects,
                failure: None,
                first_object,
            }
        }
        Err((objects, message)) => Reviewed {
            first_object,
            ..failure(uid, objects, message)
        },
    }
}

/// `namespace/name` of the request's first object, or empty.
fn first_object(review: &Value) -> String {
    let Some(metadata) = review.pointer("/request/objects/0/metadata") else {
        return String::new();
    };
    let field = |key: &str| metadata.get(key).and_then(Value::as_str).unwrap_or("");
    format!("{}/{}", field("namespace"), field("name"))
}

/// The review's converted objects, or (object count, failure message).
fn convert_review(review: &Value) -> Result<Vec<Value>, (usize, String)> {
    let fields = review
        .as_object()
        .ok_or((0, "the request is not a JSON object".to_string()))?;
    let api_version = fields.get("apiVersion").and_then(Value::as_str);
    if api_version != Some(REVIEW_API_VERSION) {
        return Err((
            0,
            format!(
                "unsupported ConversionReview apiVersion {}; this webhook serves {REVIEW_API_VERSION} (set conversionReviewVersions: [v1])",
                describe(fields.get("apiVersion"))
            ),
        ));
    }
    let kind = fields.get("kind").and_then(Value::as_str);
    if kind != Some(REVIEW_KIND) {
        return Err((
            0,
            format!(
                "expected kind {REVIEW_KIND}, got {}",
                describe(fields.get("kind"))
            ),
        ));
    }
    let request = fields
        .get("request")
        .and_then(Value::as_object)
        .ok_or((0, "the ConversionReview has no request".to_string()))?;
    if !request.get("uid").is_some_and(Value::is_string) {
        return Err((0, "the ConversionReview request has no uid".to_string()));
    }
    let desired = request
        .get("desiredAPIVersion")
        .and_then(Value::as_str)
        .ok_or((
            0,
            "the ConversionReview request has no desiredAPIVersion".to_string(),
        ))?;
    let objects = match request.get("objects") {
        Some(Value::Array(objects)) => objects.as_slice(),
        // An empty list may be sent as null or omitted; nothing to convert.
        None | Some(Value::Null) => &[],
        Some(_) => {
            return Err((
                0,
                "request.objects of the ConversionReview is not a list".to_string(),
            ));
        }
    };
    let count = objects.len();
    objects
        .iter()
        .enumerate()
        .map(|(index, object)| {
            let converted = convert_object(object, desired).map_err(|error| {
                (
                    count,
                    format!(
                        "cannot convert {} to {desired}: {error}",
                        identify(index, object)
                    ),
                )
            })?;
            check_identity(object, &converted, desired).map_err(|problem| {
                (
                    count,
                    format!(
                        "refusing the conversion of {}: {problem}",
                        identify(index, object)
                    ),
                )
            })?;
            Ok(converted)
        })
        .collect()
}

/// The API server refuses any change beyond apiVersion, spec, status, labels and annotations;
/// these are the ones a bug could plausibly produce.
fn check_identity(before: &Value, after: &Value, desired: &str) -> Result<(), String> {
    if after.get("apiVersion").and_then(Value::as_str) != Some(desired) {
        return Err(format!(
            "the result has apiVersion {}",
            describe(after.get("apiVersion"))
        ));
    }
    if before.get("kind") != after.get("kind") {
        return Err("the kind changed".to_string());
    }
    for field in ["name", "namespace", "uid"] {
        let pointer = format!("/metadata/{field}");
        if before.pointer(&pointer) != after.pointer(&pointer) {
            return Err(format!("metadata.{field} changed"));
        }
    }
    Ok(())
}

/// `LocustTest ns/name (object 3)` with whatever of that can be read.
fn identify(index: usize, object: &Value) -> String {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let position = format!("object {}", index + 1);
    match (text("/metadata/namespace"), text("/metadata/name")) {
        (Some(ns), Some(name)) => format!("LocustTest {ns}/{name} ({position})"),
        (None, Some(name)) => format!("LocustTest {name} ({position})"),
        _ => position,
    }
}

fn describe(value: Option<&Value>) -> String {
    let text = match value {
        None => return "(missing)".to_string(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    };
    // The request is untrusted: never echo an unbounded amount of it.
    shorten(&text, 64, "…")
}

fn failure(uid: String, objects: usize, message: String) -> Reviewed {
    Reviewed {
        body: response_body(&uid, Vec::new(), Some(&message)),
        uid,
        objects,
        failure: Some(message),
        first_object: String::new(),
    }
}

/// A failure response for a request that never reached [`review`] (for example a body over
/// the size limit).
pub fn refused(message: String) -> Reviewed {
    failure(String::new(), 0, message)
}

fn response_body(uid: &str, converted: Vec<Value>, failure: Option<&str>) -> Vec<u8> {
    let mut result = Map::new();
    result.insert("metadata".into(), json!({}));
    match failure {
        None => {
            result.insert("status".into(), json!("Success"));
        }
        Some(message) => {
            result.insert("status".into(), json!("Failure"));
            result.insert("message".into(), json!(message));
        }
    }
    let body = json!({
        "apiVersion": REVIEW_API_VERSION,
        "kind": REVIEW_KIND,
        "response": {
            "uid": uid,
            "convertedObjects": converted,
            "result": result,
        },
    });
    // Serializing a Value cannot fail; an empty body would still be answered as an error.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;
