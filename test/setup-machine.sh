#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing (needs root and apt-get).
# Idempotent and quick when everything is there. `npm test` and .ci/run call it.
#   augeas-tools augeas-lenses  the real augtool, to compare server.conf edits against
#   python3 (configparser)      the reader Pulp uses, to check what the edits mean
#   python3-pymongo             the original pipeline's MongoDB check (benchmark)
#   python3-celery              a real Celery worker exec'd by the agent
#   rabbitmq-server             the broker (AMQP 1.0 plugin and 0-9-1)
#   tini                        reaping example in the docs, compared in tests
#   util-linux passwd           unshare/setpriv for PID-1 tests, useradd for the test user
#   qemu-user libc6-arm64-cross to run the arm64 binary (qemu-aarch64 -L /usr/aarch64-linux-gnu)
#   binutils                    readelf, to cross-check the binaries' glibc version needs
set -euo pipefail
packages=(augeas-tools augeas-lenses python3-pymongo python3-celery rabbitmq-server tini util-linux passwd qemu-user libc6-arm64-cross binutils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "setup-machine: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "setup-machine: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
