//! The builders resolve an absent field to the default the CRD schema documents: a test as the
//! API server stores it (defaults filled) builds the same children as the test as written.

use super::{build, test_with};
use crate::api::crd::version_schema;
use crate::api::defaults::apply_defaults;
use crate::api::v2::LocustTest;

#[test]
fn absent_fields_build_the_same_children_as_the_schema_defaults() {
    let schema = version_schema("v2").unwrap().unwrap();
    for overlay in [
        "",
        "testFiles: {configMapRef: files, libConfigMapRef: lib}",
        "master: {autoquit: {}}",
        "master: {autoquit: {timeout: 5}}",
        "master: {autoquit: {enabled: false}}",
        "env: {secretMounts: [{name: tls, mountPath: /etc/tls}]}",
        "{volumes: [{name: v, emptyDir: {}}], volumeMounts: [{name: v, mountPath: /v}]}",
        "observability: {openTelemetry: {enabled: true, endpoint: http://c:4317}}",
    ] {
        let written = test_with(overlay);
        let mut stored = serde_json::to_value(&written).unwrap();
        apply_defaults(schema, &mut stored);
        let stored: LocustTest = serde_json::from_value(stored).unwrap();
        assert_ne!(
            stored, written,
            "the schema defaults nothing in {overlay:?}"
        );
        assert_eq!(build(&stored), build(&written), "{overlay}");
    }
}
