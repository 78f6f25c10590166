#!/usr/bin/env bash
# Builds the real Pulp 2 (2-master) environment the tests in test/e2e/pulp2-real.test.ts run, from
# the sources in <repo>/../shared/pulp2 (see its README.md for why each step is the way it is),
# and prints its location as a shell export:
#
#   export PULP_TEST_PULP2=/var/cache/pulp-entrypoint/pulp2-<hash>
#
#   bash test/services/pulp2.sh --cached   # only print it when already built, else exit 3
#
# Cached and idempotent: the directory name is a hash of every input (the archives, the pins,
# this script without its comments, the Python version); a finished build has a `ready` file
# and is reused as is; a half-finished one (killed build) is removed and built again. A lock
# serialises parallel runs.
# A fresh machine builds it once (about 5 to 10 minutes on 2 cores; the time is in
# <dir>/build-seconds).
#
# What it holds, all readable by any user (the roles run as `apache`):
#   python/   a copy of pyenv's CPython 2.7.18 (/root is 0700), its RUNPATH set to python/lib
#   venv/     virtualenv<20.22 --copies; the PyPI pins of requirements-py27.txt; Pulp's
#             common, server, repoauth (`setup.py develop --no-deps`, from src/pulp); nectar;
#             gofer; the `selinux` module built from libselinux 3.4 against Debian's libselinux
#   src/      the unpacked sources (develop installs point here)
#   server.conf   Pulp 2's own server/etc/pulp/server.conf, as shipped
# Needs: root or a writable cache, the Debian packages of test/setup-machine.sh (swig,
# libssl-dev, libldap2-dev, libsasl2-dev, libselinux1-dev, patchelf, gcc), PyPI.
#
# Environment: PULP_TEST_PULP2_SOURCES (default <repo>/../shared/pulp2),
# PULP_TEST_PYTHON27 (default /root/.pyenv/versions/2.7.18),
# PULP_TEST_CACHE (default /var/cache/pulp-entrypoint).
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=defaults.sh
. "$here/defaults.sh"
SOURCES=$PULP2_SOURCES
PYTHON_SRC=$PYTHON27

log() { printf 'pulp2: %s\n' "$*" >&2; }
die() { printf 'pulp2: error: %s\n' "$*" >&2; exit 1; }

inputs=(pulp-2-master.tar.gz nectar-1.6.4.tar.gz gofer-2.12.5.tar.gz libselinux-3.4.tar.gz requirements-py27.txt)
for f in "${inputs[@]}"; do
  [[ -r "$SOURCES/$f" ]] || die "missing $SOURCES/$f (the Pulp 2 sources; set PULP_TEST_PULP2_SOURCES)"
done
[[ -x "$PYTHON_SRC/bin/python2.7" ]] || die "no CPython 2.7 at $PYTHON_SRC (pyenv's 2.7.18; set PULP_TEST_PYTHON27)"
for tool in swig gcc patchelf; do
  command -v "$tool" >/dev/null || die "$tool is missing (bash test/setup-machine.sh installs it)"
done

hash=$( { (cd "$SOURCES" && sha256sum "${inputs[@]}"); grep -v '^[[:space:]]*#' "$0"; basename "$PYTHON_SRC"; } | sha256sum | cut -c1-12)
DIR="$CACHE/pulp2-$hash"
if [[ ${1:-} == --cached ]]; then
  [[ -f "$DIR/ready" ]] || { log "not built yet: run bash test/services/pulp2.sh (builds $DIR)"; exit 3; }
  echo "export PULP_TEST_PULP2=$DIR"
  exit 0
fi
mkdir -p "$CACHE"
chmod 755 "$CACHE"

exec 9>"$DIR.lock"
flock 9
if [[ -f "$DIR/ready" ]]; then
  log "cached: $DIR (built in $(cat "$DIR/build-seconds") s)"
  echo "export PULP_TEST_PULP2=$DIR"
  exit 0
fi
rm -rf "$DIR"
mkdir -p "$DIR/src"
start=$(date +%s)
BUILD_LOG="$DIR/build.log"
log "building the Pulp 2 environment in $DIR (first time only; log in $BUILD_LOG)"
step() { # description command...
  local what=$1; shift
  log "$what"
  "$@" >>"$BUILD_LOG" 2>&1 || { tail -30 "$BUILD_LOG" >&2; die "$what failed; see $BUILD_LOG"; }
}

# 1. Python: a copy apache can read; the interpreter finds its libpython through RUNPATH (the
#    original points into /root), so no LD_LIBRARY_PATH is needed by anything that runs it.
step "copying CPython 2.7 from $PYTHON_SRC" cp -a "$PYTHON_SRC" "$DIR/python"
chmod -R a+rX "$DIR/python"
for exe in "$DIR/python/bin/python2.7"; do
  step "setting RUNPATH of $exe" patchelf --set-rpath "$DIR/python/lib" "$exe"
done
PY="$DIR/python/bin/python2.7"

# 2. virtualenv<20.22 (the last with Python 2 support) with pip 19.2.3, then a venv by copies.
step "installing virtualenv<20.22" "$PY" -m pip install --disable-pip-version-check -q --target "$DIR/virtualenv" 'virtualenv<20.22'
step "creating the venv" env PYTHONPATH="$DIR/virtualenv" "$PY" -m virtualenv --copies --no-download "$DIR/venv"
VPY="$DIR/venv/bin/python"
patchelf --set-rpath "$DIR/python/lib" "$VPY" 2>/dev/null || true
"$VPY" -c 'import sys; assert sys.version_info[:2] == (2, 7)' || die "the venv's python does not run"

# 3. The PyPI pins (M2Crypto, python-ldap compile against Debian's -dev packages).
step "installing requirements-py27.txt (M2Crypto and python-ldap compile; minutes)" \
  "$VPY" -m pip install --disable-pip-version-check --no-cache-dir -q -r "$SOURCES/requirements-py27.txt"

# 4. Pulp itself, nectar, gofer.
for a in pulp-2-master nectar-1.6.4 gofer-2.12.5 libselinux-3.4; do
  tar -xzf "$SOURCES/$a.tar.gz" -C "$DIR/src"
done
for p in common server repoauth; do
  step "setup.py develop pulp/$p" sh -c "cd '$DIR/src/pulp/$p' && '$VPY' setup.py develop --no-deps"
done
step "installing nectar" "$VPY" -m pip install --disable-pip-version-check -q --no-deps "$DIR/src/nectar"
step "installing gofer" sh -c "cd '$DIR/src/gofer/src' && '$VPY' setup.py install"

# 5. The selinux module Pulp imports, from libselinux's SWIG interface.
sel="$DIR/src/selinux/libselinux/src"
step "building the selinux module" sh -c "cd '$sel' && bash exception.sh > selinuxswig_python_exception.i \
  && swig -python -I../include -o wrap.c -outdir . selinuxswig_python.i \
  && gcc -shared -fPIC -I../include -I'$DIR/python/include/python2.7' wrap.c -lselinux -o _selinux.so"
site=$("$VPY" -c 'import distutils.sysconfig as s; print(s.get_python_lib())')
mkdir -p "$site/selinux"
cp "$sel/selinux.py" "$site/selinux/__init__.py"
cp "$sel/_selinux.so" "$site/selinux/"

cp "$DIR/src/pulp/server/etc/pulp/server.conf" "$DIR/server.conf"
chmod -R a+rX "$DIR"

# The proof that it runs: every module a role imports at start (Pulp reads
# /etc/pulp/server.conf on import, so in a pod view of its own, as the tests run it).
check="$DIR/import-check"
mkdir -p "$check/etc/pulp"
cp "$DIR/server.conf" "$check/etc/pulp/server.conf"
step "checking the imports" unshare --mount bash "$here/pulp2-pod.sh" "$check" - "$VPY" -c 'import pulp.server.async.app, pulp.server.async.celery_instance, pulp.server.db.manage, selinux, M2Crypto, ldap, gofer, nectar, celery; assert celery.__version__ == "4.0.2"'
rm -rf "$check"
for exe in celery pulp-manage-db; do
  [[ -x "$DIR/venv/bin/$exe" ]] || die "the venv has no $exe"
done

echo $(( $(date +%s) - start )) >"$DIR/build-seconds"
touch "$DIR/ready"
log "built in $(cat "$DIR/build-seconds") s: $DIR"
echo "export PULP_TEST_PULP2=$DIR"
