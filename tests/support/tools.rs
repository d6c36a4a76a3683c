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
        let path = match std::env::var_os(&var) {
            Some(value) if !value.is_empty() => PathBuf::from(value),
            _ => match tools_script_env() {
                Ok(env) => match env.get(&var) {
                    Some(value) => PathBuf::from(value),
                    None => {
                        problems.push(format!(
                            "{name}: `hack/tools.sh --print-env` does not print {var}"
                        ));
                        continue;
                    }
                },
                Err(_) => {
                    unset.push(format!("{name} ({var})"));
                    continue;
                }
            },
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
        let error = tools_script_env().err().unwrap_or_default();
        problems.push(format!(
            "{} not set, and `hack/tools.sh --print-env` failed: {error}",
            unset.join(", ")
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

/// The `export NAME="value"` lines of `hack/tools.sh --print-env`, run once per process.
fn tools_script_env() -> Result<&'static HashMap<String, String>, String> {
    static ENV: OnceLock<Result<HashMap<String, String>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/tools.sh");
        let output = Command::new(&script)
            .arg("--print-env")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|assignment| assignment.split_once('='))
            .map(|(name, value)| (name.to_string(), value.trim_matches('"').to_string()))
            .collect())
    })
    .as_ref()
    .map_err(Clone::clone)
}
