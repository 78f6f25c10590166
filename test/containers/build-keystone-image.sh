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
cd "$here/../.."

log() { printf 'keystone-image: %s\n' "$*" >&2; }
die() { printf 'keystone-image: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=keystone-wheelhouse.sh
. "$here/keystone-wheelhouse.sh"

eval "$(bash "$here/setup.sh")"

# 1. The wheelhouse, by the hash of the pins.
WHEELHOUSE=$(keystone_wheelhouse test/services/keystone/requirements-py311.txt)

# 2. The block of docs/images.md, as it is.
block=$(awk '/^<!-- test\/containers\/build-keystone-image\.sh runs this block -->$/ { mark = 1; next }
  mark && /^```sh$/ { inside = 1; next }
  inside && /^```$/ { exit }
  inside { print }' docs/images.md)
[[ -n $block ]] || die "docs/images.md has no block under the marker"
BASE=$PULP_TEST_IMAGE_BASE WHEELHOUSE=$WHEELHOUSE AGENT=${AGENT:-dist/pulp-entrypoint} \
  bash -euo pipefail -c "$block" >&2
echo keystone-entrypoint
