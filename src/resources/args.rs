//! Command lines of the Locust containers (container `args`; the image's entrypoint is
//! `locust`). See DESIGN.md section 7 for the Locust behaviour each flag relies on.

use crate::api::crd::TOPOLOGY_FLAGS;
use crate::api::names::{
    DEFAULT_AUTOQUIT_ENABLED, DEFAULT_AUTOQUIT_TIMEOUT_SECONDS, DEFAULT_AUTOSTART, FLAG_AUTOQUIT,
    FLAG_AUTOSTART, FLAG_ENABLE_REBALANCING, FLAG_EXPECT_WORKERS, FLAG_MASTER,
    FLAG_MASTER_BIND_PORT, FLAG_MASTER_HOST, FLAG_MASTER_PORT, FLAG_ONLY_SUMMARY, FLAG_OTEL,
    FLAG_PROCESSES, FLAG_WEB_BASE_PATH, FLAG_WORKER, MASTER_BIND_PORT, Role, child_name,
};
use crate::api::v2::LocustTestSpec;

use super::{BuildError, open_telemetry};

/// Arguments of the master container: the command seed, the operator's flags, then
/// `master.extraArgs`. An extra argument repeating a flag the operator already passes is
/// dropped; a user `--autoquit` replaces the operator's.
/// `spec.master.webUI.basePath`, when set.
pub fn web_base_path(spec: &LocustTestSpec) -> Option<&str> {
    spec.master.web_ui.as_ref()?.base_path.as_deref()
}

pub fn master_args(spec: &LocustTestSpec) -> Result<Vec<String>, BuildError> {
    let master = &spec.master;
    let extra = master.extra_args.as_deref().unwrap_or_default();
    refuse_operator_flags(extra, "spec.master.extraArgs")?;

    let autostart = master.autostart.unwrap_or(DEFAULT_AUTOSTART);
    let autoquit = master.autoquit.as_ref();
    let autoquit_enabled = autoquit
        .and_then(|a| a.enabled)
        .unwrap_or(DEFAULT_AUTOQUIT_ENABLED);
    let timeout = autoquit
        .and_then(|a| a.timeout)
        .unwrap_or(DEFAULT_AUTOQUIT_TIMEOUT_SECONDS);
    let user_autoquit = extra.iter().any(|a| is_flag(a, FLAG_AUTOQUIT));

    let mut args = seed(&master.command);
    // Flags the operator passes that an identical extra argument would only repeat.
    let mut passed: Vec<&str> = Vec::new();
    if open_telemetry(spec).is_some() {
        passed.push(FLAG_OTEL);
    }
    args.extend(passed.iter().map(|f| f.to_string()));
    args.push(FLAG_MASTER.to_string());
    args.push(format!("{FLAG_MASTER_BIND_PORT}={MASTER_BIND_PORT}"));
    args.push(format!("{FLAG_EXPECT_WORKERS}={}", expected_workers(spec)));
    if autostart {
        args.push(FLAG_AUTOSTART.to_string());
        passed.push(FLAG_AUTOSTART);
        // Locust refuses --autoquit without --autostart.
        if autoquit_enabled && !user_autoquit {
            args.push(FLAG_AUTOQUIT.to_string());
            args.push(timeout.to_string());
        }
    }
    for flag in [FLAG_ENABLE_REBALANCING, FLAG_ONLY_SUMMARY] {
        args.push(flag.to_string());
        passed.push(flag);
    }
    if let Some(path) = web_base_path(spec) {
        args.push(format!("{FLAG_WEB_BASE_PATH}={path}"));
    }
    args.extend(without(extra, &passed));
    Ok(args)
}

/// Arguments of a worker container: the command seed, the flags that connect it to the master
/// Service, `--processes P` when `worker.processes` is set, then `worker.extraArgs` (a repeated
/// `--otel` dropped).
pub fn worker_args(spec: &LocustTestSpec, test_name: &str) -> Result<Vec<String>, BuildError> {
    let extra = spec.worker.extra_args.as_deref().unwrap_or_default();
    refuse_operator_flags(extra, "spec.worker.extraArgs")?;
    refuse_processes_twice(spec)?;

    let mut args = seed(&spec.worker.command);
    let mut passed: Vec<&str> = Vec::new();
    if open_telemetry(spec).is_some() {
        args.push(FLAG_OTEL.to_string());
        passed.push(FLAG_OTEL);
    }
    args.push(FLAG_WORKER.to_string());
    args.push(format!("{FLAG_MASTER_PORT}={MASTER_BIND_PORT}"));
    args.push(format!(
        "{FLAG_MASTER_HOST}={}",
        child_name(test_name, Role::Master)
    ));
    if let Some(processes) = spec.worker.processes {
        args.push(FLAG_PROCESSES.to_string());
        args.push(processes.to_string());
    }
    args.extend(without(extra, &passed));
    Ok(args)
}

/// Locust worker processes per worker pod (each forked process connects as one worker):
/// `worker.processes` when it is set and >= 1; otherwise P when the worker command line carries
/// `--processes P` or `--processes=P` with P >= 1, else 1. On the command line the last
/// occurrence counts, as in Locust; the command seed is read as well as `extraArgs`.
/// `--processes -1` (one per CPU core) cannot be known here and counts as 1.
pub fn processes_per_pod(spec: &LocustTestSpec) -> i32 {
    spec.worker
        .processes
        .filter(|p| *p >= 1)
        .unwrap_or_else(|| command_line_processes(spec))
}

/// The `--processes` value of the worker's command seed and `extraArgs` (last occurrence), 1
/// when there is none or it is not a count >= 1.
fn command_line_processes(spec: &LocustTestSpec) -> i32 {
    let worker = &spec.worker;
    let tokens: Vec<&str> = worker
        .command
        .split_whitespace()
        .chain(worker.extra_args.iter().flatten().map(String::as_str))
        .collect();
    let mut processes = None;
    for (i, token) in tokens.iter().enumerate() {
        let value = if *token == FLAG_PROCESSES {
            tokens.get(i + 1).copied()
        } else {
            token
                .strip_prefix(FLAG_PROCESSES)
                .and_then(|rest| rest.strip_prefix('='))
        };
        if let Some(value) = value {
            processes = value.parse::<i32>().ok();
        }
    }
    processes.filter(|p| *p >= 1).unwrap_or(1)
}

/// Workers the master waits for: `worker.replicas` times [`processes_per_pod`].
pub fn expected_workers(spec: &LocustTestSpec) -> i32 {
    spec.worker.replicas.saturating_mul(processes_per_pod(spec))
}

/// The command seed split on whitespace (no shell quoting, as in the Go operator).
fn seed(command: &str) -> Vec<String> {
    command.split_whitespace().map(str::to_string).collect()
}

/// `arg` is `flag` or `flag=value`.
fn is_flag(arg: &str, flag: &str) -> bool {
    arg.strip_prefix(flag)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
}

/// The extra arguments except exact repeats of flags the operator already passed.
fn without<'a>(extra: &'a [String], passed: &'a [&str]) -> impl Iterator<Item = String> + 'a {
    extra
        .iter()
        .filter(|arg| !passed.contains(&arg.as_str()))
        .cloned()
}

/// The CRD refuses `worker.processes` together with a `--processes` flag on the worker command
/// line; this is the safety net (Locust would take the last one, the operator would count the
/// field).
fn refuse_processes_twice(spec: &LocustTestSpec) -> Result<(), BuildError> {
    let worker = &spec.worker;
    let on_command_line = worker
        .command
        .split_whitespace()
        .chain(worker.extra_args.iter().flatten().map(String::as_str))
        .any(|arg| is_flag(arg, FLAG_PROCESSES));
    if worker.processes.is_some() && on_command_line {
        return Err(BuildError::ProcessesTwice);
    }
    Ok(())
}

/// The CRD refuses the topology flags in extraArgs; this is the safety net for a spec that
/// reached the operator without that rule (it would connect master and workers wrongly).
fn refuse_operator_flags(extra: &[String], field: &'static str) -> Result<(), BuildError> {
    match extra
        .iter()
        .find(|arg| TOPOLOGY_FLAGS.iter().any(|flag| is_flag(arg, flag)))
    {
        Some(flag) => Err(BuildError::OperatorFlag {
            field,
            flag: flag.clone(),
        }),
        None => Ok(()),
    }
}
