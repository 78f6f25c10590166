#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing (needs root and apt-get).
# Idempotent and quick when everything is there. `npm test` and .ci/run call it.
#   augeas-tools augeas-lenses  the real augtool, to compare server.conf edits against
#   python3 (configparser)      the reader Pulp uses, to check what the edits mean
#   python3-pymongo             the original pipeline's MongoDB check (benchmark)
#   python3-celery              a real Celery worker exec'd by the agent
#   rabbitmq-server             the broker (AMQP 1.0 plugin and 0-9-1)
#   openjdk-17-jre-headless maven  Qpid Broker-J (Java; its jars come from Maven Central once)
#   tini                        reaping example in the docs, compared in tests
#   util-linux passwd           unshare/setpriv for PID-1 tests, useradd for the test user
#   attr                        getfattr/setfattr: server.conf's ACL and xattrs are kept
#   faketime                    an agent whose clock is ahead (the init lease uses the server's)
#   swig libssl-dev libldap2-dev libsasl2-dev libselinux1-dev gcc patchelf
#                               the real Pulp 2's Python 2.7 build (test/services/pulp2.sh)
#   qemu-user libc6-arm64-cross to run the arm64 binary (qemu-aarch64 -L /usr/aarch64-linux-gnu)
#   binutils                    readelf, to cross-check the binaries' glibc version needs
#   openssl                     the CA and certificate of the test RabbitMQ's TLS listener (start.sh)
#   mariadb-server              the MySQL wait and the init lease on MySQL (test/services/mariadb.sh)
#   containerd containernetworking-plugins iptables conntrack
#                               the test cluster's node: the kubelet's runtime, the pod network,
#                               kube-proxy's Service rules (test/k8s/node.sh)
set -euo pipefail
packages=(augeas-tools augeas-lenses python3-pymongo python3-celery rabbitmq-server openjdk-17-jre-headless maven tini util-linux passwd attr faketime
  swig libssl-dev libldap2-dev libsasl2-dev libselinux1-dev gcc patchelf qemu-user libc6-arm64-cross binutils openssl mariadb-server
  containerd containernetworking-plugins iptables conntrack)
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
# Waits for a dpkg lock held by another apt-get (parallel set-ups) instead of failing.
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
