//! What a release is called and where it is published: version, images, package, links.
//! Every distribution (config/, the Helm chart, the OLM bundle and catalog) reads these.

use crate::config::DEFAULT_EXPORTER_IMAGE;

/// The release version: the crate's, so `Cargo.toml` is the only place it is written.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The source repository.
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
/// SPDX licence of the operator and its chart.
pub const LICENSE: &str = env!("CARGO_PKG_LICENSE");
/// One-line description.
pub const SUMMARY: &str = env!("CARGO_PKG_DESCRIPTION");

/// Registry path of the operator image; the tag is [`VERSION`].
pub const OPERATOR_IMAGE_REPOSITORY: &str = "ghcr.io/locust-k8s-operator/locust-k8s-operator";
/// Registry path of the OLM bundle image; the tag is `v<VERSION>`.
pub const BUNDLE_IMAGE_REPOSITORY: &str = "ghcr.io/locust-k8s-operator/locust-k8s-operator-bundle";
/// Registry path of the file-based catalog image (tags `latest` and `v<VERSION>`).
pub const CATALOG_IMAGE_REPOSITORY: &str =
    "ghcr.io/locust-k8s-operator/locust-k8s-operator-catalog";
/// Base image of the catalog image: opm at the version pinned in hack/versions.env.
pub const OPM_IMAGE: &str = "quay.io/operator-framework/opm:v1.73.0";

/// Versions published before [`VERSION`], oldest first: the catalog keeps their bundles and
/// chains each release to the one before. Append the outgoing version when bumping Cargo.toml.
pub const PREVIOUS_VERSIONS: &[&str] = &[];

/// Name of the operator's Deployment, ServiceAccount and RBAC objects outside Helm, and of the
/// OLM package.
pub const PACKAGE: &str = "locust-k8s-operator";
/// The namespace `config/` installs into and OLM suggests.
pub const NAMESPACE: &str = "locust-operator-system";
/// The OLM channel every release is published in.
pub const CHANNEL: &str = "stable";
/// Human name in catalogs.
pub const DISPLAY_NAME: &str = "Locust Operator";
/// Who publishes it.
pub const PROVIDER: &str = "locust-k8s-operator project";
/// Maintainers: (name, email).
pub const MAINTAINERS: [(&str, &str); 1] = [(
    "locust-k8s-operator maintainers",
    "maintainers@locust-k8s-operator.dev",
)];
/// Search keywords.
pub const KEYWORDS: [&str; 6] = [
    "locust",
    "load-testing",
    "performance-testing",
    "distributed",
    "opentelemetry",
    "prometheus",
];
/// Release date of [`VERSION`] (RFC 3339): the CSV's `createdAt`. Written here rather than taken
/// from the clock so that `generate` is reproducible; set it when bumping the version.
pub const RELEASE_DATE: &str = "2026-11-22T00:00:00Z";
/// Lowest Kubernetes version: native sidecars and CEL validation rules need 1.29.
pub const MIN_KUBE_VERSION: &str = "1.29.0";
/// OpenShift releases the bundle is offered for: 4.16 (Kubernetes 1.29) and later.
pub const OPENSHIFT_VERSIONS: &str = "v4.16";
/// CPU architectures the images are built for.
pub const ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];

/// The operator image of this release.
pub fn operator_image() -> String {
    format!("{OPERATOR_IMAGE_REPOSITORY}:{VERSION}")
}

/// The OLM bundle image of this release.
pub fn bundle_image() -> String {
    format!("{BUNDLE_IMAGE_REPOSITORY}:v{VERSION}")
}

/// The metrics exporter sidecar the operator adds to master pods.
pub fn exporter_image() -> &'static str {
    DEFAULT_EXPORTER_IMAGE
}

/// Name of this release's ClusterServiceVersion: `<package>.v<version>`.
pub fn csv_name() -> String {
    format!("{PACKAGE}.v{VERSION}")
}

/// The repository's README, the entry point of the documentation.
pub fn readme_url() -> String {
    format!("{REPOSITORY}#readme")
}

/// Documentation page in the repository.
pub fn docs_url(page: &str) -> String {
    format!("{REPOSITORY}/blob/main/docs/{page}")
}

/// The icon shown by OperatorHub, Artifact Hub and the OpenShift console.
pub const ICON_SVG: &str = include_str!("assets/icon.svg");
/// Where the icon is published (Chart.yaml wants a URL).
pub fn icon_url() -> String {
    format!(
        "{}/main/src/manifests/assets/icon.svg",
        REPOSITORY.replace("https://github.com/", "https://raw.githubusercontent.com/")
    )
}

/// Base64 without line breaks (RFC 4648), for the icon in the CSV and the catalog.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn opm_image_follows_the_pinned_tool_version() {
        let versions = include_str!("../../hack/versions.env");
        let pinned = versions
            .lines()
            .find_map(|line| line.strip_prefix("OPM_VERSION="))
            .unwrap_or_default();
        assert_eq!(OPM_IMAGE.rsplit_once(":v").map(|(_, v)| v), Some(pinned));
    }

    #[test]
    fn version_is_semver() {
        assert!(semver::Version::parse(VERSION).is_ok());
        assert!(semver::Version::parse(MIN_KUBE_VERSION).is_ok());
    }
}
