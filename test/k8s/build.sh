#!/usr/bin/env bash
# Builds (once) the real Kubernetes control plane the k8s tests run, from the Go modules, and
# prints where it is as a shell export:
#
#   export PULP_TEST_K8S_BIN=/var/cache/pulp-entrypoint/kubernetes-v1.34.4/bin
#
#   bash test/k8s/build.sh --cached    # only print it when already built, else exit 3
#   bash test/k8s/build.sh --kubelet   # also build kubelet and kube-proxy (about 10 more minutes)
#
# What it builds, all with GOFLAGS=-trimpath, CGO_ENABLED=0, -ldflags '-s -w -X <version>':
#   etcd                     go.etcd.io/etcd/server/v3 (ETCD_VERSION), built inside the
#                            downloaded module with its own go.sum (as start.sh builds FerretDB)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                            k8s.io/kubernetes (K8S_VERSION), from a small wrapper module: the
#                            module's go.mod points k8s.io/<staging> at ./staging, which the
#                            module zip does not hold, so the wrapper replaces each of them with
#                            the published k8s.io/<staging> v0.<minor>.<patch>; the list of
#                            staging modules is read from kubernetes' own go.mod
#   kubelet-envvars          test/k8s/kubelet-envvars/main.go in the same wrapper module: the
#                            kubelet's Service variables (pkg/kubelet/envvars), no kubelet needed
# Cached in $CACHE/kubernetes-<version>/bin (CACHE from test/services/defaults.sh); a finished
# build has a `ready` file (and `ready-kubelet` for the optional part), the seconds it took are in
# build-seconds; a lock serialises parallel runs; a half-finished build is continued (go's
# build cache makes that cheap). The Go module cache (~/go/pkg/mod) is used as it is.
# Cold (empty Go build cache, modules already downloaded), on two cores: 9 min 8 s for all of
# them with --kubelet (etcd 76 s, the control plane ~7 min, kubelet and kube-proxy ~40 s more).
#
# Needs: Go >= 1.24 and the Go module proxy.
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../services/defaults.sh
. "$here/../services/defaults.sh"
K8S_VERSION=${PULP_TEST_K8S_VERSION:-v1.34.4}
ETCD_VERSION=${PULP_TEST_ETCD_VERSION:-v3.6.16}
DIR="$CACHE/kubernetes-$K8S_VERSION"
BIN="$DIR/bin"
CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
NODE=(kubelet kube-proxy)

log() { printf 'k8s-build: %s\n' "$*" >&2; }
die() { printf 'k8s-build: error: %s\n' "$*" >&2; exit 1; }

want_kubelet=false
case ${1:-} in
  --cached)
    [[ -f "$DIR/ready" ]] || { log "not built yet: run bash test/k8s/build.sh (builds $DIR)"; exit 3; }
    echo "export PULP_TEST_K8S_BIN=$BIN"
    exit 0 ;;
  --kubelet) want_kubelet=true ;;
  '') ;;
  *) die "unknown argument: $1" ;;
esac

done_already() {
  [[ -f "$DIR/ready" ]] || return 1
  [[ $(cat "$DIR/kubelet-envvars.sum" 2>/dev/null) == "$(sha256sum <"$here/kubelet-envvars/main.go" | cut -c1-16)" ]] || return 1
  if $want_kubelet; then [[ -f "$DIR/ready-kubelet" ]] || return 1; fi
}

if done_already; then
  echo "export PULP_TEST_K8S_BIN=$BIN"
  exit 0
fi
command -v go >/dev/null || die "Go is needed to build Kubernetes $K8S_VERSION once (install golang >= 1.24)"

mkdir -p "$BIN"
exec 9>"$DIR.lock"
flock 9
if done_already; then
  log "cached: $BIN (built in $(cat "$DIR/build-seconds" 2>/dev/null || echo '?') s)"
  echo "export PULP_TEST_K8S_BIN=$BIN"
  exit 0
fi

export GOMAXPROCS=${GOMAXPROCS:-2} CGO_ENABLED=0 GOFLAGS=-trimpath
BUILD_LOG="$DIR/build.log"
start=$(date +%s)
log "building Kubernetes $K8S_VERSION and etcd $ETCD_VERSION into $BIN (first time only, ~10 min on two cores; log in $BUILD_LOG)"
step() { # description command...
  local what=$1; shift
  log "$what"
  echo "### $what" >>"$BUILD_LOG"
  "$@" >>"$BUILD_LOG" 2>&1 || { tail -40 "$BUILD_LOG" >&2; die "$what failed; see $BUILD_LOG"; }
}
mod_dir() { # module@version: its directory in the module cache (downloaded when missing)
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# --- etcd ----------------------------------------------------------------------------------------
build_etcd() {
  local src dir
  dir=$(mod_dir "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  [[ -n $dir && -f $dir/main.go ]] || die "go mod download go.etcd.io/etcd/server/v3@$ETCD_VERSION gave no main.go"
  src="$DIR/src/etcd-server"
  rm -rf "$src"; mkdir -p "$DIR/src"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  # Its go.mod replaces the other etcd modules with ../api, ../pkg, ... of etcd's repository,
  # which the module zip does not hold: use the published modules of the same version instead.
  local r
  for r in $(sed -nE 's#^[[:space:]]*(replace[[:space:]]+)?([^[:space:]]+) => \.\./.*$#\2#p' "$src/go.mod"); do
    (cd "$src" && go mod edit -dropreplace="$r")
  done
  # etcd's own Makefile sets the commit; the version is a constant of go.etcd.io/etcd/api/v3/version.
  (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" -o "$BIN/etcd.tmp" .) &&
    mv "$BIN/etcd.tmp" "$BIN/etcd"
}
# Versions are matched in output taken whole: `cmd | grep -q` under pipefail fails at random
# when grep exits before cmd has written its last line (SIGPIPE), and a cached build is redone.
if ! [[ -x $BIN/etcd ]] || ! grep -q "etcd Version: ${ETCD_VERSION#v}$" <<<"$("$BIN/etcd" --version 2>/dev/null)"; then
  step "building etcd $ETCD_VERSION" build_etcd
fi

# --- the wrapper module for k8s.io/kubernetes -----------------------------------------------------
WRAP="$DIR/src/wrapper"
wrapper() {
  local kdir staging minor
  kdir=$(mod_dir "k8s.io/kubernetes@$K8S_VERSION")
  [[ -n $kdir && -f $kdir/go.mod ]] || die "go mod download k8s.io/kubernetes@$K8S_VERSION gave no go.mod"
  minor=v0.${K8S_VERSION#v1.}
  mapfile -t staging < <(sed -nE 's#^[[:space:]]*(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+$#\1#p' "$kdir/go.mod" | sort -u)
  ((${#staging[@]} > 10)) || die "found only ${#staging[@]} staging modules in $kdir/go.mod"
  rm -rf "$WRAP"; mkdir -p "$WRAP"
  {
    echo "module pulp-entrypoint.test/kubernetes-build"
    echo
    echo "go $(sed -nE 's/^go ([0-9.]+)$/\1/p' "$kdir/go.mod")"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do echo "	$m => $m $minor"; done
    echo ")"
  } >"$WRAP/go.mod"
  # The packages built, so that `go mod tidy` keeps what they need.
  cat >"$WRAP/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOF
  (cd "$WRAP" && go mod tidy)
}
[[ -f $WRAP/go.sum ]] || step "resolving k8s.io/kubernetes $K8S_VERSION with the published staging modules" wrapper

# The version the binaries report, as kubernetes' hack/lib/version.sh sets it.
v=${K8S_VERSION#v}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(cut -d. -f2 <<<"$v")"
  ldflags+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean"
  ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
build_k8s() { # command names
  local pkgs=()
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$WRAP" && go build -ldflags "$ldflags" -o "$BIN/" "${pkgs[@]}")
}
reports_version() { [[ -x $BIN/$1 ]] && grep -q "$K8S_VERSION\$" <<<"$("$BIN/$1" --version 2>/dev/null)"; }

missing=()
for c in "${CONTROL_PLANE[@]}"; do
  if [[ $c == kubectl ]]; then
    [[ -x $BIN/kubectl ]] && grep -q "Client Version: $K8S_VERSION\$" <<<"$("$BIN/kubectl" version --client 2>/dev/null)" && continue
  else
    reports_version "$c" && continue
  fi
  missing+=("$c")
done
if ((${#missing[@]} > 0)) || ! [[ -f $DIR/build-seconds ]]; then
  ((${#missing[@]} == 0)) || step "building ${missing[*]} (long: ~7 minutes cold)" build_k8s "${missing[@]}"
  echo $(( $(date +%s) - start )) >"$DIR/build-seconds"
fi

# kubelet-envvars (test/k8s/kubelet-envvars): the kubelet's own Service variables, without a
# kubelet; seconds once the control plane is built. Rebuilt when its source changes.
helper_sum=$(sha256sum <"$here/kubelet-envvars/main.go" | cut -c1-16)
build_helper() {
  rm -rf "$WRAP/kubelet-envvars"; mkdir -p "$WRAP/kubelet-envvars"
  cp "$here/kubelet-envvars/main.go" "$WRAP/kubelet-envvars/"
  (cd "$WRAP" && go build -ldflags "-s -w" -o "$BIN/kubelet-envvars" ./kubelet-envvars) && echo "$helper_sum" >"$DIR/kubelet-envvars.sum"
}
[[ -x $BIN/kubelet-envvars && $(cat "$DIR/kubelet-envvars.sum" 2>/dev/null) == "$helper_sum" ]] ||
  step "building kubelet-envvars (the kubelet's pkg/kubelet/envvars)" build_helper
touch "$DIR/ready"

if $want_kubelet; then
  missing=()
  for c in "${NODE[@]}"; do reports_version "$c" || missing+=("$c"); done
  ((${#missing[@]} == 0)) || step "building ${missing[*]}" build_k8s "${missing[@]}"
  echo $(( $(date +%s) - start )) >"$DIR/build-seconds-kubelet"
  touch "$DIR/ready-kubelet"
fi
log "built in $(( $(date +%s) - start )) s: $(cd "$BIN" && echo *)"
echo "export PULP_TEST_K8S_BIN=$BIN"
