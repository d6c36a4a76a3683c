#!/usr/bin/env bash
# The local sandbox: the simulated cluster of the integration tests (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok with three fake Nodes), run in the background
# by examples/sandbox.rs, which reuses the test harness in tests/support.
#
#   hack/sandbox.sh up       start it (or report the running one); prints `export KUBECONFIG=...`
#   hack/sandbox.sh down     stop it and remove its state
#   hack/sandbox.sh status   running or not, and its Nodes
#   hack/sandbox.sh env      print `export KUBECONFIG=...` for eval
#   hack/sandbox.sh run      up, install the CRD (`locust-k8s-operator crd | kubectl apply -f -`),
#                            then the operator (not wired yet: says how to start it by hand)
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

down() {
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
  (cd "$root" && "$cargo" build --quiet)
  "$operator" crd | "$TOOL_KUBECTL" --kubeconfig "$kubeconfig" apply -f -
  "$TOOL_KUBECTL" --kubeconfig "$kubeconfig" wait --for=condition=Established \
    crd/locusttests.locust.io --timeout=30s
  echo "The operator's 'run' command is not available from 'make run' yet; for now start it yourself:" >&2
  echo "  KUBECONFIG=$kubeconfig $operator run" >&2
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
