//! Conversion between `locust.io/v1` and `locust.io/v2` (the hub). Pure functions, no client.
//!
//! # Plain mapping
//!
//! v1 is a subset of v2 with a flatter shape: each v1 field has one place in v2 (the facets in
//! `merge.rs`). v1 -> v2 also fills `master.autostart: true` and `master.autoquit: {enabled:
//! true, timeout: 60}`, which is how the Go operator ran every v1 test. v2 -> v1 keeps each facet
//! only when v1 can show it exactly as it is in effect: node affinity made of one term of
//! single-value `In` requirements (in any order), tolerations that all have a key, Exists or
//! Equal (absent reads as Equal), one of the three effects and no `tolerationSeconds`. Anything
//! else stays out of the v1 view rather than being shown half-true.
//!
//! # Lossless: the v2 spec inside the v1 spec
//!
//! Every result is compared with what converting it back would give. Where that differs, the
//! source spec travels with the result, as compact JSON:
//!
//! - v2 -> v1: the whole v2 spec in the v1 field `spec.v2Spec`, whenever the plain v1 view
//!   converted back (and defaulted) is not the v2 spec. It is generic: any v2 field, present or
//!   future, travels in it unchanged. Being part of the v1 `spec`, it is covered by the v1
//!   immutability rule, so the API server refuses a v1 write that drops or edits it (with a rule
//!   of its own that says what to do) instead of storing a spec without the v2-only fields.
//!   Reading it back as v2 starts from the stored spec and takes from the v1 object only the
//!   facets a v1 writer changed (a facet equal to the v1 view of the stored spec is unchanged),
//!   which matters for a v1 object created from an edited copy of another's v1 view.
//!   Objects read as v1 before `spec.v2Spec` existed carried the same JSON in the annotation
//!   `locust.io/v2-spec`; a v1 object that has the annotation but no `spec.v2Spec` (a manifest
//!   saved from such a read) is read through the annotation.
//! - v1 -> v2: the mirror. The whole v1 spec in the annotation `locust.io/v1-spec` on the v2
//!   object, whenever the v2 form converted back is not the v1 spec. Only `labels: {}` and
//!   `annotations: {}` (a map with neither role) need it today; every other v1 form has an exact
//!   v2 form (an empty `affinity: {}` becomes an empty core Affinity, and back).
//!
//! Each direction removes what it consumed, so `spec.v2Spec` and `locust.io/v2-spec` never
//! reach a v2 object and `locust.io/v1-spec` never reaches a v1 object; they are owned by the
//! converter and overwritten or removed on every conversion. Every other annotation, metadata
//! and status pass through untouched. Results carry the target schema's defaults, as the API
//! server would apply them, and inputs are defaulted by their own schema first; for objects the
//! API server holds (always defaulted), v1 -> v2 -> v1 and v2 -> v1 -> v2 are the identity.

mod merge;
mod plain;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::crd::{CrdError, version_schema};
use super::defaults::apply_defaults;
use super::names::{KIND, V1_SPEC_ANNOTATION, V2_SPEC_ANNOTATION};
use super::{v1, v2};
use merge::{merge_v1_changes_into_v2, merge_v2_changes_into_v1};
use plain::{plain_v1_to_v2, plain_v2_to_v1};

/// Why a LocustTest could not be converted. Messages go back to the API server's client.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error(
        "cannot convert a LocustTest to apiVersion {0:?}: the served versions are locust.io/v1 and locust.io/v2"
    )]
    UnknownDesiredVersion(String),
    #[error(
        "object has apiVersion {0:?}; LocustTest conversion accepts locust.io/v1 and locust.io/v2"
    )]
    UnknownObjectVersion(String),
    #[error("the object to convert is not a JSON object")]
    NotAnObject,
    #[error("the object to convert has no apiVersion string")]
    MissingApiVersion,
    #[error("object kind is {found}; only LocustTest objects are converted here")]
    WrongKind { found: String },
    #[error("object is not a valid {api_version} LocustTest: {source}")]
    InvalidObject {
        api_version: String,
        source: serde_json::Error,
    },
    #[error(
        "annotation {annotation} does not hold a valid LocustTest spec ({source}); remove it or restore the value the operator wrote"
    )]
    CorruptSpecAnnotation {
        annotation: &'static str,
        source: serde_json::Error,
    },
    #[error(
        "spec.v2Spec does not hold a valid locust.io/v2 LocustTest spec ({source}); keep the value the operator wrote, or write the test as locust.io/v2"
    )]
    CorruptV2Spec { source: serde_json::Error },
    #[error("cannot build the LocustTest CRD: {0}")]
    Crd(#[from] CrdError),
    #[error("the CRD has no schema for LocustTest {version}")]
    MissingSchema { version: &'static str },
    #[error("cannot apply the LocustTest {version} schema defaults: {source}")]
    Defaulting {
        version: &'static str,
        source: serde_json::Error,
    },
    #[error("cannot serialize the converted LocustTest: {0}")]
    Serialize(serde_json::Error),
}

/// Converts a v1 object to v2, the storage version.
pub fn to_v2(object: &v1::LocustTest) -> Result<v2::LocustTest, ConversionError> {
    let mut spec = defaulted_v1(&object.spec)?;
    let carried = match spec.v2_spec.take() {
        Some(json) => Some(
            serde_json::from_str::<v2::LocustTestSpec>(&json)
                .map_err(|source| ConversionError::CorruptV2Spec { source })?,
        ),
        // Written before spec.v2Spec existed.
        None => stored_spec::<v2::LocustTestSpec>(&object.metadata, V2_SPEC_ANNOTATION)?,
    };
    let converted = match carried {
        Some(stored) => merge_v1_changes_into_v2(&defaulted_v2(&stored)?, &spec)?,
        None => defaulted_v2(&plain_v1_to_v2(&spec))?,
    };
    let read_back = defaulted_v1(&plain_v2_to_v1(&converted))?;
    let mirror = (read_back != spec)
        .then(|| compact_json(&spec))
        .transpose()?;
    let mut metadata = object.metadata.clone();
    set_annotation(&mut metadata, V2_SPEC_ANNOTATION, None);
    set_annotation(&mut metadata, V1_SPEC_ANNOTATION, mirror);
    Ok(v2::LocustTest {
        metadata,
        spec: converted,
        status: object.status.clone(),
    })
}

/// Converts a v2 object to the deprecated v1.
pub fn to_v1(object: &v2::LocustTest) -> Result<v1::LocustTest, ConversionError> {
    let spec = defaulted_v2(&object.spec)?;
    let converted = match stored_spec::<v1::LocustTestSpec>(&object.metadata, V1_SPEC_ANNOTATION)? {
        Some(stored) => merge_v2_changes_into_v1(&defaulted_v1(&stored)?, &spec)?,
        None => defaulted_v1(&plain_v2_to_v1(&spec))?,
    };
    let mut converted = converted;
    converted.v2_spec = None;
    let read_back = defaulted_v2(&plain_v1_to_v2(&converted))?;
    converted.v2_spec = (read_back != spec)
        .then(|| compact_json(&spec))
        .transpose()?;
    let mut metadata = object.metadata.clone();
    set_annotation(&mut metadata, V1_SPEC_ANNOTATION, None);
    set_annotation(&mut metadata, V2_SPEC_ANNOTATION, None);
    Ok(v1::LocustTest {
        metadata,
        spec: converted,
        status: object.status.clone(),
    })
}

/// The conversion webhook's entry point: converts one LocustTest object, as JSON, to
/// `desired_api_version`. Metadata (except our two annotations) and status are copied verbatim,
/// so kind, name, namespace and uid never change.
pub fn convert_object(object: &Value, desired_api_version: &str) -> Result<Value, ConversionError> {
    let desired = Version::from_api_version(desired_api_version)
        .ok_or_else(|| ConversionError::UnknownDesiredVersion(desired_api_version.to_string()))?;
    let fields = object.as_object().ok_or(ConversionError::NotAnObject)?;
    let api_version = fields
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or(ConversionError::MissingApiVersion)?;
    let source = Version::from_api_version(api_version)
        .ok_or_else(|| ConversionError::UnknownObjectVersion(api_version.to_string()))?;
    match fields.get("kind") {
        Some(Value::String(kind)) if kind == KIND => {}
        Some(Value::String(kind)) => {
            return Err(ConversionError::WrongKind {
                found: format!("{kind:?}"),
            });
        }
        Some(_) => {
            return Err(ConversionError::WrongKind {
                found: "not a string".to_string(),
            });
        }
        None => {
            return Err(ConversionError::WrongKind {
                found: "missing".to_string(),
            });
        }
    }
    if source == desired {
        return Ok(object.clone());
    }
    let invalid = |source| ConversionError::InvalidObject {
        api_version: api_version.to_string(),
        source,
    };
    let (mut converted, annotations) = match desired {
        Version::V2 => {
            let v1: v1::LocustTest = serde_json::from_value(object.clone()).map_err(invalid)?;
            let v2 = to_v2(&v1)?;
            let json = serde_json::to_value(&v2).map_err(ConversionError::Serialize)?;
            (json, v2.metadata.annotations)
        }
        Version::V1 => {
            let v2: v2::LocustTest = serde_json::from_value(object.clone()).map_err(invalid)?;
            let v1 = to_v1(&v2)?;
            let json = serde_json::to_value(&v1).map_err(ConversionError::Serialize)?;
            (json, v1.metadata.annotations)
        }
    };
    // Typed round trips may re-spell timestamps or numbers; the API server accepts no change to
    // metadata beyond labels and annotations, so both go back exactly as they came.
    if let Some(out) = converted.as_object_mut() {
        if let Some(metadata) = fields.get("metadata") {
            let mut metadata = metadata.clone();
            for key in [V1_SPEC_ANNOTATION, V2_SPEC_ANNOTATION] {
                let value = annotations.as_ref().and_then(|a| a.get(key));
                set_json_annotation(&mut metadata, key, value);
            }
            out.insert("metadata".to_string(), metadata);
        }
        match fields.get("status") {
            Some(status) if !status.is_null() => {
                out.insert("status".to_string(), status.clone());
            }
            _ => {}
        }
    }
    Ok(converted)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn from_api_version(api_version: &str) -> Option<Self> {
        if api_version == v1::LocustTest::api_version(&()) {
            Some(Version::V1)
        } else if api_version == v2::LocustTest::api_version(&()) {
            Some(Version::V2)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults and annotations.

fn defaulted_v1(spec: &v1::LocustTestSpec) -> Result<v1::LocustTestSpec, ConversionError> {
    defaulted("v1", spec)
}

fn defaulted_v2(spec: &v2::LocustTestSpec) -> Result<v2::LocustTestSpec, ConversionError> {
    defaulted("v2", spec)
}

/// `spec` with the schema defaults of `version` filled in, as the API server fills them.
fn defaulted<T: Serialize + DeserializeOwned>(
    version: &'static str,
    spec: &T,
) -> Result<T, ConversionError> {
    let schema = version_schema(version)?
        .and_then(|schema| schema.pointer("/properties/spec"))
        .ok_or(ConversionError::MissingSchema { version })?;
    let failed = |source| ConversionError::Defaulting { version, source };
    let mut value = serde_json::to_value(spec).map_err(failed)?;
    apply_defaults(schema, &mut value);
    serde_json::from_value(value).map_err(failed)
}

fn compact_json<T: Serialize>(spec: &T) -> Result<String, ConversionError> {
    serde_json::to_string(spec).map_err(ConversionError::Serialize)
}

fn stored_spec<T: DeserializeOwned>(
    metadata: &ObjectMeta,
    annotation: &'static str,
) -> Result<Option<T>, ConversionError> {
    metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(annotation))
        .map(|json| {
            serde_json::from_str(json)
                .map_err(|source| ConversionError::CorruptSpecAnnotation { annotation, source })
        })
        .transpose()
}

/// Sets or removes one annotation; a map left empty by the removal goes too, so an object that
/// had no annotations before a round trip has none after it.
fn set_annotation(metadata: &mut ObjectMeta, key: &str, value: Option<String>) {
    match value {
        Some(value) => {
            metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(key.to_string(), value);
        }
        None => {
            if let Some(annotations) = &mut metadata.annotations
                && annotations.remove(key).is_some()
                && annotations.is_empty()
            {
                metadata.annotations = None;
            }
        }
    }
}

/// [`set_annotation`] on metadata as JSON.
fn set_json_annotation(metadata: &mut Value, key: &str, value: Option<&String>) {
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    match value {
        Some(value) => {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if !annotations.is_object() {
                *annotations = Value::Object(Map::new());
            }
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(key.to_string(), Value::String(value.clone()));
            }
        }
        None => {
            if let Some(Value::Object(annotations)) = metadata.get_mut("annotations")
                && annotations.remove(key).is_some()
                && annotations.is_empty()
            {
                metadata.remove("annotations");
            }
        }
    }
}
