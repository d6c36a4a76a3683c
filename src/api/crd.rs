//! The merged LocustTest CustomResourceDefinition: both versions, the validation rules, and the
//! schema trimmed to install with a plain `kubectl apply`.
//!
//! The rules are written once here. The API server evaluates them from the CRD, and
//! [`super::validation`] evaluates the very same schema locally.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

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
const MAX_LIST_ITEMS: u64 = 100;
const MAX_PATH_LENGTH: u64 = 1024;
const MAX_ARG_LENGTH: u64 = 1024;
const MAX_ARGS: u64 = 64;
const MAX_VOLUME_NAME_LENGTH: u64 = 63;
/// A Secret mounted as `secret-<name>` must keep the volume name within 63 characters.
const MAX_SECRET_MOUNT_NAME_LENGTH: u64 = 63 - SECRET_VOLUME_PREFIX.len() as u64;

const MAX_RESOURCE_ENTRIES: u64 = 16;
/// `spec.v2Spec` of v1 objects: the size an annotation could hold before it moved there.
const MAX_V2_SPEC_LENGTH: u64 = 256 * 1024;
const MAX_QUANTITY_LENGTH: u64 = 64;

/// Served versions, newest first.
pub const VERSIONS: [&str; 2] = ["v2", "v1"];

/// The merged CRD with every rule and bound applied, v2 as storage version.
pub fn locust_test_crd() -> CustomResourceDefinition {
    static CRD: OnceLock<CustomResourceDefinition> = OnceLock::new();
    CRD.get_or_init(build_crd).clone()
}

/// The openAPIV3Schema of one served version, as the API server sees it.
pub fn version_schema(version: &str) -> Option<&'static Value> {
    static SCHEMAS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        locust_test_crd()
            .spec
            .versions
            .iter()
            .filter_map(|v| {
                let schema = v.schema.as_ref()?.open_api_v3_schema.as_ref()?;
                Some((v.name.clone(), serde_json::to_value(schema).ok()?))
            })
            .collect()
    });
    schemas
        .iter()
        .find(|(name, _)| name == version)
        .map(|(_, s)| s)
}

fn build_crd() -> CustomResourceDefinition {
    let mut versions = Vec::new();
    for (mut crd, shape) in [
        (v2::LocustTest::crd(), shape_v2 as fn(&mut Value)),
        (v1::LocustTest::crd(), shape_v1 as fn(&mut Value)),
    ] {
        let Some(mut version) = crd.spec.versions.pop() else {
            continue;
        };
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            && let Ok(mut value) = serde_json::to_value(&*schema)
        {
            normalize(&mut value);
            shape(&mut value);
            if let Ok(shaped) = serde_json::from_value(value) {
                *schema = shaped;
            }
        }
        versions.push(version);
    }
    let mut crd = v2::LocustTest::crd();
    crd.spec.versions = versions;
    crd
}

/// Drops what the API server does not need or would treat differently from our intent:
/// `nullable` (so a null is pruned and defaulted instead of stored), `null` in enums, and
/// line wrapping inside descriptions (kept as paragraphs).
fn normalize(node: &mut Value) {
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
fn strip_nested_descriptions(node: &mut Value) {
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
    if let Value::Object(map) = node {
        for (key, child) in map.iter_mut() {
            if key != "description" {
                strip(child);
            }
        }
    }
}

fn at<'a>(schema: &'a mut Value, pointer: &str) -> Option<&'a mut Value> {
    schema.pointer_mut(pointer)
}

fn set(schema: &mut Value, pointer: &str, key: &str, value: Value) {
    if let Some(Value::Object(map)) = at(schema, pointer) {
        map.insert(key.to_string(), value);
    }
}

fn add_rule(schema: &mut Value, pointer: &str, rule: &str, message: &str) {
    if let Some(Value::Object(map)) = at(schema, pointer) {
        let rules = map
            .entry("x-kubernetes-validations")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(rules) = rules {
            rules.push(json!({ "rule": rule, "message": message }));
        }
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

fn name_length_rule(schema: &mut Value) {
    add_rule(
        schema,
        "",
        &format!("self.metadata.name.size() <= {MAX_NAME_LENGTH}"),
        &format!(
            "metadata.name may be at most {MAX_NAME_LENGTH} characters, so that <name>-worker fits a 63-character label value; choose a shorter name"
        ),
    );
}

fn immutable_spec_rule(schema: &mut Value) {
    add_rule(
        schema,
        "/properties/spec",
        "self == oldSelf",
        "spec is immutable once the test is created: delete the LocustTest and create it again to change the test",
    );
}

fn shape_v2(schema: &mut Value) {
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
        if let Some(node) = at(schema, pointer) {
            strip_nested_descriptions(node);
        }
    }

    // Bounds that keep rule costs predictable.
    for list in [
        "/master/properties/extraArgs",
        "/worker/properties/extraArgs",
    ] {
        set(
            schema,
            &format!("{SPEC}{list}"),
            "maxItems",
            json!(MAX_ARGS),
        );
    }
    for list in [
        "/volumes",
        "/volumeMounts",
        "/env/properties/secretMounts",
        "/env/properties/variables",
        "/env/properties/configMapRefs",
        "/env/properties/secretRefs",
        "/imagePullSecrets",
        "/scheduling/properties/tolerations",
    ] {
        set(
            schema,
            &format!("{SPEC}{list}"),
            "maxItems",
            json!(MAX_LIST_ITEMS),
        );
    }
    for (string, max) in [
        ("/volumes/items/properties/name", MAX_VOLUME_NAME_LENGTH),
        (
            "/volumeMounts/items/properties/name",
            MAX_VOLUME_NAME_LENGTH,
        ),
        ("/volumeMounts/items/properties/mountPath", MAX_PATH_LENGTH),
        (
            "/env/properties/secretMounts/items/properties/name",
            MAX_SECRET_MOUNT_NAME_LENGTH,
        ),
        (
            "/env/properties/secretMounts/items/properties/mountPath",
            MAX_PATH_LENGTH,
        ),
        ("/testFiles/properties/srcMountPath", MAX_PATH_LENGTH),
        ("/testFiles/properties/libMountPath", MAX_PATH_LENGTH),
        ("/master/properties/extraArgs/items", MAX_ARG_LENGTH),
        ("/worker/properties/extraArgs/items", MAX_ARG_LENGTH),
    ] {
        set(schema, &format!("{SPEC}{string}"), "maxLength", json!(max));
    }
    // Resource maps: a bounded number of entries of bounded length, so that the quantity
    // rules below stay within the CEL cost budget.
    for role in ["master", "worker"] {
        for kind in ["limits", "requests"] {
            let map = format!("{SPEC}/{role}/properties/resources/properties/{kind}");
            set(schema, &map, "maxProperties", json!(MAX_RESOURCE_ENTRIES));
            set(
                schema,
                &format!("{map}/additionalProperties"),
                "maxLength",
                json!(MAX_QUANTITY_LENGTH),
            );
        }
    }
    for path in [
        "/volumeMounts/items/properties/mountPath",
        "/env/properties/secretMounts/items/properties/mountPath",
        "/testFiles/properties/srcMountPath",
        "/testFiles/properties/libMountPath",
    ] {
        set(schema, &format!("{SPEC}{path}"), "minLength", json!(1));
    }
    for field in [
        "/master/properties/command",
        "/worker/properties/command",
        "/image",
    ] {
        set(schema, &format!("{SPEC}{field}"), "minLength", json!(1));
    }

    name_length_rule(schema);
    add_rule(
        schema,
        "",
        // The names are computed once, not per volume: that keeps the rule's cost in budget.
        "!has(self.spec.volumes) || (!((self.metadata.name.replace('.', '-') + '-master') in self.spec.volumes.map(v, v.name)) && !((self.metadata.name.replace('.', '-') + '-worker') in self.spec.volumes.map(v, v.name)))",
        "spec.volumes: a volume may not be named <name>-master or <name>-worker; the operator uses those names for the test files",
    );
    immutable_spec_rule(schema);

    add_rule(
        schema,
        "/properties/spec",
        &format!(
            "!has(self.volumes) || self.volumes.all(v, !v.name.startsWith('{SECRET_VOLUME_PREFIX}') && v.name != '{LIB_VOLUME_NAME}')"
        ),
        &format!(
            "spec.volumes: a volume name may not start with '{SECRET_VOLUME_PREFIX}' or be '{LIB_VOLUME_NAME}'; the operator uses those names for secretMounts and the library files"
        ),
    );
    add_rule(
        schema,
        "/properties/spec",
        "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))",
        "spec.volumeMounts: every mount must name a volume defined in spec.volumes",
    );
    add_rule(
        schema,
        "/properties/spec",
        &format!(
            "!has(self.volumeMounts) || self.volumeMounts.all(m, {})",
            not_reserved("self", "m.mountPath")
        ),
        "spec.volumeMounts: a mountPath may not equal, contain or sit inside the test files path (testFiles.srcMountPath, default /lotest/src) or the library path (testFiles.libMountPath, default /opt/locust/lib)",
    );
    add_rule(
        schema,
        "/properties/spec",
        &format!(
            "!has(self.env) || !has(self.env.secretMounts) || self.env.secretMounts.all(m, {})",
            not_reserved("self", "m.mountPath")
        ),
        "spec.env.secretMounts: a mountPath may not equal, contain or sit inside the test files path (testFiles.srcMountPath, default /lotest/src) or the library path (testFiles.libMountPath, default /opt/locust/lib)",
    );
    add_rule(
        schema,
        &format!("{SPEC}/env/properties/secretMounts"),
        "self.all(a, self.exists_one(b, b.name == a.name))",
        "spec.env.secretMounts: each Secret may be mounted only once",
    );

    let topology = TOPOLOGY_FLAGS
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    for role in ["master", "worker"] {
        add_rule(
            schema,
            &format!("{SPEC}/{role}/properties/extraArgs/items"),
            &format!("![{topology}].exists(f, self == f || self.startsWith(f + '='))"),
            &format!(
                "spec.{role}.extraArgs may not contain {}: the operator sets them to connect the master and its workers",
                TOPOLOGY_FLAGS.join(", ")
            ),
        );
        for kind in ["limits", "requests"] {
            add_rule(
                schema,
                &format!("{SPEC}/{role}/properties/resources/properties/{kind}"),
                "self.all(k, isQuantity(string(self[k])))",
                &format!(
                    "spec.{role}.resources.{kind}: every value must be a quantity such as 500m, 2, 512Mi or 1Gi"
                ),
            );
        }
        add_rule(
            schema,
            &format!("{SPEC}/{role}/properties/resources"),
            "!has(self.limits) || !has(self.requests) || self.requests.all(k, !(k in self.limits) || !isQuantity(string(self.requests[k])) || !isQuantity(string(self.limits[k])) || quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)",
            &format!("spec.{role}.resources: a request may not exceed its limit"),
        );
    }
    add_rule(
        schema,
        &format!("{SPEC}/master/properties/extraArgs/items"),
        "!(self == '--processes' || self.startsWith('--processes='))",
        "spec.master.extraArgs may not contain --processes: Locust refuses it on the master; set it in worker.extraArgs",
    );
    add_rule(
        schema,
        &format!("{SPEC}/master"),
        "!(has(self.autostart) && !self.autostart && has(self.autoquit) && has(self.autoquit.enabled) && self.autoquit.enabled)",
        "spec.master.autoquit needs spec.master.autostart: Locust refuses --autoquit without --autostart; set autoquit.enabled to false or autostart to true",
    );
    for flag in [FLAG_HEADLESS, FLAG_WEB_LOGIN] {
        add_rule(
            schema,
            "/properties/spec",
            &format!(
                "!has(self.thresholds) || !(self.master.command.contains('{flag}') || (has(self.master.extraArgs) && self.master.extraArgs.exists(a, a == '{flag}')))"
            ),
            &format!(
                "spec.thresholds are checked against the master's web UI, which {flag} makes unreadable for the operator: remove {flag} from spec.master (the operator's --autostart already starts the test) or remove spec.thresholds"
            ),
        );
    }
    add_rule(
        schema,
        &format!("{SPEC}/observability/properties/openTelemetry"),
        "!self.enabled || (has(self.endpoint) && self.endpoint.size() > 0)",
        "spec.observability.openTelemetry.endpoint is required when openTelemetry is enabled",
    );
}

fn shape_v1(schema: &mut Value) {
    for pointer in [
        "/properties/status/properties/conditions",
        "/properties/status/properties/startTime",
        "/properties/status/properties/completionTime",
    ] {
        if let Some(node) = at(schema, pointer) {
            strip_nested_descriptions(node);
        }
    }
    name_length_rule(schema);
    immutable_spec_rule(schema);
    set(
        schema,
        "/properties/spec/properties/v2Spec",
        "maxLength",
        json!(MAX_V2_SPEC_LENGTH),
    );
    // Also covered by the spec rule above; this one says what to do about it.
    add_rule(
        schema,
        "/properties/spec",
        "has(self.v2Spec) == has(oldSelf.v2Spec) && (!has(self.v2Spec) || self.v2Spec == oldSelf.v2Spec)",
        "spec.v2Spec holds the locust.io/v2 fields of this test that v1 cannot show; a locust.io/v1 write must keep it exactly as read. Write the test as locust.io/v2 instead (kubectl get locusttests.v2.locust.io NAME -o yaml), or delete it and create it again to change it",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_has_both_versions_with_v2_stored() {
        let crd = locust_test_crd();
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
        let yaml = serde_json::to_string(&locust_test_crd()).unwrap_or_default();
        // kubectl stores the whole object in an annotation capped at 256 KiB.
        assert!(yaml.len() < 200 * 1024, "CRD is {} bytes", yaml.len());
    }

    #[test]
    fn schema_has_no_nullable_and_keeps_our_docs() {
        let schema = version_schema("v2").cloned().unwrap_or_default();
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
}
