#!/usr/bin/env bash
# A real node for test/k8s/cluster.sh's control plane: the kubelet and kube-proxy v1.34.4 (from
# test/k8s/build.sh --kubelet), Debian's containerd 1.6 with runc, a CNI bridge. Pods run here,
# for real: the project's images are loaded from podman into containerd (no registry is
# reachable), Services get iptables rules from kube-proxy.
#
#   bash test/k8s/node.sh start            # idempotent; prints the exports below
#   bash test/k8s/node.sh env              # prints them when the node runs, else exit 3
#   bash test/k8s/node.sh load IMAGE...    # podman's IMAGE (localhost/NAME:TAG) into containerd,
#                                          # also as NAME:TAG (docker.io/library/NAME:TAG, what
#                                          # `image: NAME:TAG` means to the kubelet)
#   bash test/k8s/node.sh stop             # ends everything start made and removes it: processes,
#                                          # mounts, network namespaces, bridges, iptables chains,
#                                          # cgroups, the state directory
#
#   export PULP_TEST_K8S_NODE=pulp-test-node
#   export PULP_TEST_K8S_NODE_IP=10.250.0.1   # the host as the pods reach it
#   export PULP_TEST_K8S_NODE_DIR=/tmp/pulp-entrypoint-k8s-node
#
# Network, all on this machine: the node's address 10.250.0.1/24 on a bridge of its own
# (pe-node0, no ports: the kubelet refuses a loopback node IP, and the apiserver reaches the
# kubelet there for exec and logs); pods on the bridge cni-pulp, 10.244.0.0/24, gateway
# 10.244.0.1; Service IPs 10.96.0.0/16 DNAT'ed by kube-proxy. No masquerade, no route out:
# nothing here sends to anything but these ranges and loopback.
#
# What this VM needs worked around:
# - writes to /proc/<pid>/oom_score_adj are refused, so runc fails every sandbox ("can't get
#   final child's PID from pipe: EOF") while the OCI spec has process.oomScoreAdj: a wrapper
#   set as containerd's runc BinaryName drops it;
# - cgroup v1 without systemd: cgroupDriver cgroupfs, failCgroupV1: false; failSwapOn: false;
# - kube-proxy may not raise nf_conntrack_max: conntrack.maxPerCore 0 leaves it.
# And what keeps the host as it was: the kubelet makes no iptables chains of its own
# (makeIPTablesUtilChains: false; its KUBE-FIREWALL drops non-loopback packets to 127.0.0.0/8,
# which podman's port forwarding needs), kube-proxy --cleanup removes its rules at stop,
# host-local keeps its leases under the state directory.
#
# Needs: root, containerd, runc, containernetworking-plugins, iptables, conntrack, podman, gcc
# (the pause image, from the Kubernetes module's build/pause/linux/pause.c).
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
S=${PULP_TEST_K8S_NODE_DIR:-/tmp/pulp-entrypoint-k8s-node}
CLUSTER=${PULP_TEST_K8S_DIR:-/tmp/pulp-entrypoint-k8s}
NODE=pulp-test-node
NODE_IP=10.250.0.1
NODE_BRIDGE=pe-node0
POD_BRIDGE=cni-pulp
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
PAUSE=localhost/pulp-test-pause:3.10
COMPONENTS=(kube-proxy kubelet containerd)

log() { printf 'k8s-node: %s\n' "$*" >&2; }
die() { printf 'k8s-node: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=processes.sh
. "$here/processes.sh"
ctr_() { ctr --address "$S/containerd.sock" -n k8s.io "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig="$CLUSTER/admin.kubeconfig" "$@"; }
podman_env() {
  export CONTAINERS_CONF=$ROOT/test/containers/containers.conf CONTAINERS_STORAGE_CONF=$ROOT/test/containers/storage.conf
}

binaries() {
  local exports
  exports=$(bash "$here/build.sh" --kubelet) || die "test/k8s/build.sh --kubelet failed (see above)"
  BIN=$(sed -n 's/^export PULP_TEST_K8S_BIN=//p' <<<"$exports")
  [[ -x $BIN/kubelet && -x $BIN/kube-proxy ]] || die "no kubelet or kube-proxy in $BIN"
}

ready() {
  [[ -f $S/env ]] || return 1
  local c; for c in "${COMPONENTS[@]}"; do pid_alive "$S" "$c" || return 1; done
  # The node's certificate must come from the control plane's CA that runs now.
  cmp -s "$S/ca.crt" "$CLUSTER/pki/ca.crt" || return 1
  [[ $(kubectl_ get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

stop_all() {
  local pid
  stop_pids "$S" "${COMPONENTS[@]}"
  # containerd-shim-runc-v2 outlives containerd by design; its containers are its children.
  local shims
  shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $S/containerd.sock" || true)
  for pid in $shims; do pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
  # Containers' processes that the shims did not take with them (they are in kubepods' cgroups).
  local cg
  for cg in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods; do
    [[ -d $cg ]] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  [[ -n ${BIN:-} && -x $BIN/kube-proxy ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  # What kube-proxy --cleanup leaves (KUBE-FIREWALL, jumped to from INPUT and OUTPUT) and what
  # the kubelet makes even without its util chains (it probes iptables with the canaries).
  local ipt t chain
  for ipt in iptables ip6tables; do
    for chain in INPUT OUTPUT; do while "$ipt" -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done; done
    "$ipt" -F KUBE-FIREWALL 2>/dev/null && "$ipt" -X KUBE-FIREWALL 2>/dev/null || true
  done
  for t in filter nat mangle raw; do
    for chain in KUBE-KUBELET-CANARY KUBE-PROXY-CANARY KUBE-IPTABLES-HINT; do
      iptables -t "$t" -F "$chain" 2>/dev/null && iptables -t "$t" -X "$chain" 2>/dev/null || true
      ip6tables -t "$t" -F "$chain" 2>/dev/null && ip6tables -t "$t" -X "$chain" 2>/dev/null || true
    done
  done
  # Mounts under the state directory (kubelet volumes, containerd's rootfs and shm), deepest first.
  awk -v s="$S/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  # The pods' network namespaces (containerd names them cni-<uuid> under /run/netns).
  local ns
  for ns in $(cat "$S/netns" 2>/dev/null; ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do
    [[ -e /run/netns/$ns ]] || continue
    # Only the ones on this node's pod range: podman's are left to podman.
    # Taken whole, then matched: a pipe into grep -q fails at random under pipefail (SIGPIPE).
    grep -q ' 10\.244\.0\.' <<<"$(ip netns exec "$ns" ip -4 -o addr 2>/dev/null)" && ip netns del "$ns" 2>/dev/null || true
  done
  ip link show "$POD_BRIDGE" >/dev/null 2>&1 && ip link delete "$POD_BRIDGE" || true
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link delete "$NODE_BRIDGE" || true
  [[ -f $S/bridge-nf-call-iptables ]] && cat "$S/bridge-nf-call-iptables" >/proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true
  # The kubelet's cgroups (QoS classes, pods): empty now, removed deepest first.
  for cg in /sys/fs/cgroup/*/kubepods; do
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  rm -rf "$S"
}

pause_binary() {
  local out="$BIN/pause" src
  [[ -x $out ]] && { echo "$out"; return; }
  # BIN is .../kubernetes-<version>/bin (build.sh): the module of that version has the source.
  src=$(go env GOMODCACHE)/k8s.io/kubernetes@$(basename "$(dirname "$BIN")" | sed 's/^kubernetes-//')/build/pause/linux/pause.c
  [[ -f $src ]] || die "no build/pause/linux/pause.c in the Go module cache (bash test/k8s/build.sh downloads k8s.io/kubernetes)"
  gcc -Os -static -DVERSION=v3.10-pulp-test -o "$out.tmp" "$src" || die "gcc -static pause.c failed (libc6-dev)"
  mv "$out.tmp" "$out"
  echo "$out"
}

# podman's images into containerd: saved in one archive (shared layers once), imported, and
# tagged under the name a pod spec's `image: NAME:TAG` resolves to.
load() {
  podman_env
  local img names=() archive="$S/images.tar"
  for img in "$@"; do
    podman image exists "$img" || die "no image $img in podman (bash test/containers/build-images.sh builds the project's)"
    names+=("$img")
  done
  podman save -q --multi-image-archive --format docker-archive -o "$archive" "${names[@]}" >/dev/null ||
    die "podman save ${names[*]} failed"
  ctr_ images import --no-unpack=false "$archive" >"$S/import.log" 2>&1 || { cat "$S/import.log" >&2; die "ctr images import failed"; }
  rm -f "$archive"
  for img in "${names[@]}"; do
    local short=${img#localhost/}
    ctr_ images tag --force "$img" "docker.io/library/$short" >/dev/null || die "ctr images tag $img failed"
  done
}

# The `kubernetes` Service at the API server, through the node's address (cluster.sh leaves it
# without an endpoint: the apiserver advertises 127.0.0.1, which no endpoint may be). Pods then
# reach the API as on any cluster: KUBERNETES_SERVICE_HOST=10.96.0.1, port 443, kube-proxy's DNAT.
api_endpoint() {
  local port
  port=$(sed -n 's#^ *server: https://127.0.0.1:\([0-9]*\)$#\1#p' "$CLUSTER/admin.kubeconfig")
  [[ -n $port ]] || die "no apiserver port in $CLUSTER/admin.kubeconfig"
  kubectl_ apply -f - >/dev/null <<EOF || die "the kubernetes Service's EndpointSlice was refused"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: pulp-entrypoint-test
addressType: IPv4
endpoints:
  - addresses: ["$NODE_IP"]
    conditions: {ready: true}
ports:
  - {name: https, port: $port, protocol: TCP}
EOF
}

start() {
  [[ $(id -u) == 0 ]] || die "needs root"
  local c
  for c in containerd ctr runc iptables conntrack podman gcc ip; do command -v "$c" >/dev/null || die "$c is missing (bash test/setup-machine.sh installs it)"; done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    die "containernetworking-plugins is missing (bash test/setup-machine.sh installs it)"
  [[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ]] ||
    die "no br_netfilter (/proc/sys/net/bridge): Service traffic between pods on one bridge would bypass kube-proxy's rules"
  binaries
  eval "$(bash "$here/cluster.sh" start)"
  if ready; then cat "$S/env"; return 0; fi
  local t0=$SECONDS
  stop_all
  mkdir -p "$S"/{cni/net.d,cni/ipam,kubelet,pods-logs,manifests}
  cp "$CLUSTER/pki/ca.crt" "$S/ca.crt"

  # 1. Addresses: the node's, on a bridge without ports (a local address answers all the same).
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  cat /proc/sys/net/bridge/bridge-nf-call-iptables >"$S/bridge-nf-call-iptables"
  # Bridged replies between two pods go through conntrack, so a DNAT'ed Service connection is
  # un-DNAT'ed on its way back (what br_netfilter is loaded for on every real node).
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  [[ $(cat /proc/sys/net/ipv4/ip_forward) == 1 ]] || die "net.ipv4.ip_forward is 0: pods could not reach Services"

  # 2. Certificates from the control plane's CA: the node (Node authorizer), kube-proxy.
  local pki=$CLUSTER/pki
  cert() { # name subject
    openssl req -new -newkey rsa:2048 -nodes -keyout "$S/$1.key" -out "$S/$1.csr" -subj "$2" 2>>"$S/openssl.log"
    openssl x509 -req -in "$S/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 7 -sha256 -out "$S/$1.crt" \
      -extfile <(printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') 2>>"$S/openssl.log"
    sed -e "s#$pki/admin.crt#$S/$1.crt#; s#$pki/admin.key#$S/$1.key#" "$CLUSTER/admin.kubeconfig" >"$S/$1.kubeconfig"
  }
  cert kubelet "/O=system:nodes/CN=system:node:$NODE"
  cert kube-proxy "/CN=system:kube-proxy"

  # 3. runc without process.oomScoreAdj (see the top).
  cat >"$S/runc-wrapper" <<EOF
#!/bin/bash
# runc, with process.oomScoreAdj dropped from the bundle's config.json on create/run.
args=("\$@"); bundle=
for ((i = 0; i < \${#args[@]}; i++)); do
  case \${args[i]} in --bundle|-b) bundle=\${args[i+1]} ;; --bundle=*) bundle=\${args[i]#--bundle=} ;; esac
done
if [[ -n \$bundle && -f \$bundle/config.json ]]; then
  python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c.get("process",{}).pop("oomScoreAdj",None); json.dump(c,open(p,"w"))' "\$bundle/config.json"
fi
exec $(command -v runc) "\$@"
EOF
  chmod 755 "$S/runc-wrapper"

  # 4. The pods' network: a bridge, host-local addresses (leases kept here), no masquerade.
  cat >"$S/cni/net.d/10-pulp.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "pulp-test", "plugins": [
  {"type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$S/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF

  # 5. containerd of its own (socket, root and state here).
  cat >"$S/containerd.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
[grpc]
  address = "$S/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "$S/runc-wrapper"
      SystemdCgroup = false
EOF
  spawn "$S" containerd containerd --config "$S/containerd.toml"
  for _ in $(seq 1 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.2; done
  ctr_ version >/dev/null 2>&1 || { tail "$S/containerd.log" >&2; die "containerd did not start; see $S/containerd.log"; }

  # 6. The pause image (the sandbox), from Kubernetes' own pause.c.
  local pause
  pause=$(pause_binary)
  mkdir -p "$S/pause"
  cp "$pause" "$S/pause/pause"
  podman_env
  tar -C "$S/pause" -cf "$S/pause.tar" pause
  podman import -q --change 'ENTRYPOINT ["/pause"]' "$S/pause.tar" "$PAUSE" >/dev/null || die "podman import of the pause image failed"
  rm -rf "$S/pause" "$S/pause.tar"
  load "$PAUSE"

  # 7. The kubelet.
  local kport
  kport=$(free_port)
  cat >"$S/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
address: $NODE_IP
port: $kport
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
podLogsDir: $S/pods-logs
staticPodPath: $S/manifests
containerRuntimeEndpoint: unix://$S/containerd.sock
podCIDR: $POD_CIDR
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
makeIPTablesUtilChains: false
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}, x509: {clientCAFile: $pki/ca.crt}}
authorization: {mode: AlwaysAllow}
enforceNodeAllocatable: []
cgroupsPerQOS: true
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  spawn "$S" kubelet "$BIN/kubelet" --config="$S/kubelet.yaml" --kubeconfig="$S/kubelet.kubeconfig" --hostname-override="$NODE" \
    --node-ip="$NODE_IP" --root-dir="$S/kubelet" --cert-dir="$S/kubelet/pki" --v=2

  # 8. kube-proxy, iptables mode.
  local hport mport
  hport=$(free_port); mport=$(free_port)
  cat >"$S/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$hport
metricsBindAddress: 127.0.0.1:$mport
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false, masqueradeAll: false}
nodePortAddresses: ["$NODE_IP/32"]
EOF
  spawn "$S" kube-proxy "$BIN/kube-proxy" --config="$S/kube-proxy.yaml" --v=1

  local i status=
  for ((i = 0; i < 300; i++)); do
    status=$(kubectl_ get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    [[ $status == True ]] && break
    for c in "${COMPONENTS[@]}"; do pid_alive "$S" "$c" || { tail -20 "$S/$c.log" >&2; die "$c exited at start; see $S/$c.log"; }; done
    sleep 0.2
  done
  [[ $status == True ]] || { tail -20 "$S/kubelet.log" >&2; die "node $NODE not Ready within 60 s; see $S/kubelet.log"; }
  curl -fsS "http://127.0.0.1:$hport/healthz" >/dev/null 2>&1 || sleep 2
  api_endpoint

  cat >"$S/env" <<EOF
export PULP_TEST_K8S_NODE=$NODE
export PULP_TEST_K8S_NODE_IP=$NODE_IP
export PULP_TEST_K8S_NODE_DIR=$S
EOF
  log "node $NODE Ready in $((SECONDS - t0)) s (kubelet on $NODE_IP:$kport; logs in $S)"
  cat "$S/env"
}

case ${1:-} in
  start)
    exec 9>"$S.lock"; flock 9
    start ;;
  env)
    binaries
    ready || { log "not running: bash test/k8s/node.sh start"; exit 3; }
    cat "$S/env" ;;
  load)
    shift
    [[ -S $S/containerd.sock ]] || die "the node does not run: bash test/k8s/node.sh start"
    exec 9>"$S.lock"; flock 9
    load "$@" ;;
  stop)
    exec 9>"$S.lock"; flock 9
    binaries 2>/dev/null || true
    stop_all ;;
  *) die "usage: $0 start|env|load IMAGE...|stop" ;;
esac
