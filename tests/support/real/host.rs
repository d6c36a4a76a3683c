//! What the real node changes on the host, and how all of it is undone.
//!
//! Everything the node adds to the host is named per run or lives in the cluster directory:
//! * a network namespace `lkop-<id>` holding the node's side of everything: its veth end (the
//!   node IP), the CNI bridge, the pods' veth ends and every iptables rule kube-proxy writes.
//!   Deleting the namespace removes all of it at once; the host's own tables are never touched.
//! * one veth pair: `lkop-<id>` on the host ([`HOST_IP`], where the API server listens) and
//!   `eth0` in the namespace ([`NODE_IP`]), plus host routes to the pod and Service ranges.
//! * a cgroup `/locust-k8s-operator-real-<id>` in every hierarchy: the node's processes start
//!   in it and the kubelet puts the pods under it (`cgroupRoot`), so containerd's shims and every
//!   container process are found there and killed, whoever forked them.
//! * mounts (container root file systems, volumes, pod network namespaces) only under the
//!   cluster directory.
//!
//! The undoing is one shell script, `teardown.sh` in the cluster directory, written before
//! anything is created and run by every teardown path: [`super::super::process::Processes::stop`],
//! the reaper (test process killed) and the sweep of a stale directory. One real node runs at a
//! time on a host (two kube-proxies and two sets of routes to the same ranges would fight):
//! [`HostLock`] serialises them, and whoever holds it removes anything `lkop-` it finds first.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Host end of the node link; the API server binds here, so pods and node components reach it.
pub const HOST_IP: &str = "10.213.255.1";
/// The node's address (kubelet, kube-proxy and CoreDNS listen here; it is the cluster DNS).
pub const NODE_IP: &str = "10.213.255.2";
const LINK_PREFIX: u8 = 30;
/// Pod addresses (host-local IPAM on the node's bridge) and its gateway.
pub const POD_CIDR: &str = "10.213.0.0/24";
pub const POD_GATEWAY: &str = "10.213.0.1";
/// ClusterIP range and the `kubernetes` Service's address (the first one).
pub const SERVICE_CIDR: &str = "10.213.128.0/20";
pub const KUBERNETES_SERVICE_IP: &str = "10.213.128.1";
/// The bridge inside the node's namespace, and the CNI network's name.
pub const BRIDGE: &str = "lkop0";
pub const CNI_NETWORK: &str = "lkop";
/// Prefix of every per-run name: network namespace, host link, cgroup.
pub const PREFIX: &str = "lkop-";
const CGROUP_PREFIX: &str = "locust-k8s-operator-real-";
/// The kubelet keeps its device-plugin socket here whatever its root directory.
const KUBELET_HOST_DIR: &str = "/var/lib/kubelet";
const LOCK_FILE: &str = "/run/locust-k8s-operator-real-node.lock";
/// How long a second real node waits for the first to finish.
const LOCK_WAIT: Duration = Duration::from_secs(20 * 60);

/// The per-run names.
#[derive(Clone, Debug)]
pub struct Names {
    /// Network namespace and host link: `lkop-<id>` (at most 15 characters, a link name limit).
    pub netns: String,
    /// The cgroup, relative to each hierarchy's root: `locust-k8s-operator-real-<id>`.
    pub cgroup: String,
}

impl Names {
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let id = format!("{:06x}", (std::process::id() ^ nanos) & 0xff_ffff);
        Self {
            netns: format!("{PREFIX}{id}"),
            cgroup: format!("{CGROUP_PREFIX}{id}"),
        }
    }

    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.netns)
    }
}

/// Exclusive use of the host's real-node ranges, held for the life of the node.
pub struct HostLock {
    _lock: File,
    /// How long this process waited for another real node to stop.
    pub waited: Duration,
}

impl HostLock {
    /// Waits (up to 20 minutes, saying so once) for another real node on this host to stop.
    pub fn acquire(dir: &Path) -> Result<Self, String> {
        let started = Instant::now();
        let mut said = false;
        loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(LOCK_FILE)
                .map_err(|e| format!("cannot open {LOCK_FILE}: {e}"))?;
            match file.try_lock() {
                Ok(()) => {
                    let mut lock = file;
                    let _ = lock.set_len(0);
                    let _ = writeln!(lock, "{} {}", std::process::id(), dir.display());
                    return Ok(Self {
                        _lock: lock,
                        waited: started.elapsed(),
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(LOCK_FILE).unwrap_or_default();
                    if started.elapsed() > LOCK_WAIT {
                        return Err(format!(
                            "another real node has held {LOCK_FILE} for {LOCK_WAIT:?} \
                             (pid and directory: {}); one real node runs per host",
                            holder.trim()
                        ));
                    }
                    if !said {
                        eprintln!(
                            "waiting for the real node of another process to stop (pid and \
                             directory: {}); one real node runs per host",
                            holder.trim()
                        );
                        said = true;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(format!("cannot lock {LOCK_FILE}: {e}"));
                }
            }
        }
    }
}

/// Whether this process runs as root (effective uid 0, from /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let uids = s.lines().find_map(|l| l.strip_prefix("Uid:"))?.to_string();
            uids.split_whitespace().nth(1).map(|e| e == "0")
        })
        .unwrap_or(false)
}

/// Runs a command; an error names it and quotes its output.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs a command inside the node's network namespace.
pub fn run_in_node(names: &Names, program: &str, args: &[&str]) -> Result<String, String> {
    let netns = format!("--net={}", names.netns_path().display());
    let mut all = vec![netns.as_str(), program];
    all.extend_from_slice(args);
    run("nsenter", &all)
}

/// The cgroup hierarchies mounted on this host (v1 controllers, or the v2 root).
fn cgroup_roots() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fstype = after.split_whitespace().next()?;
            let mount_point = before.split_whitespace().nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .collect()
}

/// Creates the run's cgroup in every hierarchy (the kubelet's `cgroupRoot` must exist in all).
pub fn create_cgroups(names: &Names) -> Result<(), String> {
    for root in cgroup_roots() {
        let dir = root.join(&names.cgroup);
        std::fs::create_dir_all(dir.join("node"))
            .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// A shell prefix that moves itself into the node's cgroup and network namespace, then execs
/// the program given as its arguments: `sh -c WRAPPER lkop-node PROGRAM ARGS...`.
pub fn wrapper(names: &Names) -> String {
    format!(
        "for d in /sys/fs/cgroup/{cg}/node /sys/fs/cgroup/*/{cg}/node; do \
         [ -d \"$d\" ] && echo $$ 2>/dev/null > \"$d/cgroup.procs\"; done; \
         exec nsenter --net={netns} \"$@\"",
        cg = names.cgroup,
        netns = names.netns_path().display()
    )
}

/// The network: namespace, veth pair, addresses, routes, forwarding. Idempotent only through
/// [`teardown_script`]; called once on a clean host.
pub fn create_network(names: &Names) -> Result<(), String> {
    let host_link = names.netns.as_str();
    run("ip", &["netns", "add", &names.netns])?;
    run(
        "ip",
        &[
            "link",
            "add",
            host_link,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &names.netns,
        ],
    )?;
    let host_address = format!("{HOST_IP}/{LINK_PREFIX}");
    run("ip", &["addr", "add", &host_address, "dev", host_link])?;
    run("ip", &["link", "set", host_link, "up"])?;
    let node_address = format!("{NODE_IP}/{LINK_PREFIX}");
    run_in_node(names, "ip", &["addr", "add", &node_address, "dev", "eth0"])?;
    run_in_node(names, "ip", &["link", "set", "eth0", "up"])?;
    run_in_node(names, "ip", &["link", "set", "lo", "up"])?;
    run_in_node(names, "ip", &["route", "add", "default", "via", HOST_IP])?;
    // The node routes between its link, its bridge and kube-proxy's Service addresses, and
    // bridged pod-to-pod traffic must pass iptables so Service replies are translated back.
    run_in_node(
        names,
        "sh",
        &[
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward && \
             echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables",
        ],
    )?;
    for cidr in [POD_CIDR, SERVICE_CIDR] {
        run(
            "ip",
            &["route", "add", cidr, "via", NODE_IP, "dev", host_link],
        )?;
    }
    Ok(())
}

/// The script that undoes a node: kill every process in its cgroups, remove them, unmount
/// everything under `dir` (deepest first), delete the network namespace (its bridge, veths and
/// iptables rules go with it) and the host link (its routes go with it), and what containerd
/// and CNI keep outside `dir` for the tasks that were running (shim sockets in
/// /run/containerd/s, results in /var/lib/cni/results), then those directories if empty.
/// Safe to run twice; never touches a name of another run.
pub fn teardown_script(dir: &Path, names: &Names) -> String {
    format!(
        r#"#!/bin/sh
# Undoes the real node of {dir} (written by tests/support/real/host.rs).
dir='{dir}'
cgroup='{cgroup}'
# The tasks and pod sandboxes containerd knows: their shims' sockets and CNI results live
# outside $dir (a stopped sandbox has no task but keeps its CNI result).
tasks=$(ls "$dir/containerd/state/io.containerd.runtime.v2.task/k8s.io" 2>/dev/null
  ls "$dir/containerd/root/io.containerd.grpc.v1.cri/sandboxes" 2>/dev/null)
roots=
for r in /sys/fs/cgroup/"$cgroup" /sys/fs/cgroup/*/"$cgroup"; do [ -d "$r" ] && roots="$roots $r"; done
i=0
while [ -n "$roots" ] && [ $i -lt 100 ]; do
  pids=$(find $roots -name cgroup.procs -exec cat {{}} + 2>/dev/null | sort -u)
  [ -z "$pids" ] && break
  kill -KILL $pids 2>/dev/null
  sleep 0.1
  i=$((i + 1))
done
for r in $roots; do find "$r" -depth -type d -exec rmdir {{}} + 2>/dev/null; done
awk -v d="$dir/" 'index($5, d) == 1 {{print $5}}' /proc/self/mountinfo | sort -r |
  while read -r m; do umount -l "$m" 2>/dev/null; done
ip netns delete '{netns}' 2>/dev/null
ip link delete '{netns}' 2>/dev/null
for id in $tasks; do
  # containerd names a shim's socket by sha256(<containerd address>/<namespace>/<id>).
  hash=$(printf '%s' "$dir/containerd/containerd.sock/k8s.io/$id" | sha256sum | cut -d' ' -f1)
  rm -f "/run/containerd/s/$hash" /var/lib/cni/results/*-"$id"-* 2>/dev/null
done
rmdir /run/containerd/s /run/containerd /var/lib/cni/results /var/lib/cni 2>/dev/null
# The kubelet's device-plugin socket is not under its root directory; remove the directory
# only if this node created it.
if [ {created} = 1 ]; then
  rm -f '{kubelet_dir}/device-plugins/kubelet.sock'
  rmdir '{kubelet_dir}/device-plugins' '{kubelet_dir}' 2>/dev/null
fi
exit 0
"#,
        dir = dir.display(),
        cgroup = names.cgroup,
        netns = names.netns,
        kubelet_dir = KUBELET_HOST_DIR,
        created = u8::from(!Path::new(KUBELET_HOST_DIR).exists()),
    )
}

/// With the host lock held, anything named like a real node's is a leftover of a run that
/// could not clean up (its directory gone too): remove it before starting.
pub fn sweep_leftovers() {
    let mut leftovers = Vec::new();
    if let Ok(list) = run("ip", &["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if name.starts_with(PREFIX) {
                let _ = run("ip", &["netns", "delete", name]);
                leftovers.push(format!("network namespace {name}"));
            }
        }
    }
    if let Ok(links) = run("ip", &["-o", "link", "show"]) {
        for name in links.lines().filter_map(|l| {
            let name = l.split(':').nth(1)?.trim();
            Some(name.split('@').next().unwrap_or(name).to_string())
        }) {
            if name.starts_with(PREFIX) {
                let _ = run("ip", &["link", "delete", &name]);
                leftovers.push(format!("link {name}"));
            }
        }
    }
    for root in cgroup_roots() {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(CGROUP_PREFIX) {
                let names = Names {
                    netns: String::new(),
                    cgroup: name.clone(),
                };
                let script = teardown_script(Path::new("/nonexistent"), &names);
                let _ = run("sh", &["-c", &script]);
                leftovers.push(format!("cgroup {name}"));
            }
        }
    }
    leftovers.sort();
    leftovers.dedup();
    if !leftovers.is_empty() {
        eprintln!(
            "removed what an interrupted real node left: {}",
            leftovers.join(", ")
        );
    }
}
