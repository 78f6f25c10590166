#!/usr/bin/env bash
# Builds the real OpenStack Keystone 30.0.0 environment the Keystone tests run, and prints its
# location as a shell export:
#
#   export PULP_TEST_KEYSTONE=/var/cache/pulp-entrypoint/keystone-<hash>
#
#   bash test/services/keystone.sh --cached   # only print it when already built, else exit 3
#
# Cached and idempotent like pulp2.sh: the directory name is a hash of every input (the pins in
# test/services/keystone/requirements-py311.txt, this script without its comments, the Python
# version); a finished build has a `ready` file and is reused as is; a half-finished one (killed
# build) is removed and built again. A lock serialises parallel runs. The build takes about a
# minute from PyPI (the time is in <dir>/build-seconds).
#
# What it holds, all readable by any user (Keystone runs as an unprivileged `keystone`):
#   python/   a copy of pyenv's CPython 3.11.7 without its site-packages and test suite (/root
#             is 0700, so neither the original nor a venv pointing into it runs for another
#             user), its RUNPATH set to python/lib
#   venv/     `python -m venv --copies` of that copy; `pip install --no-deps -r` the pins
#             (keystone 30.0.0, gunicorn, PyMySQL, python-memcached, ...)
#   keystone.conf.sample   Keystone's own sample config, from oslo-config-generator with the
#             namespaces Keystone documents
# The MariaDB the Keystone tests use is test/services/mariadb.sh's (Debian's package, which
# test/setup-machine.sh installs with the rest).
# Needs: a writable cache (root: /var/cache/pulp-entrypoint); patchelf; PyPI.
#
# Environment: PULP_TEST_PYTHON311 (default /root/.pyenv/versions/3.11.7),
# PULP_TEST_CACHE (default /var/cache/pulp-entrypoint), PULP_TEST_KEYSTONE_PINS (default
# requirements-py311.txt, Keystone 30.0.0; the upgrade tests build requirements-28-py311.txt,
# Keystone 28.0.2, the same way into a directory of its own: the hash covers the pins).
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=defaults.sh
. "$here/defaults.sh"
PYTHON_SRC=${PULP_TEST_PYTHON311:-/root/.pyenv/versions/3.11.7}
PINS="$here/keystone/${PULP_TEST_KEYSTONE_PINS:-requirements-py311.txt}"
# The release the pins name, which the build checks it installed.
RELEASE=$(sed -n 's/^keystone==//p' "$PINS" 2>/dev/null)
NAMESPACES=(keystone oslo.cache oslo.log oslo.messaging oslo.policy oslo.db oslo.middleware osprofiler)

log() { printf 'keystone: %s\n' "$*" >&2; }
die() { printf 'keystone: error: %s\n' "$*" >&2; exit 1; }

[[ -r "$PINS" ]] || die "missing $PINS (the pinned PyPI requirements)"

hash=$( { sha256sum <"$PINS"; grep -v '^[[:space:]]*#' "$0"; basename "$PYTHON_SRC"; } | sha256sum | cut -c1-12)
DIR="$CACHE/keystone-$hash"
if [[ ${1:-} == --cached ]]; then
  [[ -f "$DIR/ready" ]] || { log "not built yet: run bash test/services/keystone.sh (builds $DIR)"; exit 3; }
  echo "export PULP_TEST_KEYSTONE=$DIR"
  exit 0
fi

[[ -x "$PYTHON_SRC/bin/python3.11" ]] || die "no CPython 3.11 at $PYTHON_SRC (pyenv's 3.11.7; set PULP_TEST_PYTHON311)"
command -v patchelf >/dev/null || die "patchelf is missing (bash test/setup-machine.sh installs it)"

mkdir -p "$CACHE"
chmod 755 "$CACHE" 2>/dev/null || true
exec 9>"$DIR.lock"
flock 9
if [[ -f "$DIR/ready" ]]; then
  log "cached: $DIR (built in $(cat "$DIR/build-seconds") s)"
  echo "export PULP_TEST_KEYSTONE=$DIR"
  exit 0
fi
rm -rf "$DIR"
mkdir -p "$DIR"
start=$(date +%s)
BUILD_LOG="$DIR/build.log"
log "building the Keystone environment in $DIR (first time only; log in $BUILD_LOG)"
step() { # description command...
  local what=$1; shift
  log "$what"
  "$@" >>"$BUILD_LOG" 2>&1 || { tail -30 "$BUILD_LOG" >&2; die "$what failed; see $BUILD_LOG"; }
}

# 1. Python: a copy any user can read, without pyenv's site-packages (hundreds of MB of other
#    tools, and a .pth of the machine's) and the test suite; its libpython found by RUNPATH.
step "copying CPython 3.11 from $PYTHON_SRC" \
  tar -C "$PYTHON_SRC" --exclude=./lib/python3.11/site-packages --exclude=./lib/python3.11/test \
    -cf "$DIR/python.tar" ./bin ./lib ./include
mkdir -p "$DIR/python/lib/python3.11/site-packages"
step "unpacking it" tar -C "$DIR/python" -xf "$DIR/python.tar"
rm -f "$DIR/python.tar"
step "setting RUNPATH of python3.11" patchelf --set-rpath "$DIR/python/lib" "$DIR/python/bin/python3.11"
chmod -R a+rX "$DIR/python"
PY="$DIR/python/bin/python3.11"
"$PY" -c 'import sys, ssl, sqlite3, ctypes; assert sys.version_info[:2] == (3, 11)' || die "the copied python does not run"

# 2. The venv, by copies (its python keeps the copy's RUNPATH), and the pins, no resolver.
step "creating the venv" "$PY" -m venv --copies "$DIR/venv"
VPY="$DIR/venv/bin/python"
step "installing $(basename "$PINS")" \
  "$VPY" -m pip install --disable-pip-version-check --no-input -q --no-deps -r "$PINS"
step "checking the pins are consistent" "$VPY" -m pip check

# 3. Keystone's sample config, from the installed package.
ns=()
for n in "${NAMESPACES[@]}"; do ns+=(--namespace "$n"); done
step "generating keystone.conf.sample" "$DIR/venv/bin/oslo-config-generator" "${ns[@]}" --output-file "$DIR/keystone.conf.sample"
grep -q '^\[database\]' "$DIR/keystone.conf.sample" && grep -q '^\[fernet_tokens\]' "$DIR/keystone.conf.sample" \
  || die "keystone.conf.sample lacks [database] or [fernet_tokens]"
chmod -R a+rX "$DIR"

# 4. The proof that it runs for a user who is not root (nobody; no home, no groups).
for exe in keystone-manage gunicorn oslo-config-generator; do
  [[ -x "$DIR/venv/bin/$exe" ]] || die "the venv has no $exe"
done
check='import keystone, keystone.server.wsgi, keystone.cmd.manage, gunicorn, pymysql, memcache, sqlalchemy
import importlib.metadata as m
assert m.version("keystone") == "'"$RELEASE"'", m.version("keystone")'
if [[ $(id -u) == 0 ]]; then
  step "checking the imports as nobody" setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=/nonexistent "$VPY" -c "$check"
else
  step "checking the imports" "$VPY" -c "$check"
fi

echo $(( $(date +%s) - start )) >"$DIR/build-seconds"
touch "$DIR/ready"
log "built in $(cat "$DIR/build-seconds") s: $DIR"
echo "export PULP_TEST_KEYSTONE=$DIR"
