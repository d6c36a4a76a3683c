//! One reconcile: read -> validate -> build -> apply -> status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, instrument, warn};

use super::adoption::{self, Claim};
use super::conditions::{EventNote, reason};
use super::references;
use super::results::{ReportOutcome, StatsView};
use super::status::{self, Observed, Outcome};
use super::{Context, Error, writes};
use crate::api::names::FIELD_MANAGER;
use crate::api::v2::{LocustTest, LocustTestStatus, Phase};
use crate::api::validation::validate_object;
use crate::resources::report::report_config_map;
use crate::resources::web_ui::master_web_ui;
use crate::resources::{self, BuildError, Children};
use crate::stats::Capture;

/// Safety net for tests in progress: look again even if no watch event arrives.
const RESYNC: Duration = Duration::from_secs(300);

/// One reconcile of one test; its span (and every log line below it) names the test.
#[instrument(
    skip_all,
    fields(test = %test.name_any(), namespace = test.namespace().as_deref().unwrap_or_default())
)]
pub async fn reconcile(test: Arc<LocustTest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&test, &ctx).await;
    ctx.metrics.reconciled(result.is_ok(), started.elapsed());
    if result.is_ok() {
        ctx.succeeded(&test);
    }
    result
}

async fn reconcile_inner(test: &LocustTest, ctx: &Context) -> Result<Action, Error> {
    let namespace = test
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let name = test.name_any();
    ctx.may_write()?;
    // Tests the Go operator created carry its finalizer (adoption.rs).
    if let Some(action) = adoption::release_go_finalizer(test, ctx).await? {
        return Ok(action);
    }
    if test.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the children; nothing to do.
        return Ok(Action::await_change());
    }
    let old = test.status.clone().unwrap_or_default();
    if old.phase.is_some_and(Phase::is_terminal) {
        // Final. Children that TTL cleanup removed are left alone.
        return Ok(Action::await_change());
    }
    let generation = test.metadata.generation;
    let now = Timestamp::now();

    // Validate: the API server enforces the same rules, but a spec can slip through (a v1
    // object carrying a hand-written v2 annotation, a CRD installed without its rules). A
    // status written for this generation means it passed already (a failure is final), so
    // each generation is validated once, not on every pod event.
    let validated = old.observed_generation.is_some() && old.observed_generation == generation;
    let problems = if validated {
        Vec::new()
    } else {
        validate_object(&serde_json::to_value(test)?, &name, None)
    };
    if !problems.is_empty() {
        let message = problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ");
        let outcome = status::fail(&old, generation, reason::INVALID_SPEC, message, now);
        return finish(test, ctx, &old, outcome).await;
    }

    // Build.
    let children = match resources::build_children(test, &ctx.config) {
        Ok(children) => children,
        Err(error) => {
            let code = match error {
                BuildError::ForbiddenField { .. } => reason::FORBIDDEN_BY_CONFIG,
                _ => reason::INVALID_SPEC,
            };
            let outcome = status::fail(&old, generation, code, error.to_string(), now);
            return finish(test, ctx, &old, outcome).await;
        }
    };

    // The ConfigMaps the pods need, before the children are first created.
    if let Some(outcome) = references::gate(test, ctx, &old, now).await? {
        return finish(test, ctx, &old, outcome).await;
    }

    // Apply what is missing.
    let applied = match ensure_children(test, ctx, &namespace, &children).await? {
        Ensured::Applied(created) => created,
        Ensured::Refused(code, message) => {
            let outcome = status::fail(&old, generation, code, message, now);
            return finish(test, ctx, &old, outcome).await;
        }
        Ensured::Waiting(child) => {
            info!(test = %name, %namespace, %child, "waiting for the previous test's child to be garbage-collected");
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
    };
    let mut extra_events = Vec::new();
    if !applied.is_empty() {
        let list = applied.join(", ");
        if old.phase.is_none() {
            extra_events.push(EventNote {
                warning: false,
                reason: reason::CREATED,
                message: format!("created {list}"),
            });
        } else {
            extra_events.push(EventNote {
                warning: true,
                reason: reason::RESOURCE_DELETED,
                message: format!("{list} disappeared while the test was running; recreated"),
            });
        }
    }

    // The routes to the web UI, once.
    let exposure = match super::exposure::expose(test, ctx, &namespace, &old).await? {
        Some((exposure, event)) => {
            extra_events.extend(event);
            Some(exposure)
        }
        None => None,
    };

    // Observe and derive the status.
    let master_name = children.master_job.name_any();
    let worker_name = children.worker_job.name_any();
    // Only this test's Jobs and their pods: a previous test of the same name may still have
    // some awaiting garbage collection (adoption.rs).
    let this_test = |job: &Arc<Job>| adoption::claim(job.owner_references(), test) == Claim::This;
    let master_job = ctx
        .caches
        .jobs
        .get(&ObjectRef::new(&master_name).within(&namespace))
        .filter(this_test);
    let worker_job = ctx
        .caches
        .jobs
        .get(&ObjectRef::new(&worker_name).within(&namespace))
        .filter(this_test);
    let job_uids: Vec<String> = [&master_job, &worker_job]
        .into_iter()
        .filter_map(|job| job.as_ref()?.metadata.uid.clone())
        .collect();
    let mut pods = ctx
        .caches
        .pod_index
        .pods_of(&ctx.caches.pods, &namespace, &name);
    pods.retain(|pod| status::is_pod_of(pod, &namespace, &name, &job_uids));
    let expected = resources::expected_workers(&test.spec);
    let reading = ctx.readings.get(&ObjectRef::from_obj(test));
    let report = match reading.as_ref().and_then(|r| r.capture.as_deref()) {
        Some(capture) if old.result.is_none() => {
            ctx.may_write()?;
            Some(store_report(test, ctx, capture).await)
        }
        _ => None,
    };
    let stats = &ctx.settings.stats;
    let observed = Observed {
        generation,
        expected_workers: expected,
        processes_per_pod: resources::processes_per_pod(&test.spec),
        master_job: master_job.as_deref(),
        worker_job: worker_job.as_deref(),
        pods: pods.iter().map(Arc::as_ref).collect(),
        now,
        grace: ctx.settings.diagnosis_grace,
        exposure,
        stats: StatsView {
            access: stats.access,
            ui: master_web_ui(&test.spec),
            thresholds: test.spec.thresholds.as_ref(),
            reading: reading.as_ref(),
            report: report.as_ref(),
            freshness: stats.freshness(),
            grace: stats.grace,
            live_write_interval: stats.live_write_interval(),
        },
    };
    let mut outcome = status::derive(&old, &observed);
    extra_events.append(&mut outcome.events);
    outcome.events = extra_events;
    finish(test, ctx, &old, outcome).await
}

/// Stores the report ConfigMap of a test whose final figures were just read.
async fn store_report(test: &LocustTest, ctx: &Context, capture: &Capture) -> ReportOutcome {
    let outcome = match report_config_map(test, &capture.parts) {
        Err(error) => ReportOutcome::Failed(error.to_string()),
        Ok(config_map) => {
            let name = config_map.name_any();
            let namespace = test.namespace().unwrap_or_default();
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
            match api
                .patch(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&config_map),
                )
                .await
            {
                Ok(_) => ReportOutcome::Stored(name),
                Err(error) => ReportOutcome::Failed(format!("ConfigMap {name}: {error}")),
            }
        }
    };
    if let ReportOutcome::Failed(why) = &outcome {
        warn!(test = %test.name_any(), %why, "cannot store the report");
    }
    ctx.metrics
        .report(matches!(outcome, ReportOutcome::Stored(_)));
    outcome
}

/// Writes the status when it changed, publishes the events, and says when to look again.
async fn finish(
    test: &LocustTest,
    ctx: &Context,
    old: &LocustTestStatus,
    outcome: Outcome,
) -> Result<Action, Error> {
    if outcome.status != *old {
        ctx.may_write()?;
        let namespace = test
            .namespace()
            .ok_or(Error::MissingMetadata("namespace"))?;
        writes::apply_status::<LocustTest>(
            &ctx.client,
            &namespace,
            &test.name_any(),
            &outcome.status,
        )
        .await?;
        if outcome.status.phase != old.phase {
            info!(
                test = %test.name_any(),
                namespace = test.namespace().unwrap_or_default(),
                from = old.phase.map(Phase::as_str).unwrap_or("-"),
                to = outcome.status.phase.map(Phase::as_str).unwrap_or("-"),
                "phase changed"
            );
        }
    }
    for note in &outcome.events {
        ctx.may_write()?;
        writes::publish_event(
            &ctx.recorder,
            test,
            "Reconcile",
            note.warning,
            note.reason,
            &note.message,
        )
        .await;
    }
    let terminal = outcome.status.phase.is_some_and(Phase::is_terminal);
    Ok(match (terminal, outcome.requeue_after) {
        (true, _) => Action::await_change(),
        (false, Some(after)) => Action::requeue(after.min(RESYNC)),
        (false, None) => Action::requeue(RESYNC),
    })
}

enum Ensured {
    /// Names (`Kind/name`) of the children applied in this reconcile.
    Applied(Vec<String>),
    /// The API server refuses a child, or its name is taken by someone else's object.
    Refused(&'static str, String),
    /// A child's name is still taken by the child of a deleted test of the same name.
    Waiting(String),
}

async fn ensure_children(
    test: &LocustTest,
    ctx: &Context,
    namespace: &str,
    children: &Children,
) -> Result<Ensured, Error> {
    let mut applied = Vec::new();
    let services = Api::<Service>::namespaced(ctx.client.clone(), namespace);
    let jobs = Api::<Job>::namespaced(ctx.client.clone(), namespace);
    // One at a time, stopping at the first refusal: a test whose Service name is taken must
    // not get Jobs that run without it.
    ctx.may_write()?;
    let step = ensure(test, &ctx.caches.services, services, &children.service).await?;
    if let Some(stop) = record(step, &mut applied) {
        return Ok(stop);
    }
    for job in [&children.master_job, &children.worker_job] {
        ctx.may_write()?;
        let step = ensure(test, &ctx.caches.jobs, jobs.clone(), job).await?;
        if let Some(stop) = record(step, &mut applied) {
            return Ok(stop);
        }
    }
    Ok(Ensured::Applied(applied))
}

/// Notes an applied child; a refusal or a wait ends the round.
fn record(step: Step, applied: &mut Vec<String>) -> Option<Ensured> {
    match step {
        Step::Present => None,
        Step::Applied(name) => {
            applied.push(name);
            None
        }
        Step::Refused(code, message) => Some(Ensured::Refused(code, message)),
        Step::Waiting(label) => Some(Ensured::Waiting(label)),
    }
}

enum Step {
    Present,
    Applied(String),
    Refused(&'static str, String),
    Waiting(String),
}

/// Creates one child unless the cache already holds it. Children never change after creation
/// (the spec is immutable), so a child in the cache needs nothing. One not in the cache is
/// created without a read first: a create cannot take over an object someone else made, and
/// its 409 (rare: a child the cache has not seen yet, a child of the Go operator, a foreign
/// object with our name) is cheaper than a GET before every create.
async fn ensure<K>(
    test: &LocustTest,
    cache: &kube::runtime::reflector::Store<K>,
    api: Api<K>,
    child: &K,
) -> Result<Step, Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = child.name_any();
    let label = format!("{} {name}", K::kind(&()));
    let namespace = test.namespace().unwrap_or_default();
    if let Some(cached) = cache.get(&ObjectRef::new(&name).within(&namespace)) {
        match adoption::claim(cached.owner_references(), test) {
            Claim::This => return Ok(Step::Present),
            Claim::Previous => return Ok(Step::Waiting(label)),
            Claim::Foreign => {}
        }
    }
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    match api.create(&params, child).await {
        Ok(_) => {
            debug!(child = %label, "created");
            return Ok(Step::Applied(label));
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        // 422: the API server refuses what we built; retrying cannot help.
        Err(kube::Error::Api(status)) if status.code == 422 => {
            return Ok(Step::Refused(
                reason::CHILD_REJECTED,
                format!("the API server refused the {label}: {}", status.message),
            ));
        }
        Err(error) => return Err(error.into()),
    }
    // The name is taken: ours not yet in the cache, the Go operator's (it lacks the label the
    // watches select on), a previous test's, or someone else's.
    let Some(existing) = api.get_opt(&name).await? else {
        // Deleted in between: the next round creates it.
        return Ok(Step::Waiting(label));
    };
    let claim = adoption::claim(existing.owner_references(), test);
    if claim == Claim::This {
        adoption::adopt_child(&api, &existing, child, test).await?;
    }
    Ok(match claim {
        Claim::This => Step::Present,
        Claim::Previous => Step::Waiting(label),
        Claim::Foreign => Step::Refused(
            reason::NAME_CONFLICT,
            format!(
                "a {label} already exists in namespace {namespace} and does not belong to this test; delete it or rename the LocustTest"
            ),
        ),
    })
}
