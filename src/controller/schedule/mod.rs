//! The LocustTestSchedule controller: starts a schedule's runs (LocustTests it owns) when its
//! cron pattern comes due or its trigger annotation changes, prunes its finished runs beyond
//! the history limits, and reports them in its status.
//!
//! It runs beside the LocustTest controller, under the same shutdown token and leader lease
//! (every write checks the same fence). Its watches: the schedules, and the LocustTests that
//! carry [`LABEL_SCHEDULE`] (the runs), whose changes wake their owning schedule. Each
//! reconcile reads, plans ([`plan`], pure, the clock passed in), writes (replace, create,
//! prune), derives the status ([`status`], pure) and asks to be woken at the next scheduled
//! time.

pub mod plan;
pub mod run;
pub mod run_names;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, instrument, warn};

use super::conditions::{EventNote, reason};
use super::leader::Fence;
use super::{Error, api, writes};
use crate::api::cron::CronSchedule;
use crate::api::names::{ANNOTATION_TRIGGER, FIELD_MANAGER, LABEL_SCHEDULE};
use crate::api::schedule::{LocustTestSchedule, LocustTestScheduleStatus};
use crate::api::v2::LocustTest;
use crate::telemetry::Metrics;
use plan::{Inputs, NewRun, Plan, plan};
use run::{RunError, baseline_of, build_run, is_run_of, view};
use status::{Readiness, derive, events, kept_rejection, readiness};

/// How long the schedule controller may take to finish after shutdown.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(3);

/// How long a failed reconcile waits before the next try.
const RETRY: Duration = Duration::from_secs(15);

/// Shared by every schedule reconcile.
pub struct ScheduleContext {
    client: Client,
    /// Every LocustTest labelled with a schedule name.
    runs: Store<LocustTest>,
    recorder: Recorder,
    fence: Option<Arc<Fence>>,
    metrics: Arc<Metrics>,
}

impl ScheduleContext {
    fn may_write(&self) -> Result<(), Error> {
        match &self.fence {
            Some(fence) if !fence.holds() => Err(Error::NotLeading),
            _ => Ok(()),
        }
    }
}

/// Runs the schedule controller until `shutdown` is cancelled. A cluster without the
/// LocustTestSchedule CRD only logs watch errors (with backoff); the LocustTest controller is
/// not affected.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    fence: Option<Arc<Fence>>,
    reporter: Reporter,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let ns = namespace.as_deref();
    let (runs, writer) = reflector::store::<LocustTest>();
    let run_events = watcher(
        api::<LocustTest>(&client, ns),
        watcher::Config::default().labels(LABEL_SCHEDULE),
    )
    .default_backoff()
    .reflect(writer)
    .touched_objects();
    let context = Arc::new(ScheduleContext {
        recorder: Recorder::new(client.clone(), reporter),
        client: client.clone(),
        runs,
        fence,
        metrics,
    });
    let controller = Controller::new(
        api::<LocustTestSchedule>(&client, ns),
        watcher::Config::default(),
    );
    let schedules = controller.store();
    let controller = controller
        .owns_stream(run_events)
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile, error_policy, context)
        .for_each(|result| {
            if let Err(error) = result {
                warn!(%error, "schedule controller");
            }
            futures::future::ready(())
        });
    // The graceful shutdown lets reconciles in flight finish. A controller whose schedules
    // never listed (no LocustTestSchedule CRD) does not end by itself: kube's applier waits
    // for its store first. That held the operator's exit on SIGTERM, so it gets a bounded
    // drain, none at all when the schedules never listed (nothing can be in flight).
    let drained = async {
        shutdown.cancelled().await;
        if schedules.wait_until_ready().now_or_never().is_some() {
            tokio::time::sleep(SHUTDOWN_DRAIN).await;
        }
    };
    tokio::select! {
        () = controller => info!("schedule controller stopped"),
        () = drained => warn!(
            seconds = SHUTDOWN_DRAIN.as_secs(),
            "schedule controller had not stopped (is the LocustTestSchedule CRD installed?); stopped"
        ),
    }
}

fn error_policy(
    schedule: Arc<LocustTestSchedule>,
    error: &Error,
    ctx: Arc<ScheduleContext>,
) -> Action {
    ctx.metrics.reconcile_error(error.metric_label());
    warn!(
        schedule = %schedule.name_any(),
        namespace = schedule.namespace().unwrap_or_default(),
        %error,
        retry_in_s = RETRY.as_secs(),
        "schedule reconcile failed"
    );
    Action::requeue(RETRY)
}

/// One reconcile of one schedule; its span names the schedule.
#[instrument(
    skip_all,
    fields(schedule = %schedule.name_any(), namespace = schedule.namespace().as_deref().unwrap_or_default())
)]
async fn reconcile(
    schedule: Arc<LocustTestSchedule>,
    ctx: Arc<ScheduleContext>,
) -> Result<Action, Error> {
    let namespace = schedule
        .namespace()
        .ok_or(Error::ScheduleMetadata("namespace"))?;
    if schedule.metadata.deletion_timestamp.is_some() {
        // Garbage collection deletes the runs.
        return Ok(Action::await_change());
    }
    ctx.may_write()?;
    let now = Timestamp::now();
    let old = schedule.status.clone().unwrap_or_default();
    let generation = schedule.metadata.generation;
    let mut runs: Vec<LocustTest> = ctx
        .runs
        .state()
        .iter()
        .filter(|t| is_run_of(t, &schedule))
        .map(|t| (**t).clone())
        .collect();

    let spec = &schedule.spec;
    let cron = match CronSchedule::parse(&spec.schedule, spec.time_zone.as_deref()) {
        Ok(cron) => cron,
        Err(error) => {
            let unchanged = Plan {
                last_schedule_time: old.last_schedule_time.as_ref().map(|t| t.0),
                last_trigger: old.last_trigger.clone(),
                ..Plan::default()
            };
            let not_ready = Readiness::not_ready(reason::INVALID_SCHEDULE, error.to_string());
            let status = derive(&old, generation, &unchanged, &runs, not_ready, now);
            write_status(&schedule, &ctx, &old, &status).await?;
            return Ok(Action::await_change());
        }
    };
    let views: Vec<_> = runs.iter().map(view).collect();
    let mut plan = plan(&Inputs {
        name: &schedule.name_any(),
        spec,
        cron: &cron,
        created: schedule
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now, |t| t.0),
        last_schedule_time: old.last_schedule_time.as_ref().map(|t| t.0),
        last_trigger: old.last_trigger.as_deref(),
        trigger: schedule
            .annotations()
            .get(ANNOTATION_TRIGGER)
            .map(String::as_str),
        runs: &views,
        now,
    });

    let tests: Api<LocustTest> = Api::namespaced(ctx.client.clone(), &namespace);
    for name in &plan.replace {
        delete_run(&ctx, &tests, name).await?;
        runs.retain(|t| t.metadata.name.as_ref() != Some(name));
    }
    let mut refused = None;
    if let Some(new) = plan.create.clone() {
        match create_run(&ctx, &tests, &schedule, &new, &runs).await? {
            Created::Started(test) => {
                info!(run = %new.name, "run started");
                runs.push(test);
            }
            Created::Existed(test) => {
                plan.create = None;
                if !runs.iter().any(|t| t.metadata.name == test.metadata.name) {
                    runs.push(test);
                }
            }
            Created::Refused(message) => {
                plan.create = None;
                refused = Some(message);
            }
        }
    }
    let ready = match refused {
        Some(message) => {
            let note = EventNote {
                warning: true,
                reason: reason::RUN_REJECTED,
                message: message.clone(),
            };
            ctx.may_write()?;
            publish(&schedule, &ctx, &note).await;
            Readiness::not_ready(reason::RUN_REJECTED, message)
        }
        // A refused run stays reported until a run starts or the schedule is edited.
        None => kept_rejection(
            &old,
            generation,
            readiness(spec.suspended(), &plan),
            plan.create.is_some(),
        ),
    };
    for name in &plan.prune {
        delete_run(&ctx, &tests, name).await?;
        runs.retain(|t| t.metadata.name.as_ref() != Some(name));
    }

    let status = derive(&old, generation, &plan, &runs, ready, now);
    write_status(&schedule, &ctx, &old, &status).await?;
    for note in events(&plan) {
        ctx.may_write()?;
        publish(&schedule, &ctx, &note).await;
    }
    Ok(plan
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

/// What became of a run to create.
enum Created {
    Started(LocustTest),
    /// Created before (a restart between create and status write).
    Existed(LocustTest),
    /// The API server refused it, or the name is taken by a test that is not a run of the
    /// schedule: the message says which.
    Refused(String),
}

/// Creates the run `new` from the template, its baseline from the runs so far.
async fn create_run(
    ctx: &ScheduleContext,
    tests: &Api<LocustTest>,
    schedule: &LocustTestSchedule,
    new: &NewRun,
    runs: &[LocustTest],
) -> Result<Created, Error> {
    let test = build_run(schedule, new, baseline_of(runs))
        .map_err(|RunError::MissingMetadata(field)| Error::ScheduleMetadata(field))?;
    ctx.may_write()?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    match tests.create(&params, &test).await {
        Ok(created) => Ok(Created::Started(created)),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = tests.get(&new.name).await?;
            Ok(if is_run_of(&existing, schedule) {
                Created::Existed(existing)
            } else {
                Created::Refused(format!(
                    "a LocustTest named {} exists and is not a run of this schedule; rename or delete it",
                    new.name
                ))
            })
        }
        Err(kube::Error::Api(status)) if status.code == 422 || status.code == 400 => {
            Ok(Created::Refused(format!(
                "the API server refused run {}: {}",
                new.name, status.message
            )))
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes a run (its children follow by garbage collection); one already gone is fine.
async fn delete_run(
    ctx: &ScheduleContext,
    tests: &Api<LocustTest>,
    name: &str,
) -> Result<(), Error> {
    ctx.may_write()?;
    match tests.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Writes the status (server-side apply of the status subresource) when it changed.
async fn write_status(
    schedule: &LocustTestSchedule,
    ctx: &ScheduleContext,
    old: &LocustTestScheduleStatus,
    status: &LocustTestScheduleStatus,
) -> Result<(), Error> {
    if status == old {
        return Ok(());
    }
    ctx.may_write()?;
    let namespace = schedule
        .namespace()
        .ok_or(Error::ScheduleMetadata("namespace"))?;
    writes::apply_status::<LocustTestSchedule>(
        &ctx.client,
        &namespace,
        &schedule.name_any(),
        status,
    )
    .await?;
    Ok(())
}

async fn publish(schedule: &LocustTestSchedule, ctx: &ScheduleContext, note: &EventNote) {
    writes::publish_event(
        &ctx.recorder,
        schedule,
        "Schedule",
        note.warning,
        note.reason,
        &note.message,
    )
    .await;
}
