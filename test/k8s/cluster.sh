#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the tests; test/k8s/node.sh adds a node that runs pods.
#
#   bash test/k8s/cluster.sh start   # idempotent; prints the exports below
#   bash test/k8s/cluster.sh env     # prints them when it runs, else exit 3
#   bash test/k8s/cluster.sh stop    # kills what start started (by pid) and removes the state
#
#   export KUBECONFIG=/tmp/pulp-entrypoint-k8s/admin.kubeconfig
#   export PULP_TEST_KUBECTL=/var/cache/pulp-entrypoint/kubernetes-v1.34.4/bin/kubectl
#   export PULP_TEST_K8S_SERVICE_CIDR=10.96.0.0/16
#
# What runs, each in a session of its own (setsid), all on 127.0.0.1 with free ports:
#   etcd                      data dir under the state dir, plain HTTP on loopback
#   kube-apiserver            TLS with a CA made here (openssl), client certificates,
#                             authorization Node,RBAC, the default admission chain (plus
#                             NodeRestriction, and PodNodeSelector: a namespace annotated
#                             scheduler.alpha.kubernetes.io/node-selector keeps its pods off
#                             test/k8s/node.sh's node), --service-cluster-ip-range=10.96.0.0/16, the
#                             service-account issuer and signing key; --endpoint-reconciler-type
#                             =none because the `kubernetes` Service's endpoint would be
#                             127.0.0.1, which Endpoints validation forbids: it listens on all
#                             addresses instead (no route leads here from outside this machine;
#                             every request needs a certificate or a token), and test/k8s/node.sh
#                             points the Service at the node's address, so that pods reach the
#                             API at 10.96.0.1:443 as on any cluster (the key rotation Jobs);
#                             a client certificate towards kubelets (exec, logs)
#   kube-controller-manager   its own client certificate (system:kube-controller-manager),
#                             per-controller service accounts, the service-account token signer
#   kube-scheduler            its own client certificate (system:kube-scheduler)
# The binaries come from test/k8s/build.sh (cached; built there first when missing). Warm, the
# start takes about 15 s.
#
# Environment: PULP_TEST_K8S_DIR (state, default /tmp/pulp-entrypoint-k8s),
# PULP_TEST_K8S_BIN (default: what test/k8s/build.sh prints).
# Needs: openssl, curl, node (free ports), flock.
set -euo pipefail
umask 077

here=$(cd "$(dirname "$0")" && pwd)
STATE=${PULP_TEST_K8S_DIR:-/tmp/pulp-entrypoint-k8s}
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

log() { printf 'k8s-cluster: %s\n' "$*" >&2; }
die() { printf 'k8s-cluster: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=processes.sh
. "$here/processes.sh"
all_alive() { local c; for c in "${COMPONENTS[@]}"; do pid_alive "$STATE" "$c" || return 1; done; }
ready() {
  [[ -f $STATE/env ]] && all_alive &&
    (. "$STATE/env" && timeout 10 "$PULP_TEST_KUBECTL" get --raw /readyz >/dev/null 2>&1)
}

stop_all() { stop_pids "$STATE" kube-scheduler kube-controller-manager kube-apiserver etcd; }

# --- certificates ----------------------------------------------------------------------------------
ossl() { openssl "$@" >>"$STATE/openssl.log" 2>&1 || die "openssl $1 failed; see $STATE/openssl.log"; }
client_cert() { # name subject
  local p="$STATE/pki/$1"
  ossl req -new -newkey rsa:2048 -nodes -keyout "$p.key" -out "$p.csr" -subj "$2"
  ossl x509 -req -in "$p.csr" -CA "$STATE/pki/ca.crt" -CAkey "$STATE/pki/ca.key" -CAcreateserial \
    -days 7 -sha256 -out "$p.crt" -extfile <(printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n')
}
make_pki() {
  local p="$STATE/pki"
  mkdir -p "$p"
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$p/ca.key" -out "$p/ca.crt" -days 7 -sha256 \
    -subj "/CN=pulp-entrypoint-test-kubernetes-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
  ossl req -new -newkey rsa:2048 -nodes -keyout "$p/apiserver.key" -out "$p/apiserver.csr" -subj "/CN=kube-apiserver"
  ossl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 7 -sha256 \
    -out "$p/apiserver.crt" -extfile <(printf '%s\n' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      "subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")
  client_cert admin "/O=system:masters/CN=kubernetes-admin"
  client_cert controller-manager "/CN=system:kube-controller-manager"
  client_cert scheduler "/CN=system:kube-scheduler"
  # The apiserver's client certificate towards kubelets (kubectl exec, logs): test/k8s/node.sh.
  client_cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  ossl genrsa -out "$p/sa.key" 2048
  ossl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub"
}
kubeconfig() { # name user-cert-name server
  local p="$STATE/pki"
  cat >"$STATE/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pulp-entrypoint-test
  cluster:
    server: $3
    certificate-authority: $p/ca.crt
users:
- name: $2
  user:
    client-certificate: $p/$2.crt
    client-key: $p/$2.key
contexts:
- name: $1
  context: {cluster: pulp-entrypoint-test, user: $2}
current-context: $1
EOF
}

wait_for() { # name seconds check-command...
  local name=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 5; i++)); do
    timeout 10 "$@" >/dev/null 2>&1 && return 0
    pid_alive "$STATE" "$name" || { tail -20 "$STATE/$name.log" >&2; die "$name exited at start; see $STATE/$name.log"; }
    sleep 0.2
  done
  tail -20 "$STATE/$name.log" >&2
  die "$name was not ready within $secs s; see $STATE/$name.log"
}

start() {
  if ready; then cat "$STATE/env"; return 0; fi
  command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
  command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
  local exports bin c
  exports=$(bash "$here/build.sh") || die "test/k8s/build.sh failed (see above)"
  bin=${PULP_TEST_K8S_BIN:-$(sed -n 's/^export PULP_TEST_K8S_BIN=//p' <<<"$exports")}
  for c in "${COMPONENTS[@]}" kubectl; do [[ -x $bin/$c ]] || die "no $c in $bin"; done
  local t0=$SECONDS
  stop_all
  rm -rf "$STATE"
  mkdir -p "$STATE"
  make_pki
  local etcd_port peer_port api_port cm_port sched_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); cm_port=$(free_port); sched_port=$(free_port)
  local server="https://127.0.0.1:$api_port" p="$STATE/pki"

  spawn "$STATE" etcd "$bin/etcd" --name=default --data-dir="$STATE/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="default=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level=warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

  spawn "$STATE" kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=0.0.0.0 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --cert-dir="$STATE/apiserver-certs" \
    --service-cluster-ip-range="$SERVICE_CIDR" --endpoint-reconciler-type=none \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --kubelet-client-certificate="$p/kubelet-client.crt" --kubelet-client-key="$p/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --allow-privileged=true --enable-admission-plugins=NodeRestriction,PodNodeSelector \
    --profiling=false --v=1
  kubeconfig admin admin "$server"
  kubeconfig controller-manager controller-manager "$server"
  kubeconfig scheduler scheduler "$server"
  wait_for kube-apiserver 120 "$bin/kubectl" --kubeconfig="$STATE/admin.kubeconfig" get --raw /readyz

  spawn "$STATE" kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$cm_port" --cert-dir="$STATE/controller-manager-certs" \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
    --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
    --use-service-account-credentials=true --service-cluster-ip-range="$SERVICE_CIDR" \
    --leader-elect=false --profiling=false --v=1
  spawn "$STATE" kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig="$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --leader-elect=false --profiling=false --v=1
  wait_for kube-controller-manager 60 curl -fsSk "https://127.0.0.1:$cm_port/healthz"
  wait_for kube-scheduler 60 curl -fsSk "https://127.0.0.1:$sched_port/healthz"
  # The service-account controller makes `default` in each namespace: wait for the first one,
  # so that the Deployments' pods are not refused for the lack of it.
  wait_for kube-controller-manager 60 "$bin/kubectl" --kubeconfig="$STATE/admin.kubeconfig" get serviceaccount default -n default

  cat >"$STATE/env" <<EOF
export KUBECONFIG=$STATE/admin.kubeconfig
export PULP_TEST_KUBECTL=$bin/kubectl
export PULP_TEST_K8S_SERVICE_CIDR=$SERVICE_CIDR
EOF
  chmod 755 "$STATE"
  log "control plane up in $((SECONDS - t0)) s: apiserver $server, etcd 127.0.0.1:$etcd_port (logs in $STATE)"
  cat "$STATE/env"
}

case ${1:-} in
  start)
    mkdir -p "$(dirname "$STATE")"
    exec 9>"$STATE.lock"; flock 9
    start ;;
  env)
    ready || { log "not running: bash test/k8s/cluster.sh start"; exit 3; }
    cat "$STATE/env" ;;
  stop)
    exec 9>"$STATE.lock"; flock 9
    stop_all
    rm -rf "$STATE" ;;
  *) die "usage: $0 start|stop|env" ;;
esac
