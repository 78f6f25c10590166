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
cd "$here/../.."
AGENT=${AGENT:-dist/pulp-entrypoint}

log() { printf 'keystone-upgrade-images: %s\n' "$*" >&2; }
die() { printf 'keystone-upgrade-images: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=keystone-wheelhouse.sh
. "$here/keystone-wheelhouse.sh"

eval "$(bash "$here/setup.sh")"
[[ -f $AGENT ]] || die "no agent binary at $AGENT (npm run build:binary)"

build() { # tag pins-file version
  local tag=$1 pins=$2 version=$3 wh ctx before after
  wh=$(keystone_wheelhouse "$pins")
  # The Dockerfile takes requirements-py311.txt from the pins context: a folder of its own per
  # lock (beside its wheelhouse, same path every time, so podman's layer cache holds).
  ctx=$wh.pins
  mkdir -p "$ctx"
  cmp -s "$pins" "$ctx/requirements-py311.txt" || cp "$pins" "$ctx/requirements-py311.txt"
  before=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  log "building $tag (Keystone $version)"
  podman build -q --network=host --build-arg BASE="$PULP_TEST_IMAGE_BASE" --build-arg AGENT="$AGENT" \
    --build-arg KEYSTONE_VERSION="$version" \
    --build-context wheelhouse="$wh" --build-context pins="$ctx" \
    --build-context keystone-conf=src/keystone \
    -f fixtures/docker/keystone/Dockerfile -t "$tag" . >&2 || die "podman build of $tag failed"
  # The image it replaced (a new agent binary), removed unless something still uses it.
  after=$(podman image inspect --format '{{.Id}}' "$tag")
  [[ -z $before || $before == "$after" ]] || podman rmi "$before" >/dev/null 2>&1 || true
  echo "localhost/$tag"
}

build keystone-entrypoint:upgrade-old test/services/keystone/requirements-28-py311.txt 28.0.2
build keystone-entrypoint:upgrade-new test/services/keystone/requirements-py311.txt 30.0.0
