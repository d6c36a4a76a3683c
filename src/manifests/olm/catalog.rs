//! The file-based catalog of the package: `olm.package`, the `stable` channel, and one
//! `olm.bundle` per release, as `opm render` would write them, without pulling any image.
//!
//! The upgrade graph: each release `replaces` the one before it, so the channel has a single
//! head and no stranded entry. The first release has no `replaces`.

use serde_json::{Value, json};

use crate::api::names::{GROUP, KIND};
use crate::manifests::release::{self, BUNDLE_IMAGE_REPOSITORY, CHANNEL, PACKAGE};

use super::csv::{OWNED_VERSION, related_images};

/// A release published before this one (its bundle image is in the registry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousRelease {
    pub version: String,
}

/// Releases published before [`release::VERSION`], oldest first. Append the version being
/// replaced when bumping the version in Cargo.toml.
pub fn previous_releases() -> Vec<PreviousRelease> {
    release::PREVIOUS_VERSIONS
        .iter()
        .map(|v| PreviousRelease {
            version: v.to_string(),
        })
        .collect()
}

fn bundle_name(version: &str) -> String {
    format!("{PACKAGE}.v{version}")
}

fn bundle_image(version: &str) -> String {
    format!("{BUNDLE_IMAGE_REPOSITORY}:v{version}")
}

fn package_property(version: &str) -> Value {
    json!({ "type": "olm.package", "value": { "packageName": PACKAGE, "version": version } })
}

fn gvk_property() -> Value {
    json!({ "type": "olm.gvk", "value": { "group": GROUP, "kind": KIND, "version": OWNED_VERSION } })
}

/// `olm.csv.metadata`: what the console shows before installing, taken from the CSV.
fn csv_metadata(csv: &Value) -> Value {
    let spec = &csv["spec"];
    let mut metadata = json!({
        "annotations": csv["metadata"]["annotations"],
        "labels": csv["metadata"]["labels"],
        "crdDescriptions": spec["customresourcedefinitions"],
    });
    for key in [
        "description",
        "displayName",
        "installModes",
        "keywords",
        "links",
        "maintainers",
        "maturity",
        "minKubeVersion",
        "provider",
    ] {
        metadata[key] = spec[key].clone();
    }
    json!({ "type": "olm.csv.metadata", "value": metadata })
}

/// The catalog's blobs: package, channel, then bundles oldest first.
pub fn blobs(csv: &Value, previous: &[PreviousRelease]) -> Vec<Value> {
    let mut versions: Vec<&str> = previous.iter().map(|p| p.version.as_str()).collect();
    versions.push(release::VERSION);
    let entries: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, version)| {
            let mut entry = json!({ "name": bundle_name(version) });
            if i > 0 {
                entry["replaces"] = json!(bundle_name(versions[i - 1]));
            }
            entry
        })
        .collect();

    let mut blobs = vec![
        json!({
            "schema": "olm.package",
            "name": PACKAGE,
            "defaultChannel": CHANNEL,
            "icon": csv["spec"]["icon"][0],
            "description": csv["metadata"]["annotations"]["description"],
        }),
        json!({
            "schema": "olm.channel",
            "package": PACKAGE,
            "name": CHANNEL,
            "entries": entries,
        }),
    ];
    for release in previous {
        blobs.push(json!({
            "schema": "olm.bundle",
            "package": PACKAGE,
            "name": bundle_name(&release.version),
            "image": bundle_image(&release.version),
            "properties": [package_property(&release.version), gvk_property()],
        }));
    }
    let mut related = vec![json!({ "name": "", "image": release::bundle_image() })];
    if let Value::Array(images) = related_images() {
        related.extend(images);
    }
    blobs.push(json!({
        "schema": "olm.bundle",
        "package": PACKAGE,
        "name": release::csv_name(),
        "image": release::bundle_image(),
        "properties": [package_property(release::VERSION), gvk_property(), csv_metadata(csv)],
        "relatedImages": related,
    }));
    blobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_replaces_the_one_before() {
        let previous = vec![
            PreviousRelease {
                version: "0.0.1".into(),
            },
            PreviousRelease {
                version: "0.0.2".into(),
            },
        ];
        let blobs = blobs(&json!({}), &previous);
        let entries = &blobs[1]["entries"];
        assert_eq!(entries[0], json!({ "name": bundle_name("0.0.1") }));
        assert_eq!(
            entries[1],
            json!({ "name": bundle_name("0.0.2"), "replaces": bundle_name("0.0.1") })
        );
        assert_eq!(entries[2]["replaces"], json!(bundle_name("0.0.2")));
        assert_eq!(blobs.len(), 2 + 3);
    }

    #[test]
    fn first_release_has_a_single_entry_without_replaces() {
        let blobs = blobs(&json!({}), &[]);
        assert_eq!(
            blobs[1]["entries"],
            json!([{ "name": release::csv_name() }])
        );
    }
}
