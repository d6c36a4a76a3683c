//! The node components' configuration files, as text: containerd, CNI, kubelet, kube-proxy and
//! CoreDNS. Each choice that differs from a default says why.

use std::path::Path;

use serde_json::json;

use super::host::{BRIDGE, CNI_NETWORK, NODE_IP, POD_CIDR, POD_GATEWAY, SERVICE_CIDR};

/// The Node's name.
pub const NODE_NAME: &str = "real-node";
/// The pod sandbox image (built locally; see hack/images/build.sh).
pub const PAUSE_IMAGE: &str = "locust-k8s-operator.test/pause:1";
pub const CLUSTER_DOMAIN: &str = "cluster.local";

fn p(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// containerd with its own root, state, sockets and runc root under `dir`, so it shares
/// nothing with a containerd the host may run.
pub fn containerd(dir: &Path, cni_bin: &Path, cni_conf: &Path) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
# Plugins that would touch the host outside this directory or need what the host lacks.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # The test process lacks CAP_SYS_RESOURCE: without this the shim's attempt to lower its
  # oom_score_adj fails and runc reports "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Pod network namespaces under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"#,
        root = p(&dir.join("root")),
        state = p(&dir.join("state")),
        socket = p(&socket(dir)),
        opt = p(&dir.join("opt")),
        pause = PAUSE_IMAGE,
        runc_root = p(&dir.join("runc")),
        cni_bin = p(cni_bin),
        cni_conf = p(cni_conf),
    )
}

/// containerd's socket in its directory.
pub fn socket(containerd_dir: &Path) -> std::path::PathBuf {
    containerd_dir.join("containerd.sock")
}

/// A bridge network with host-local addresses (state under `ipam_dir`) and port mappings; no
/// masquerading: pods only talk to each other, the node and the host, all routed.
pub fn cni_conflist(ipam_dir: &Path) -> String {
    let config = json!({
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": POD_CIDR, "gateway": POD_GATEWAY }]],
                    "routes": [{ "dst": "0.0.0.0/0" }],
                    "dataDir": p(ipam_dir),
                },
            },
            { "type": "portmap", "capabilities": { "portMappings": true } },
        ],
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

/// The kubelet's configuration file.
pub struct Kubelet<'a> {
    pub root: &'a Path,
    pub containerd_socket: &'a Path,
    pub ca_cert: &'a Path,
    pub serving_cert: &'a Path,
    pub serving_key: &'a Path,
    pub cgroup_root: &'a str,
    pub resolv_conf: &'a Path,
}

pub fn kubelet(k: &Kubelet<'_>) -> String {
    let endpoint = format!("unix://{}", p(k.containerd_socket));
    let config = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        // Reached by the API server for logs, exec and port-forward.
        "address": NODE_IP,
        "readOnlyPort": 0,
        "healthzPort": 0,
        "authentication": {
            "anonymous": { "enabled": false },
            "webhook": { "enabled": true },
            "x509": { "clientCAFile": p(k.ca_cert) },
        },
        "authorization": { "mode": "Webhook" },
        "tlsCertFile": p(k.serving_cert),
        "tlsPrivateKeyFile": p(k.serving_key),
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        // No systemd here; the host has a cgroup v1 (hybrid) layout, which kubelet 1.36
        // refuses unless told otherwise.
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": false,
        "cgroupRoot": k.cgroup_root,
        "failSwapOn": false,
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": p(k.resolv_conf),
        "podLogsDir": p(&k.root.join("pod-logs")),
        "volumePluginDir": p(&k.root.join("volume-plugins")),
        // Nothing can be pulled, so an image garbage-collected is gone: never collect.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        // A shared development machine's disk or memory must not evict test pods, nor taint
        // the node: at 1% of a 252 GiB disk with 5 GiB free, the node took a disk-pressure
        // taint in CI and every later pod stayed Pending. "0%" turns a disk signal off
        // (kubelet ignores 0% and 100% thresholds).
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "0%",
            "imagefs.available": "0%",
            "nodefs.inodesFree": "0%",
            "imagefs.inodesFree": "0%",
        },
        "serializeImagePulls": false,
        "nodeStatusUpdateFrequency": "5s",
        // ConfigMap and Secret volumes refresh sooner than the default minute.
        "syncFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "maxPods": 110,
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

/// kube-proxy in iptables mode, inside the node's network namespace (its rules live there).
/// Conntrack sysctls are left alone: a network namespace cannot set the host-wide ones.
pub fn kube_proxy(kubeconfig: &Path) -> String {
    let config = json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": { "kubeconfig": p(kubeconfig) },
        "mode": "iptables",
        "clusterCIDR": POD_CIDR,
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "healthzBindAddress": "",
        "metricsBindAddress": "",
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": { "syncPeriod": "30s", "minSyncPeriod": "0s" },
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

/// CoreDNS serving the cluster domain on the node address; nothing is forwarded (offline), so
/// other names fail at once (REFUSED: no zone of this server holds them).
pub fn corefile(kubeconfig: &Path) -> String {
    format!(
        r#".:53 {{
    bind {NODE_IP}
    errors
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
}}
"#,
        kubeconfig = p(kubeconfig),
    )
}

/// The service range, for the API server.
pub fn service_cidr() -> &'static str {
    SERVICE_CIDR
}
