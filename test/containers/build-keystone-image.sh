#!/usr/bin/env bash
# Builds the Keystone image (fixtures/docker/keystone, tag keystone-entrypoint) exactly as
# docs/images.md says: the shell block under the marker
# `<!-- test/containers/build-keystone-image.sh runs this block -->`, run from the repository
# root with BASE from test/containers/setup.sh (run first: packages, podman's configuration,
# the Debian 12 base image), WHEELHOUSE (below) and AGENT (default dist/pulp-entrypoint).
# test/e2e/keystone-container.test.ts runs it; podman's layer cache makes a second build
# rebuild only what changed (the agent layer, after `npm run build:binary`).
#
# The wheelhouse: one wheel per pin of test/services/keystone/requirements-py311.txt for
# CPython 3.11 on this machine's platform, downloaded from PyPI with pyenv's 3.11.7
# (PULP_TEST_PYTHON311) and cached under $CACHE/keystone-wheelhouse-<hash of the pins>; a
# finished download has a `ready` file, a half-finished one is removed and made again.
# Idempotent; prints the image's tag on stdout, progress on stderr.
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
PINS=$repo/test/services/keystone/requirements-py311.txt

log() { printf 'keystone-image: %s\n' "$*" >&2; }
die() { printf 'keystone-image: error: %s\n' "$*" >&2; exit 1; }

eval "$(bash "$here/setup.sh")"

# 1. The wheelhouse, by the hash of the pins.
[[ -r $PINS ]] || die "missing $PINS"
[[ -x $PY311/bin/python3.11 ]] || die "no CPython 3.11 at $PY311 (pyenv's 3.11.7; set PULP_TEST_PYTHON311)"
hash=$(sha256sum "$PINS" | cut -c1-12)
WHEELHOUSE=$CACHE/keystone-wheelhouse-$hash
exec 8>"$WHEELHOUSE.lock"
flock 8
if [[ ! -f $WHEELHOUSE/ready ]]; then
  log "downloading the wheels of requirements-py311.txt into $WHEELHOUSE (first time only)"
  rm -rf "$WHEELHOUSE"
  mkdir -p "$WHEELHOUSE"
  "$PY311/bin/python3.11" -m pip download --disable-pip-version-check --no-input -q \
    --only-binary=:all: --no-deps -r "$PINS" -d "$WHEELHOUSE" >"$WHEELHOUSE.log" 2>&1 \
    || { tail -5 "$WHEELHOUSE.log" >&2; die "pip download of $PINS failed (PyPI)"; }
  # One wheel per pin, or the offline install in the image would fail half-way through.
  pins=$(grep -c '^[A-Za-z0-9]' "$PINS")
  wheels=$(find "$WHEELHOUSE" -maxdepth 1 -name '*.whl' | wc -l)
  [[ $pins -eq $wheels ]] || die "$wheels wheels for $pins pins in $WHEELHOUSE"
  touch "$WHEELHOUSE/ready"
fi
flock -u 8

# 2. The block of docs/images.md, as it is.
block=$(awk '/^<!-- test\/containers\/build-keystone-image\.sh runs this block -->$/ { mark = 1; next }
  mark && /^```sh$/ { inside = 1; next }
  inside && /^```$/ { exit }
  inside { print }' docs/images.md)
[[ -n $block ]] || die "docs/images.md has no block under the marker"
BASE=$PULP_TEST_IMAGE_BASE WHEELHOUSE=$WHEELHOUSE AGENT=${AGENT:-dist/pulp-entrypoint} \
  bash -euo pipefail -c "$block" >&2
echo keystone-entrypoint
