//! The merged LocustTest CustomResourceDefinition: both versions, the validation rules, and the
//! schema trimmed to install with a plain `kubectl apply`.
//!
//! A rule or bound that concerns one field of our own types is an attribute on that field (in
//! [`super::v2`], [`super::v1`] and [`super::thresholds`]). This module adds the rest by JSON
//! pointer: rules on the root object and across spec fields, and rules and bounds inside embedded
//! core types. A pointer that misses fails the build with a [`CrdError`]. The API server
//! evaluates the rules from the CRD, and [`super::validation`] evaluates the very same schema
//! locally.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion,
};
use kube::CustomResourceExt;
use serde_json::{Map, Value, json};

use super::names::{
    DEFAULT_LIB_MOUNT_PATH, DEFAULT_SRC_MOUNT_PATH, FLAG_EXPECT_WORKERS, FLAG_HEADLESS,
    FLAG_MASTER, FLAG_MASTER_BIND_PORT, FLAG_MASTER_HOST, FLAG_MASTER_PORT, FLAG_WEB_LOGIN,
    FLAG_WORKER, LIB_VOLUME_NAME, MAX_NAME_LENGTH, SECRET_VOLUME_PREFIX,
};
use super::{v1, v2};

/// Flags the operator owns on the Locust command line; extraArgs may not carry them.
pub const TOPOLOGY_FLAGS: [&str; 6] = [
    FLAG_MASTER,
    FLAG_WORKER,
    FLAG_MASTER_HOST,
    FLAG_MASTER_PORT,
    FLAG_MASTER_BIND_PORT,
    FLAG_EXPECT_WORKERS,
];

/// Upper bounds that keep the cost of every CEL rule inside the API server's budget.
pub(super) const MAX_LIST_ITEMS: u64 = 100;
pub(super) const MAX_PATH_LENGTH: u64 = 1024;
pub(super) const MAX_ARG_LENGTH: u64 = 1024;
pub(super) const MAX_ARGS: u64 = 64;
pub(super) const MAX_VOLUME_NAME_LENGTH: u64 = 63;
/// A Secret mounted as `secret-<name>` must keep the volume name within 63 characters.
pub(super) const MAX_SECRET_MOUNT_NAME_LENGTH: u64 = 63 - SECRET_VOLUME_PREFIX.len() as u64;

const MAX_RESOURCE_ENTRIES: u64 = 16;
/// `spec.v2Spec` of v1 objects: the size an annotation could hold before it moved there.
pub(super) const MAX_V2_SPEC_LENGTH: u64 = 256 * 1024;
const MAX_QUANTITY_LENGTH: u64 = 64;

/// Served versions, newest first.
pub const VERSIONS: [&str; 2] = ["v2", "v1"];

/// Why the CRD could not be built: a schema that kube no longer generates in the shape the
/// rules below are written for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrdError {
    #[error(
        "the LocustTest {version} schema has no object at {pointer:?} to put a rule or bound on"
    )]
    MissingNode { version: String, pointer: String },
    #[error("the generated LocustTest CRD has no {version} version with an openAPIV3Schema")]
    MissingSchema { version: &'static str },
    #[error("the LocustTest {version} schema does not convert to and from JSON: {message}")]
    Json { version: String, message: String },
}

/// The merged CRD with every rule and bound applied, v2 as storage version.
pub fn locust_test_crd() -> Result<CustomResourceDefinition, CrdError> {
    static CRD: OnceLock<Result<CustomResourceDefinition, CrdError>> = OnceLock::new();
    CRD.get_or_init(build_crd).clone()
}

/// The openAPIV3Schema of one served version, as the API server sees it; `None` for a version
/// that is not served.
pub fn version_schema(version: &str) -> Result<Option<&'static Value>, CrdError> {
    static SCHEMAS: OnceLock<Result<Vec<(String, Value)>, CrdError>> = OnceLock::new();
    let schemas = SCHEMAS
        .get_or_init(|| {
            locust_test_crd()?
                .spec
                .versions
                .iter()
                .map(|v| Ok((v.name.clone(), schema_value(v)?)))
                .collect()
        })
        .as_ref()
        .map_err(Clone::clone)?;
    Ok(schemas
        .iter()
        .find(|(name, _)| name == version)
        .map(|(_, s)| s))
}

fn schema_value(version: &CustomResourceDefinitionVersion) -> Result<Value, CrdError> {
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema).map_err(|e| json_error(&version.name, &e))
}

fn json_error(version: &str, error: &serde_json::Error) -> CrdError {
    CrdError::Json {
        version: version.to_string(),
        message: error.to_string(),
    }
}

fn build_crd() -> Result<CustomResourceDefinition, CrdError> {
    let versions = vec![
        shaped_version(v2::LocustTest::crd(), "v2", shape_v2)?,
        shaped_version(v1::LocustTest::crd(), "v1", shape_v1)?,
    ];
    let mut crd = v2::LocustTest::crd();
    crd.spec.versions = versions;
    Ok(crd)
}

/// The single version of `crd`, its schema normalized and shaped by `shape`.
fn shaped_version(
    mut crd: CustomResourceDefinition,
    version: &'static str,
    shape: fn(&mut Shaping) -> Result<(), CrdError>,
) -> Result<CustomResourceDefinitionVersion, CrdError> {
    let mut served = crd
        .spec
        .versions
        .pop()
        .filter(|v| v.name == version)
        .ok_or(CrdError::MissingSchema { version })?;
    let schema = served
        .schema
        .as_mut()
        .and_then(|s| s.open_api_v3_schema.as_mut())
        .ok_or(CrdError::MissingSchema { version })?;
    let mut value = serde_json::to_value(&*schema).map_err(|e| json_error(version, &e))?;
    normalize(&mut value);
    shape(&mut Shaping::new(version, &mut value))?;
    *schema = serde_json::from_value(value).map_err(|e| json_error(version, &e))?;
    Ok(served)
}

/// Drops what the API server does not need or would treat differently from our intent:
/// `nullable` (so a null is pruned and defaulted instead of stored), `null` in enums, and
/// line wrapping inside descriptions (kept as paragraphs).
pub(super) fn normalize(node: &mut Value) {
    match node {
        Value::Object(map) => {
            map.remove("nullable");
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            if let Some(Value::String(text)) = map.get_mut("description") {
                *text = unwrap_paragraphs(text);
            }
            for child in map.values_mut() {
                normalize(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn unwrap_paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Keeps the description of `node` itself and removes every description below it: embedded
/// core types (Volume, Affinity, SecurityContext...) carry long upstream texts that would push
/// the CRD past the 256 KiB limit of client-side apply.
fn strip_nested_descriptions(node: &mut Map<String, Value>) {
    fn strip(node: &mut Value) {
        match node {
            Value::Object(map) => {
                map.remove("description");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    for (key, child) in node.iter_mut() {
        if key != "description" {
            strip(child);
        }
    }
}

/// One version's schema while rules and bounds are patched in. Every pointer must name an
/// object in the schema; one that does not is a [`CrdError::MissingNode`].
pub(super) struct Shaping<'a> {
    version: &'static str,
    schema: &'a mut Value,
}

impl<'a> Shaping<'a> {
    pub(super) fn new(version: &'static str, schema: &'a mut Value) -> Self {
        Shaping { version, schema }
    }

    pub(super) fn node(&mut self, pointer: &str) -> Result<&mut Map<String, Value>, CrdError> {
        match self.schema.pointer_mut(pointer) {
            Some(Value::Object(map)) => Ok(map),
            _ => Err(CrdError::MissingNode {
                version: self.version.to_string(),
                pointer: pointer.to_string(),
            }),
        }
    }

    fn set(&mut self, pointer: &str, key: &str, value: Value) -> Result<(), CrdError> {
        self.node(pointer)?.insert(key.to_string(), value);
        Ok(())
    }

    pub(super) fn add_rule(
        &mut self,
        pointer: &str,
        rule: &str,
        message: &str,
    ) -> Result<(), CrdError> {
        let rules = self
            .node(pointer)?
            .entry("x-kubernetes-validations")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(rules) = rules {
            rules.push(json!({ "rule": rule, "message": message }));
        }
        Ok(())
    }

    pub(super) fn strip_nested_descriptions(&mut self, pointer: &str) -> Result<(), CrdError> {
        strip_nested_descriptions(self.node(pointer)?);
        Ok(())
    }
}

/// CEL for "path `p` equals, contains or sits inside path `r`", ignoring one trailing slash.
fn paths_overlap(p: &str, r: &str) -> String {
    let trim = |x: &str| format!("({x}.endsWith('/') ? {x}.substring(0, {x}.size() - 1) : {x})");
    let (p, r) = (trim(p), trim(r));
    format!("({p} == {r} || {p}.startsWith({r} + '/') || {r}.startsWith({p} + '/'))")
}

/// CEL for the effective test-file and library mount paths of a spec bound to `spec`.
fn reserved_paths(spec: &str) -> [String; 2] {
    let tf = format!("{spec}.testFiles");
    [
        format!(
            "(has({tf}) && has({tf}.srcMountPath) ? {tf}.srcMountPath : '{DEFAULT_SRC_MOUNT_PATH}')"
        ),
        format!(
            "(has({tf}) && has({tf}.libMountPath) ? {tf}.libMountPath : '{DEFAULT_LIB_MOUNT_PATH}')"
        ),
    ]
}

fn not_reserved(spec: &str, path: &str) -> String {
    let [src, lib] = reserved_paths(spec);
    format!(
        "!{} && !{}",
        paths_overlap(path, &src),
        paths_overlap(path, &lib)
    )
}

fn name_length_rule(s: &mut Shaping) -> Result<(), CrdError> {
    s.add_rule(
        "",
        &format!("self.metadata.name.size() <= {MAX_NAME_LENGTH}"),
        &format!(
            "metadata.name may be at most {MAX_NAME_LENGTH} characters, so that <name>-worker fits a 63-character label value; choose a shorter name"
        ),
    )?;
    Ok(())
}

fn immutable_spec_rule(s: &mut Shaping) -> Result<(), CrdError> {
    s.add_rule(
        "/properties/spec",
        "self == oldSelf",
        "spec is immutable once the test is created: delete the LocustTest and create it again to change the test",
    )?;
    Ok(())
}

fn shape_v2(s: &mut Shaping) -> Result<(), CrdError> {
    const SPEC: &str = "/properties/spec/properties";
    // Embedded core types: keep our field text, drop the upstream descriptions below it.
    for pointer in [
        "/properties/spec/properties/imagePullSecrets",
        "/properties/spec/properties/master/properties/resources",
        "/properties/spec/properties/worker/properties/resources",
        "/properties/spec/properties/scheduling/properties/affinity",
        "/properties/spec/properties/scheduling/properties/tolerations",
        "/properties/spec/properties/env/properties/variables",
        "/properties/spec/properties/volumes",
        "/properties/spec/properties/security/properties/podSecurityContext",
        "/properties/spec/properties/security/properties/containerSecurityContext",
        "/properties/status/properties/conditions",
        "/properties/status/properties/startTime",
        "/properties/status/properties/completionTime",
    ] {
        s.strip_nested_descriptions(pointer)?;
    }

    // Bounds inside embedded core types; the fields of our own types carry theirs.
    s.set(
        &format!("{SPEC}/volumes/items/properties/name"),
        "maxLength",
        json!(MAX_VOLUME_NAME_LENGTH),
    )?;
    // Resource maps: a bounded number of entries of bounded length, so that the quantity
    // rules below stay within the CEL cost budget.
    for role in ["master", "worker"] {
        for kind in ["limits", "requests"] {
            let map = format!("{SPEC}/{role}/properties/resources/properties/{kind}");
            s.set(&map, "maxProperties", json!(MAX_RESOURCE_ENTRIES))?;
            s.set(
                &format!("{map}/additionalProperties"),
                "maxLength",
                json!(MAX_QUANTITY_LENGTH),
            )?;
        }
    }

    name_length_rule(s)?;
    s.add_rule(
        "",
        // The names are computed once, not per volume: that keeps the rule's cost in budget.
        "!has(self.spec.volumes) || (!((self.metadata.name.replace('.', '-') + '-master') in self.spec.volumes.map(v, v.name)) && !((self.metadata.name.replace('.', '-') + '-worker') in self.spec.volumes.map(v, v.name)))",
        "spec.volumes: a volume may not be named <name>-master or <name>-worker; the operator uses those names for the test files",
    )?;
    immutable_spec_rule(s)?;

    s.add_rule(
        "/properties/spec",
        &format!(
            "!has(self.volumes) || self.volumes.all(v, !v.name.startsWith('{SECRET_VOLUME_PREFIX}') && v.name != '{LIB_VOLUME_NAME}')"
        ),
        &format!(
            "spec.volumes: a volume name may not start with '{SECRET_VOLUME_PREFIX}' or be '{LIB_VOLUME_NAME}'; the operator uses those names for secretMounts and the library files"
        ),
    )?;
    s.add_rule(
        "/properties/spec",
        "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))",
        "spec.volumeMounts: every mount must name a volume defined in spec.volumes",
    )?;
    s.add_rule(
        "/properties/spec",
        &format!(
            "!has(self.volumeMounts) || self.volumeMounts.all(m, {})",
            not_reserved("self", "m.mountPath")
        ),
        "spec.volumeMounts: a mountPath may not equal, contain or sit inside the test files path (testFiles.srcMountPath, default /lotest/src) or the library path (testFiles.libMountPath, default /opt/locust/lib)",
    )?;
    s.add_rule(
        "/properties/spec",
        &format!(
            "!has(self.env) || !has(self.env.secretMounts) || self.env.secretMounts.all(m, {})",
            not_reserved("self", "m.mountPath")
        ),
        "spec.env.secretMounts: a mountPath may not equal, contain or sit inside the test files path (testFiles.srcMountPath, default /lotest/src) or the library path (testFiles.libMountPath, default /opt/locust/lib)",
    )?;

    for role in ["master", "worker"] {
        for kind in ["limits", "requests"] {
            s.add_rule(
                &format!("{SPEC}/{role}/properties/resources/properties/{kind}"),
                "self.all(k, isQuantity(string(self[k])))",
                &format!(
                    "spec.{role}.resources.{kind}: every value must be a quantity such as 500m, 2, 512Mi or 1Gi"
                ),
            )?;
        }
    }
    for flag in [FLAG_HEADLESS, FLAG_WEB_LOGIN] {
        s.add_rule(
            "/properties/spec",
            &format!(
                "!has(self.thresholds) || !(self.master.command.contains('{flag}') || (has(self.master.extraArgs) && self.master.extraArgs.exists(a, a == '{flag}')))"
            ),
            &format!(
                "spec.thresholds are checked against the master's web UI, which {flag} makes unreadable for the operator: remove {flag} from spec.master (the operator's --autostart already starts the test) or remove spec.thresholds"
            ),
        )?;
    }
    Ok(())
}

fn shape_v1(s: &mut Shaping) -> Result<(), CrdError> {
    for pointer in [
        "/properties/status/properties/conditions",
        "/properties/status/properties/startTime",
        "/properties/status/properties/completionTime",
    ] {
        s.strip_nested_descriptions(pointer)?;
    }
    name_length_rule(s)?;
    immutable_spec_rule(s)?;
    // Also covered by the spec rule above; this one says what to do about it.
    s.add_rule(
        "/properties/spec",
        "has(self.v2Spec) == has(oldSelf.v2Spec) && (!has(self.v2Spec) || self.v2Spec == oldSelf.v2Spec)",
        "spec.v2Spec holds the locust.io/v2 fields of this test that v1 cannot show; a locust.io/v1 write must keep it exactly as read. Write the test as locust.io/v2 instead (kubectl get locusttests.v2.locust.io NAME -o yaml), or delete it and create it again to change it",
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn crd_has_both_versions_with_v2_stored() {
        let crd = locust_test_crd().unwrap();
        let names: Vec<_> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["v2", "v1"]);
        let v2 = &crd.spec.versions[0];
        assert!(v2.storage && v2.served && v2.deprecated != Some(true));
        let v1 = &crd.spec.versions[1];
        assert!(!v1.storage && v1.served && v1.deprecated == Some(true));
        assert!(
            v1.deprecation_warning
                .as_deref()
                .is_some_and(|w| w.contains("locust.io/v2"))
        );
        assert_eq!(crd.spec.names.short_names, Some(vec!["lotest".to_string()]));
    }

    #[test]
    fn crd_fits_client_side_apply_annotation() {
        let yaml = serde_json::to_string(&locust_test_crd().unwrap()).unwrap();
        // kubectl stores the whole object in an annotation capped at 256 KiB.
        assert!(yaml.len() < 200 * 1024, "CRD is {} bytes", yaml.len());
    }

    #[test]
    fn schema_has_no_nullable_and_keeps_our_docs() {
        let schema = version_schema("v2").unwrap().unwrap();
        let text = schema.to_string();
        assert!(!text.contains("\"nullable\""));
        let replicas =
            &schema["properties"]["spec"]["properties"]["worker"]["properties"]["replicas"];
        assert!(
            replicas["description"]
                .as_str()
                .is_some_and(|d| d.contains("1 to 500"))
        );
        let volume_name =
            &schema["properties"]["spec"]["properties"]["volumes"]["items"]["properties"]["name"];
        assert!(volume_name.get("description").is_none());
    }

    const SPEC: &str = "/properties/spec";
    const MASTER: &str = "/properties/spec/properties/master";
    const WORKER: &str = "/properties/spec/properties/worker";
    const THRESHOLDS: &str = "/properties/spec/properties/thresholds";

    /// Every CEL rule of each version: where it sits and how its message starts.
    fn expected_rules(version: &str) -> Vec<(String, &'static str)> {
        let mut rules = vec![
            (String::new(), "metadata.name may be at most"),
            (
                SPEC.to_string(),
                "spec is immutable once the test is created",
            ),
        ];
        if version == "v1" {
            rules.push((
                SPEC.to_string(),
                "spec.v2Spec holds the locust.io/v2 fields",
            ));
            return rules;
        }
        let spec = |p: &str| format!("{SPEC}/properties/{p}");
        rules.extend([
            (
                String::new(),
                "spec.volumes: a volume may not be named <name>-master",
            ),
            (
                SPEC.to_string(),
                "spec.volumes: a volume name may not start with 'secret-'",
            ),
            (
                SPEC.to_string(),
                "spec.volumeMounts: every mount must name a volume",
            ),
            (
                SPEC.to_string(),
                "spec.volumeMounts: a mountPath may not equal",
            ),
            (
                SPEC.to_string(),
                "spec.env.secretMounts: a mountPath may not equal",
            ),
            (
                SPEC.to_string(),
                "spec.thresholds are checked against the master's web UI, which --headless",
            ),
            (
                SPEC.to_string(),
                "spec.thresholds are checked against the master's web UI, which --web-login",
            ),
            (
                spec("env/properties/secretMounts"),
                "spec.env.secretMounts: each Secret may be mounted only once",
            ),
            (
                MASTER.to_string(),
                "spec.master.autoquit needs spec.master.autostart",
            ),
            (
                MASTER.to_string(),
                "spec.master.webUI.basePath may not be combined with --web-base-path",
            ),
            (
                format!("{MASTER}/properties/extraArgs/items"),
                "spec.master.extraArgs may not contain --master, --worker",
            ),
            (
                format!("{MASTER}/properties/extraArgs/items"),
                "spec.master.extraArgs may not contain --processes",
            ),
            (
                format!("{WORKER}/properties/extraArgs/items"),
                "spec.worker.extraArgs may not contain --master, --worker",
            ),
            (
                WORKER.to_string(),
                "spec.worker.processes may not be combined with --processes",
            ),
            (
                spec("observability/properties/openTelemetry"),
                "spec.observability.openTelemetry.endpoint is required",
            ),
            (THRESHOLDS.to_string(), "spec.thresholds needs limits"),
            (
                format!("{THRESHOLDS}/properties/baseline"),
                "spec.thresholds.baseline needs a ratio",
            ),
            (
                THRESHOLDS.to_string(),
                "spec.thresholds.stopOnBreach watches maximums",
            ),
            (
                format!("{THRESHOLDS}/properties/aggregate"),
                "a limits block needs at least one limit",
            ),
            (
                format!("{THRESHOLDS}/properties/endpoints/items/properties/limits"),
                "a limits block needs at least one limit",
            ),
        ]);
        for (pointer, messages) in [
            (
                MASTER,
                [
                    "spec.master.resources: a request may not exceed its limit",
                    "spec.master.resources.limits: every value must be a quantity",
                    "spec.master.resources.requests: every value must be a quantity",
                ],
            ),
            (
                WORKER,
                [
                    "spec.worker.resources: a request may not exceed its limit",
                    "spec.worker.resources.limits: every value must be a quantity",
                    "spec.worker.resources.requests: every value must be a quantity",
                ],
            ),
        ] {
            let resources = format!("{pointer}/properties/resources");
            rules.extend([
                (resources.clone(), messages[0]),
                (format!("{resources}/properties/limits"), messages[1]),
                (format!("{resources}/properties/requests"), messages[2]),
            ]);
        }
        rules
    }

    /// Every rule in `node` and below, as (JSON pointer, message).
    fn rules_in(node: &Value, pointer: &str, found: &mut Vec<(String, String)>) {
        let Value::Object(map) = node else { return };
        if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
            for rule in rules {
                let message = rule["message"].as_str().unwrap_or_default();
                found.push((pointer.to_string(), message.to_string()));
            }
        }
        for (key, child) in map {
            let key = key.replace('~', "~0").replace('/', "~1");
            rules_in(child, &format!("{pointer}/{key}"), found);
        }
    }

    #[test]
    fn every_rule_lands_at_its_field() {
        for version in VERSIONS {
            let mut found = Vec::new();
            rules_in(version_schema(version).unwrap().unwrap(), "", &mut found);
            let mut expected = expected_rules(version);
            for (pointer, message) in &found {
                let index = expected
                    .iter()
                    .position(|(p, start)| p == pointer && message.starts_with(start));
                let index = index.unwrap_or_else(|| {
                    panic!("{version}: unexpected rule at {pointer:?}: {message}")
                });
                expected.remove(index);
            }
            assert_eq!(expected, [], "{version}: rules missing from their place");
        }
    }

    #[test]
    fn every_bound_lands_at_its_field() {
        let schema = version_schema("v2").unwrap().unwrap();
        let spec = |p: &str| format!("{SPEC}/properties/{p}");
        let mut expected = vec![];
        for list in [
            "volumes",
            "volumeMounts",
            "env/properties/secretMounts",
            "env/properties/variables",
            "env/properties/configMapRefs",
            "env/properties/secretRefs",
            "imagePullSecrets",
            "scheduling/properties/tolerations",
        ] {
            expected.push((spec(list), "maxItems", MAX_LIST_ITEMS));
        }
        for (string, key, bound) in [
            (
                "volumes/items/properties/name",
                "maxLength",
                MAX_VOLUME_NAME_LENGTH,
            ),
            (
                "volumeMounts/items/properties/name",
                "maxLength",
                MAX_VOLUME_NAME_LENGTH,
            ),
            (
                "volumeMounts/items/properties/mountPath",
                "maxLength",
                MAX_PATH_LENGTH,
            ),
            ("volumeMounts/items/properties/mountPath", "minLength", 1),
            (
                "env/properties/secretMounts/items/properties/name",
                "maxLength",
                MAX_SECRET_MOUNT_NAME_LENGTH,
            ),
            (
                "env/properties/secretMounts/items/properties/mountPath",
                "maxLength",
                MAX_PATH_LENGTH,
            ),
            (
                "env/properties/secretMounts/items/properties/mountPath",
                "minLength",
                1,
            ),
            (
                "testFiles/properties/srcMountPath",
                "maxLength",
                MAX_PATH_LENGTH,
            ),
            ("testFiles/properties/srcMountPath", "minLength", 1),
            (
                "testFiles/properties/libMountPath",
                "maxLength",
                MAX_PATH_LENGTH,
            ),
            ("testFiles/properties/libMountPath", "minLength", 1),
            ("image", "minLength", 1),
        ] {
            expected.push((spec(string), key, bound));
        }
        for role in ["master", "worker"] {
            let field = |p: &str| spec(&format!("{role}/properties/{p}"));
            expected.extend([
                (field("command"), "minLength", 1),
                (field("extraArgs"), "maxItems", MAX_ARGS),
                (field("extraArgs/items"), "maxLength", MAX_ARG_LENGTH),
            ]);
            for kind in ["limits", "requests"] {
                let map = field(&format!("resources/properties/{kind}"));
                expected.extend([
                    (map.clone(), "maxProperties", MAX_RESOURCE_ENTRIES),
                    (
                        format!("{map}/additionalProperties"),
                        "maxLength",
                        MAX_QUANTITY_LENGTH,
                    ),
                ]);
            }
        }
        // Numeric ranges come out of schemars as floats.
        let processes = spec("worker/properties/processes");
        for (key, bound) in [
            ("minimum", 1.0),
            ("maximum", f64::from(v2::MAX_WORKER_PROCESSES)),
        ] {
            let found = schema.pointer(&format!("{processes}/{key}"));
            assert_eq!(found, Some(&json!(bound)), "v2: {key} at {processes}");
        }
        for (pointer, key, bound) in expected {
            let found = schema.pointer(&format!("{pointer}/{key}"));
            assert_eq!(found, Some(&json!(bound)), "v2: {key} at {pointer}");
        }
        let v1 = version_schema("v1").unwrap().unwrap();
        assert_eq!(
            v1.pointer("/properties/spec/properties/v2Spec/maxLength"),
            Some(&json!(MAX_V2_SPEC_LENGTH))
        );
    }

    #[test]
    fn a_pointer_that_misses_is_an_error_naming_it() {
        let mut schema = json!({ "properties": { "spec": { "type": "object" } } });
        let mut shaping = Shaping::new("v2", &mut schema);
        let missing = "/properties/spec/properties/master";
        let error = CrdError::MissingNode {
            version: "v2".to_string(),
            pointer: missing.to_string(),
        };
        assert_eq!(shaping.add_rule(missing, "true", "m"), Err(error.clone()));
        assert_eq!(
            shaping.set(missing, "maxItems", json!(1)),
            Err(error.clone())
        );
        assert_eq!(
            shaping.strip_nested_descriptions(missing),
            Err(error.clone())
        );
        assert!(error.to_string().contains(missing));
        assert_eq!(shaping.add_rule("/properties/spec", "true", "m"), Ok(()));
    }
}
