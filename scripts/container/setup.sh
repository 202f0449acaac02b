#!/usr/bin/env bash
# Prepares a container engine for `make test-container`: podman (installed from Debian
# when no engine is present), a containers.conf of the project's own (runc, explicit
# ulimits), and the Python base image. The base is pulled when a registry answers;
# otherwise a stand-in is built once from Debian with debootstrap, under its own tag
# (never python:3.11-slim), and reused on later runs.
# The same for the compose profile's Redis (redis:7-alpine, or a stand-in with
# Debian's redis-server on that base).
# Prints shell assignments (ENGINE=..., PYTHON_IMAGE=..., ...) for the caller to eval.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
state="${CONTAINER_STATE_DIR:-/var/tmp/llm-gateway-container}"
default_image="python:3.11-slim"
standin_tag="localhost/llm-gateway-base:py3.11-bookworm"
default_redis="redis:7-alpine"
redis_standin_tag="localhost/llm-gateway-redis:7-bookworm"
mkdir -p "$state"

log() { echo "container setup: $*" >&2; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  engine=docker
else
  need=()
  for tool in podman buildah runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
  done
  for helper in /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns; do
    [ -x "$helper" ] || need+=("$(basename "$helper")")
  done
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      log "missing system packages: ${need[*]} (run as root or install them)"
      exit 1
    fi
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  engine=podman
  # crun fails on this kind of machine (cgroups in hybrid mode); runc works with explicit ulimits.
  cp "$here/containers.conf" "$state/containers.conf"
  export CONTAINERS_CONF="$state/containers.conf"
fi

present() { $engine image inspect "$1" >/dev/null 2>&1; }
pullable() { present "$1" || timeout 60 $engine pull -q "$1" >/dev/null 2>&1; }

# The base image: the default when it can be pulled (or is already here), else the stand-in.
python_image="$default_image"
if ! pullable "$default_image"; then
  python_image="$standin_tag"
  if ! present "$standin_tag"; then
    log "$default_image cannot be pulled: building the stand-in $standin_tag with debootstrap"
    rootfs="$state/rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    chroot "$rootfs" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
      apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip ca-certificates >/dev/null
      ln -sf /usr/bin/python3 /usr/local/bin/python
      ln -sf /usr/bin/pip3 /usr/local/bin/pip
      rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
      apt-get clean; rm -rf /var/lib/apt/lists/*'
    tar -C "$rootfs" -c . | $engine import -q - "$standin_tag" >/dev/null
    rm -rf "$rootfs"
  fi
fi

# Redis for the compose "scale" profile, likewise.
redis_image="$default_redis"
if ! pullable "$default_redis"; then
  redis_image="$redis_standin_tag"
  if ! present "$redis_standin_tag"; then
    log "$default_redis cannot be pulled: building the stand-in $redis_standin_tag"
    pull_never=(); [ "$engine" = podman ] && pull_never=(--pull=never)
    $engine build -q "${pull_never[@]}" --network=host --build-arg "BASE=$python_image" \
      -t "$redis_standin_tag" -f "$here/Containerfile.redis" "$here" >/dev/null
  fi
fi

echo "ENGINE=$engine"
echo "PYTHON_IMAGE=$python_image"
echo "REDIS_IMAGE=$redis_image"
echo "CONTAINERS_CONF=${CONTAINERS_CONF:-}"
