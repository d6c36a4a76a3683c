//! Logging (text or JSON) and the Prometheus metrics of the operator.

use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::api::v2::{LocustTest, Phase};
use crate::contract::LogFormat;

/// Installs the global subscriber. The filter comes from `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless; keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

/// The `reason` labels of `reconcile_errors_total` (controller::Error::metric_label).
pub const RECONCILE_ERROR_REASONS: [&str; 10] = [
    "conflict",
    "forbidden",
    "not_found",
    "server_error",
    "api_error",
    "transport",
    "encode",
    "missing_metadata",
    "cache_closed",
    "not_leading",
];

/// The `phase` labels of `tests` (no phase yet: `New`).
const PHASES: [&str; 5] = ["New", "Pending", "Running", "Succeeded", "Failed"];

/// The operator's metrics, prefixed `locust_operator_`.
pub struct Metrics {
    registry: Mutex<Registry>,
    reconciliations: Family<ResultLabels, Counter>,
    errors: Family<ReasonLabels, Counter>,
    duration: Histogram,
    tests: Family<PhaseLabels, Gauge>,
    /// The cache the tests-by-phase gauge is counted from, at each scrape (set by the
    /// controller once its caches synced; a standby has none and serves 0).
    tests_cache: Mutex<Option<Store<LocustTest>>>,
    leader: Gauge,
    conversion_reviews: Counter,
    conversion_failures: Counter,
    stats_reads: Family<OutcomeLabels, Counter>,
    stats_read_duration: Histogram,
    stops_on_breach: Counter,
    reports: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("locust_operator");
        let reconciliations = Family::<ResultLabels, Counter>::default();
        let errors = Family::<ReasonLabels, Counter>::default();
        let duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        let tests = Family::<PhaseLabels, Gauge>::default();
        let leader = Gauge::default();
        let conversion_reviews = Counter::default();
        let conversion_failures = Counter::default();
        let stats_reads = Family::<OutcomeLabels, Counter>::default();
        let stats_read_duration =
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        let stops_on_breach = Counter::default();
        let reports = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "stats_reads",
            "Reads of a Locust master's /stats/requests, by outcome (answered, unanswered)",
            stats_reads.clone(),
        );
        registry.register(
            "stats_read_duration_seconds",
            "Duration of one read of a Locust master's /stats/requests",
            stats_read_duration.clone(),
        );
        registry.register(
            "stops_on_breach",
            "Tests the operator stopped because a threshold was breached (stopOnBreach)",
            stops_on_breach.clone(),
        );
        registry.register(
            "reports",
            "Report ConfigMaps, by outcome (stored, failed)",
            reports.clone(),
        );
        registry.register(
            "reconciliations",
            "Reconciles of LocustTests, by result",
            reconciliations.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            duration.clone(),
        );
        registry.register(
            "tests",
            "LocustTests known to the operator, by phase",
            tests.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease and reconciles",
            leader.clone(),
        );
        registry.register(
            "conversion_reviews",
            "ConversionReview requests answered by the conversion webhook",
            conversion_reviews.clone(),
        );
        registry.register(
            "conversion_review_failures",
            "ConversionReview requests answered with a failure",
            conversion_failures.clone(),
        );
        // Every labelled series from the start, at 0: a scrape shows what can be counted,
        // and rate() over a series that has never moved works.
        for result in ["success", "error"] {
            let _ = reconciliations.get_or_create(&ResultLabels { result });
        }
        for reason in RECONCILE_ERROR_REASONS {
            let _ = errors.get_or_create(&ReasonLabels { reason });
        }
        for outcome in ["answered", "unanswered"] {
            let _ = stats_reads.get_or_create(&OutcomeLabels { outcome });
        }
        for outcome in ["stored", "failed"] {
            let _ = reports.get_or_create(&OutcomeLabels { outcome });
        }
        for phase in PHASES {
            let _ = tests.get_or_create(&PhaseLabels { phase });
        }
        Self {
            registry: Mutex::new(registry),
            reconciliations,
            errors,
            duration,
            tests,
            tests_cache: Mutex::new(None),
            leader,
            conversion_reviews,
            conversion_failures,
            stats_reads,
            stats_read_duration,
            stops_on_breach,
            reports,
        }
    }

    /// Records one read of a master's stats.
    pub fn stats_read(&self, answered: bool, took: Duration) {
        let outcome = if answered { "answered" } else { "unanswered" };
        self.stats_reads
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.stats_read_duration.observe(took.as_secs_f64());
    }

    /// Records a test stopped on a threshold breach.
    pub fn stopped_on_breach(&self) {
        self.stops_on_breach.inc();
    }

    /// Records a report ConfigMap stored or not.
    pub fn report(&self, stored: bool) {
        let outcome = if stored { "stored" } else { "failed" };
        self.reports.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Records one reconcile.
    pub fn reconciled(&self, ok: bool, took: Duration) {
        let result = if ok { "success" } else { "error" };
        self.reconciliations
            .get_or_create(&ResultLabels { result })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts the tests-by-phase gauge from `tests` at every scrape from now on.
    pub fn count_tests_from(&self, tests: Store<LocustTest>) {
        *self.tests_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(tests);
    }

    /// Sets the tests-by-phase gauge from the cache, if there is one. One pass over the cache
    /// per scrape, not per reconcile.
    fn count_tests(&self) {
        let cache = self.tests_cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tests) = cache.as_ref() else {
            return;
        };
        let mut counts = [0i64; 5];
        for test in tests.state() {
            let index = match test.status.as_ref().and_then(|s| s.phase) {
                None => 0,
                Some(Phase::Pending) => 1,
                Some(Phase::Running) => 2,
                Some(Phase::Succeeded) => 3,
                Some(Phase::Failed) => 4,
            };
            counts[index] += 1;
        }
        for (phase, count) in PHASES.into_iter().zip(counts) {
            self.tests.get_or_create(&PhaseLabels { phase }).set(count);
        }
    }

    pub fn reconcile_error(&self, reason: &'static str) {
        self.errors.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Records one ConversionReview answered by the webhook.
    pub fn conversion_review(&self, succeeded: bool) {
        self.conversion_reviews.inc();
        if !succeeded {
            self.conversion_failures.inc();
        }
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        self.count_tests();
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_labelled_series_is_served_before_it_counts() {
        let text = Metrics::new().render();
        for reason in RECONCILE_ERROR_REASONS {
            assert!(
                text.contains(&format!(
                    "locust_operator_reconcile_errors_total{{reason=\"{reason}\"}} 0"
                )),
                "{reason}: {text}"
            );
        }
        for series in [
            "locust_operator_reconciliations_total{result=\"error\"} 0",
            "locust_operator_stats_reads_total{outcome=\"unanswered\"} 0",
            "locust_operator_reports_total{outcome=\"failed\"} 0",
            "locust_operator_tests{phase=\"New\"} 0",
            "locust_operator_leader 0",
        ] {
            assert!(text.contains(series), "{series}: {text}");
        }
    }

    #[test]
    fn tests_are_counted_by_phase_at_each_scrape() {
        use kube::runtime::watcher::Event;
        let metrics = Metrics::new();
        let (store, mut writer) = kube::runtime::reflector::store::<LocustTest>();
        metrics.count_tests_from(store);
        let test = |name: &str, phase: Option<&str>| -> LocustTest {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "locust.io/v2", "kind": "LocustTest",
                "metadata": {"name": name, "namespace": "load"},
                "spec": {"image": "locustio/locust:2.43.3",
                    "master": {"command": "--locustfile /lotest/src/locustfile.py"},
                    "worker": {"command": "--locustfile /lotest/src/locustfile.py", "replicas": 1},
                    "testFiles": {"configMapRef": "plan"}},
                "status": phase.map(|p| serde_json::json!({"phase": p})),
            }))
            .unwrap()
        };
        writer.apply_watcher_event(&Event::Apply(test("a", Some("Running"))));
        writer.apply_watcher_event(&Event::Apply(test("b", Some("Running"))));
        writer.apply_watcher_event(&Event::Apply(test("c", None)));
        let text = metrics.render();
        assert!(
            text.contains("locust_operator_tests{phase=\"Running\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("locust_operator_tests{phase=\"New\"} 1"),
            "{text}"
        );
        // A phase change shows at the next scrape, with no reconcile in between.
        writer.apply_watcher_event(&Event::Apply(test("a", Some("Succeeded"))));
        let text = metrics.render();
        assert!(
            text.contains("locust_operator_tests{phase=\"Running\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("locust_operator_tests{phase=\"Succeeded\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn metrics_render_with_prefix_and_labels() {
        let metrics = Metrics::new();
        metrics.reconciled(true, Duration::from_millis(3));
        metrics.reconcile_error("conflict");
        metrics.conversion_review(true);
        metrics.conversion_review(false);
        metrics.stats_read(true, Duration::from_millis(4));
        metrics.stats_read(false, Duration::from_secs(3));
        metrics.stopped_on_breach();
        metrics.report(true);
        let text = metrics.render();
        assert!(text.contains("locust_operator_stats_reads_total{outcome=\"answered\"} 1"));
        assert!(text.contains("locust_operator_stats_reads_total{outcome=\"unanswered\"} 1"));
        assert!(text.contains("locust_operator_stats_read_duration_seconds_count 2"));
        assert!(text.contains("locust_operator_stops_on_breach_total 1"));
        assert!(text.contains("locust_operator_reports_total{outcome=\"stored\"} 1"));
        assert!(text.contains("locust_operator_reconciliations_total{result=\"success\"} 1"));
        assert!(text.contains("locust_operator_reconcile_errors_total{reason=\"conflict\"} 1"));
        assert!(text.contains("locust_operator_reconcile_duration_seconds_bucket"));
        assert!(text.contains("locust_operator_tests{phase=\"Running\"} 0"));
        assert!(text.contains("locust_operator_conversion_reviews_total 2"));
        assert!(text.contains("locust_operator_conversion_review_failures_total 1"));
    }
}
