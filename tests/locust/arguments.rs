//! The operator's exact master and worker arguments run a real distributed test.

use std::sync::atomic::Ordering;

use locust_operator::resources::{expected_workers, worker_args};

use crate::{SERIAL, locustfile, run, spec, target};

#[test]
fn operator_arguments_run_a_distributed_test_that_quits_by_itself() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, hits) = target();
    let spec = spec(&locustfile(dir.path(), false), port, 2, &[]);
    let run = run(&spec, dir.path());
    assert_eq!(run.master_code, 0, "master log:\n{}", run.master_log);
    assert_eq!(run.worker_codes, vec![0, 0]);
    assert!(
        run.master_log.contains("2 workers connected"),
        "{}",
        run.master_log
    );
    assert!(
        run.master_log.contains("--autoquit time reached"),
        "{}",
        run.master_log
    );
    assert!(
        hits.load(Ordering::Relaxed) > 10,
        "the target saw {} requests",
        hits.load(Ordering::Relaxed)
    );
    eprintln!(
        "FIGURES: 1 master + 2 workers, 4 s run, quit by itself after {:.1}s",
        run.took.as_secs_f64()
    );
}

#[test]
fn failed_requests_make_the_master_exit_one_and_workers_zero() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, _) = target();
    let spec = spec(&locustfile(dir.path(), true), port, 1, &[]);
    let run = run(&spec, dir.path());
    // What the diagnosis' MasterFailed message explains.
    assert_eq!(run.master_code, 1, "master log:\n{}", run.master_log);
    assert_eq!(run.worker_codes, vec![0]);
}

#[test]
fn worker_processes_count_as_expected_workers() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, _) = target();
    let spec = spec(
        &locustfile(dir.path(), false),
        port,
        1,
        &["--processes", "2"],
    );
    assert_eq!(expected_workers(&spec), 2);
    let run = run(&spec, dir.path());
    assert_eq!(run.master_code, 0, "master log:\n{}", run.master_log);
    assert!(
        run.master_log.contains("2 workers connected"),
        "{}",
        run.master_log
    );
}

#[test]
fn processes_field_forks_workers_the_master_counts() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (port, _) = target();
    let mut spec = spec(&locustfile(dir.path(), false), port, 1, &[]);
    spec.worker.processes = Some(2);
    let args = worker_args(&spec, "demo").unwrap();
    assert!(
        args.windows(2).any(|w| w == ["--processes", "2"]),
        "{args:?}"
    );
    assert_eq!(expected_workers(&spec), 2);
    // One worker "pod": one locust process, which forks the second worker.
    let run = run(&spec, dir.path());
    assert_eq!(run.master_code, 0, "master log:\n{}", run.master_log);
    assert_eq!(run.worker_codes, vec![0]);
    assert!(
        run.master_log.contains("2 workers connected"),
        "{}",
        run.master_log
    );
    eprintln!(
        "FIGURES: 1 worker process with spec.worker.processes=2 gave the master 2 workers; run took {:.1}s",
        run.took.as_secs_f64()
    );
}
