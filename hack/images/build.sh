#!/usr/bin/env bash
# Builds the container images of the real-node test mode locally, with no registry: a Debian root
# file system from debootstrap (the mirror apt already uses), layers added with umoci, each image
# written as a docker-archive that `ctr images import` loads. Called by hack/tools.sh (`images`).
#
#   hack/images/build.sh OUT BASE_CACHE          every image into OUT, plus OUT/images.tsv
#   hack/images/build.sh operator BIN OUT REF    the operator image from a built binary
#
# images.tsv lists one image a line: <key> TAB <image reference> TAB <archive file>.
#   locust         locustio/locust:$LOCUST_VERSION  Debian + python3 + the pinned locust[otel]
#                  virtualenv; entrypoint `locust`, user `locust` (non-numeric, as upstream)
#   pause          the pod sandbox: a static Go program that sleeps and reaps children
#   target         an HTTP server the tests load: records every request, /fail answers 500
#   otlp-receiver  OTLP over gRPC (4317) and HTTP (4318) that records what it receives
#   exporter       a stand-in for containersol/locust_exporter (not buildable here: the module
#                  proxy refuses every version of it); same port, variables and metric names
# The base root file system is cached in BASE_CACHE by the hash of what debootstrap is given.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../versions.env
source "$here/../versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

image_prefix=locust-k8s-operator.test
base_packages=python3,python3-venv,ca-certificates,passwd

log() { echo "    images: $*"; }

# The Debian mirror apt already uses on this machine (deb822 sources or sources.list), unless
# IMAGES_DEBIAN_MIRROR names one.
apt_mirror() {
  if [ -n "${IMAGES_DEBIAN_MIRROR:-}" ]; then echo "$IMAGES_DEBIAN_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    /^Types:/ {deb = ($0 ~ /[ \t]deb([ \t]|$)/)} /^URIs:/ && deb {print $2}' | grep -v security | head -1 || true)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $0 !~ /security/ {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 || true)
  [ -n "$m" ] || { echo "no Debian mirror in the apt sources; set IMAGES_DEBIAN_MIRROR" >&2; return 1; }
  echo "$m"
}

# A root file system tarball: debootstrap minbase with python3, cached by its inputs.
base_rootfs() { # base_cache work -> prints the tarball path
  local cache=$1 work=$2 key tarball mirror start
  key=$(echo "$IMAGES_DEBIAN_SUITE $base_packages $(uname -m)" | sha256sum | cut -c1-12)
  tarball=$cache/$IMAGES_DEBIAN_SUITE-$key.tar
  if [ ! -f "$tarball" ]; then
    mirror=$(apt_mirror)
    start=$(date +%s)
    log "debootstrap $IMAGES_DEBIAN_SUITE (minbase + $base_packages) from the apt mirror" >&2
    mkdir -p "$cache"
    debootstrap --variant=minbase --include="$base_packages" "$IMAGES_DEBIAN_SUITE" \
      "$work/debootstrap" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; return 1; }
    rm -rf "$work/debootstrap"/var/lib/apt/lists/* "$work/debootstrap"/var/cache/apt/* \
      "$work/debootstrap"/usr/share/doc/* "$work/debootstrap"/usr/share/man/* \
      "$work/debootstrap"/usr/share/locale/*
    tar --numeric-owner -C "$work/debootstrap" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$work/debootstrap"
    log "base root file system in $(($(date +%s) - start))s" >&2
  fi
  echo "$tarball"
}

# Writes image <tag> of the OCI layout as a docker-archive named <ref>; appends to images.tsv.
export_image() { # layout tag key ref out
  local layout=$1 tag=$2 key=$3 ref=$4 out=$5
  skopeo copy --quiet --insecure-policy "oci:$layout:$tag" "docker-archive:$out/$key.tar:$ref"
  printf '%s\t%s\t%s\n' "$key" "$ref" "$key.tar" >>"$out/images.tsv"
}

build_all() {
  local out=$1 base_cache=$2 layout root start
  mkdir -p "$out"
  work=$(mktemp -d "$out/.work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  layout=$work/oci
  : >"$out/images.tsv"

  local tarball
  tarball=$(base_rootfs "$base_cache" "$work")
  root=$work/root
  mkdir -p "$root"
  tar --numeric-owner -C "$root" -xf "$tarball"
  umoci init --layout "$layout"
  umoci new --image "$layout:base"
  umoci insert --image "$layout:base" "$root" /

  # pause: a static binary alone.
  start=$(date +%s)
  mkdir -p "$work/pause/bin"
  (cd "$here" && GOFLAGS= go build -trimpath -ldflags "-s -w" -o "$work/pause/bin/pause" pause.go)
  umoci new --image "$layout:pause"
  umoci insert --image "$layout:pause" "$work/pause/bin/pause" /pause
  umoci config --image "$layout:pause" --config.entrypoint /pause --config.user 65535:65535
  export_image "$layout" pause pause "$image_prefix/pause:1" "$out"
  log "pause in $(($(date +%s) - start))s"

  # locust: a virtualenv of the pinned requirements, installed offline inside the root file
  # system from wheels fetched on the host (the host's pip has this machine's index and CA).
  start=$(date +%s)
  local py arch wheels
  py=$(chroot "$root" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  arch=$(uname -m)
  wheels=$root/tmp/wheels
  # pip does not widen an explicit manylinux platform to older ones: name each glibc level up
  # to the image's own.
  local glibc platforms=() minor
  glibc=$(chroot "$root" ldd --version | sed -n '1s/.* \([0-9]*\)\.\([0-9]*\)$/\2/p')
  for minor in $(seq 5 "$glibc"); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
  platforms+=(--platform "manylinux2014_$arch" --platform "manylinux2010_$arch" --platform "manylinux1_$arch")
  python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --python-version "$py" --implementation cp --abi "cp${py/./}" "${platforms[@]}" \
    --dest "$wheels" -r "$here/../locust-requirements.txt"
  cp "$here/../locust-requirements.txt" "$root/tmp/requirements.txt"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root chroot "$root" sh -ec '
    python3 -m venv /opt/venv
    /opt/venv/bin/pip install --quiet --disable-pip-version-check --no-index --no-cache-dir \
      --find-links /tmp/wheels -r /tmp/requirements.txt
    useradd --create-home --uid 1000 --shell /bin/bash locust'
  rm -rf "$wheels" "$root/tmp/requirements.txt"
  find "$root/opt/venv" -name __pycache__ -prune -exec rm -rf {} +
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" /opt/venv/bin/locust --version | grep -q "locust $LOCUST_VERSION " ||
    { echo "the image's Locust is not $LOCUST_VERSION" >&2; return 1; }
  mkdir -p "$work/locust-layer/etc"
  cp -a "$root"/etc/{passwd,group,shadow,gshadow} "$work/locust-layer/etc/"
  cp -a "$root/home" "$root/opt" "$work/locust-layer/"
  umoci tag --image "$layout:base" locust
  umoci insert --image "$layout:locust" "$work/locust-layer" /
  umoci config --image "$layout:locust" --config.entrypoint locust --clear=config.cmd \
    --config.env PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.user locust --config.workingdir /home/locust
  export_image "$layout" locust locust "locustio/locust:$LOCUST_VERSION" "$out"
  log "locust in $(($(date +%s) - start))s"

  # target, exporter stand-in: one script on the base image (python3 standard library only).
  start=$(date +%s)
  umoci tag --image "$layout:base" target
  umoci insert --image "$layout:target" "$here/target.py" /app/target.py
  umoci config --image "$layout:target" --config.entrypoint python3 --config.cmd /app/target.py \
    --config.user 65532:65532 --config.env PYTHONUNBUFFERED=1
  export_image "$layout" target target "$image_prefix/target:1" "$out"
  umoci tag --image "$layout:base" exporter
  umoci insert --image "$layout:exporter" "$here/exporter_standin.py" /app/exporter.py
  umoci config --image "$layout:exporter" --config.entrypoint python3 --config.cmd /app/exporter.py \
    --config.user 65532:65532 --config.env PYTHONUNBUFFERED=1
  export_image "$layout" exporter exporter "$image_prefix/locust-exporter-standin:1" "$out"

  # OTLP receiver: the Locust image's virtualenv has grpcio and the OTLP protobuf classes.
  umoci tag --image "$layout:locust" otlp-receiver
  umoci insert --image "$layout:otlp-receiver" "$here/otlp_receiver.py" /app/otlp_receiver.py
  umoci config --image "$layout:otlp-receiver" --config.entrypoint /opt/venv/bin/python \
    --config.cmd /app/otlp_receiver.py --config.user 65532:65532 --config.env PYTHONUNBUFFERED=1
  export_image "$layout" otlp-receiver otlp-receiver "$image_prefix/otlp-receiver:1" "$out"
  log "target, exporter stand-in and OTLP receiver in $(($(date +%s) - start))s"
}

# The operator image from a built binary, shaped like the Containerfile's: the binary, the C
# libraries it links, CA certificates and the non-root user 65532; entrypoint the binary, `run`.
build_operator() { # binary out_tar ref
  local bin=$1 out=$2 ref=$3 lib
  work=$(mktemp -d "${TMPDIR:-/tmp}/operator-image.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/root/usr/local/bin" "$work/root/etc/ssl/certs" "$work/root/tmp"
  chmod 1777 "$work/root/tmp"
  strip -o "$work/root/usr/local/bin/locust-k8s-operator" "$bin"
  for lib in $(ldd "$bin" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}'); do
    mkdir -p "$work/root$(dirname "$lib")"
    cp -L "$lib" "$work/root$lib"
  done
  # /lib64 -> usr/lib64 and friends exist on the host as symlinks; the loader path must resolve.
  cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/root/etc/group"
  umoci init --layout "$work/oci"
  umoci new --image "$work/oci:operator"
  umoci insert --image "$work/oci:operator" "$work/root" /
  umoci config --image "$work/oci:operator" --config.entrypoint /usr/local/bin/locust-k8s-operator \
    --config.cmd run --config.user 65532:65532
  skopeo copy --quiet --insecure-policy "oci:$work/oci:operator" "docker-archive:$out.partial:$ref"
  mv "$out.partial" "$out"
}

if [ "${1:-}" = operator ]; then
  [ $# -eq 4 ] || { echo "usage: $0 operator BINARY OUT_TAR REF" >&2; exit 2; }
  build_operator "$2" "$3" "$4"
else
  [ $# -eq 2 ] || { echo "usage: $0 OUT BASE_CACHE" >&2; exit 2; }
  build_all "$1" "$2"
fi
