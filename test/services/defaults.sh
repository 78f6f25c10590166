# Sourced by the test set-up scripts: the defaults they share, in one place.
#   PULP2_SOURCES  the Pulp 2 sources (PULP_TEST_PULP2_SOURCES, else <repo>/../shared/pulp2)
#   PYTHON27       a CPython 2.7 prefix (PULP_TEST_PYTHON27, else pyenv's 2.7.18 on the machine image)
#   CACHE          slow builds (PULP_TEST_CACHE, else /var/cache/pulp-entrypoint, or
#                  ~/.cache/pulp-entrypoint where that cannot be written)
_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PULP2_SOURCES=${PULP_TEST_PULP2_SOURCES:-$_repo/../shared/pulp2}
PYTHON27=${PULP_TEST_PYTHON27:-/root/.pyenv/versions/2.7.18}
CACHE=${PULP_TEST_CACHE:-/var/cache/pulp-entrypoint}
if ! mkdir -p "$CACHE" 2>/dev/null || [[ ! -w $CACHE ]]; then CACHE=$HOME/.cache/pulp-entrypoint; mkdir -p "$CACHE"; fi
unset _repo
