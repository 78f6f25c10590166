#!/usr/bin/env bash
# Installs PyPI's kubernetes-validate (it ships the Kubernetes API schemas, so it validates
# offline) into a venv under the cache, once, and prints where it is:
#   export PULP_TEST_KUBERNETES_VALIDATE=/var/cache/pulp-entrypoint/kubernetes-validate-<version>/bin/kubernetes-validate
# test/ship/k8s-validate.test.ts runs it on fixtures/k8s. Needs Debian's python3-venv (the
# venv uses Debian's Python, not whatever `python3` is first on PATH) and PyPI.
# Environment: PULP_TEST_CACHE (default /var/cache/pulp-entrypoint).
set -euo pipefail
umask 022
VERSION=1.37.0
# shellcheck source=../services/defaults.sh
. "$(dirname "$0")/../services/defaults.sh"
DIR=$CACHE/kubernetes-validate-$VERSION
die() { printf 'kubernetes-validate: error: %s\n' "$*" >&2; exit 1; }

if [[ ! -x $DIR/bin/kubernetes-validate || ! -f $DIR/ready ]]; then
  if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q 'install ok installed'; then
    [[ $(id -u) -eq 0 ]] || die "python3-venv is missing (as root: apt-get install python3-venv)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  mkdir -p "$CACHE"
  exec 9>"$DIR.lock"
  flock 9
  if [[ ! -f $DIR/ready ]]; then
    rm -rf "$DIR"
    /usr/bin/python3 -m venv "$DIR" || die "python3 -m venv $DIR failed"
    "$DIR/bin/pip" install --disable-pip-version-check -q "kubernetes-validate==$VERSION" >&2 || die "pip install kubernetes-validate==$VERSION failed (PyPI)"
    touch "$DIR/ready"
  fi
fi
echo "export PULP_TEST_KUBERNETES_VALIDATE=$DIR/bin/kubernetes-validate"
