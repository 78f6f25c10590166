# Sourced by build-keystone-image.sh and build-keystone-upgrade-images.sh (from the repository
# root, after their own log and die): the cache settings (test/services/defaults.sh), pyenv's
# CPython 3.11 (PY311), and keystone_wheelhouse PINS, which prints the wheelhouse of a lock: one
# wheel per pin for CPython 3.11 on this machine's platform, downloaded from PyPI once and
# cached under $CACHE/keystone-wheelhouse-<hash of the pins>; a finished download has a `ready`
# file, a half-finished one is removed and made again; a lock serialises parallel builds.
# shellcheck shell=bash source=../services/defaults.sh
. test/services/defaults.sh
PY311=${PULP_TEST_PYTHON311:-/root/.pyenv/versions/3.11.7}

keystone_wheelhouse() { # pins-file
  local pins=$1 hash dir n w
  [[ -r $pins ]] || die "missing $pins"
  [[ -x $PY311/bin/python3.11 ]] || die "no CPython 3.11 at $PY311 (pyenv's 3.11.7; set PULP_TEST_PYTHON311)"
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
    # One wheel per pin, or the offline install in the image would fail half-way through.
    n=$(grep -c '^[A-Za-z0-9]' "$pins")
    w=$(find "$dir" -maxdepth 1 -name '*.whl' | wc -l)
    [[ $n -eq $w ]] || die "$w wheels for $n pins in $dir"
    touch "$dir/ready"
  fi
  flock -u 8
  echo "$dir"
}
