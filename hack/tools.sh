#!/usr/bin/env bash
# Makes the pinned external tools available (versions in hack/versions.env):
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl, helm,
# operator-sdk, opm and a Python virtualenv with locust[otel]; for the real-node test mode also
# kubelet and kube-proxy (`node`), CoreDNS, and the container images built locally by
# hack/images/build.sh (`images`, cached by the hash of their inputs); the Gateway API CRDs
# (`gateway-api`, YAML files from its Go module). The host packages the real
# node runs on (containerd, runc, CNI plugins, debootstrap, umoci, skopeo, iptables, conntrack)
# are installed with apt-get when missing.
#
# Sources, in order: the versioned cache (a cached tool counts only if each of its programs
# runs: `--version`); the official release download (short timeout), checked against the
# sha256 the release publishes (a download with no published checksum is refused); a build from
# the Go module proxy (GOTOOLCHAIN=local, static, version ldflags). Why a download failed is
# shown before the build starts.
#
#   hack/tools.sh                 make every tool available
#   hack/tools.sh helm etcd       only these (names: kubernetes etcd kwok helm operator-sdk opm locust
#                                 node coredns images gateway-api)
#   hack/tools.sh --print-env     print the variables the tests use; fails if a tool is missing
#
# Cache: $LOCUST_OPERATOR_TOOLS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/locust-k8s-operator/tools.
# Each tool lives in <cache>/<tool>-<version>/ and appears there only when complete (built in a
# temporary directory, then renamed), so an interrupted run is never mistaken for a cached tool.
# Set LOCUST_OPERATOR_TOOLS_NO_DOWNLOAD=1 to skip the release download and build directly.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# Gateway API CRDs (standard channel): the tests install HTTPRoute to check the routes the
# operator creates for a test's web UI. Pinned here, not in versions.env: every line of that
# file is part of the images' version, and this pin does not go into any image.
GATEWAY_API_VERSION=1.6.3

cache=${LOCUST_OPERATOR_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator/tools}
all_tools=(etcd kubernetes kwok helm operator-sdk opm locust node coredns images gateway-api)

os=linux
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac

version_of() {
  case "$1" in
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    operator-sdk) echo "$OPERATOR_SDK_VERSION" ;;
    opm) echo "$OPM_VERSION" ;;
    locust) echo "$LOCUST_VERSION" ;;
    node) echo "$KUBERNETES_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    images) images_version ;;
    gateway-api) echo "$GATEWAY_API_VERSION" ;;
    *) echo "unknown tool '$1' (known: ${all_tools[*]})" >&2; return 1 ;;
  esac
}

# The executables each tool directory must hold to count as complete.
binaries_of() {
  case "$1" in
    kubernetes) echo "kube-apiserver kube-controller-manager kube-scheduler kubectl" ;;
    etcd) echo "etcd etcdctl" ;;
    kwok) echo "kwok kwokctl" ;;
    helm) echo "helm" ;;
    operator-sdk) echo "operator-sdk" ;;
    opm) echo "opm" ;;
    locust) echo "locust" ;;
    node) echo "kubelet kube-proxy" ;;
    coredns) echo "coredns" ;;
    images | gateway-api) echo "" ;;
  esac
}

# The images are versioned by what goes into them: the build script and its inputs, the pinned
# Locust requirements and the versions. Any change builds a new set once.
images_version() {
  echo "$IMAGES_DEBIAN_SUITE-$(cat "$here/images/"* "$here/locust-requirements.txt" "$here/versions.env" |
    sha256sum | cut -c1-12)"
}

dir_of() { echo "$cache/$1-$(version_of "$1")"; }

# --- host packages of the real node (Debian names) ----------------------------------------------

cni_dir=/usr/lib/cni
# <command or absolute path>:<Debian package>
host_requirements=(
  containerd:containerd containerd-shim-runc-v2:containerd ctr:containerd runc:runc
  "$cni_dir/bridge:containernetworking-plugins" "$cni_dir/host-local:containernetworking-plugins"
  "$cni_dir/loopback:containernetworking-plugins" "$cni_dir/portmap:containernetworking-plugins"
  debootstrap:debootstrap umoci:umoci skopeo:skopeo iptables:iptables conntrack:conntrack
  ip:iproute2 nsenter:util-linux unshare:util-linux
)

missing_host_packages() {
  local r what pkg missing=()
  for r in "${host_requirements[@]}"; do
    what=${r%:*}; pkg=${r##*:}
    case "$what" in
      /*) [ -x "$what" ] && continue ;;
      *) PATH="$PATH:/usr/sbin:/sbin" command -v "$what" >/dev/null && continue ;;
    esac
    case " ${missing[*]} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
  done
  echo "${missing[*]}"
}

ensure_host_packages() {
  local missing
  missing=$(missing_host_packages)
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "  host packages: installing $missing with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    missing=$(missing_host_packages)
    [ -z "$missing" ] && return 0
  fi
  echo "missing host packages for the real node: $missing (install them: apt-get install $missing)" >&2
  return 1
}

is_complete() {
  local dir b
  dir=$(dir_of "$1")
  [ -f "$dir/.complete" ] || return 1
  for b in $(binaries_of "$1"); do [ -x "$dir/bin/$b" ] || return 1; done
  if [ "$1" = images ]; then
    [ -f "$dir/images.tsv" ] || return 1
    while IFS=$'\t' read -r _ _ file; do [ -f "$dir/$file" ] || return 1; done <"$dir/images.tsv"
  fi
  if [ "$1" = gateway-api ]; then
    for f in $gateway_api_crds; do [ -f "$dir/$f" ] || return 1; done
  fi
}

# Whether each program of a complete tool runs (a cache restored onto another machine, a
# virtualenv whose Python is gone); what failed goes to stderr.
runs() {
  local dir b args
  dir=$(dir_of "$1")
  for b in $(binaries_of "$1"); do
    case "$b" in
      kubectl) args="version --client" ;;
      helm | operator-sdk | opm | etcdctl) args=version ;;
      coredns) args=-version ;;
      *) args=--version ;;
    esac
    # shellcheck disable=SC2086
    timeout 60 "$dir/bin/$b" $args >/dev/null 2>&1 || { echo "$b $args failed" >&2; return 1; }
  done
}

# Prints the variables of every complete tool; if any tool or host package is missing, also
# names them all on stderr and fails (the test harness still uses what is there).
print_env() {
  local missing=() t packages path="" b var
  echo "export LOCUST_OPERATOR_TOOLS_DIR=\"$cache\""
  for t in "${all_tools[@]}"; do
    if ! is_complete "$t"; then
      missing+=("$t")
      continue
    fi
    if [ "$t" = images ]; then
      echo "export TOOL_IMAGES_DIR=\"$(dir_of images)\""
      continue
    fi
    if [ "$t" = gateway-api ]; then
      echo "export TOOL_GATEWAY_API_DIR=\"$(dir_of gateway-api)\""
      continue
    fi
    path="$path$(dir_of "$t")/bin:"
    for b in $(binaries_of "$t"); do
      var=$(echo "$b" | tr 'a-z-' 'A-Z_')
      echo "export TOOL_${var}=\"$(dir_of "$t")/bin/$b\""
    done
  done
  packages=$(missing_host_packages)
  if [ -z "$packages" ]; then
    echo "export TOOL_CNI_PLUGINS_DIR=\"$cni_dir\""
  else
    missing+=("host packages ($packages)")
  fi
  echo "export PATH=\"$path\$PATH\""
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing tools: ${missing[*]} (cache: $cache); run 'make tools' first" >&2
    return 1
  fi
}

# --- official release downloads (what a CI with internet uses) ---------------------------------

fetch() { # url dest
  curl -fsSL --show-error --connect-timeout 5 --max-time 600 -o "$2" "$1"
}

# Fetches url into dest and checks its sha256 against the one the release publishes: in
# `sums` (a release's SHA256SUMS or checksums.txt) when given, else next to the file
# (<url>.sha256 or <url>.sha256sum).
fetch_verified() { # url dest [sums-url]
  local url=$1 dest=$2 sums=${3:-} name expected actual
  name=${url##*/}
  fetch "$url" "$dest" || return 1
  if [ -n "$sums" ]; then
    fetch "$sums" "$dest.sums" || { echo "no published checksums for $name at $sums" >&2; return 1; }
    expected=$(awk -v f="$name" '$2 == f || $2 == "*" f || $2 == "./" f { print $1 }' "$dest.sums")
  else
    fetch "$url.sha256" "$dest.sums" 2>/dev/null || fetch "$url.sha256sum" "$dest.sums" ||
      { echo "no published checksum for $name ($url.sha256 or .sha256sum)" >&2; return 1; }
    expected=$(awk 'NR == 1 { print $1 }' "$dest.sums")
  fi
  rm -f "$dest.sums"
  actual=$(sha256sum "$dest" | cut -d' ' -f1)
  [ -n "$expected" ] || { echo "$name is not listed in its release's checksums" >&2; return 1; }
  [ "$actual" = "$expected" ] ||
    { echo "$name: sha256 $actual, but the release publishes $expected" >&2; return 1; }
}

download() { # tool tmpdir
  local t=$1 tmp=$2 v
  v=$(version_of "$t")
  mkdir -p "$tmp/bin"
  case "$t" in
    kubernetes)
      for b in $(binaries_of kubernetes); do
        fetch_verified "https://dl.k8s.io/v$v/bin/$os/$arch/$b" "$tmp/bin/$b" || return 1
      done ;;
    etcd)
      fetch_verified "https://github.com/etcd-io/etcd/releases/download/v$v/etcd-v$v-$os-$arch.tar.gz" "$tmp/etcd.tgz" \
        "https://github.com/etcd-io/etcd/releases/download/v$v/SHA256SUMS" || return 1
      tar -xzf "$tmp/etcd.tgz" -C "$tmp" --strip-components=1 && mv "$tmp/etcd" "$tmp/etcdctl" "$tmp/bin/" ;;
    kwok)
      for b in kwok kwokctl; do
        fetch_verified "https://github.com/kubernetes-sigs/kwok/releases/download/v$v/$b-$os-$arch" "$tmp/bin/$b" \
          "https://github.com/kubernetes-sigs/kwok/releases/download/v$v/checksums.txt" || return 1
      done ;;
    helm)
      fetch_verified "https://get.helm.sh/helm-v$v-$os-$arch.tar.gz" "$tmp/helm.tgz" || return 1
      tar -xzf "$tmp/helm.tgz" -C "$tmp" && mv "$tmp/$os-$arch/helm" "$tmp/bin/" ;;
    operator-sdk)
      fetch_verified "https://github.com/operator-framework/operator-sdk/releases/download/v$v/operator-sdk_${os}_$arch" "$tmp/bin/operator-sdk" \
        "https://github.com/operator-framework/operator-sdk/releases/download/v$v/checksums.txt" || return 1 ;;
    opm)
      fetch_verified "https://github.com/operator-framework/operator-registry/releases/download/v$v/$os-$arch-opm" "$tmp/bin/opm" \
        "https://github.com/operator-framework/operator-registry/releases/download/v$v/checksums.txt" || return 1 ;;
    node)
      for b in $(binaries_of node); do
        fetch_verified "https://dl.k8s.io/v$v/bin/$os/$arch/$b" "$tmp/bin/$b" || return 1
      done ;;
    coredns)
      fetch_verified "https://github.com/coredns/coredns/releases/download/v$v/coredns_${v}_${os}_$arch.tgz" "$tmp/coredns.tgz" || return 1
      tar -xzf "$tmp/coredns.tgz" -C "$tmp/bin" ;;
    # Gateway API publishes no checksum for its install YAML; the Go module is checksummed.
    locust | images | gateway-api) return 1 ;;
  esac
  chmod +x "$tmp"/bin/*
}

# --- builds from the Go module proxy ------------------------------------------------------------

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# k8s.io/kubernetes replaces its staging modules with local paths, so it cannot be installed
# directly: a wrapper module requires it and points every staging module at its release.
build_kubernetes() {
  build_kubernetes_commands "$1" kube-apiserver kube-controller-manager kube-scheduler kubectl
}

build_node() { build_kubernetes_commands "$1" kubelet kube-proxy; }

build_kubernetes_commands() { # tmp command...
  local tmp=$1 v=$KUBERNETES_VERSION src
  shift
  src="$tmp/src"
  mkdir -p "$src"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module localbuild/kubernetes"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require k8s.io/kubernetes v$v"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 v0.'"${v#1.}"'#p' "$gomod"
    echo ")"
  } >"$src/go.mod"
  local major=${v%%.*} minor rest
  rest=${v#*.}; minor=${rest%%.*}
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=v$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  local packages=() c
  for c in "$@"; do packages+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$src" && go build -trimpath -ldflags "$ld" -o "$tmp/bin/" "${packages[@]}")
}

# etcd's server module replaces its sibling modules with local paths; a wrapper module that
# requires the released siblings needs no replace at all.
build_etcd() {
  local tmp=$1 v=$ETCD_VERSION src
  src="$tmp/src"
  mkdir -p "$src"
  cat >"$src/go.mod" <<EOF
module localbuild/etcd

go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')

require (
	go.etcd.io/etcd/server/v3 v$v
	go.etcd.io/etcd/etcdctl/v3 v$v
)
EOF
  (cd "$src" && go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$v" \
    -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3 &&
    go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$v" \
      -o "$tmp/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3)
}

# Builds a main package of a released module inside a throw-away wrapper module. Unlike
# `go install pkg@version`, this needs no module listing from the proxy (which some proxies
# refuse) and works for modules whose go.mod has no local replace directives.
go_build_released() { # tmp tags ldflags module version package output [extra go.mod line]
  local tmp=$1 tags=$2 ld=$3 module=$4 version=$5 package=$6 output=$7 extra=${8:-} src
  src="$tmp/src-$output"
  mkdir -p "$src"
  printf 'module localbuild/%s\n\ngo %s\n\nrequire %s %s\n\n%s\n' "$output" \
    "$(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')" "$module" "$version" "$extra" >"$src/go.mod"
  (cd "$src" && go build -trimpath -tags "$tags" -ldflags "$ld" -o "$tmp/bin/$output" "$package")
}

build_kwok() {
  local ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION"
  ld="$ld -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=v$KUBERNETES_VERSION"
  go_build_released "$1" "" "$ld" sigs.k8s.io/kwok "v$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok kwok
  go_build_released "$1" "" "$ld" sigs.k8s.io/kwok "v$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwokctl kwokctl
}

build_helm() {
  local p=helm.sh/helm/v3 k8sminor
  k8sminor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  local ld="-s -w -X $p/internal/version.version=v$HELM_VERSION -X $p/internal/version.gitTreeState=clean"
  ld="$ld -X $p/pkg/lint/rules.k8sVersionMajor=1 -X $p/pkg/lint/rules.k8sVersionMinor=$k8sminor"
  ld="$ld -X $p/pkg/chartutil.k8sVersionMajor=1 -X $p/pkg/chartutil.k8sVersionMinor=$k8sminor"
  go_build_released "$1" "" "$ld" "$p" "v$HELM_VERSION" "$p/cmd/helm" helm
}

build_operator-sdk() {
  local p=github.com/operator-framework/operator-sdk
  local ld="-s -w -X $p/internal/version.Version=v$OPERATOR_SDK_VERSION"
  ld="$ld -X $p/internal/version.GitVersion=v$OPERATOR_SDK_VERSION"
  ld="$ld -X $p/internal/version.KubernetesVersion=v$KUBERNETES_VERSION"
  # The module proxy refuses ansible-operator-plugins v1.42.3 ("not available"); the Ansible
  # plugin plays no part in bundle validation, so its previous patch release stands in.
  local ansible=github.com/operator-framework/ansible-operator-plugins
  go_build_released "$1" containers_image_openpgp "$ld" "$p" "v$OPERATOR_SDK_VERSION" \
    "$p/cmd/operator-sdk" operator-sdk "replace $ansible => $ansible v1.42.2"
}

build_opm() {
  local p=github.com/operator-framework/operator-registry
  local ld="-s -w -X $p/cmd/opm/version.opmVersion=v$OPM_VERSION -X $p/cmd/opm/version.buildDate=$build_date"
  go_build_released "$1" json1,containers_image_openpgp "$ld" "$p" "v$OPM_VERSION" "$p/cmd/opm" opm
}

build_coredns() {
  local p=github.com/coredns/coredns
  go_build_released "$1" "" "-s -w -X $p/coremain.GitCommit=v$COREDNS_VERSION" "$p" \
    "v$COREDNS_VERSION" "$p" coredns
}

# The standard-channel CRD files the tests install, from the Go module (the module proxy's
# download is verified against go.sum's checksum database like any module).
gateway_api_crds="gateway.networking.k8s.io_httproutes.yaml gateway.networking.k8s.io_gateways.yaml gateway.networking.k8s.io_gatewayclasses.yaml"

build_gateway-api() {
  local tmp=$1 dir f
  dir=$(cd "$tmp" && go mod download -json "sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "go mod download of sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION gave no directory" >&2; return 1; }
  for f in $gateway_api_crds; do
    cp "$dir/config/crd/standard/$f" "$tmp/$f"
    chmod 644 "$tmp/$f"
  done
  rmdir "$tmp/bin" 2>/dev/null || true
}

build_images() {
  "$here/images/build.sh" "$1" "$cache/.image-base"
}

build_locust() {
  local tmp=$1 final
  final=$(dir_of locust)
  # A virtualenv records its own path and cannot be moved, so it is created in place; the
  # .complete marker written by the caller at the very end keeps a half-made one from counting.
  rm -rf "$final"
  python3 -m venv "$final"
  "$final/bin/pip" install --quiet --disable-pip-version-check -r "$here/locust-requirements.txt"
  "$final/bin/locust" --version | grep -q "locust $LOCUST_VERSION " || {
    echo "hack/locust-requirements.txt does not pin locust $LOCUST_VERSION" >&2
    return 1
  }
  rmdir "$tmp" 2>/dev/null || true
}

# --- driver -------------------------------------------------------------------------------------

ensure() {
  local t=$1 v dir tmp start why
  v=$(version_of "$t")
  dir=$(dir_of "$t")
  if is_complete "$t"; then
    if why=$(runs "$t" 2>&1); then
      echo "  $t $v: cached ($dir)"
      return 0
    fi
    echo "  $t $v: cached but does not run ($why); installing it again"
    rm -rf "$dir"
  fi
  start=$(date +%s)
  tmp="$cache/.partial-$t-$v"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if [ "$t" = locust ]; then
    echo "  $t $v: creating virtualenv from hack/locust-requirements.txt"
    build_locust "$tmp"
    touch "$dir/.complete"
  elif [ "$t" = images ]; then
    echo "  $t $v: building the container images (hack/images/build.sh)"
    build_images "$tmp"
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    # Older image sets are superseded: keep the cache from growing with every change.
    find "$cache" -maxdepth 1 -name 'images-*' ! -name "$(basename "$dir")" -exec rm -rf {} +
  else
    local how="" failed="skipped (LOCUST_OPERATOR_TOOLS_NO_DOWNLOAD=1)"
    if [ "${LOCUST_OPERATOR_TOOLS_NO_DOWNLOAD:-0}" != 1 ] &&
      failed=$(download "$t" "$tmp" 2>&1 >/dev/null); then
      how="downloaded the official release (sha256 checked)"
    else
      rm -rf "$tmp"; mkdir -p "$tmp"
      echo "  $t $v: release download: ${failed:-failed}" | head -5
      echo "  $t $v: building from the Go module proxy"
      "build_$t" "$tmp"
      how="built from the Go module proxy"
    fi
    rm -rf "$tmp"/src* "$tmp"/*.tgz "$tmp/$os-$arch"
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    echo "  $t $v: $how"
  fi
  is_complete "$t" || { echo "  $t $v: incomplete after install" >&2; return 1; }
  why=$(runs "$t" 2>&1) || { echo "  $t $v: does not run after install: $why" >&2; return 1; }
  echo "  $t $v: done in $(($(date +%s) - start))s"
}

main() {
  if [ "${1:-}" = --print-env ]; then
    print_env
    return
  fi
  local tools=("$@")
  [ ${#tools[@]} -gt 0 ] || tools=("${all_tools[@]}")
  for t in "${tools[@]}"; do version_of "$t" >/dev/null; done
  mkdir -p "$cache"
  # One run at a time per cache; a second run waits instead of building the same thing twice.
  exec 9>"$cache/.lock"
  flock 9
  local total_start
  total_start=$(date +%s)
  echo "tools cache: $cache"
  ensure_host_packages
  for t in "${tools[@]}"; do ensure "$t"; done
  echo "all requested tools ready in $(($(date +%s) - total_start))s"
}

main "$@"
