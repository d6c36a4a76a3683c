//! Offline validation of LocustTest manifests with the rules the API server enforces.
//!
//! Two passes over the CRD schema of the object's version, in the API server's order: the
//! OpenAPI checks (types, required fields, enums, bounds, patterns, unknown fields), then the
//! schema defaults, then the CEL rules of the very same CRD, evaluated locally by kube-cel.
//! There is one rule set; this module only evaluates it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use kube::core::cel::{CompiledSchema, Validator, compile_schema};

use regex::Regex;
use serde_json::{Map, Value};

use super::crd::version_schema;
use super::defaults::apply_defaults;
use super::names::{GROUP, KIND};

/// One reason an object is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Which object: `LocustTest <namespace>/<name>` or a document position.
    pub object: String,
    /// JSON path of the field, for example `spec.worker.replicas`.
    pub field: String,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.object, self.message)
        } else {
            write!(f, "{}: {}: {}", self.object, self.field, self.message)
        }
    }
}

/// Result of validating a stream of documents.
#[derive(Debug, Default)]
pub struct Report {
    /// LocustTest objects checked.
    pub checked: usize,
    /// Documents of other kinds, passed over.
    pub skipped: usize,
    pub problems: Vec<Problem>,
}

/// Validates every document of a (multi-document) YAML or JSON stream. Documents that are not
/// `locust.io` objects are skipped and counted; a `locust.io` object of an unknown version or
/// kind is a problem.
pub fn validate_documents(text: &str, source: &str) -> Report {
    let mut report = Report::default();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let position = format!("{source} (document {})", index + 1);
        let value = match <Value as serde::Deserialize>::deserialize(document) {
            Ok(Value::Null) => continue,
            Ok(value) => value,
            Err(error) => {
                report.problems.push(Problem {
                    object: position,
                    field: String::new(),
                    message: format!("not valid YAML: {error}"),
                });
                // A syntax error ends the stream: the parser cannot resynchronise.
                break;
            }
        };
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if api_version.split('/').next() != Some(GROUP) {
            report.skipped += 1;
            continue;
        }
        report.checked += 1;
        report
            .problems
            .extend(validate_object(&value, &position, None));
    }
    report
}

/// Validates one LocustTest object (`old` for an update, so transition rules run too).
/// `position` names the object when it has no name.
pub fn validate_object(object: &Value, position: &str, old: Option<&Value>) -> Vec<Problem> {
    let label = object_label(object, position);
    let problem = |field: &str, message: String| Problem {
        object: label.clone(),
        field: field.to_string(),
        message,
    };

    let Some(map) = object.as_object() else {
        return vec![problem("", "not an object".to_string())];
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let version = api_version
        .strip_prefix(GROUP)
        .and_then(|v| v.strip_prefix('/'));
    let schema = match version.map(version_schema).transpose() {
        Ok(schema) => schema.flatten(),
        Err(error) => {
            return vec![problem(
                "",
                format!("cannot build the LocustTest CRD: {error}"),
            )];
        }
    };
    let Some(schema) = schema else {
        return vec![problem(
            "apiVersion",
            format!(
                "unsupported apiVersion {api_version:?}: use {GROUP}/v2 (or the deprecated {GROUP}/v1)"
            ),
        )];
    };
    if kind != KIND {
        return vec![problem(
            "kind",
            format!("unsupported kind {kind:?}: {GROUP} serves only {KIND}"),
        )];
    }

    let mut object = object.clone();
    drop_nulls(&mut object);
    let mut found = Vec::new();
    check_metadata(&object, &mut found);
    let mut structural = Vec::new();
    check_node(schema, &object, "", true, &mut structural);
    found.extend(structural);
    // The API server stops before CEL when the structure is wrong; so do we.
    if found.is_empty() {
        found.extend(check_cel(version.unwrap_or_default(), schema, &object, old));
    }
    found
        .into_iter()
        .map(|(field, message)| problem(&field, message))
        .collect()
}

fn object_label(object: &Value, position: &str) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    match (namespace, name) {
        (Some(ns), Some(name)) => format!("{KIND} {ns}/{name}"),
        (None, Some(name)) => format!("{KIND} {name}"),
        _ => position.to_string(),
    }
}

/// The API server prunes null values of non-nullable fields before defaulting.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

fn check_metadata(object: &Value, found: &mut Vec<(String, String)>) {
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    let generate = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str);
    match name {
        None if generate.is_none() => found.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        )),
        Some(name) if !matches(DNS1123_SUBDOMAIN, name) || name.len() > 253 => found.push((
            "metadata.name".into(),
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        )),
        _ => {}
    }
}

/// Schema patterns, compiled once each.
fn matches(pattern: &str, text: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok())
        .as_ref()
        .is_some_and(|re| re.is_match(text))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::Object(_) => "\"object\"".to_string(),
        Value::Array(_) => "\"array\"".to_string(),
        other => other.to_string(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// OpenAPI checks of one node. `root` skips `metadata`, which the API server validates as
/// ObjectMeta rather than through the CRD schema.
fn check_node(
    schema: &Value,
    value: &Value,
    path: &str,
    root: bool,
    found: &mut Vec<(String, String)>,
) {
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let expected = schema.get("type").and_then(Value::as_str);
    let actual = type_name(value);
    if int_or_string {
        if !matches!(actual, "integer" | "string") {
            found.push((
                path.to_string(),
                format!(
                    "Invalid value: {}: {path} in body must be of type integer or string: {actual:?}",
                    show(value)
                ),
            ));
            return;
        }
    } else if let Some(expected) = expected {
        let ok = expected == actual || (expected == "number" && actual == "integer");
        if !ok {
            found.push((
                path.to_string(),
                format!(
                    "Invalid value: {}: {path} in body must be of type {expected}: {actual:?}",
                    show(value)
                ),
            ));
            return;
        }
    }

    match value {
        Value::Object(map) => check_object(schema, map, path, root, found),
        Value::Array(items) => {
            check_count(schema, "Items", items.len(), path, found);
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_node(item_schema, item, &format!("{path}[{i}]"), false, found);
                }
            }
        }
        Value::String(text) => check_string(schema, text, path, found),
        Value::Number(number) => check_number(schema, number, value, path, found),
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    root: bool,
    found: &mut Vec<(String, String)>,
) {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                found.push((join(path, name), "Required value".to_string()));
            }
        }
    }
    check_count(schema, "Properties", map.len(), path, found);
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, child) in map {
        let child_path = join(path, key);
        if root && matches!(key.as_str(), "metadata" | "apiVersion" | "kind") {
            continue;
        }
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            check_node(child_schema, child, &child_path, false, found);
        } else if let Some(additional) = additional {
            check_node(additional, child, &child_path, false, found);
        } else if !preserve {
            found.push((child_path.clone(), format!("unknown field {child_path:?}")));
        }
    }
}

fn check_count(
    schema: &Value,
    what: &str,
    count: usize,
    path: &str,
    found: &mut Vec<(String, String)>,
) {
    let unit = if what == "Items" {
        "items"
    } else {
        "properties"
    };
    if let Some(max) = schema.get(format!("max{what}")).and_then(Value::as_u64)
        && count as u64 > max
    {
        found.push((
            path.to_string(),
            format!("Too many: {count}: must have at most {max} {unit}"),
        ));
    }
    if let Some(min) = schema.get(format!("min{what}")).and_then(Value::as_u64)
        && (count as u64) < min
    {
        found.push((
            path.to_string(),
            format!("Invalid value: {count}: {path} in body should have at least {min} {unit}"),
        ));
    }
}

fn check_string(schema: &Value, text: &str, path: &str, found: &mut Vec<(String, String)>) {
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.iter().any(|a| a.as_str() == Some(text))
    {
        let list = allowed
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        found.push((
            path.to_string(),
            format!("Unsupported value: {text:?}: supported values: {list}"),
        ));
    }
    let length = text.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        found.push((
            path.to_string(),
            format!("Too long: may not be more than {max} bytes"),
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        found.push((
            path.to_string(),
            format!("Invalid value: {text:?}: {path} in body should be at least {min} chars long"),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && !matches(pattern, text)
    {
        found.push((
            path.to_string(),
            format!("Invalid value: {text:?}: {path} in body should match '{pattern}'"),
        ));
    }
}

fn check_number(
    schema: &Value,
    number: &serde_json::Number,
    value: &Value,
    path: &str,
    found: &mut Vec<(String, String)>,
) {
    let Some(n) = number.as_f64() else { return };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let fmt_bound = |b: f64| {
        if b.fract() == 0.0 {
            format!("{}", b as i64)
        } else {
            b.to_string()
        }
    };
    if let Some(min) = bound("minimum")
        && n < min
    {
        found.push((
            path.to_string(),
            format!(
                "Invalid value: {}: {path} in body should be greater than or equal to {}",
                show(value),
                fmt_bound(min)
            ),
        ));
    }
    if let Some(max) = bound("maximum")
        && n > max
    {
        found.push((
            path.to_string(),
            format!(
                "Invalid value: {}: {path} in body should be less than or equal to {}",
                show(value),
                fmt_bound(max)
            ),
        ));
    }
    if schema.get("format").and_then(Value::as_str) == Some("int32")
        && (n < f64::from(i32::MIN) || n > f64::from(i32::MAX))
    {
        found.push((
            path.to_string(),
            format!(
                "Invalid value: {}: {path} in body must be of type int32",
                show(value)
            ),
        ));
    }
}

/// The CEL rules of each version, compiled once. Compiling is most of the cost of a
/// validation, and the controller validates every test it sees.
fn compiled(version: &str) -> Option<&'static CompiledSchema> {
    static V1: OnceLock<Option<CompiledSchema>> = OnceLock::new();
    static V2: OnceLock<Option<CompiledSchema>> = OnceLock::new();
    let cell = match version {
        "v1" => &V1,
        "v2" => &V2,
        _ => return None,
    };
    cell.get_or_init(|| version_schema(version).ok().flatten().map(compile_schema))
        .as_ref()
}

fn check_cel(
    version: &str,
    schema: &Value,
    object: &Value,
    old: Option<&Value>,
) -> Vec<(String, String)> {
    let mut object = object.clone();
    apply_defaults(schema, &mut object);
    let old = old.map(|old| {
        let mut old = old.clone();
        drop_nulls(&mut old);
        apply_defaults(schema, &mut old);
        old
    });
    thread_local! {
        // Registering the Kubernetes CEL library is costly; once per thread.
        static VALIDATOR: Validator = Validator::new();
    }
    let result = VALIDATOR.with(|validator| match compiled(version) {
        Some(compiled) => validator.validate_compiled(compiled, &object, old.as_ref()),
        None => validator.validate(schema, &object, old.as_ref()),
    });
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| (e.field_path.clone(), e.message.clone()))
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v2(spec: Value) -> Value {
        json!({
            "apiVersion": "locust.io/v2", "kind": "LocustTest",
            "metadata": {"name": "demo", "namespace": "default"},
            "spec": spec,
        })
    }

    fn minimal_spec() -> Value {
        json!({
            "image": "locustio/locust:2.43.3",
            "master": {"command": "--locustfile /lotest/src/locustfile.py"},
            "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 2},
        })
    }

    fn messages(object: &Value) -> Vec<String> {
        validate_object(object, "test", None)
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn minimal_v2_test_is_valid() {
        assert_eq!(messages(&v2(minimal_spec())), Vec::<String>::new());
    }

    #[test]
    fn replicas_out_of_bounds_names_the_field() {
        let mut spec = minimal_spec();
        spec["worker"]["replicas"] = json!(0);
        let found = messages(&v2(spec));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("spec.worker.replicas"));
        assert!(found[0].contains("greater than or equal to 1"));
    }

    #[test]
    fn missing_image_is_required() {
        let mut spec = minimal_spec();
        spec.as_object_mut().unwrap().remove("image");
        assert_eq!(
            messages(&v2(spec)),
            vec!["LocustTest default/demo: spec.image: Required value"]
        );
    }

    #[test]
    fn unknown_field_is_reported() {
        let mut spec = minimal_spec();
        spec["workers"] = json!(3);
        let found = messages(&v2(spec));
        assert!(
            found[0].contains("unknown field \"spec.workers\""),
            "{found:?}"
        );
    }

    #[test]
    fn cel_rule_refuses_topology_flag() {
        let mut spec = minimal_spec();
        spec["worker"]["extraArgs"] = json!(["--master-host=elsewhere"]);
        let found = messages(&v2(spec));
        assert!(
            found.iter().any(|m| m.contains("may not contain --master")),
            "{found:?}"
        );
    }

    #[test]
    fn processes_field_and_processes_flag_are_refused_together() {
        let refused = |command: &str, extra: Value| {
            let mut spec = minimal_spec();
            spec["worker"]["processes"] = json!(2);
            spec["worker"]["command"] = json!(command);
            spec["worker"]["extraArgs"] = extra;
            messages(&v2(spec))
                .iter()
                .any(|m| m.contains("spec.worker.processes may not be combined"))
        };
        let plain = "--locustfile /lotest/src/t.py";
        for (command, extra) in [
            (plain, json!(["--processes", "4"])),
            (plain, json!(["--processes=4"])),
            ("--processes 4 -f t.py", json!([])),
            ("-f t.py --processes=4", json!([])),
            ("-f t.py\t--processes\t4", json!([])),
        ] {
            assert!(refused(command, extra.clone()), "{command:?} {extra}");
        }
        for (command, extra) in [
            (plain, json!([])),
            (plain, json!(["--processes-x"])),
            ("-f /tests/--processes.py", json!(["-f=--processes"])),
        ] {
            assert!(!refused(command, extra.clone()), "{command:?} {extra}");
        }
    }

    #[test]
    fn absent_optional_fields_do_not_trip_cel_rules() {
        let mut spec = minimal_spec();
        spec["observability"] = json!({"openTelemetry": {"enabled": false}});
        spec["testFiles"] = json!({"configMapRef": "plan"});
        spec["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        spec["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
        assert_eq!(messages(&v2(spec)), Vec::<String>::new());
    }

    #[test]
    fn mount_inside_reserved_path_is_refused() {
        for path in [
            "/lotest/src",
            "/lotest/src/",
            "/lotest",
            "/lotest/src/x",
            "/",
        ] {
            let mut spec = minimal_spec();
            spec["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
            spec["volumeMounts"] = json!([{"name": "data", "mountPath": path}]);
            let found = messages(&v2(spec));
            assert!(
                found
                    .iter()
                    .any(|m| m.contains("may not equal, contain or sit inside")),
                "{path}: {found:?}"
            );
        }
        let mut spec = minimal_spec();
        spec["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        spec["volumeMounts"] = json!([{"name": "data", "mountPath": "/lotest/srcdata"}]);
        assert_eq!(messages(&v2(spec)), Vec::<String>::new());
    }

    #[test]
    fn spec_change_is_refused_on_update() {
        let old = v2(minimal_spec());
        let mut new = old.clone();
        new["spec"]["worker"]["replicas"] = json!(3);
        let found = validate_object(&new, "test", Some(&old));
        assert!(
            found
                .iter()
                .any(|p| p.message.contains("spec is immutable"))
        );
        let mut relabelled = old.clone();
        relabelled["metadata"]["labels"] = json!({"team": "checkout"});
        assert!(validate_object(&relabelled, "test", Some(&old)).is_empty());
    }

    #[test]
    fn documents_of_other_kinds_are_skipped() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: locust.io/v3\nkind: LocustTest\nmetadata: {name: y}\n";
        let report = validate_documents(text, "f.yaml");
        assert_eq!((report.checked, report.skipped), (1, 1));
        assert!(
            report.problems[0]
                .message
                .contains("unsupported apiVersion")
        );
    }
}
