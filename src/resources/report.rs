//! The report ConfigMap `<name>-report`: what the master knew when the test ended, kept after
//! the pods are gone. Owned by the test, so it is deleted with it.
//!
//! A ConfigMap holds at most 1 MiB (keys and values of `data` and `binaryData` together); the
//! HTML report alone is about 1 MB, so it is stored gzipped. When the parts still do not fit,
//! the largest is dropped first, and the `locust.io/report-omitted` annotation says which and
//! why, so a report is never silently incomplete.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::names::{
    APP_NAME_LOCUST, LABEL_K8S_COMPONENT, LABEL_K8S_INSTANCE, LABEL_K8S_MANAGED_BY, LABEL_K8S_NAME,
    LABEL_TEST_NAME, OPERATOR_NAME,
};
use crate::api::v2::LocustTest;

use super::{BuildError, Owner};

/// Key of the master's final `/stats/requests` answer (JSON).
pub const REPORT_KEY_STATS: &str = "stats.json";
/// Key of `/stats/requests/csv`.
pub const REPORT_KEY_REQUESTS_CSV: &str = "requests.csv";
/// Key of `/stats/failures/csv`.
pub const REPORT_KEY_FAILURES_CSV: &str = "failures.csv";
/// Key (binaryData) of the gzipped `/stats/report` HTML.
pub const REPORT_KEY_HTML_GZ: &str = "report.html.gz";
/// Annotation listing the parts left out, with the reason.
pub const REPORT_OMITTED_ANNOTATION: &str = "locust.io/report-omitted";
/// `app.kubernetes.io/component` of the report.
pub const REPORT_COMPONENT: &str = "report";
/// What the API server accepts in one ConfigMap (data and binaryData keys and values).
pub const CONFIG_MAP_LIMIT: usize = 1024 * 1024;
/// What the report may use of it: the rest is headroom for keys and metadata.
pub const REPORT_BUDGET: usize = CONFIG_MAP_LIMIT - 16 * 1024;

/// The parts of a report as read from the master. A part the master did not give is `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportParts {
    pub stats_json: Option<String>,
    pub requests_csv: Option<String>,
    pub failures_csv: Option<String>,
    pub report_html: Option<String>,
    /// Parts that could not be read, with why (`report.html: timed out`).
    pub unreadable: Vec<String>,
}

/// `<name>-report`.
pub fn report_name(test_name: &str) -> String {
    format!("{test_name}-report")
}

/// The report ConfigMap of `test`, at most [`REPORT_BUDGET`] bytes of content.
pub fn report_config_map(test: &LocustTest, parts: &ReportParts) -> Result<ConfigMap, BuildError> {
    report_config_map_within(test, parts, REPORT_BUDGET)
}

fn report_config_map_within(
    test: &LocustTest,
    parts: &ReportParts,
    budget: usize,
) -> Result<ConfigMap, BuildError> {
    let owner = Owner::of(test)?;
    let mut text: Vec<(&str, String)> = [
        (REPORT_KEY_STATS, &parts.stats_json),
        (REPORT_KEY_REQUESTS_CSV, &parts.requests_csv),
        (REPORT_KEY_FAILURES_CSV, &parts.failures_csv),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    let mut html = parts.report_html.as_deref().and_then(gzip);
    let mut omitted = parts.unreadable.clone();
    if parts.report_html.is_some() && html.is_none() {
        omitted.push(format!("{REPORT_KEY_HTML_GZ}: cannot compress"));
    }

    // Drop the largest part until the rest fits.
    loop {
        let size = |k: &str, len: usize| k.len() + len;
        let total: usize = text.iter().map(|(k, v)| size(k, v.len())).sum::<usize>()
            + html
                .as_ref()
                .map_or(0, |h| size(REPORT_KEY_HTML_GZ, h.len()));
        if total <= budget {
            break;
        }
        let largest_text = text
            .iter()
            .enumerate()
            .max_by_key(|(_, (_, v))| v.len())
            .map(|(i, (_, v))| (i, v.len()));
        let html_len = html.as_ref().map_or(0, Vec::len);
        match largest_text {
            Some((i, len)) if len >= html_len => {
                let (key, _) = text.remove(i);
                omitted.push(format!(
                    "{key}: {len} bytes do not fit the {budget}-byte ConfigMap budget"
                ));
            }
            _ if html_len > 0 => {
                html = None;
                omitted.push(format!(
                    "{REPORT_KEY_HTML_GZ}: {html_len} bytes do not fit the {budget}-byte ConfigMap budget"
                ));
            }
            _ => break,
        }
    }

    let labels = [
        (LABEL_K8S_MANAGED_BY, OPERATOR_NAME),
        (LABEL_K8S_NAME, APP_NAME_LOCUST),
        (LABEL_K8S_INSTANCE, owner.name),
        (LABEL_K8S_COMPONENT, REPORT_COMPONENT),
        (LABEL_TEST_NAME, owner.name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let annotations = (!omitted.is_empty())
        .then(|| BTreeMap::from([(REPORT_OMITTED_ANNOTATION.to_string(), omitted.join("; "))]));
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(report_name(owner.name)),
            namespace: Some(owner.namespace.to_string()),
            labels: Some(labels),
            annotations,
            owner_references: Some(vec![owner.reference()]),
            ..ObjectMeta::default()
        },
        data: (!text.is_empty())
            .then(|| text.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        binary_data: html
            .map(|h| BTreeMap::from([(REPORT_KEY_HTML_GZ.to_string(), ByteString(h))])),
        immutable: None,
    })
}

fn gzip(text: &str) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(text.as_bytes()).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::io::Read;

    use super::*;
    use crate::resources::tests::base;

    fn test_named(name: &str) -> LocustTest {
        let mut test = base();
        test.metadata.name = Some(name.to_string());
        test
    }

    fn parts(html_len: usize) -> ReportParts {
        ReportParts {
            stats_json: Some("{\"state\": \"stopped\"}".to_string()),
            requests_csv: Some("Type,Name\n".to_string()),
            failures_csv: Some("Method,Name\n".to_string()),
            report_html: Some(pseudo_random_html(html_len)),
            unreadable: Vec::new(),
        }
    }

    /// HTML that compresses about as badly as real minified JavaScript would at worst.
    fn pseudo_random_html(len: usize) -> String {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'!' + (state % 90) as u8)
            })
            .collect()
    }

    fn size(cm: &ConfigMap) -> usize {
        cm.data
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            + cm.binary_data
                .iter()
                .flatten()
                .map(|(k, v)| k.len() + v.0.len())
                .sum::<usize>()
    }

    #[test]
    fn report_keeps_every_part_and_gzips_the_html() {
        let test = test_named("shop");
        let html = "<html>".to_string() + &"<p>row</p>".repeat(50_000) + "</html>";
        let cm = report_config_map(
            &test,
            &ReportParts {
                report_html: Some(html.clone()),
                ..parts(0)
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cm.metadata.name.as_deref(), Some("shop-report"));
        assert_eq!(cm.metadata.annotations, None);
        let data = cm.data.clone().unwrap_or_default();
        assert!(data.contains_key(REPORT_KEY_STATS));
        assert!(data.contains_key(REPORT_KEY_REQUESTS_CSV));
        assert!(data.contains_key(REPORT_KEY_FAILURES_CSV));
        let gz = &cm.binary_data.unwrap_or_default()[REPORT_KEY_HTML_GZ].0;
        assert!(gz.len() < html.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut back)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, html);
        let owner = &cm.metadata.owner_references.unwrap_or_default()[0];
        assert_eq!(owner.kind, "LocustTest");
        assert_eq!(owner.controller, Some(true));
    }

    #[test]
    fn an_html_report_too_big_even_gzipped_is_dropped_and_named() {
        let test = test_named("big");
        let cm = report_config_map(&test, &parts(1_500_000)).unwrap_or_else(|e| panic!("{e}"));
        assert!(size(&cm) <= REPORT_BUDGET);
        assert!(cm.binary_data.is_none());
        assert_eq!(cm.data.as_ref().map(|d| d.len()), Some(3));
        let note = &cm.metadata.annotations.unwrap_or_default()[REPORT_OMITTED_ANNOTATION];
        assert!(note.starts_with("report.html.gz: "), "{note}");
        assert!(note.contains("do not fit"), "{note}");
    }

    #[test]
    fn the_largest_part_goes_first_then_the_next() {
        let test = test_named("huge");
        let mut p = parts(500);
        p.stats_json = Some("x".repeat(9_000));
        p.requests_csv = Some("y".repeat(7_000));
        let cm = report_config_map_within(&test, &p, 8_000).unwrap_or_else(|e| panic!("{e}"));
        assert!(size(&cm) <= 8_000);
        let note = &cm.metadata.annotations.clone().unwrap_or_default()[REPORT_OMITTED_ANNOTATION];
        assert!(note.starts_with("stats.json: 9000 bytes"), "{note}");
        let data = cm.data.unwrap_or_default();
        assert!(!data.contains_key(REPORT_KEY_STATS));
        assert!(data.contains_key(REPORT_KEY_REQUESTS_CSV));
        assert!(cm.binary_data.is_some());
    }

    #[test]
    fn unreadable_parts_are_named() {
        let test = test_named("partial");
        let mut p = parts(10);
        p.report_html = None;
        p.unreadable = vec!["report.html: timed out".to_string()];
        let cm = report_config_map(&test, &p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cm.metadata.annotations.unwrap_or_default()[REPORT_OMITTED_ANNOTATION],
            "report.html: timed out"
        );
    }
}
