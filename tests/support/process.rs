//! The processes of one cluster and the guarantees that none outlives it.
//!
//! Four layers, each covering what the previous one cannot:
//! 1. Every component runs in its own process group, so one signal reaches it and anything it
//!    forks, and a Ctrl-C aimed at the terminal's foreground group does not kill it half-way.
//! 2. [`Processes::stop`] (called at the end of each test binary, after every test ran, panics
//!    included) terminates the groups, waits, kills what is left and removes the directory.
//! 3. A reaper: a small `sh` started with the cluster, in its own group, reading the group ids
//!    from a pipe. When the owner dies in any way (SIGKILL, Ctrl-C, abort) the pipe closes and
//!    the reaper kills the groups and removes the directory. It is the kill-on-parent-death
//!    layer; `prctl(PR_SET_PDEATHSIG)` would need `unsafe` `pre_exec`, which the crate's
//!    `unsafe_code = "forbid"` lint rules out (it applies to tests too).
//! 4. A sweep on start: every cluster directory records its owner (pid and start time) and its
//!    process groups; a directory whose owner is gone is cleaned up by the next run, in case even
//!    the reaper was killed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// In each cluster directory: `<pid> <start time>` of the owning process.
pub const OWNER_FILE: &str = "owner";
/// In each cluster directory: `<process group> <component>`, one line per component.
pub const GROUPS_FILE: &str = "process-groups";
/// Set to keep a finished cluster's directory (logs, certificates) for a look; the next run's
/// sweep removes it.
pub const KEEP_VARIABLE: &str = "LOCUST_TEST_KEEP_CLUSTER";

const REAPER: &str = r#"
dir=$1
groups=
while IFS= read -r line; do
  [ "$line" = done ] && exit 0
  groups="$groups $line"
done
for g in $groups; do kill -TERM -$g 2>/dev/null; done
i=0
while [ $i -lt 50 ]; do
  alive=
  for g in $groups; do kill -0 -$g 2>/dev/null && alive=1; done
  [ -z "$alive" ] && break
  sleep 0.1
  i=$((i + 1))
done
for g in $groups; do kill -KILL -$g 2>/dev/null; done
[ -f "$dir/teardown.sh" ] && sh "$dir/teardown.sh"
[ -n "$LOCUST_TEST_KEEP_CLUSTER" ] || rm -rf --one-file-system -- "$dir"
"#;

/// In a cluster directory: a script that undoes what the cluster changed outside its processes
/// (the real node's cgroups, mounts and network); run by every teardown path before the
/// directory is removed.
pub const TEARDOWN_FILE: &str = "teardown.sh";

struct Component {
    name: String,
    child: Child,
    log: PathBuf,
}

/// The running components of one cluster, rooted in its directory.
pub struct Processes {
    dir: PathBuf,
    components: Mutex<Vec<Component>>,
    reaper: Mutex<Option<(Child, ChildStdin)>>,
}

impl Processes {
    /// Claims `dir` (created by the caller) for this process and starts the reaper.
    pub fn new(dir: &Path) -> Result<Self, String> {
        let me = std::process::id();
        let started = start_time(me).ok_or("cannot read this process's start time")?;
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::write(dir.join(OWNER_FILE), format!("{me} {started}\n"))
            .map_err(|e| format!("cannot write the owner file: {e}"))?;
        let mut reaper = Command::new("sh")
            .arg("-c")
            .arg(REAPER)
            .arg("locust-test-cluster-reaper")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the reaper (sh): {e}"))?;
        let stdin = reaper.stdin.take().ok_or("the reaper has no stdin")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            components: Mutex::new(Vec::new()),
            reaper: Mutex::new(Some((reaper, stdin))),
        })
    }

    /// Starts `program` in its own process group, output to `logs/<name>.log`.
    pub fn spawn(&self, name: &str, program: &Path, args: &[String]) -> Result<(), String> {
        let log = self.dir.join("logs").join(format!("{name}.log"));
        let out =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({}): {e}", program.display()))?;
        self.adopt(name, child.id())?;
        self.components
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Component {
                name: name.to_string(),
                child,
                log,
            });
        Ok(())
    }

    /// Records the script that undoes what this cluster changes on the host besides its
    /// processes; [`Processes::stop`], the reaper and the sweep run it after killing the groups.
    pub fn set_teardown(&self, script: &str) -> Result<(), String> {
        std::fs::write(self.dir.join(TEARDOWN_FILE), script)
            .map_err(|e| format!("cannot write the teardown script: {e}"))
    }

    /// Puts a process group started elsewhere (a test's own child) under the reaper and the
    /// sweep, so it cannot outlive the test binary either; the caller still stops it.
    pub fn adopt(&self, name: &str, pid: u32) -> Result<(), String> {
        let mut groups = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(GROUPS_FILE))
            .map_err(|e| format!("cannot record the process group of {name}: {e}"))?;
        writeln!(groups, "{pid} {name}").map_err(|e| e.to_string())?;
        if let Some((_, stdin)) = self
            .reaper
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            // A reaper that is gone cannot be helped here; layers 2 and 4 still hold.
            let _ = writeln!(stdin, "{pid}");
        }
        Ok(())
    }

    /// An error naming the first component that exited, with the end of its log.
    pub fn check_running(&self) -> Result<(), String> {
        let mut components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        for component in components.iter_mut() {
            if let Ok(Some(status)) = component.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}); last lines of {}:\n{}",
                    component.name,
                    component.log.display(),
                    log_tail(&component.log, 40)
                ));
            }
        }
        Ok(())
    }

    /// The end of one component's log, for failure messages.
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        log_tail(&self.dir.join("logs").join(format!("{name}.log")), lines)
    }

    /// Terminates every component (SIGTERM to its group, SIGKILL after `grace`), dismisses the
    /// reaper and removes the directory unless [`KEEP_VARIABLE`] is set.
    pub fn stop(&self, grace: Duration) {
        let mut components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        for component in components.iter() {
            let _ = killpg(group_of(&component.child), Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        for component in components.iter_mut() {
            while Instant::now() < deadline && matches!(component.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            // The group too: anything a component forked goes with it.
            let _ = killpg(group_of(&component.child), Signal::SIGKILL);
            let _ = component.child.wait();
        }
        components.clear();
        // Groups adopted from tests (an operator process kept in a static, say) go too; only a
        // leader whose command line still names this directory, so a reused pid is never hit.
        kill_recorded_groups(&self.dir);
        run_teardown(&self.dir);
        if let Some((mut reaper, mut stdin)) =
            self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take()
        {
            let _ = writeln!(stdin, "done");
            drop(stdin);
            let _ = reaper.wait();
        }
        if std::env::var_os(KEEP_VARIABLE).is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("{KEEP_VARIABLE} is set: kept {}", self.dir.display());
        }
    }
}

/// SIGKILLs each process group recorded in `dir` whose leader still runs a command that names
/// `dir`.
fn kill_recorded_groups(dir: &Path) {
    let marker = dir.to_string_lossy().into_owned();
    let groups = std::fs::read_to_string(dir.join(GROUPS_FILE)).unwrap_or_default();
    for pid in groups
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<i32>().ok())
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&marker) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Runs the directory's teardown script, if it has one.
fn run_teardown(dir: &Path) {
    let script = dir.join(TEARDOWN_FILE);
    if script.exists() {
        match Command::new("sh").arg(&script).output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "{} failed ({}): {}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(e) => eprintln!("cannot run {}: {e}", script.display()),
        }
    }
}

fn group_of(child: &Child) -> Pid {
    // process_group(0) made each component the leader of a group with its own pid.
    Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX))
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), which
/// tells a live owner from a new process that reused its pid.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that owns `dir` is still running.
pub fn owner_alive(dir: &Path) -> Option<u32> {
    let owner = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
    let mut fields = owner.split_whitespace();
    let pid: u32 = fields.next()?.parse().ok()?;
    let started: u64 = fields.next()?.parse().ok()?;
    (start_time(pid) == Some(started)).then_some(pid)
}

/// Cleans up a cluster directory whose owner is gone: kills each recorded process group whose
/// leader still runs a command that names this directory (so a recycled pid is never hit), then
/// removes the directory. Returns whether it did anything.
pub fn sweep(dir: &Path) -> bool {
    if owner_alive(dir).is_some() {
        return false;
    }
    if !dir.join(OWNER_FILE).exists() {
        // A directory another run has just created and not yet claimed looks the same as a
        // broken one for a moment; only an old one is stale.
        let age = dir
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if age.is_none_or(|age| age < Duration::from_secs(60)) {
            return false;
        }
    }
    kill_recorded_groups(dir);
    run_teardown(dir);
    std::fs::remove_dir_all(dir).is_ok()
}

/// Sweeps every stale cluster directory under `base`.
pub fn sweep_all(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.is_dir() && sweep(&dir) {
            eprintln!(
                "removed a test cluster left by an interrupted run: {}",
                dir.display()
            );
        }
    }
}
