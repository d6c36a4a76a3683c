#!/usr/bin/env bash
# The local sandbox: a cluster of the integration tests, the real node when it can start (root,
# `make tools`, no other real node; else the simulated cluster: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok with three fake Nodes), run in the background
# by examples/sandbox.rs, which reuses the test harness in tests/support.
#
#   hack/sandbox.sh up       start it (or report the running one); prints `export KUBECONFIG=...`
#   hack/sandbox.sh down     stop it and remove its state
#   hack/sandbox.sh status   running or not, and its Nodes
#   hack/sandbox.sh env      print `export KUBECONFIG=...` for eval
#   hack/sandbox.sh run      up, install the CRD (`locust-k8s-operator crd | kubectl apply -f -`)
#                            with the conversion webhook at https://127.0.0.1:<webhook port>,
#                            start the operator in the background (self-managed webhook
#                            certificates), apply the samples and wait for both to succeed (on
#                            the real node: against an in-cluster target, then their figures)
#
# SANDBOX_MODE: auto (default; real when it can start, else simulated with one line saying why),
# real or simulated.
#
# Operator ports (loopback): SANDBOX_WEBHOOK_PORT (9443), SANDBOX_HEALTH_PORT (8081),
# SANDBOX_METRICS_PORT (8080).
#
# State: $LOCUST_OPERATOR_SANDBOX_DIR, else ${XDG_STATE_HOME:-~/.local/state}/locust-k8s-operator/sandbox
# (cluster/ holds certificates, kubeconfig, etcd data and component logs; sandbox.log the
# sandbox's own output). Tools come from TOOL_* variables or `hack/tools.sh --print-env`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
state=${LOCUST_OPERATOR_SANDBOX_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/locust-k8s-operator/sandbox}
cluster_dir=$state/cluster
kubeconfig=$cluster_dir/kubeconfig
log=$state/sandbox.log
operator_log=$state/operator.log
operator_pid_file=$state/operator.pid
operator_namespace=locust-system
webhook_port=${SANDBOX_WEBHOOK_PORT:-9443}
health_port=${SANDBOX_HEALTH_PORT:-8081}
metrics_port=${SANDBOX_METRICS_PORT:-8080}
cargo=${CARGO:-cargo}

die() { echo "sandbox: $*" >&2; exit 1; }

# Exports the tool variables `hack/tools.sh --print-env` prints. It prints every tool it has even
# when some are missing; what it says is missing is kept for the real-node check.
tools_missing=
tools_env() {
  if [ -z "${TOOL_KUBECTL:-}" ]; then
    local env
    mkdir -p "$state"
    env=$("$here/tools.sh" --print-env 2>"$state/.tools-missing") || tools_missing=$(cat "$state/.tools-missing")
    eval "$env"
  fi
  [ -n "${TOOL_KUBECTL:-}" ] && [ -n "${TOOL_KWOK:-}" ] || die "tools missing; run 'make tools' first"
}

# Why the real node cannot start here (empty when it can): root, the node's tools and images
# and host packages, and no other real node on this host.
real_unavailable() {
  [ "$(id -u)" = 0 ] || { echo "the real node needs root"; return; }
  if [ -n "$tools_missing" ]; then echo "$tools_missing"; return; fi
  [ -n "${TOOL_IMAGES_DIR:-}" ] || { echo "no locally built images; run 'make tools'"; return; }
  if ! flock -n /run/locust-k8s-operator-real-node.lock true 2>/dev/null; then
    echo "another real node runs on this host ($(cat /run/locust-k8s-operator-real-node.lock 2>/dev/null))"
  fi
}

# The sandbox process, from the owner file the harness writes (`<pid> <start time>`), if alive.
sandbox_pid() {
  [ -f "$cluster_dir/owner" ] || return 1
  local pid started
  read -r pid started <"$cluster_dir/owner" || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)" = "$started" ] || return 1
  echo "$pid"
}

is_ready() { sandbox_pid >/dev/null && [ -f "$cluster_dir/ready" ]; }

print_env() { echo "export KUBECONFIG=\"$kubeconfig\""; }

# Starts the sandbox in `mode` (real or simulated) and waits until it is ready; fails with the
# log's last line when it does not start.
start_sandbox() {
  local mode=$1 bin=$root/target/debug/examples/sandbox
  # A new session: the sandbox outlives this shell and ignores its Ctrl-C.
  setsid "$bin" "$cluster_dir" "$mode" >"$log" 2>&1 </dev/null &
  local launcher=$! waited=0
  until is_ready; do
    if ! kill -0 "$launcher" 2>/dev/null && ! sandbox_pid >/dev/null; then
      return 1
    fi
    # The real node's first start may import images; both finish well within this.
    [ "$waited" -lt 3000 ] || { echo "not ready after 300 s" >>"$log"; return 1; }
    sleep 0.1
    waited=$((waited + 1))
  done
}

up() {
  if is_ready; then
    echo "sandbox already running (pid $(sandbox_pid), $(cat "$state/mode" 2>/dev/null) cluster)" >&2
    print_env
    return
  fi
  mkdir -p "$state"
  tools_env
  (cd "$root" && "$cargo" build --quiet --example sandbox)
  local mode=${SANDBOX_MODE:-auto} why=""
  if [ "$mode" = auto ]; then
    why=$(real_unavailable)
    if [ -z "$why" ]; then mode=real; else mode=simulated; fi
  fi
  if [ "$mode" = real ] && ! start_sandbox real; then
    why="the real node did not start: $(grep -v '^\s*$' "$log" | tail -1)"
    [ "${SANDBOX_MODE:-auto}" = auto ] || { cat "$log" >&2; die "$why (log: $log)"; }
    cp "$log" "$state/real-node-failure.log"
    mode=simulated
  fi
  if [ "$mode" = simulated ]; then
    [ -z "$why" ] || echo "sandbox: using the simulated cluster (kwok) because $why" >&2
    start_sandbox simulated || { cat "$log" >&2; die "the sandbox did not start (log: $log)"; }
  fi
  echo "$mode" >"$state/mode"
  grep '^sandbox ready' "$log" >&2 || true
  print_env
}

operator_pid() {
  [ -f "$operator_pid_file" ] || return 1
  local pid
  pid=$(cat "$operator_pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

stop_operator() {
  local pid
  if pid=$(operator_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 150 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
    echo "operator stopped" >&2
  fi
  rm -f "$operator_pid_file"
}

down() {
  stop_operator
  local pid
  if pid=$(sandbox_pid); then
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$waited" -ge 300 ]; then
        # The harness's reaper cleans up after a killed owner.
        kill -KILL "$pid" 2>/dev/null || true
        sleep 6
        break
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    echo "sandbox stopped" >&2
  else
    echo "sandbox not running" >&2
  fi
  rm -rf "$state"
}

status() {
  if is_ready; then
    tools_env
    echo "sandbox running (pid $(sandbox_pid)), $(print_env)"
    "$TOOL_KUBECTL" --kubeconfig "$kubeconfig" get nodes
  else
    echo "sandbox not running"
    return 1
  fi
}

run() {
  up >/dev/null
  tools_env
  local operator=$root/target/debug/locust-k8s-operator
  local kubectl=("$TOOL_KUBECTL" --kubeconfig "$kubeconfig")
  (cd "$root" && "$cargo" build --quiet)
  "$operator" crd | "${kubectl[@]}" apply -f - >&2
  "${kubectl[@]}" wait --for=condition=Established crd/locusttests.locust.io --timeout=30s >&2
  # v1 objects are converted by the operator's webhook; here it listens on loopback.
  "${kubectl[@]}" patch crd locusttests.locust.io --type=merge -p "{\"spec\":{\"conversion\":{\"strategy\":\"Webhook\",\"webhook\":{\"conversionReviewVersions\":[\"v1\"],\"clientConfig\":{\"url\":\"https://127.0.0.1:$webhook_port/convert\"}}}}}" >&2
  "${kubectl[@]}" create namespace "$operator_namespace" --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null

  local mode exporter_env=()
  mode=$(cat "$state/mode" 2>/dev/null || echo simulated)
  if [ "$mode" = real ]; then
    # The exporter sidecar cannot be pulled here: the locally built stand-in plays it.
    exporter_env=(METRICS_EXPORTER_IMAGE="$(image_ref exporter)")
  fi

  stop_operator 2>/dev/null
  env "${exporter_env[@]}" \
  POD_NAMESPACE=$operator_namespace POD_NAME=sandbox-operator \
    WEBHOOK_CERT_MODE=self-managed WEBHOOK_SERVICE_NAME=locust-k8s-operator-webhook \
    WEBHOOK_SECRET_NAME=locust-k8s-operator-webhook-certs WEBHOOK_EXTRA_SANS=127.0.0.1 \
    WEBHOOK_BIND_ADDRESS=127.0.0.1:$webhook_port \
    setsid "$operator" run --kubeconfig "$kubeconfig" \
      --health-probe-bind-address "127.0.0.1:$health_port" \
      --metrics-bind-address "127.0.0.1:$metrics_port" \
      >"$operator_log" 2>&1 </dev/null &
  echo $! >"$operator_pid_file"
  local waited=0
  until curl -fsS "http://127.0.0.1:$health_port/readyz" >/dev/null 2>&1; do
    if ! operator_pid >/dev/null; then
      tail -20 "$operator_log" >&2
      die "the operator exited (log: $operator_log)"
    fi
    [ "$waited" -lt 600 ] || die "the operator was not ready after 60 s (log: $operator_log)"
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "operator running (pid $(operator_pid), log: $operator_log)" >&2

  # The samples: their locustfile, the v2 test and the same test written for v1.
  "${kubectl[@]}" create configmap demo-locustfile --from-literal=locustfile.py='from locust import HttpUser, task

class Visitor(HttpUser):
    @task
    def home(self):
        self.client.get("/")
' --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >&2
  "${kubectl[@]}" delete lotest demo demo-v1 --ignore-not-found --wait >&2
  if [ "$mode" = real ]; then
    run_samples_on_the_real_node
  else
    "${kubectl[@]}" apply -f "$root/config/samples/locusttest-v2.yaml" -f "$root/config/samples/locusttest-v1.yaml" >&2
    "${kubectl[@]}" wait --for=jsonpath='{.status.phase}'=Succeeded lotest/demo lotest/demo-v1 --timeout=120s >&2
    "${kubectl[@]}" get lotest -o wide >&2
    cat >&2 <<EOF

The sample tests ran to Succeeded on the simulated cluster (kwok plays the kubelet: pods run
and exit 0 at once).
EOF
  fi
  cat >&2 <<EOF
Try:
  $(print_env)
  kubectl get lotest -w                 # phases as they change
  kubectl describe lotest demo          # conditions and events
  kubectl get locusttests.v1.locust.io demo-v1 -o yaml   # the v1 sample, read as v1
  make sandbox-down                     # stop the operator and the cluster
EOF
  print_env
}

# The reference of a locally built image by key (hack/images/build.sh writes images.tsv).
image_ref() { awk -F '\t' -v k="$1" '$1 == k {print $2}' "$TOOL_IMAGES_DIR/images.tsv"; }

# On the real node the samples run for real: against an HTTP target in the cluster (the pod and
# Service `target` the tests use), with the locally built Locust image and a 20 s run.
run_samples_on_the_real_node() {
  local target locust sample
  target=$(image_ref target)
  locust=$(image_ref locust)
  "${kubectl[@]}" apply -f - >&2 <<EOF
apiVersion: v1
kind: Pod
metadata: {name: target, labels: {app: target}}
spec:
  containers:
  - name: target
    image: $target
    imagePullPolicy: Never
    ports: [{containerPort: 8080}]
    readinessProbe: {httpGet: {path: /_target/requests, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: target}
spec:
  selector: {app: target}
  ports: [{name: http, port: 80, targetPort: 8080}]
EOF
  "${kubectl[@]}" wait --for=condition=Ready pod/target --timeout=60s >&2
  for sample in locusttest-v2.yaml locusttest-v1.yaml; do
    sed -e "s#https://example.com#http://target.default.svc#" -e "s#--run-time 2m#--run-time 20s#" \
      -e "s#image: locustio/locust:.*#image: $locust#" "$root/config/samples/$sample"
    echo ---
  done | "${kubectl[@]}" apply -f - >&2
  echo "sandbox: the samples run on the real node: 20 users for 20 s, then autoquit (30 s for v2, 60 s for v1)" >&2
  "${kubectl[@]}" wait --for=jsonpath='{.status.phase}'=Succeeded lotest/demo lotest/demo-v1 --timeout=240s >&2
  "${kubectl[@]}" get lotest -o wide >&2
  echo "result of demo: $("${kubectl[@]}" get lotest demo -o jsonpath='{.status.result}')" >&2
  echo "requests the target counted: $("${kubectl[@]}" get --raw /api/v1/namespaces/default/services/target:http/proxy/_target/requests | grep -o '"total": [0-9]*')" >&2
  cat >&2 <<EOF

The sample tests ran to Succeeded on the real node: Locust master and worker pods, the workers
connected through the master Service, the load reached the target pod.
EOF
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) is_ready || die "not running; start it with 'hack/sandbox.sh up'"; print_env ;;
  run) run ;;
  *) echo "usage: $0 up|down|status|env|run" >&2; exit 2 ;;
esac
