#!/usr/bin/env bash
# Builds the two images test/k8s/keystone-upgrade.test.ts upgrades between, with tags of their
# own (never keystone-entrypoint:latest, which other tests build and use):
#
#   localhost/keystone-entrypoint:upgrade-old   Keystone 28.0.2 (test/services/keystone/requirements-28-py311.txt)
#   localhost/keystone-entrypoint:upgrade-new   Keystone 30.0.0 (requirements-py311.txt)
#
# both from fixtures/docker/keystone/Dockerfile as README.md's block builds the image (same
# build contexts), with this repository's agent (AGENT, default dist/pulp-entrypoint: run
# `npm run build:binary` first). Each lock's wheelhouse is downloaded once with pyenv's 3.11.7
# and cached under $CACHE/keystone-wheelhouse-<hash of the pins> (the same cache as
# build-keystone-image.sh's); podman's layer cache makes a second build quick. Prints the two
# tags on stdout, progress on stderr.
#
# Environment: AGENT, PULP_TEST_PYTHON311 (default /root/.pyenv/versions/3.11.7),
# PULP_TEST_CACHE (default /var/cache/pulp-entrypoint).
set -euo pipefail
umask 022
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
# shellcheck source=../services/defaults.sh
. "$repo/test/services/defaults.sh"
PY311=${PULP_TEST_PYTHON311:-/root/.pyenv/versions/3.11.7}
AGENT=${AGENT:-dist/pulp-entrypoint}

log() { printf 'keystone-upgrade-images: %s\n' "$*" >&2; }
die() { printf 'keystone-upgrade-images: error: %s\n' "$*" >&2; exit 1; }

eval "$(bash "$here/setup.sh")"
[[ -x $PY311/bin/python3.11 ]] || die "no CPython 3.11 at $PY311 (pyenv's 3.11.7; set PULP_TEST_PYTHON311)"
[[ -f $AGENT ]] || die "no agent binary at $AGENT (npm run build:binary)"

# The wheelhouse of one lock, by its hash, as build-keystone-image.sh makes it.
wheelhouse() { # pins-file
  local pins=$1 hash dir
  hash=$(sha256sum "$pins" | cut -c1-12)
  dir=$CACHE/keystone-wheelhouse-$hash
  exec 8>"$dir.lock"
  flock 8
  if [[ ! -f $dir/ready ]]; then
    log "downloading the wheels of $(basename "$pins") into $dir (first time only)"
    rm -rf "$dir"
    mkdir -p "$dir"
    "$PY311/bin/python3.11" -m pip download --disable-pip-version-check --no-input -q \
      --only-binary=:all: --no-deps -r "$pins" -d "$dir" >"$dir.log" 2>&1 \
      || { tail -5 "$dir.log" >&2; die "pip download of $pins failed (PyPI)"; }
    local n w
    n=$(grep -c '^[A-Za-z0-9]' "$pins")
    w=$(find "$dir" -maxdepth 1 -name '*.whl' | wc -l)
    [[ $n -eq $w ]] || die "$w wheels for $n pins in $dir"
    touch "$dir/ready"
  fi
  flock -u 8
  echo "$dir"
}

build() { # tag pins-file version
  local tag=$1 pins=$2 version=$3 wh ctx
  wh=$(wheelhouse "$pins")
  # The Dockerfile takes requirements-py311.txt from the pins context: a folder holding this lock under that name.
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  cp "$pins" "$ctx/requirements-py311.txt"
  log "building $tag (Keystone $version)"
  podman build -q --network=host --build-arg BASE="$PULP_TEST_IMAGE_BASE" --build-arg AGENT="$AGENT" \
    --build-arg KEYSTONE_VERSION="$version" \
    --build-context wheelhouse="$wh" --build-context pins="$ctx" \
    --build-context keystone-conf=src/keystone \
    -f fixtures/docker/keystone/Dockerfile -t "$tag" . >&2 || die "podman build of $tag failed"
  echo "localhost/$tag"
}

build keystone-entrypoint:upgrade-old test/services/keystone/requirements-28-py311.txt 28.0.2
build keystone-entrypoint:upgrade-new test/services/keystone/requirements-py311.txt 30.0.0
