//! Command lines of master and workers.

use super::{args, base, build, build_err, locust, test_with};
use crate::config::Config;
use crate::resources::{BuildError, expected_workers, master_args, worker_args};

const OTEL: &str = "observability: {openTelemetry: {enabled: true, endpoint: http://c:4317}}";

fn master(overlay: &str) -> Vec<String> {
    master_args(&test_with(overlay).spec).unwrap()
}

fn worker(overlay: &str) -> Vec<String> {
    worker_args(&test_with(overlay).spec, "demo").unwrap()
}

/// The args after the command seed of the base test (6 tokens).
fn master_flags(overlay: &str) -> Vec<String> {
    master(overlay)[6..].to_vec()
}

#[test]
fn master_command_line_is_seed_then_operator_flags_then_extra_args() {
    assert_eq!(
        master("master: {extraArgs: [--exit-code-on-error, '3']}"),
        [
            "--locustfile",
            "/lotest/src/demo.py",
            "--host",
            "https://shop.example",
            "--users",
            "10",
            "--master",
            "--master-bind-port=5557",
            "--expect-workers=3",
            "--autostart",
            "--autoquit",
            "60",
            "--enable-rebalancing",
            "--only-summary",
            "--exit-code-on-error",
            "3",
        ]
    );
}

#[test]
fn master_binds_with_master_bind_port_because_locust_ignores_master_port_there() {
    let args = master("");
    assert!(args.contains(&"--master-bind-port=5557".to_string()));
    assert!(!args.iter().any(|a| a.starts_with("--master-port")));
}

#[test]
fn worker_command_line_connects_to_the_master_service() {
    assert_eq!(
        worker("worker: {extraArgs: [--stop-timeout, '10']}"),
        [
            "--locustfile",
            "/lotest/src/demo.py",
            "--worker",
            "--master-port=5557",
            "--master-host=demo-master",
            "--stop-timeout",
            "10",
        ]
    );
    let mut test = base();
    test.metadata.name = Some("team.checkout".to_string());
    assert!(args(&build(&test).worker_job).contains(&"--master-host=team-checkout-master"));
}

#[test]
fn jobs_carry_the_built_args_and_never_a_command() {
    let test = base();
    let children = build(&test);
    assert_eq!(locust(&children.master_job).command, None);
    assert_eq!(locust(&children.worker_job).command, None);
    assert_eq!(
        locust(&children.master_job).args,
        Some(master_args(&test.spec).unwrap())
    );
    assert_eq!(
        locust(&children.worker_job).args,
        Some(worker_args(&test.spec, "demo").unwrap())
    );
}

#[test]
fn command_seed_is_split_on_any_whitespace() {
    let args = master("master: {command: \"  -f  a.py\t--users\n5 \"}");
    assert_eq!(args[..4], ["-f", "a.py", "--users", "5"]);
}

#[test]
fn otel_flag_comes_before_the_role_flag_on_both_roles() {
    assert_eq!(master_flags(OTEL)[..2], ["--otel", "--master"]);
    assert_eq!(worker(OTEL)[2..4], ["--otel", "--worker"]);
    assert!(!master("").contains(&"--otel".to_string()));
    assert!(!worker("").contains(&"--otel".to_string()));
}

#[test]
fn autostart_false_leaves_out_autostart_and_autoquit() {
    assert_eq!(
        master_flags("master: {autostart: false}"),
        [
            "--master",
            "--master-bind-port=5557",
            "--expect-workers=3",
            "--enable-rebalancing",
            "--only-summary",
        ]
    );
}

#[test]
fn autoquit_disabled_keeps_autostart() {
    let flags = master_flags("master: {autoquit: {enabled: false, timeout: 30}}");
    assert!(flags.contains(&"--autostart".to_string()));
    assert!(!flags.contains(&"--autoquit".to_string()));
}

#[test]
fn autoquit_timeout_comes_from_the_spec_and_zero_is_kept() {
    for (overlay, timeout) in [
        ("", "60"),
        ("master: {autoquit: {}}", "60"),
        ("master: {autoquit: {enabled: true}}", "60"),
        ("master: {autoquit: {timeout: 15}}", "15"),
        ("master: {autoquit: {timeout: 0}}", "0"),
    ] {
        let flags = master_flags(overlay);
        let at = flags.iter().position(|a| a == "--autoquit").unwrap();
        assert_eq!(flags[at + 1], timeout, "{overlay}");
    }
}

#[test]
fn autoquit_from_extra_args_wins() {
    for extra in ["[--autoquit, '5']", "[--autoquit=5]"] {
        let args = master(&format!(
            "master: {{autoquit: {{timeout: 30}}, extraArgs: {extra}}}"
        ));
        let autoquits: Vec<_> = args
            .iter()
            .filter(|a| a.starts_with("--autoquit"))
            .collect();
        assert_eq!(autoquits.len(), 1, "{args:?}");
        assert!(args.ends_with(&serde_yaml::from_str::<Vec<String>>(extra).unwrap()));
        assert!(!args.contains(&"30".to_string()));
    }
}

#[test]
fn extra_args_repeating_operator_flags_are_dropped() {
    let args = master(&format!(
        "{{master: {{extraArgs: [--only-summary, --csv, out, --enable-rebalancing, --autostart, --otel, --html=r.html]}}, {OTEL}}}"
    ));
    let tail = &args[args.iter().position(|a| a == "--only-summary").unwrap() + 1..];
    assert_eq!(tail, ["--csv", "out", "--html=r.html"]);
    for flag in [
        "--only-summary",
        "--enable-rebalancing",
        "--autostart",
        "--otel",
    ] {
        assert_eq!(args.iter().filter(|a| *a == flag).count(), 1, "{flag}");
    }
    let args = worker(&format!(
        "{{worker: {{extraArgs: [--otel, --loglevel, DEBUG]}}, {OTEL}}}"
    ));
    assert_eq!(args.iter().filter(|a| *a == "--otel").count(), 1);
    assert!(args.ends_with(&["--loglevel".to_string(), "DEBUG".to_string()]));
}

#[test]
fn extra_args_the_operator_did_not_pass_are_kept() {
    let args = master("master: {autostart: false, extraArgs: [--autostart, --otel]}");
    assert!(args.ends_with(&["--autostart".to_string(), "--otel".to_string()]));
    assert_eq!(args.iter().filter(|a| *a == "--autostart").count(), 1);
    assert!(worker("worker: {extraArgs: [--otel]}").ends_with(&["--otel".to_string()]));
}

#[test]
fn topology_flags_in_extra_args_are_refused() {
    let config = Config::default();
    for (overlay, field, flag) in [
        (
            "master: {extraArgs: [--expect-workers, '9']}",
            "spec.master.extraArgs",
            "--expect-workers",
        ),
        (
            "master: {extraArgs: [--master-bind-port=6000]}",
            "spec.master.extraArgs",
            "--master-bind-port=6000",
        ),
        (
            "worker: {extraArgs: [--master-host=elsewhere]}",
            "spec.worker.extraArgs",
            "--master-host=elsewhere",
        ),
        (
            "worker: {extraArgs: [--master]}",
            "spec.worker.extraArgs",
            "--master",
        ),
    ] {
        assert_eq!(
            build_err(&test_with(overlay), &config),
            BuildError::OperatorFlag {
                field,
                flag: flag.to_string()
            },
        );
    }
    // Only whole flags count: a longer flag with the same start is the user's.
    assert!(
        master("master: {extraArgs: [--master-hostname-check]}")
            .ends_with(&["--master-hostname-check".to_string()])
    );
}

#[test]
fn expected_workers_is_replicas_times_processes() {
    for (overlay, expected) in [
        ("", 3),
        ("worker: {extraArgs: [--processes, '4']}", 12),
        ("worker: {extraArgs: [--processes=2]}", 6),
        ("worker: {extraArgs: [--processes, '2', --processes=5]}", 15),
        ("worker: {command: -f a.py --processes 2}", 6),
        (
            "worker: {command: -f a.py --processes 2, extraArgs: [--processes, '3']}",
            9,
        ),
        ("worker: {extraArgs: [--processes, '-1']}", 3),
        ("worker: {extraArgs: [--processes=0]}", 3),
        ("worker: {extraArgs: [--processes, many]}", 3),
        ("worker: {extraArgs: [--processes]}", 3),
        ("worker: {extraArgs: [--processes-x=4]}", 3),
        (
            "worker: {replicas: 500, extraArgs: ['--processes=2147483647']}",
            i32::MAX,
        ),
    ] {
        assert_eq!(
            expected_workers(&test_with(overlay).spec),
            expected,
            "{overlay}"
        );
    }
}

#[test]
fn processes_field_is_rendered_before_extra_args() {
    assert_eq!(
        worker("worker: {processes: 4, extraArgs: [--stop-timeout, '10']}")[2..],
        [
            "--worker",
            "--master-port=5557",
            "--master-host=demo-master",
            "--processes",
            "4",
            "--stop-timeout",
            "10",
        ]
    );
    assert!(!worker("").iter().any(|a| a.starts_with("--processes")));
}

#[test]
fn expected_workers_is_replicas_times_the_processes_field() {
    for (overlay, expected) in [
        ("worker: {processes: 1}", 3),
        ("worker: {processes: 4}", 12),
        ("worker: {replicas: 500, processes: 64}", 32_000),
        // Below the CRD's minimum: counted as the command line says, as without the field.
        ("worker: {processes: 0}", 3),
    ] {
        assert_eq!(
            expected_workers(&test_with(overlay).spec),
            expected,
            "{overlay}"
        );
    }
}

#[test]
fn processes_field_with_processes_flag_is_refused() {
    let config = Config::default();
    for overlay in [
        "worker: {processes: 2, extraArgs: [--processes, '4']}",
        "worker: {processes: 2, extraArgs: [--processes=4]}",
        "worker: {processes: 2, command: -f a.py --processes 4}",
        "worker: {processes: 2, command: -f a.py --processes=4}",
    ] {
        assert_eq!(
            build_err(&test_with(overlay), &config),
            BuildError::ProcessesTwice,
            "{overlay}"
        );
    }
    // A longer flag with the same start is not --processes.
    assert!(
        worker("worker: {processes: 2, extraArgs: [--processes-x]}")
            .ends_with(&["2".to_string(), "--processes-x".to_string()])
    );
}

#[test]
fn master_expects_every_worker_process() {
    let test = test_with("worker: {replicas: 5, extraArgs: [--processes, '4']}");
    assert!(args(&build(&test).master_job).contains(&"--expect-workers=20"));
    let test = test_with("worker: {replicas: 5, processes: 3}");
    assert!(args(&build(&test).master_job).contains(&"--expect-workers=15"));
}
