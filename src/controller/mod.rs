//! The controller: turns LocustTests into running tests and reports them truthfully.
//!
//! Watches are narrow: LocustTests, plus Jobs and Services carrying the operator's
//! `app.kubernetes.io/managed-by` label and Pods carrying the Go operator's `managed-by` label
//! (every Locust pod has it, including those of tests the Go operator started: see
//! [`adoption`]), so memory does not grow with unrelated workloads. The reflectors run on
//! their own tasks (the controller stops if one ends) and the controller starts once every
//! cache has synced, so a reconcile never mistakes a cache still filling for a deleted child.

mod adoption;
pub mod conditions;
#[cfg(test)]
mod counting_service;
pub mod diagnosis;
mod error;
pub mod exposure;
pub mod fenced;
pub mod leader;
pub mod pod_index;
pub mod projection;
pub mod rate_limit;
mod reconcile;
pub mod references;
pub mod results;
pub mod schedule;
pub mod status;
mod writes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub use error::Error;

use crate::api::names::{
    LABEL_TEST_NAME, OPERATOR_NAME, locust_pods_selector, managed_children_selector,
};
use crate::api::v2::LocustTest;
use crate::config::Config;
use crate::stats::{Poller, Readings};
use crate::telemetry::Metrics;
use projection::Projection;

/// Settings of the controller itself (not of the pods it builds).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch one namespace only; all namespaces when `None`.
    pub namespace: Option<String>,
    /// How long a pod problem that may clear up by itself is tolerated before the test fails.
    pub diagnosis_grace: Duration,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Name of this replica, shown as the reporting instance of events.
    pub instance: String,
    /// How the Locust masters are read.
    pub stats: crate::stats::Settings,
    /// With leader election: writes are allowed only while this holds (leader.rs).
    pub fence: Option<Arc<leader::Fence>>,
}

/// The caches of the operator's children.
#[derive(Clone)]
pub struct Caches {
    pub tests: Store<LocustTest>,
    pub jobs: Store<Job>,
    pub services: Store<Service>,
    pub pods: Store<Pod>,
    /// The pods of each test, kept from the pod watch (pod_index.rs).
    pub pod_index: pod_index::PodIndex,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub config: Config,
    pub settings: Settings,
    pub caches: Caches,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// What the stats poller read from each running test's master.
    pub readings: Arc<Readings>,
    /// Consecutive failures per test, for exponential backoff.
    failures: Mutex<HashMap<ObjectRef<LocustTest>, u32>>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Objects per page of a cache's initial LIST (kube's default: 500). A page is read whole and
/// decoded with everything the projection then drops (managed fields, pod templates) before
/// the cache keeps its part, and the four caches list at once: at 500, 1,000 tests with their
/// children peaked at 90 MiB RSS before the first reconcile; at 100, 57 MiB (operator_scale,
/// docs/performance.md). More pages cost one request per 100 objects.
const LIST_PAGE_SIZE: u32 = 100;

/// Where the reflectors send the test each watch event concerns.
type Triggers = futures::channel::mpsc::UnboundedSender<ObjectRef<LocustTest>>;

/// A reflector on its own task; returns its cache. Every event is shown to `observe` once the
/// cache applied it; every object it sees created, changed, listed or deleted is then sent to
/// `triggers` as the test it belongs to (`test_of`), which the controller reconciles.
///
/// Why not kube's shared streams (`reflect_shared` + `owns_shared_stream`): their subscriber
/// (`ReflectHandle`) answers `Pending` without arranging a wake-up when the object it was told
/// about has been deleted from the cache by the time it looks (a pod updated and then deleted
/// with its namespace). The controller polls each trigger stream only when that stream woke it,
/// so that stream was never polled again: its buffer filled, the reflector blocked on it, and
/// the cache stopped updating. The operator then saw no pod change for minutes (the real-node
/// tests caught it). Sending test references over a channel that never loses its waker has no
/// such state, and costs a reference per event instead of a broadcast buffer per watch.
fn reflect<K>(
    watches: &mut JoinSet<String>,
    api: Api<K>,
    config: watcher::Config,
    triggers: Triggers,
    test_of: fn(&K) -> Option<ObjectRef<LocustTest>>,
    observe: impl Fn(&watcher::Event<K>) + Send + 'static,
) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Projection
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let kind = K::kind(&()).to_string();
    let watch = watcher(api, config)
        .default_backoff()
        // The cache keeps only what the controller reads (projection.rs).
        .modify(K::project)
        .reflect(writer)
        .for_each(move |event| {
            match event {
                Ok(event) => {
                    observe(&event);
                    if let Some(test) = triggered_by(&event, test_of) {
                        // Fails only once the controller has stopped.
                        let _ = triggers.unbounded_send(test);
                    }
                }
                Err(error) => warn!(%error, "watch error; retrying with backoff"),
            }
            futures::future::ready(())
        });
    // The watch retries for ever; it ends only if its task fails (see `run`).
    watches.spawn(async move {
        watch.await;
        kind
    });
    reader
}

/// The test a watch event asks to reconcile: the one the object belongs to, whether it was
/// created, changed, listed again or deleted (a deleted child is recreated at once).
fn triggered_by<K>(
    event: &watcher::Event<K>,
    test_of: fn(&K) -> Option<ObjectRef<LocustTest>>,
) -> Option<ObjectRef<LocustTest>> {
    match event {
        watcher::Event::Apply(object)
        | watcher::Event::InitApply(object)
        | watcher::Event::Delete(object) => test_of(object),
        watcher::Event::Init | watcher::Event::InitDone => None,
    }
}

/// Runs the controller until `shutdown` is cancelled, then lets the reconciles in flight
/// finish. `ready` is called once every cache synced.
pub async fn run(
    client: Client,
    config: Config,
    settings: Settings,
    metrics: Arc<Metrics>,
    ready: impl FnOnce(),
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let ns = settings.namespace.as_deref();
    let children = watcher::Config::default()
        .page_size(LIST_PAGE_SIZE)
        .labels(&managed_children_selector());
    // Reconciles asked for by the watches (reflect) and by the stats poller.
    let (trigger, triggered) = futures::channel::mpsc::unbounded();
    let mut watches = JoinSet::new();
    let tests = reflect(
        &mut watches,
        api::<LocustTest>(&client, ns),
        watcher::Config::default().page_size(LIST_PAGE_SIZE),
        trigger.clone(),
        |test| Some(ObjectRef::from_obj(test)),
        |_| (),
    );
    let jobs = reflect(
        &mut watches,
        api::<Job>(&client, ns),
        children.clone(),
        trigger.clone(),
        owning_test,
        |_| (),
    );
    let services = reflect(
        &mut watches,
        api::<Service>(&client, ns),
        children,
        trigger.clone(),
        owning_test,
        |_| (),
    );
    let pod_index = pod_index::PodIndex::default();
    let pods = reflect(
        &mut watches,
        api::<Pod>(&client, ns),
        watcher::Config::default()
            .page_size(LIST_PAGE_SIZE)
            .labels(&locust_pods_selector()),
        trigger.clone(),
        labelled_test,
        {
            let pod_index = pod_index.clone();
            move |event| pod_index.observe(event)
        },
    );

    let closed = |what| move |_| Error::CacheClosed(what);
    tests
        .wait_until_ready()
        .await
        .map_err(closed("LocustTest"))?;
    jobs.wait_until_ready().await.map_err(closed("Job"))?;
    services
        .wait_until_ready()
        .await
        .map_err(closed("Service"))?;
    pods.wait_until_ready().await.map_err(closed("Pod"))?;
    info!(
        tests = tests.state().len(),
        jobs = jobs.state().len(),
        pods = pods.state().len(),
        "caches synced; starting the controller"
    );
    metrics.count_tests_from(tests.clone());
    ready();

    let caches = Caches {
        tests: tests.clone(),
        jobs,
        services,
        pods,
        pod_index,
    };
    let reporter = Reporter {
        controller: OPERATOR_NAME.to_string(),
        instance: Some(settings.instance.clone()),
    };
    // LocustTestSchedules: their own controller under the same token and fence.
    let schedules = schedule::run(
        client.clone(),
        settings.namespace.clone(),
        settings.fence.clone(),
        reporter.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    let readings = Arc::new(Readings::default());
    let stop_poller = shutdown.child_token();
    let poller = tokio::spawn(
        Poller {
            settings: settings.stats.clone(),
            readings: readings.clone(),
            tests: tests.clone(),
            client: client.clone(),
            metrics: metrics.clone(),
            trigger,
        }
        .run(stop_poller.clone()),
    );
    let context = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        config,
        settings: settings.clone(),
        caches,
        metrics,
        readings,
        failures: Mutex::new(HashMap::new()),
    });

    // Every trigger arrives through `triggered` (see `reflect`); the controller's own stream
    // of tests stays silent.
    let controller = Controller::for_stream(futures::stream::pending(), tests)
        .reconcile_on(triggered)
        .with_config(kube::runtime::controller::Config::default().concurrency(settings.concurrency))
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile::reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()));
    // A cache whose watch stopped would go stale without a word: stop instead, so that the
    // Deployment restarts the operator with fresh caches.
    let result = tokio::select! {
        ((), ()) = futures::future::join(controller, schedules) => Ok(()),
        Some(ended) = watches.join_next() => {
            let why = match ended {
                Ok(kind) => format!("the {kind} watch ended"),
                Err(error) => format!("a watch task failed: {error}"),
            };
            error!(%why, "stopping the controller");
            Err(Error::WatchEnded(why))
        }
    };
    stop_poller.cancel();
    let _ = poller.await;
    watches.abort_all();
    info!("controller stopped");
    result
}

/// The test a Locust pod belongs to, by its label.
fn labelled_test(pod: &Pod) -> Option<ObjectRef<LocustTest>> {
    let name = pod.labels().get(LABEL_TEST_NAME)?;
    Some(ObjectRef::new(name).within(&pod.namespace()?))
}

/// The LocustTest that controls a child.
fn owning_test<K: Resource>(child: &K) -> Option<ObjectRef<LocustTest>> {
    let owner = child
        .owner_references()
        .iter()
        .find(|o| o.kind == "LocustTest" && o.controller == Some(true))?;
    Some(ObjectRef::new(&owner.name).within(&child.namespace()?))
}

fn error_policy(test: Arc<LocustTest>, error: &Error, ctx: Arc<Context>) -> Action {
    let attempts = {
        let mut failures = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
        count_failure(&mut failures, ObjectRef::from_obj(&*test), |key| {
            ctx.caches.tests.get(key).is_some()
        })
    };
    ctx.metrics.reconcile_error(error.metric_label());
    let delay = backoff(attempts);
    warn!(
        test = %test.name_any(),
        namespace = test.namespace().unwrap_or_default(),
        %error,
        retry_in_s = delay.as_secs(),
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// Counts one more failure of `key` and returns how many in a row; forgets the tests that no
/// longer `exist` (deleted while failing), so the map holds only tests still there.
fn count_failure(
    failures: &mut HashMap<ObjectRef<LocustTest>, u32>,
    key: ObjectRef<LocustTest>,
    exist: impl Fn(&ObjectRef<LocustTest>) -> bool,
) -> u32 {
    failures.retain(|other, _| *other == key || exist(other));
    let n = failures.entry(key).or_insert(0);
    *n = n.saturating_add(1);
    *n
}

/// 1 s, 2 s, 4 s ... capped at 5 minutes.
fn backoff(attempts: u32) -> Duration {
    let secs = 1u64 << attempts.saturating_sub(1).min(9);
    Duration::from_secs(secs.min(300))
}

impl Context {
    /// Before every write: a replica whose leader lease may have passed to another writes
    /// nothing.
    fn may_write(&self) -> Result<(), Error> {
        match &self.settings.fence {
            Some(fence) if !fence.holds() => Err(Error::NotLeading),
            _ => Ok(()),
        }
    }

    fn succeeded(&self, test: &LocustTest) {
        let key = ObjectRef::from_obj(test);
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_children_and_pods_name_their_test() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "demo-master", "namespace": "load", "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "1", "controller": false},
                {"apiVersion": "locust.io/v2", "kind": "LocustTest", "name": "demo", "uid": "2", "controller": true},
            ]},
        }))
        .unwrap_or_default();
        assert_eq!(
            owning_test(&job),
            Some(ObjectRef::new("demo").within("load"))
        );
        let orphan: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x", "namespace": "load"}}))
        .unwrap_or_default();
        assert_eq!(owning_test(&orphan), None);
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "demo-master-x", "namespace": "load",
                "labels": {LABEL_TEST_NAME: "demo"}}}))
        .unwrap_or_default();
        assert_eq!(
            labelled_test(&pod),
            Some(ObjectRef::new("demo").within("load"))
        );
    }

    #[test]
    fn every_change_of_a_child_asks_for_its_test_and_nothing_else_does() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "demo-master-x", "namespace": "load",
                "labels": {LABEL_TEST_NAME: "demo"}}}))
        .unwrap_or_default();
        let demo = Some(ObjectRef::new("demo").within("load"));
        for event in [
            watcher::Event::Apply(pod.clone()),
            watcher::Event::InitApply(pod.clone()),
            watcher::Event::Delete(pod.clone()),
        ] {
            assert_eq!(triggered_by(&event, labelled_test), demo, "{event:?}");
        }
        for event in [watcher::Event::Init, watcher::Event::InitDone] {
            assert_eq!(triggered_by(&event, labelled_test), None, "{event:?}");
        }
        let unlabelled = watcher::Event::Apply(Pod::default());
        assert_eq!(triggered_by(&unlabelled, labelled_test), None);
    }

    #[test]
    fn failures_count_up_and_deleted_tests_are_forgotten() {
        let mut failures = HashMap::new();
        let a = ObjectRef::new("a").within("load");
        let b = ObjectRef::new("b").within("load");
        assert_eq!(count_failure(&mut failures, a.clone(), |_| true), 1);
        assert_eq!(count_failure(&mut failures, a.clone(), |_| true), 2);
        assert_eq!(count_failure(&mut failures, b.clone(), |_| true), 1);
        // `a` was deleted: the next failure of `b` forgets it.
        let only_b = |key: &ObjectRef<LocustTest>| key.name == "b";
        assert_eq!(count_failure(&mut failures, b.clone(), only_b), 2);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures.get(&b), Some(&2));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(50), Duration::from_secs(300));
    }
}
