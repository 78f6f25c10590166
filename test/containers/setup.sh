#!/usr/bin/env bash
# Prepares what the container tests (test/e2e/containers.test.ts) need, and prints it as shell
# exports (scripts/test.sh evals them):
#   CONTAINERS_CONF, CONTAINERS_STORAGE_CONF  this folder's podman configuration
#   PULP_TEST_IMAGE_BASE       a Debian 12 image, made with mmdebstrap and `podman import`
#                              (no registry is reachable here); built once, then cached
#   PULP_TEST_PYTHON27         a CPython 2.7 prefix (pyenv's 2.7.18 on this machine image)
#   PULP_TEST_WHEELHOUSE       requirements-py27.txt downloaded from PyPI (cached by its hash)
#   PULP_TEST_PULP2_SOURCES    the Pulp 2 sources folder (<repo>/../shared/pulp2)
# The Debian packages: podman and runc (without crun, which fails on this VM's cgroups;
# containers.conf says why), mmdebstrap.
# Idempotent; the first run takes about 2 minutes (mmdebstrap), later ones a second or two.
#
# Environment: PULP_TEST_PULP2_SOURCES, PULP_TEST_PYTHON27 (defaults above),
# PULP_TEST_CACHE (default /var/cache/pulp-entrypoint).
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../services/defaults.sh
. "$repo/test/services/defaults.sh"
SOURCES=$PULP2_SOURCES
PY27=$PYTHON27
BASE_TAG=localhost/pulp-entrypoint/debian:bookworm

log() { printf 'containers: %s\n' "$*" >&2; }
die() { printf 'containers: error: %s\n' "$*" >&2; exit 1; }

# 1. Debian packages.
packages=(podman runc mmdebstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || die "missing Debian packages: ${missing[*]} (as root: apt-get install --no-install-recommends ${missing[*]})"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ $(id -u) -eq 0 ]] || die "the container tests run podman as root (rootless podman needs subuid ranges this machine does not set up)"

export CONTAINERS_CONF=$here/containers.conf CONTAINERS_STORAGE_CONF=$here/storage.conf
mkdir -p "$CACHE"
exec 9>"$CACHE/containers-setup.lock"
flock 9

# 2. The base image: Debian 12 minbase from the Debian mirror, imported as an image.
if ! podman image exists "$BASE_TAG"; then
  tar="$CACHE/debian-bookworm-minbase.tar"
  log "making $BASE_TAG with mmdebstrap (first time only, about a minute)"
  mmdebstrap --quiet --variant=minbase --format=tar bookworm "$tar.part" >&2 || die "mmdebstrap failed"
  mv "$tar.part" "$tar"
  podman import --quiet --change 'CMD ["bash"]' "$tar" "$BASE_TAG" >/dev/null || die "podman import failed"
  rm -f "$tar"
fi

# 3. The Pulp 2 image's inputs that no Debian release ships.
[[ -x $PY27/bin/python2.7 ]] || die "no CPython 2.7 at $PY27 (set PULP_TEST_PYTHON27 to a python2.7 installation prefix)"
[[ -r $SOURCES/requirements-py27.txt ]] || die "no Pulp 2 sources at $SOURCES (set PULP_TEST_PULP2_SOURCES)"
hash=$(sha256sum "$SOURCES/requirements-py27.txt" | cut -c1-12)
WHEELHOUSE=$CACHE/wheelhouse-py27-$hash
if [[ ! -f $WHEELHOUSE/ready ]]; then
  log "downloading requirements-py27.txt into $WHEELHOUSE"
  rm -rf "$WHEELHOUSE"
  "$PY27/bin/python2.7" -m pip download --disable-pip-version-check -q -r "$SOURCES/requirements-py27.txt" "setuptools<45" "wheel<0.38" -d "$WHEELHOUSE" >"$CACHE/wheelhouse.log" 2>&1 \
    || { tail -5 "$CACHE/wheelhouse.log" >&2; die "pip download of $SOURCES/requirements-py27.txt failed (PyPI)"; }
  touch "$WHEELHOUSE/ready"
fi

cat <<EOF
export CONTAINERS_CONF=$CONTAINERS_CONF
export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF
export PULP_TEST_IMAGE_BASE=$BASE_TAG
export PULP_TEST_PYTHON27=$PY27
export PULP_TEST_WHEELHOUSE=$WHEELHOUSE
export PULP_TEST_PULP2_SOURCES=$(cd "$SOURCES" && pwd)
EOF
