//! The OLM bundle (`bundle/`) and the file-based catalog (`catalog/`).

pub mod catalog;
pub mod csv;
pub mod descriptors;
pub mod schedule_descriptors;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use crate::api::names::{GROUP, PLURAL, SCHEDULE_PLURAL};
use crate::api::schedule_crd::schedule_crd;

use super::crd::crd_with_conversion;
use super::yaml::{RenderError, plain};
use super::{GENERATED_HEADER, release, to_yaml};

/// The bundle's metadata annotations (also the bundle image's labels).
pub fn bundle_annotations() -> Vec<(&'static str, String)> {
    vec![
        (
            "operators.operatorframework.io.bundle.mediatype.v1",
            "registry+v1".to_string(),
        ),
        (
            "operators.operatorframework.io.bundle.manifests.v1",
            "manifests/".to_string(),
        ),
        (
            "operators.operatorframework.io.bundle.metadata.v1",
            "metadata/".to_string(),
        ),
        (
            "operators.operatorframework.io.bundle.package.v1",
            release::PACKAGE.to_string(),
        ),
        (
            "operators.operatorframework.io.bundle.channels.v1",
            release::CHANNEL.to_string(),
        ),
        (
            "operators.operatorframework.io.bundle.channel.default.v1",
            release::CHANNEL.to_string(),
        ),
        (
            "com.redhat.openshift.versions",
            release::OPENSHIFT_VERSIONS.to_string(),
        ),
    ]
}

/// Every file of `bundle/`.
pub fn render_bundle() -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let operator = csv::operator();
    // OLM replaces the conversion stanza with its own Service and CA; this one only has to be
    // valid (strategy Webhook needs a clientConfig).
    let crd = crd_with_conversion(&csv::olm_webhook_service(), release::NAMESPACE)?;
    let mut metrics = operator.metrics_service();
    metrics.metadata.namespace = None;
    let metrics_name = metrics.metadata.name.clone().unwrap_or_default();
    let annotations: serde_json::Map<String, serde_json::Value> = bundle_annotations()
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let labels: String = bundle_annotations()
        .iter()
        .map(|(k, v)| format!("LABEL {k}={v}\n"))
        .collect();

    let mut files = BTreeMap::new();
    files.insert(
        format!(
            "bundle/manifests/{}.clusterserviceversion.yaml",
            release::PACKAGE
        ),
        to_yaml(&csv::csv()?)?,
    );
    files.insert(
        format!("bundle/manifests/{GROUP}_{PLURAL}.yaml"),
        to_yaml(&crd)?,
    );
    files.insert(
        format!("bundle/manifests/{GROUP}_{SCHEDULE_PLURAL}.yaml"),
        to_yaml(&schedule_crd()?)?,
    );
    files.insert(
        format!("bundle/manifests/{metrics_name}_v1_service.yaml"),
        to_yaml(&metrics)?,
    );
    files.insert(
        "bundle/metadata/annotations.yaml".to_string(),
        to_yaml(&json!({ "annotations": annotations }))?,
    );
    files.insert(
        "bundle/Containerfile".to_string(),
        format!(
            "{GENERATED_HEADER}# The OLM bundle image ({image}). Build from bundle/:\n#   podman build -f bundle/Containerfile -t {image} bundle/\nFROM scratch\n{labels}COPY manifests /manifests/\nCOPY metadata /metadata/\n",
            image = release::bundle_image(),
        ),
    );
    Ok(files
        .into_iter()
        .map(|(path, content)| (PathBuf::from(path), content))
        .collect())
}

/// Every file of `catalog/`.
pub fn render_catalog() -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let blobs = catalog::blobs(&csv::csv()?, &catalog::previous_releases());
    // No `---` before the first blob: opm reads a comment-only document as a blob without schema.
    let mut documents = Vec::new();
    for blob in &blobs {
        documents.push(plain(blob)?);
    }
    let text = format!("{GENERATED_HEADER}{}", documents.join("---\n"));
    let mut files = BTreeMap::new();
    files.insert(
        PathBuf::from(format!("catalog/{}/catalog.yaml", release::PACKAGE)),
        text,
    );
    files.insert(
        PathBuf::from("catalog/.indexignore"),
        format!("{GENERATED_HEADER}# Not part of the catalog: opm skips these.\n/Containerfile\n"),
    );
    files.insert(
        PathBuf::from("catalog/Containerfile"),
        format!(
            "{GENERATED_HEADER}# The file-based catalog image ({image}:latest). Build from catalog/:\n#   podman build -f catalog/Containerfile -t {image}:latest catalog/\n# As `opm generate dockerfile` writes it: the cache is built at image build time.\nFROM {opm} AS builder\nADD . /configs\nRUN [\"/bin/opm\", \"serve\", \"/configs\", \"--cache-dir=/tmp/cache\", \"--cache-only\"]\n\nFROM {opm}\nENTRYPOINT [\"/bin/opm\"]\nCMD [\"serve\", \"/configs\", \"--cache-dir=/tmp/cache\"]\nCOPY --from=builder /configs /configs\nCOPY --from=builder /tmp/cache /tmp/cache\nLABEL operators.operatorframework.io.index.configs.v1=/configs\n",
            image = release::CATALOG_IMAGE_REPOSITORY,
            opm = release::OPM_IMAGE,
        ),
    );
    Ok(files)
}
