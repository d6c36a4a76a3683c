//! LocustTestSchedules under the operator: a manual trigger starts a run owned and labelled by
//! its schedule; Forbid skips a trigger while a run is active; the oldest finished run is
//! pruned; a suspended schedule starts nothing until resumed, then catches up the missed time;
//! an invalid pattern and a run the API server refuses are conditions; deleting the schedule
//! deletes its runs; the last succeeded run's figures become the next run's baseline.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use locust_operator::api::names::{ANNOTATION_SCHEDULED_AT, LABEL_SCHEDULE};
use locust_operator::api::schedule::LocustTestSchedule;
use locust_operator::controller::schedule::run_names::manual_run_name;

use crate::common::*;

fn schedules_api(cluster: &Cluster, ns: &str) -> Api<LocustTestSchedule> {
    Api::namespaced(cluster.client(), ns)
}

/// A schedule whose runs are [`locust_test`]s kwok finishes after `delay`.
fn schedule(name: &str, pattern: &str, delay: &str, extra: Value) -> LocustTestSchedule {
    let template = locust_test("template", 1, delay, delay)["spec"].clone();
    let mut spec = json!({
        "schedule": pattern,
        "template": {"metadata": {"labels": {"team": "shop"}}, "spec": template},
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v1alpha1",
        "kind": "LocustTestSchedule",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

async fn prepare_schedules(cluster: &Cluster, prefix: &str) -> (String, support::Identity) {
    crd::install_schedule(cluster)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    prepare(cluster, prefix).await
}

/// The runs `kubectl get lotest -l locust.io/schedule=NAME` lists, oldest first.
async fn runs_of(cluster: &Cluster, ns: &str, name: &str) -> Vec<LocustTest> {
    let mut runs = tests_api(cluster, ns)
        .list(&ListParams::default().labels(&format!("{LABEL_SCHEDULE}={name}")))
        .await
        .unwrap()
        .items;
    runs.sort_by_key(|t| t.metadata.creation_timestamp.clone().map(|t| t.0));
    runs
}

async fn trigger(cluster: &Cluster, ns: &str, name: &str, value: &str) {
    schedules_api(cluster, ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"locust.io/trigger": value}}})),
        )
        .await
        .unwrap();
}

fn ready_condition(schedule: &LocustTestSchedule) -> Option<Condition> {
    schedule
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
}

/// Waits until the schedule's status satisfies `check`.
async fn wait_status(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&LocustTestSchedule) -> bool,
) -> LocustTestSchedule {
    let api = schedules_api(cluster, ns);
    wait::until_ok(what, Duration::from_secs(90), async || {
        let schedule = api.get(name).await.map_err(|e| e.to_string())?;
        if check(&schedule) {
            Ok(schedule)
        } else {
            Err(format!("status: {:?}", schedule.status))
        }
    })
    .await
}

/// Waits until the schedule has exactly `names` as runs.
async fn wait_runs(cluster: &Cluster, ns: &str, name: &str, names: &[&str]) -> Vec<LocustTest> {
    wait::until_ok(
        &format!("runs {names:?} of {name}"),
        Duration::from_secs(90),
        async || {
            let runs = runs_of(cluster, ns, name).await;
            let found: Vec<String> = runs.iter().map(|t| t.name_any()).collect();
            if found == names {
                Ok(runs)
            } else {
                Err(format!("runs {found:?}"))
            }
        },
    )
    .await
}

pub async fn schedule_trigger_runs_are_owned_labelled_forbidden_to_overlap_and_pruned(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare_schedules(cluster, "schedule-trigger").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    // Once a year at midnight of 1 January: never due while the test runs. One succeeded run
    // is kept.
    let created = schedules_api(cluster, &ns)
        .create(
            &PostParams::default(),
            &schedule(
                "nightly",
                "0 0 1 1 *",
                "12s",
                json!({"successfulRunsHistoryLimit": 1}),
            ),
        )
        .await
        .unwrap();
    let uid = created.uid().unwrap();
    let idle = wait_status(cluster, &ns, "nightly", "the schedule to be Ready", |s| {
        ready_condition(s).is_some_and(|c| c.status == "True" && c.reason == "Scheduled")
    })
    .await;
    let status = idle.status.clone().unwrap();
    assert!(status.next_schedule_time.unwrap().0 > Timestamp::now());
    assert_eq!(status.observed_generation, idle.metadata.generation);
    assert_eq!((status.active, status.last_run), (None, None));

    // Trigger 1: one run, owned and labelled, carrying the template's labels and spec.
    trigger(cluster, &ns, "nightly", "1").await;
    let runs = wait::until_ok("the first run", Duration::from_secs(60), async || {
        let runs = runs_of(cluster, &ns, "nightly").await;
        if runs.len() == 1 {
            Ok(runs)
        } else {
            Err(format!("{} runs", runs.len()))
        }
    })
    .await;
    let first = runs[0].name_any();
    assert!(first.starts_with("nightly-m"), "{first}");
    let owner = &runs[0].owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("LocustTestSchedule", uid.as_str(), Some(true))
    );
    assert_eq!(runs[0].labels()["team"], "shop");
    assert_eq!(runs[0].annotations()["locust.io/trigger"], "1");
    assert_eq!(runs[0].spec, created.spec.template.spec);
    let running = wait_phase(
        cluster,
        &ns,
        &first,
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    assert!(phase_of(&running) == Some(Phase::Running));
    let status = wait_status(cluster, &ns, "nightly", "the run listed as active", |s| {
        s.status.as_ref().is_some_and(|st| {
            st.active.as_deref() == Some(&[first.clone()][..])
                && st.last_trigger.as_deref() == Some("1")
        })
    })
    .await
    .status
    .unwrap();
    assert_eq!(status.last_run.unwrap().name, first);

    // Trigger 2 while the first run is active: Forbid (the default) skips it for good.
    trigger(cluster, &ns, "nightly", "2").await;
    wait_status(cluster, &ns, "nightly", "trigger 2 handled", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.last_trigger.as_deref() == Some("2"))
    })
    .await;
    assert_eq!(
        runs_of(cluster, &ns, "nightly")
            .await
            .iter()
            .map(|t| t.name_any())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&first),
        "Forbid started a second run while one was active"
    );
    let skipped = wait::until("a RunSkipped event", Duration::from_secs(30), async || {
        event_reasons(cluster, &ns, "nightly")
            .await
            .contains("RunSkipped")
            .then_some(())
    })
    .await;
    let () = skipped;

    // The first run ends; trigger 3 starts the second; when it succeeds, the first (the
    // oldest succeeded run beyond the limit of one) is deleted.
    wait_phase(
        cluster,
        &ns,
        &first,
        Phase::Succeeded,
        Duration::from_secs(90),
    )
    .await;
    let status = wait_status(cluster, &ns, "nightly", "the first run's success", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.last_successful_run.as_deref() == Some(first.as_str()))
    })
    .await
    .status
    .unwrap();
    let last = status.last_run.unwrap();
    assert_eq!(
        (last.name.as_str(), last.phase),
        (first.as_str(), Some(Phase::Succeeded))
    );
    assert_eq!(status.active, None);
    trigger(cluster, &ns, "nightly", "3").await;
    let second = wait::until_ok("the second run", Duration::from_secs(60), async || {
        let runs = runs_of(cluster, &ns, "nightly").await;
        match runs.iter().find(|t| t.name_any() != first) {
            Some(run) => Ok(run.name_any()),
            None => Err(format!("{} runs", runs.len())),
        }
    })
    .await;
    wait_phase(
        cluster,
        &ns,
        &second,
        Phase::Succeeded,
        Duration::from_secs(90),
    )
    .await;
    wait_runs(cluster, &ns, "nightly", &[second.as_str()]).await;
    let status = wait_status(cluster, &ns, "nightly", "the second run's success", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.last_successful_run.as_deref() == Some(second.as_str()))
    })
    .await
    .status
    .unwrap();
    assert_eq!(status.last_run.map(|r| r.name), Some(second.clone()));
    let reasons = event_reasons(cluster, &ns, "nightly").await;
    assert!(reasons.contains("RunStarted"), "{reasons:?}");
    // The commands docs/schedules.md shows.
    for args in [
        vec![
            "get",
            "lotest",
            "-n",
            &ns,
            "-l",
            "locust.io/schedule=nightly",
            "-o",
            "name",
        ],
        vec!["get", "lotestsched", "-n", &ns],
    ] {
        let out = cluster.run_kubectl(&args, None);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&second) && !text.contains(&first),
            "kubectl {args:?}:\n{text}"
        );
    }

    // Deleting the schedule deletes its runs (garbage collection of owned objects).
    schedules_api(cluster, &ns)
        .delete("nightly", &DeleteParams::foreground())
        .await
        .unwrap();
    wait_runs(cluster, &ns, "nightly", &[]).await;
}

pub async fn suspended_schedule_catches_up_and_bad_patterns_and_refused_runs_are_reported(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare_schedules(cluster, "schedule-suspend").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    let api = schedules_api(cluster, &ns);

    // A pattern that is not cron: the API server accepts it, the operator reports it.
    api.create(
        &PostParams::default(),
        &schedule("broken", "every minute", "5s", json!({})),
    )
    .await
    .unwrap();
    // An unknown zone likewise.
    api.create(
        &PostParams::default(),
        &schedule(
            "nowhere",
            "* * * * *",
            "5s",
            json!({"timeZone": "Mars/Olympus"}),
        ),
    )
    .await
    .unwrap();

    // Every minute, but suspended.
    let created = api
        .create(
            &PostParams::default(),
            &schedule("minutely", "* * * * *", "5s", json!({"suspend": true})),
        )
        .await
        .unwrap();
    let since = created.metadata.creation_timestamp.clone().unwrap().0;
    let suspended = wait_status(cluster, &ns, "minutely", "the Suspended condition", |s| {
        ready_condition(s).is_some_and(|c| c.reason == "Suspended")
    })
    .await;
    assert_eq!(suspended.status.unwrap().next_schedule_time, None);
    for (name, words) in [("broken", "every minute"), ("nowhere", "Mars/Olympus")] {
        let invalid = wait_status(cluster, &ns, name, "the InvalidSchedule condition", |s| {
            ready_condition(s).is_some_and(|c| c.reason == "InvalidSchedule")
        })
        .await;
        let condition = ready_condition(&invalid).unwrap();
        assert_eq!(condition.status, "False");
        assert!(condition.message.contains(words), "{}", condition.message);
        assert_eq!(runs_of(cluster, &ns, name).await.len(), 0);
    }

    // A template the schedule's CRD admits but the API server refuses as a run: a volume
    // named <run>-master (a rule on the LocustTest's root, which knows the run's name).
    let run = manual_run_name("rejected", "1");
    let mut rejected = schedule("rejected", "0 0 1 1 *", "5s", json!({}));
    rejected.spec.template.spec.volumes = Some(vec![
        serde_json::from_value(json!({"name": format!("{run}-master"), "emptyDir": {}})).unwrap(),
    ]);
    api.create(&PostParams::default(), &rejected).await.unwrap();
    trigger(cluster, &ns, "rejected", "1").await;
    let refused = wait_status(cluster, &ns, "rejected", "the RunRejected condition", |s| {
        ready_condition(s).is_some_and(|c| c.reason == "RunRejected")
            && s.status
                .as_ref()
                .is_some_and(|st| st.last_trigger.as_deref() == Some("1"))
    })
    .await;
    let condition = ready_condition(&refused).unwrap();
    assert_eq!(condition.status, "False");
    assert!(
        condition.message.contains(&run) && condition.message.contains("a volume may not be named"),
        "{}",
        condition.message
    );
    assert_eq!(runs_of(cluster, &ns, "rejected").await.len(), 0);
    assert!(
        event_reasons(cluster, &ns, "rejected")
            .await
            .contains("RunRejected")
    );

    // A minute boundary passes while suspended: nothing starts.
    let boundary = Timestamp::from_second((since.as_second().div_euclid(60) + 1) * 60).unwrap();
    wait::until(
        "a minute boundary to pass",
        Duration::from_secs(70),
        async || (Timestamp::now().as_second() >= boundary.as_second() + 3).then_some(()),
    )
    .await;
    assert_eq!(runs_of(cluster, &ns, "minutely").await.len(), 0);
    // Later reconciles (the schedule's own status writes, the requeue) kept the refusal.
    let still = api.get("rejected").await.unwrap();
    assert_eq!(
        ready_condition(&still).map(|c| c.reason),
        Some("RunRejected".to_string())
    );

    // Resumed without a starting deadline: the missed time starts at once, named after it.
    api.patch(
        "minutely",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    let run = wait::until_ok("the caught-up run", Duration::from_secs(30), async || {
        let runs = runs_of(cluster, &ns, "minutely").await;
        runs.first().cloned().ok_or_else(|| "no run".to_string())
    })
    .await;
    let scheduled: Timestamp = run.annotations()[ANNOTATION_SCHEDULED_AT].parse().unwrap();
    assert!(
        scheduled >= boundary && scheduled <= Timestamp::now(),
        "{scheduled}"
    );
    assert_eq!(scheduled.as_second() % 60, 0);
    assert_eq!(
        run.name_any(),
        format!("minutely-{}", scheduled.as_second() / 60)
    );
    let status = wait_status(cluster, &ns, "minutely", "the resumed status", |s| {
        ready_condition(s).is_some_and(|c| c.reason == "Scheduled")
            && s.status
                .as_ref()
                .is_some_and(|st| st.last_schedule_time.is_some())
    })
    .await
    .status
    .unwrap();
    assert!(status.last_schedule_time.unwrap().0 >= scheduled);
    let next = status.next_schedule_time.unwrap().0;
    assert!(next > scheduled && next.as_second() % 60 == 0, "{next}");
}

pub async fn schedule_passes_its_last_succeeded_runs_figures_as_the_baseline(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare_schedules(cluster, "schedule-baseline").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    let mut relative = schedule("perf", "0 0 1 1 *", "3s", json!({}));
    relative.spec.template.spec.thresholds = Some(
        serde_json::from_value(json!({"baseline": {
            "maxP95ResponseTimeRatio": 1.2, "minRequestsPerSecondRatio": 0.9,
        }}))
        .unwrap(),
    );
    schedules_api(cluster, &ns)
        .create(&PostParams::default(), &relative)
        .await
        .unwrap();

    // The first run has no earlier run: no reference (its relative limits pass, saying so).
    trigger(cluster, &ns, "perf", "1").await;
    let first = wait::until_ok("the first run", Duration::from_secs(60), async || {
        let runs = runs_of(cluster, &ns, "perf").await;
        runs.first().cloned().ok_or_else(|| "no run".to_string())
    })
    .await;
    let baseline = |test: &LocustTest| {
        test.spec
            .thresholds
            .as_ref()
            .and_then(|t| t.baseline.clone())
            .unwrap()
    };
    assert_eq!(baseline(&first).reference, None);
    assert_eq!(baseline(&first).max_p95_response_time_ratio, Some(1.2));

    // It ends (kwok runs no Locust, so its thresholds go unevaluated); then it is given the
    // figures a real master would have reported, as a succeeded run.
    let name = first.name_any();
    wait::until_ok(
        "the first run to end",
        Duration::from_secs(90),
        async || {
            let test = tests_api(cluster, &ns)
                .get(&name)
                .await
                .map_err(|e| e.to_string())?;
            match phase_of(&test) {
                Some(p) if p.is_terminal() => Ok(()),
                other => Err(format!("phase {other:?}")),
            }
        },
    )
    .await;
    tests_api(cluster, &ns)
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Succeeded", "result": {
                "p95ResponseTime": 250.0, "requestsPerSecond": 40.0, "averageResponseTime": 120.0,
            }}})),
        )
        .await
        .unwrap();
    wait_status(cluster, &ns, "perf", "the first run as last success", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.last_successful_run.as_deref() == Some(name.as_str()))
    })
    .await;

    // The next run carries those figures as its reference.
    trigger(cluster, &ns, "perf", "2").await;
    let second = wait::until_ok("the second run", Duration::from_secs(60), async || {
        let runs = runs_of(cluster, &ns, "perf").await;
        runs.into_iter()
            .find(|t| t.name_any() != name)
            .ok_or_else(|| "no second run".to_string())
    })
    .await;
    let reference = baseline(&second).reference.unwrap();
    assert_eq!(reference.run.as_deref(), Some(name.as_str()));
    assert_eq!(reference.p95_response_time, Some(250.0));
    assert_eq!(reference.requests_per_second, Some(40.0));
    assert_eq!(reference.average_response_time, Some(120.0));
    assert_eq!(reference.p99_response_time, None);
}

pub async fn schedule_replace_deletes_the_active_run_then_starts_the_new_one(
    cluster: &'static Cluster,
) {
    let (ns, identity) = prepare_schedules(cluster, "schedule-replace").await;
    let _operator = start_operator(cluster, &ns, &identity, "2m").await;
    // Runs that keep running until deleted ("1h"); Replace.
    schedules_api(cluster, &ns)
        .create(
            &PostParams::default(),
            &schedule(
                "soak",
                "0 0 1 1 *",
                "1h",
                json!({"concurrencyPolicy": "Replace"}),
            ),
        )
        .await
        .unwrap();
    trigger(cluster, &ns, "soak", "1").await;
    let first = wait::until_ok("the first run", Duration::from_secs(60), async || {
        let runs = runs_of(cluster, &ns, "soak").await;
        runs.first()
            .map(|t| t.name_any())
            .ok_or_else(|| "no run".to_string())
    })
    .await;
    wait_phase(
        cluster,
        &ns,
        &first,
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;

    trigger(cluster, &ns, "soak", "2").await;
    let second = wait::until_ok(
        "the first run replaced by a second",
        Duration::from_secs(60),
        async || {
            let runs = runs_of(cluster, &ns, "soak").await;
            let names: Vec<String> = runs.iter().map(|t| t.name_any()).collect();
            match names.as_slice() {
                [only] if *only != first => Ok(only.clone()),
                _ => Err(format!("runs {names:?}")),
            }
        },
    )
    .await;
    let status = wait_status(cluster, &ns, "soak", "the second run active", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.active.as_deref() == Some(std::slice::from_ref(&second)))
    })
    .await
    .status
    .unwrap();
    assert_eq!(status.last_run.map(|r| r.name), Some(second));
    let reasons = event_reasons(cluster, &ns, "soak").await;
    assert!(reasons.contains("RunReplaced"), "{reasons:?}");
}
