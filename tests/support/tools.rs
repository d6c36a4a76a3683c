//! The pinned external tools, found the way `make test` provides them: a `TOOL_<NAME>` variable
//! (`TOOL_KUBE_APISERVER`, `TOOL_ETCD`, ...), else the same variables printed by
//! `hack/tools.sh --print-env`, so a plain `cargo test` works once `make tools` has run.
//!
//! A missing tool is an error whose message says how to install it; callers turn it into a
//! test failure, never a skip.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The variable that names `tool`: `kube-apiserver` -> `TOOL_KUBE_APISERVER`.
pub fn variable(tool: &str) -> String {
    format!("TOOL_{}", tool.to_uppercase().replace('-', "_"))
}

/// The path of one tool (`kube-apiserver`, `etcd`, `kwok`, `kubectl`, `helm`, ...).
pub fn tool(name: &str) -> Result<PathBuf, String> {
    tools([name]).map(|[path]| path)
}

/// Several tools at once; one error names every missing one and says how to install them.
pub fn tools<const N: usize>(names: [&str; N]) -> Result<[PathBuf; N], String> {
    let mut found = Vec::new();
    let mut unset = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        let var = variable(name);
        let Some(path) = lookup(&var) else {
            unset.push(format!("{name} ({var})"));
            continue;
        };
        if is_executable(&path) {
            found.push(path);
        } else {
            problems.push(format!(
                "{name}: {var}={} is not an executable file",
                path.display()
            ));
        }
    }
    if !unset.is_empty() {
        problems.push(format!(
            "{} not set, and `hack/tools.sh --print-env` does not print it: {}",
            unset.join(", "),
            script_error()
        ));
    }
    if !problems.is_empty() {
        return Err(format!(
            "missing tools:\n  {}\nRun `make tools` once (it builds the pinned tools into a cache \
             outside the repository), then `make test` or plain `cargo test`.",
            problems.join("\n  ")
        ));
    }
    found
        .try_into()
        .map_err(|_| "tool lookup lost a result".to_string())
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A directory `make tools` provides (`images` -> `TOOL_IMAGES_DIR`), found like a tool.
pub fn directory(name: &str) -> Result<PathBuf, String> {
    let var = format!("{}_DIR", variable(name));
    match lookup(&var) {
        Some(path) if path.is_dir() => Ok(path),
        Some(path) => Err(format!(
            "{var}={} is not a directory; run `make tools`",
            path.display()
        )),
        None => Err(format!(
            "{var} is not set, and `hack/tools.sh --print-env` does not print it: {}\n\
             Run `make tools` once, then `make test` or plain `cargo test`.",
            script_error()
        )),
    }
}

/// A variable from the environment, else from `hack/tools.sh --print-env`.
fn lookup(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(value) if !value.is_empty() => Some(PathBuf::from(value)),
        _ => tools_script_env().0.get(var).map(PathBuf::from),
    }
}

/// What `hack/tools.sh --print-env` said on failure (it names every missing tool).
fn script_error() -> String {
    tools_script_env()
        .1
        .clone()
        .unwrap_or_else(|| "it ran without complaint".to_string())
}

/// The `export NAME="value"` lines of `hack/tools.sh --print-env`, run once per process, and
/// its complaint if it failed. It prints every tool it has even when some are missing, so a
/// test that needs only present tools runs.
fn tools_script_env() -> &'static (HashMap<String, String>, Option<String>) {
    static ENV: OnceLock<(HashMap<String, String>, Option<String>)> = OnceLock::new();
    ENV.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/tools.sh");
        let output = match Command::new(&script).arg("--print-env").output() {
            Ok(output) => output,
            Err(e) => {
                return (
                    HashMap::new(),
                    Some(format!("cannot run {}: {e}", script.display())),
                );
            }
        };
        let env = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|assignment| assignment.split_once('='))
            .map(|(name, value)| (name.to_string(), value.trim_matches('"').to_string()))
            .collect();
        let error = (!output.status.success())
            .then(|| String::from_utf8_lossy(&output.stderr).trim().to_string());
        (env, error)
    })
}
