//! The LocustTestSchedule CustomResourceDefinition.
//!
//! `spec.template.spec` carries the very schema of a LocustTest v2 spec (its bounds, its
//! rules and its trimmed descriptions, from [`super::crd`]) except the rule that makes a test's
//! spec immutable: a schedule's template may be edited, and the next run uses the edit. The
//! rules that concern a test's name (on the LocustTest's root) are checked by the API server
//! when a run is created; the schedule's own name is bounded so that every run name fits.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use super::crd::{CrdError, Shaping, normalize, version_schema};
use super::names::SCHEDULE_VERSION;
use super::schedule::{LocustTestSchedule, name_length_rule};

/// Message start of the LocustTest rule a template leaves out.
const IMMUTABLE_SPEC_MESSAGE: &str = "spec is immutable";

/// The LocustTestSchedule CRD.
pub fn schedule_crd() -> Result<CustomResourceDefinition, CrdError> {
    static CRD: OnceLock<Result<CustomResourceDefinition, CrdError>> = OnceLock::new();
    CRD.get_or_init(build).clone()
}

fn missing(pointer: &str) -> CrdError {
    CrdError::MissingNode {
        version: SCHEDULE_VERSION.to_string(),
        pointer: pointer.to_string(),
    }
}

fn json_error(error: &serde_json::Error) -> CrdError {
    CrdError::Json {
        version: SCHEDULE_VERSION.to_string(),
        message: error.to_string(),
    }
}

fn build() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = LocustTestSchedule::crd();
    let version = crd
        .spec
        .versions
        .first_mut()
        .ok_or(CrdError::MissingSchema {
            version: SCHEDULE_VERSION,
        })?;
    let schema = version
        .schema
        .as_mut()
        .and_then(|s| s.open_api_v3_schema.as_mut())
        .ok_or(CrdError::MissingSchema {
            version: SCHEDULE_VERSION,
        })?;
    let mut value = serde_json::to_value(&*schema).map_err(|e| json_error(&e))?;
    shape(&mut value)?;
    *schema = serde_json::from_value(value).map_err(|e| json_error(&e))?;
    Ok(crd)
}

fn shape(schema: &mut Value) -> Result<(), CrdError> {
    normalize(schema);
    // The template's spec: the LocustTest's, less immutability.
    let mut test_spec = version_schema("v2")?
        .and_then(|s| s.pointer("/properties/spec"))
        .cloned()
        .ok_or_else(|| missing("/properties/spec (of the LocustTest v2 schema)"))?;
    if let Some(Value::Array(rules)) = test_spec.get_mut("x-kubernetes-validations") {
        rules.retain(|r| {
            !r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(IMMUTABLE_SPEC_MESSAGE))
        });
    }
    let Value::Object(mut replacement) = test_spec else {
        return Err(missing("/properties/spec (of the LocustTest v2 schema)"));
    };
    let mut s = Shaping::new(SCHEDULE_VERSION, schema);
    let template_spec = s.node("/properties/spec/properties/template/properties/spec")?;
    if let Some(description) = template_spec.get("description").cloned() {
        replacement.insert("description".to_string(), description);
    }
    *template_spec = replacement;

    // Conditions and times are core types: their long upstream texts are left out.
    for pointer in [
        "/properties/status/properties/conditions",
        "/properties/status/properties/lastScheduleTime",
        "/properties/status/properties/nextScheduleTime",
    ] {
        s.strip_nested_descriptions(pointer)?;
    }

    let (rule, message) = name_length_rule();
    s.add_rule("", &rule, &message)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::names::{SCHEDULE_CRD_NAME, SCHEDULE_SHORT_NAME};
    use serde_json::json;

    fn schema() -> Value {
        let crd = schedule_crd().unwrap();
        serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn crd_names_and_version() {
        let crd = schedule_crd().unwrap();
        assert_eq!(crd.metadata.name.as_deref(), Some(SCHEDULE_CRD_NAME));
        assert_eq!(
            crd.spec.names.short_names,
            Some(vec![SCHEDULE_SHORT_NAME.to_string()])
        );
        let versions: Vec<_> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(versions, [SCHEDULE_VERSION]);
        assert!(crd.spec.versions[0].storage && crd.spec.versions[0].served);
        assert_eq!(crd.spec.scope, "Namespaced");
    }

    #[test]
    fn template_spec_is_the_test_spec_without_immutability() {
        let schema = schema();
        let template =
            &schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"];
        let test = version_schema("v2").unwrap().unwrap()["properties"]["spec"].clone();
        assert_eq!(template["properties"], test["properties"]);
        let messages = |node: &Value| -> Vec<String> {
            node["x-kubernetes-validations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r["message"].as_str().unwrap().to_string())
                .collect()
        };
        let test_rules = messages(&test);
        let template_rules = messages(template);
        assert_eq!(template_rules.len() + 1, test_rules.len());
        assert!(
            test_rules
                .iter()
                .any(|m| m.starts_with(IMMUTABLE_SPEC_MESSAGE))
        );
        assert!(
            !template_rules
                .iter()
                .any(|m| m.starts_with(IMMUTABLE_SPEC_MESSAGE))
        );
    }

    #[test]
    fn defaults_bounds_and_the_name_rule_are_in_the_schema() {
        let schema = schema();
        let spec = &schema["properties"]["spec"]["properties"];
        assert_eq!(spec["timeZone"]["default"], "UTC");
        assert_eq!(spec["concurrencyPolicy"]["default"], "Forbid");
        assert_eq!(
            spec["concurrencyPolicy"]["enum"],
            json!(["Forbid", "Replace", "Allow"])
        );
        assert_eq!(spec["successfulRunsHistoryLimit"]["default"], 3);
        assert_eq!(spec["failedRunsHistoryLimit"]["default"], 1);
        assert_eq!(spec["suspend"]["default"], false);
        assert_eq!(spec["startingDeadlineSeconds"]["minimum"], json!(0.0));
        let required = schema["properties"]["spec"]["required"].as_array().unwrap();
        assert!(required.contains(&json!("schedule")) && required.contains(&json!("template")));
        let rules = schema["x-kubernetes-validations"].as_array().unwrap();
        assert!(rules[0]["rule"].as_str().unwrap().contains("45"));
        assert!(!schema.to_string().contains("\"nullable\""));
    }

    #[test]
    fn crd_fits_client_side_apply_annotation() {
        let json = serde_json::to_string(&schedule_crd().unwrap()).unwrap();
        assert!(json.len() < 200 * 1024, "CRD is {} bytes", json.len());
    }
}
