#!/usr/bin/env bash
# Builds the images of fixtures/docker exactly as docs/images.md says: the shell block under the
# marker `<!-- test/e2e/containers.test.ts runs this block -->`, run from the repository root with
# BASE, PYTHON27, WHEELHOUSE and SOURCES from test/containers/setup.sh (run first) and AGENT
# (default dist/pulp-entrypoint). scripts/test.sh runs it before the tests, so that the first,
# slow build (Pulp 2 compiles: minutes) happens outside tap's per-file timeout;
# test/e2e/containers.test.ts runs it again and finds every layer cached but the changed ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
eval "$(bash "$here/setup.sh")"
block=$(awk '/^<!-- test\/e2e\/containers\.test\.ts runs this block -->$/ { mark = 1; next }
  mark && /^```sh$/ { inside = 1; next }
  inside && /^```$/ { exit }
  inside { print }' docs/images.md)
[[ -n $block ]] || { echo "build-images: docs/images.md has no block under the marker" >&2; exit 1; }
BASE=$PULP_TEST_IMAGE_BASE PYTHON27=$PULP_TEST_PYTHON27 WHEELHOUSE=$PULP_TEST_WHEELHOUSE \
  SOURCES=$PULP_TEST_PULP2_SOURCES AGENT=${AGENT:-dist/pulp-entrypoint} \
  bash -euo pipefail -c "$block"
