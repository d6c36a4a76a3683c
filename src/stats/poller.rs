//! The background reader: every interval it reads the master of each running test, keeps the
//! last answer, stops a test whose live figures breach a maximum for long enough
//! (stopOnBreach), and captures the final figures and the report once the master says the test
//! stopped. It never writes to the cluster: it asks the controller to reconcile the test, and
//! the reconcile turns what was read into status (pure, see `controller::status`).
//!
//! Cost is bounded: one read per running test per interval, at most `concurrency` at once,
//! each with a timeout and a body limit.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use tracing::{debug, info, warn};

use super::payload::StatsPayload;
use super::reader::{DirectClient, MasterApi, ReadError, direct_client};
use super::verdict::{self, Scope};
use super::{Access, Settings};
use crate::api::v2::{LocustTest, Phase};
use crate::resources::report::ReportParts;
use crate::resources::web_ui::master_web_ui;
use crate::telemetry::Metrics;

/// Endpoints of Locust's web API the operator reads.
pub const STATS_ENDPOINT: &str = "/stats/requests";
pub const REQUESTS_CSV_ENDPOINT: &str = "/stats/requests/csv";
pub const FAILURES_CSV_ENDPOINT: &str = "/stats/failures/csv";
pub const REPORT_ENDPOINT: &str = "/stats/report";
pub const STOP_ENDPOINT: &str = "/stop";

/// Locust's final figures arrive about 2 s after its state turns `stopped` (its stats API
/// caches answers for 2 s): wait this long before reading them.
pub const SETTLE: Duration = Duration::from_millis(2500);

/// One answer of a master.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub payload: StatsPayload,
    pub at: Timestamp,
}

/// The final figures of a test and its report, read once the master reported it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Capture {
    pub payload: StatsPayload,
    pub parts: ReportParts,
    pub at: Timestamp,
}

/// What the operator has read of one test's master.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// When the operator first tried to read this master.
    pub since: Option<Timestamp>,
    /// The last answer.
    pub last: Option<Arc<Sample>>,
    /// The last failed read, when it came after the last answer: when, and why.
    pub error: Option<(Timestamp, String)>,
    /// The final figures and the report, once read.
    pub capture: Option<Arc<Capture>>,
    /// Since when a maximum has been breached on the live figures (stopOnBreach).
    pub breached_since: Option<Timestamp>,
    /// The operator stopped the test on a breach: when, and what was breached.
    pub stopped_on_breach: Option<(Timestamp, String)>,
}

/// What has been read of every running test's master; shared by the poller (writes) and the
/// reconciles (read).
#[derive(Default)]
pub struct Readings {
    tests: Mutex<HashMap<ObjectRef<LocustTest>, Reading>>,
}

impl Readings {
    pub fn get(&self, key: &ObjectRef<LocustTest>) -> Option<Reading> {
        self.lock().get(key).cloned()
    }

    fn put(&self, key: ObjectRef<LocustTest>, reading: Reading) {
        self.lock().insert(key, reading);
    }

    /// Forgets the tests not in `keep`.
    fn retain(&self, keep: &HashSet<ObjectRef<LocustTest>>) {
        self.lock().retain(|key, _| keep.contains(key));
    }

    /// Tests with a reading.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<LocustTest>, Reading>> {
        self.tests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether the operator reads this test's master now: it runs, its result is not recorded yet
/// and its web UI is readable.
pub fn wants_reading(test: &LocustTest) -> bool {
    let status = test.status.as_ref();
    status.and_then(|s| s.phase) == Some(Phase::Running)
        && status.and_then(|s| s.result.as_ref()).is_none()
        && master_web_ui(&test.spec).unreadable.is_none()
}

/// The background reader.
pub struct Poller {
    pub settings: Settings,
    pub readings: Arc<Readings>,
    pub tests: Store<LocustTest>,
    pub client: kube::Client,
    pub metrics: Arc<Metrics>,
    /// Asks the controller to reconcile a test.
    pub trigger: UnboundedSender<ObjectRef<LocustTest>>,
}

impl Poller {
    /// Reads every interval until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        if self.settings.access == Access::Off {
            info!("reading Locust masters is off (--stats-access=off)");
            return;
        }
        let http = direct_client(self.settings.timeout);
        let mut ticker = tokio::time::interval(self.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let due: Vec<Arc<LocustTest>> = self
                .tests
                .state()
                .into_iter()
                .filter(|t| wants_reading(t))
                .collect();
            let keys: HashSet<_> = due.iter().map(|t| ObjectRef::from_obj(&**t)).collect();
            self.readings.retain(&keys);
            let work = futures::stream::iter(due)
                .for_each_concurrent(self.settings.concurrency.max(1), |test| {
                    self.read(test, &http)
                });
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = work => {}
            }
        }
        debug!("stats poller stopped");
    }

    fn master_api(&self, test: &LocustTest, http: &DirectClient) -> MasterApi {
        let namespace = test.namespace().unwrap_or_default();
        let ui = master_web_ui(&test.spec);
        let timeout = self.settings.timeout;
        match self.settings.access {
            Access::ApiServerProxy => MasterApi::through_api_server(
                self.client.clone(),
                &namespace,
                &test.name_any(),
                &ui,
                timeout,
            ),
            Access::Direct | Access::Off => MasterApi::direct_to_service(
                http.clone(),
                &namespace,
                &test.name_any(),
                &ui,
                timeout,
            ),
        }
    }

    async fn read(&self, test: Arc<LocustTest>, http: &DirectClient) {
        let key = ObjectRef::from_obj(&*test);
        let reading = self.readings.get(&key).unwrap_or_default();
        if reading.capture.is_some() {
            return;
        }
        let api = self.master_api(&test, http);
        let readings = self.readings.clone();
        let published = key.clone();
        let reading = read_master(&api, &test, reading, &self.metrics, move |r| {
            readings.put(published, r)
        })
        .await;
        self.readings.put(key.clone(), reading);
        // The controller may have stopped; then nobody needs the trigger.
        let _ = self.trigger.unbounded_send(key);
    }
}

/// One read of a test's master: the live figures; a stop when a maximum has been breached for
/// the grace period (stopOnBreach); and, once the master says the test stopped, the capture of
/// the final figures and the report. `publish` receives the reading before the capture, which
/// takes a few seconds. Returns the updated reading.
pub async fn read_master(
    api: &MasterApi,
    test: &LocustTest,
    mut reading: Reading,
    metrics: &Metrics,
    publish: impl FnOnce(Reading),
) -> Reading {
    let started = Instant::now();
    let answer = read_stats(api).await;
    metrics.stats_read(answer.is_ok(), started.elapsed());
    let now = Timestamp::now();
    reading.since.get_or_insert(now);
    let payload = match answer {
        Err(error) => {
            debug!(test = %test.name_any(), %error, "master did not answer");
            reading.error = Some((
                now,
                format!("{} answered: {error}", api.location(STATS_ENDPOINT)),
            ));
            return reading;
        }
        Ok(payload) => payload,
    };
    reading.error = None;
    if let Some(thresholds) = test.spec.thresholds.as_ref()
        && thresholds.stops_on_breach()
        && reading.stopped_on_breach.is_none()
        && payload.is_running()
    {
        let checks = verdict::evaluate(thresholds, &payload, Scope::MaximumsOnly);
        let breached = verdict::breaches(&checks);
        if breached.is_empty() {
            reading.breached_since = None;
        } else {
            let since = *reading.breached_since.get_or_insert(now);
            let lasted = Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO);
            if lasted >= thresholds.stop_grace_period() {
                match api.get(STOP_ENDPOINT).await {
                    Ok(_) => {
                        info!(test = %test.name_any(), %breached, "stopped the test on a threshold breach");
                        metrics.stopped_on_breach();
                        reading.stopped_on_breach = Some((now, breached));
                    }
                    Err(error) => {
                        warn!(test = %test.name_any(), %error, "cannot stop the test on a threshold breach; retrying at the next read")
                    }
                }
            }
        }
    }
    let stopped = payload.is_stopped() || reading.stopped_on_breach.is_some();
    reading.last = Some(Arc::new(Sample { payload, at: now }));
    if stopped {
        publish(reading.clone());
        tokio::time::sleep(SETTLE).await;
        let fallback = reading
            .last
            .as_ref()
            .map(|s| s.payload.clone())
            .unwrap_or_default();
        reading.capture = Some(Arc::new(capture(api, fallback).await));
    }
    reading
}

/// Reads and parses `/stats/requests`.
pub async fn read_stats(api: &MasterApi) -> Result<StatsPayload, ReadError> {
    let body = api.get(STATS_ENDPOINT).await?;
    StatsPayload::parse(&body).map_err(ReadError::NotStats)
}

/// Reads the settled final figures, the CSVs and the HTML report. A part that cannot be read
/// is named in `parts.unreadable`; `fallback` stands in for final figures that cannot be read.
pub async fn capture(api: &MasterApi, fallback: StatsPayload) -> Capture {
    let mut unreadable = Vec::new();
    let mut text = |name: &str, result: Result<bytes::Bytes, ReadError>| match result {
        Ok(body) => Some(String::from_utf8_lossy(&body).into_owned()),
        Err(error) => {
            unreadable.push(format!("{name}: {error}"));
            None
        }
    };
    let stats = api.get(STATS_ENDPOINT).await;
    let stats_json = text("stats.json", stats);
    let payload = stats_json
        .as_deref()
        .and_then(|s| StatsPayload::parse(s.as_bytes()).ok())
        .unwrap_or(fallback);
    let requests_csv = text("requests.csv", api.get(REQUESTS_CSV_ENDPOINT).await);
    let failures_csv = text("failures.csv", api.get(FAILURES_CSV_ENDPOINT).await);
    let report_html = text("report.html", api.get_slow(REPORT_ENDPOINT).await);
    Capture {
        payload,
        parts: ReportParts {
            stats_json,
            requests_csv,
            failures_csv,
            report_html,
            unreadable,
        },
        at: Timestamp::now(),
    }
}
