//! A schedule's runs: the LocustTest built from the template, and how the planner sees an
//! existing run.

use jiff::Timestamp;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::plan::{NewRun, RunView, Start};
#[cfg(test)]
use super::run_names::{manual_run_name, scheduled_run_name};
use crate::api::names::{ANNOTATION_SCHEDULED_AT, ANNOTATION_TRIGGER, LABEL_SCHEDULE};
use crate::api::schedule::LocustTestSchedule;
use crate::api::status::Phase;
use crate::api::v2::{BaselineReference, LocustTest};

/// Why a run could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("the LocustTestSchedule has no metadata.{0}")]
    MissingMetadata(&'static str),
}

/// The LocustTest of `run`: the template's spec, labels and annotations, the schedule label,
/// the scheduled time or trigger value, and the schedule as controller owner (deleting the
/// schedule deletes its runs). When the template has relative thresholds
/// (`thresholds.baseline`) and there is a `baseline`, it becomes their reference; without one
/// the template's reference (if any) stays.
pub fn build_run(
    schedule: &LocustTestSchedule,
    run: &NewRun,
    baseline: Option<BaselineReference>,
) -> Result<LocustTest, RunError> {
    let namespace = schedule
        .namespace()
        .ok_or(RunError::MissingMetadata("namespace"))?;
    let owner = schedule
        .controller_owner_ref(&())
        .ok_or(RunError::MissingMetadata("uid"))?;
    let template = schedule.spec.template.metadata.clone().unwrap_or_default();
    let mut labels = template.labels.unwrap_or_default();
    labels.insert(LABEL_SCHEDULE.to_string(), schedule.name_any());
    let mut annotations = template.annotations.unwrap_or_default();
    // A template must not pass a trigger or scheduled time of its own.
    annotations.remove(ANNOTATION_TRIGGER);
    annotations.remove(ANNOTATION_SCHEDULED_AT);
    match &run.start {
        Start::Scheduled(at) => {
            annotations.insert(ANNOTATION_SCHEDULED_AT.to_string(), at.to_string())
        }
        Start::Manual(value) => annotations.insert(ANNOTATION_TRIGGER.to_string(), value.clone()),
    };
    let mut test = LocustTest::new(&run.name, schedule.spec.template.spec.clone());
    if let Some(relative) = test
        .spec
        .thresholds
        .as_mut()
        .and_then(|t| t.baseline.as_mut())
        && baseline.is_some()
    {
        relative.reference = baseline;
    }
    test.metadata = ObjectMeta {
        name: Some(run.name.clone()),
        namespace: Some(namespace),
        labels: Some(labels),
        annotations: Some(annotations),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    };
    Ok(test)
}

/// The baseline for a new run: the figures of the newest succeeded run that has a result.
pub fn baseline_of(runs: &[LocustTest]) -> Option<BaselineReference> {
    let mut succeeded: Vec<&LocustTest> = runs
        .iter()
        .filter(|t| t.status.as_ref().and_then(|s| s.phase) == Some(Phase::Succeeded))
        .collect();
    succeeded.sort_by_key(|t| (view(t).created, t.name_any()));
    succeeded.iter().rev().find_map(|t| {
        let result = t.status.as_ref()?.result.as_ref()?;
        let reference = BaselineReference {
            run: Some(t.name_any()),
            average_response_time: result.average_response_time,
            p50_response_time: result.p50_response_time,
            p95_response_time: result.p95_response_time,
            p99_response_time: result.p99_response_time,
            requests_per_second: result.requests_per_second,
        };
        let any = reference.average_response_time.is_some()
            || reference.p50_response_time.is_some()
            || reference.p95_response_time.is_some()
            || reference.p99_response_time.is_some()
            || reference.requests_per_second.is_some();
        any.then_some(reference)
    })
}

/// Whether `test` is a run of `schedule`: labelled with its name and controlled by it (a
/// LocustTest a user labelled by hand is not pruned).
pub fn is_run_of(test: &LocustTest, schedule: &LocustTestSchedule) -> bool {
    test.namespace() == schedule.namespace()
        && test.labels().get(LABEL_SCHEDULE) == Some(&schedule.name_any())
        && test
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && Some(&o.uid) == schedule.metadata.uid.as_ref())
}

/// How the planner sees a run.
pub fn view(test: &LocustTest) -> RunView {
    let annotations = test.annotations();
    RunView {
        name: test.name_any(),
        phase: test.status.as_ref().and_then(|s| s.phase),
        created: test
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        scheduled_at: annotations
            .get(ANNOTATION_SCHEDULED_AT)
            .and_then(|t| t.parse().ok()),
        trigger: annotations.get(ANNOTATION_TRIGGER).cloned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::names::{MAX_NAME_LENGTH, MAX_SCHEDULE_NAME_LENGTH};
    use crate::api::v2::{BaselineSpec, LocustTestStatus, TestResult, ThresholdsSpec};
    use crate::manifests::sample_schedule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn schedule() -> LocustTestSchedule {
        let mut schedule = sample_schedule();
        schedule.metadata.namespace = Some("load".to_string());
        schedule.metadata.uid = Some("uid-1".to_string());
        schedule.spec.template.metadata = Some(crate::api::schedule::TemplateMetadata {
            labels: Some(BTreeMap::from([("team".to_string(), "shop".to_string())])),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_TRIGGER.to_string(),
                "from-template".to_string(),
            )])),
        });
        schedule
    }

    #[test]
    fn names_are_deterministic_and_fit_a_test_name() {
        let at: Timestamp = "2026-03-01T03:00:00Z".parse().unwrap();
        assert_eq!(scheduled_run_name("nightly", at), "nightly-29538900");
        assert_eq!(
            manual_run_name("nightly", "1"),
            manual_run_name("nightly", "1")
        );
        assert_ne!(
            manual_run_name("nightly", "1"),
            manual_run_name("nightly", "2")
        );
        let longest = "a".repeat(MAX_SCHEDULE_NAME_LENGTH);
        let far: Timestamp = "9999-12-30T00:00:00Z".parse().unwrap();
        assert!(scheduled_run_name(&longest, far).len() <= MAX_NAME_LENGTH);
        assert!(manual_run_name(&longest, "x").len() <= MAX_NAME_LENGTH);
    }

    #[test]
    fn run_is_owned_labelled_and_annotated() {
        let schedule = schedule();
        let at: Timestamp = "2026-03-01T02:00:00Z".parse().unwrap();
        let run = NewRun {
            name: scheduled_run_name("nightly", at),
            start: Start::Scheduled(at),
        };
        let test = build_run(&schedule, &run, None).unwrap();
        assert_eq!(test.metadata.namespace.as_deref(), Some("load"));
        assert_eq!(test.labels()[LABEL_SCHEDULE], "nightly");
        assert_eq!(test.labels()["team"], "shop");
        assert_eq!(
            test.annotations()[ANNOTATION_SCHEDULED_AT],
            "2026-03-01T02:00:00Z"
        );
        assert!(!test.annotations().contains_key(ANNOTATION_TRIGGER));
        let owner = &test.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("LocustTestSchedule", "nightly", Some(true))
        );
        assert_eq!(test.spec, schedule.spec.template.spec);
        assert!(is_run_of(&test, &schedule));
        let view = view(&test);
        assert_eq!(view.scheduled_at, Some(at));
        assert_eq!(view.trigger, None);

        let manual = NewRun {
            name: manual_run_name("nightly", "now"),
            start: Start::Manual("now".to_string()),
        };
        let test = build_run(&schedule, &manual, None).unwrap();
        assert_eq!(test.annotations()[ANNOTATION_TRIGGER], "now");
        assert_eq!(super::view(&test).trigger.as_deref(), Some("now"));
    }

    #[test]
    fn a_test_labelled_by_hand_is_not_a_run() {
        let schedule = schedule();
        let mut test = LocustTest::new("stray", schedule.spec.template.spec.clone());
        test.metadata.namespace = Some("load".to_string());
        test.metadata.labels = Some(BTreeMap::from([(
            LABEL_SCHEDULE.to_string(),
            "nightly".to_string(),
        )]));
        assert!(!is_run_of(&test, &schedule));
    }

    fn finished(name: &str, phase: Phase, created: &str, p95: Option<f64>) -> LocustTest {
        let mut test = LocustTest::new(name, schedule().spec.template.spec);
        test.metadata.creation_timestamp = Some(Time(created.parse().unwrap()));
        test.status = Some(LocustTestStatus {
            phase: Some(phase),
            result: p95.map(|p95| TestResult {
                p95_response_time: Some(p95),
                requests_per_second: Some(40.0),
                ..TestResult::default()
            }),
            ..LocustTestStatus::default()
        });
        test
    }

    #[test]
    fn the_baseline_is_the_newest_succeeded_run_with_figures() {
        let runs = [
            finished("n-1", Phase::Succeeded, "2026-03-01T01:00:00Z", Some(100.0)),
            finished("n-2", Phase::Succeeded, "2026-03-01T02:00:00Z", Some(200.0)),
            finished("n-3", Phase::Failed, "2026-03-01T03:00:00Z", Some(900.0)),
            // Succeeded without figures (stats reading off): not a baseline.
            finished("n-4", Phase::Succeeded, "2026-03-01T04:00:00Z", None),
        ];
        let baseline = baseline_of(&runs).unwrap();
        assert_eq!(baseline.run.as_deref(), Some("n-2"));
        assert_eq!(baseline.p95_response_time, Some(200.0));
        assert_eq!(baseline.requests_per_second, Some(40.0));
        assert_eq!(baseline_of(&runs[2..]), None);
    }

    #[test]
    fn a_run_with_relative_thresholds_gets_the_baseline_as_reference() {
        let mut schedule = schedule();
        schedule.spec.template.spec.thresholds = Some(ThresholdsSpec {
            baseline: Some(BaselineSpec {
                max_p95_response_time_ratio: Some(1.2),
                ..BaselineSpec::default()
            }),
            ..ThresholdsSpec::default()
        });
        let run = NewRun {
            name: manual_run_name("nightly", "x"),
            start: Start::Manual("x".to_string()),
        };
        let reference = BaselineReference {
            run: Some("nightly-1".to_string()),
            p95_response_time: Some(250.0),
            ..BaselineReference::default()
        };
        let test = build_run(&schedule, &run, Some(reference.clone())).unwrap();
        let baseline = test.spec.thresholds.unwrap().baseline.unwrap();
        assert_eq!(baseline.reference, Some(reference.clone()));
        assert_eq!(baseline.max_p95_response_time_ratio, Some(1.2));
        // Without a baseline run there is no reference: the limits pass and say so.
        let test = build_run(&schedule, &run, None).unwrap();
        assert_eq!(
            test.spec.thresholds.unwrap().baseline.unwrap().reference,
            None
        );
        // A template without relative thresholds is left as it is.
        let plain = self::schedule();
        let test = build_run(&plain, &run, Some(reference)).unwrap();
        assert_eq!(test.spec, plain.spec.template.spec);
    }
}
