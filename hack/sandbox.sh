#!/usr/bin/env bash
# The local sandbox: the simulated cluster of the integration tests (etcd, kube-apiserver,
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
#                            certificates), apply the samples and wait for the v2 one to succeed
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

tools_env() {
  if [ -z "${TOOL_KUBECTL:-}" ]; then
    local env
    env=$("$here/tools.sh" --print-env) || die "tools missing; run 'make tools' first"
    eval "$env"
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

up() {
  if is_ready; then
    echo "sandbox already running (pid $(sandbox_pid))" >&2
    print_env
    return
  fi
  tools_env
  (cd "$root" && "$cargo" build --quiet --example sandbox)
  local bin=$root/target/debug/examples/sandbox
  mkdir -p "$state"
  # A new session: the sandbox outlives this shell and ignores its Ctrl-C.
  setsid "$bin" "$cluster_dir" >"$log" 2>&1 </dev/null &
  local launcher=$! waited=0
  until is_ready; do
    if ! kill -0 "$launcher" 2>/dev/null && ! sandbox_pid >/dev/null; then
      cat "$log" >&2
      die "the sandbox did not start (log: $log)"
    fi
    [ "$waited" -lt 1200 ] || die "the sandbox was not ready after 120 s (log: $log)"
    sleep 0.1
    waited=$((waited + 1))
  done
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

  stop_operator 2>/dev/null
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
  "${kubectl[@]}" apply -f "$root/config/samples/locusttest-v2.yaml" -f "$root/config/samples/locusttest-v1.yaml" >&2
  "${kubectl[@]}" wait --for=jsonpath='{.status.phase}'=Succeeded lotest/demo lotest/demo-v1 --timeout=120s >&2
  "${kubectl[@]}" get lotest -o wide >&2
  cat >&2 <<EOF

The sample tests ran to Succeeded on the simulated cluster (kwok plays the kubelet: pods run
and exit 0 at once). Try:
  $(print_env)
  kubectl get lotest -w                 # phases as they change
  kubectl describe lotest demo          # conditions and events
  kubectl get locusttests.v1.locust.io demo-v1 -o yaml   # the v1 sample, read as v1
  make sandbox-down                     # stop the operator and the cluster
EOF
  print_env
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) is_ready || die "not running; start it with 'hack/sandbox.sh up'"; print_env ;;
  run) run ;;
  *) echo "usage: $0 up|down|status|env|run" >&2; exit 2 ;;
esac
