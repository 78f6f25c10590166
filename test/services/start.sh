#!/usr/bin/env bash
# Starts the real servers the wait tests use, on loopback and free ports, and prints the
# addresses as shell exports. Idempotent: when they already run, it only prints the file.
#
#   test/services/start.sh            # install what is missing, start, print the env file
#   . /tmp/pulp-entrypoint-services/env   # (optional) export the addresses into your shell
#   npx tap test/wait/*.test.ts       # tests also read the env file by themselves
#   test/services/stop.sh             # stop both and forget the state
#
# State lives in PULP_TEST_SERVICES_DIR (default /tmp/pulp-entrypoint-services).
# What it runs:
# - FerretDB v1.24.2 (a MongoDB wire-protocol server) with the SQLite handler, telemetry off,
#   on 127.0.0.1:<free> and, when the machine has IPv6 loopback, a second one on [::1]:<free>.
#   The binary is built once from the Go module and cached in PULP_TEST_CACHE
#   (default /var/cache/pulp-entrypoint, or ~/.cache/pulp-entrypoint when that is not writable).
# - RabbitMQ from Debian with rabbitmq_amqp1_0, its own node name, data and log dirs under the
#   state dir, AMQP on 127.0.0.1:<free> and [::1]:<same port>, its own distribution port; a
#   user "pulptest" with a random password for the authentication tests.
# - A second RabbitMQ node with NO plugins (AMQP 0-9-1 only, as Pulp's docs set it up), node
#   name PULP_TEST_RABBIT_PLAIN_NODE (default: the first one's with "-plain"), the same user
#   and password, a vhost "pulp-test" the user may use, and guest/guest allowed on loopback;
#   also a TLS listener with a certificate from a CA made here (openssl).
# - Apache Qpid Broker-J 10.1.0 (AMQP 0-8 to 1.0, Java) with an in-memory store: PLAIN with
#   user "pulptest" on one port, ANONYMOUS on another. Its jars come from Maven Central once
#   (test/services/qpid-broker-j/pom.xml) and are cached in the same cache dir as FerretDB.
# Needs: Go >= 1.22 (to build FerretDB the first time), apt-get (when rabbitmq-server is
# missing), node (to pick free ports), java >= 17 and mvn (Broker-J). Run as root or as a user
# that may run RabbitMQ.
set -euo pipefail

# shellcheck source=defaults.sh
. "$(dirname "$0")/defaults.sh"
STATE=${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}
FERRET_VERSION=v1.24.2
NODE_NAME=${PULP_TEST_RABBIT_NODE:-pulp-entrypoint-test@localhost}
PLAIN_NODE_NAME=${PULP_TEST_RABBIT_PLAIN_NODE:-${NODE_NAME%@*}-plain@${NODE_NAME#*@}}
QPID_VERSION=10.1.0
ENV_FILE="$STATE/env"
HERE=$(cd "$(dirname "$0")" && pwd)

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

has_ipv6_loopback() {
  node -e 'const s=require("net").createServer();s.on("error",()=>process.exit(1));s.listen(0,"::1",()=>s.close())' 2>/dev/null
}

port_open() { # host port
  node -e 'const c=require("net").connect({host:process.argv[1],port:+process.argv[2]});c.setTimeout(500);c.on("connect",()=>process.exit(0));c.on("error",()=>process.exit(1));c.on("timeout",()=>process.exit(1))' "$1" "$2" 2>/dev/null
}

addr_open() { [[ -n $1 ]] && port_open "${1%:*}" "${1##*:}"; } # 127.0.0.1:port

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

cache_dir() {
  local cache=$CACHE
  echo "$cache"
}

# --- FerretDB binary --------------------------------------------------------------------
ferretdb_binary() {
  local cache
  cache=$(cache_dir)
  local bin="$cache/ferretdb-${FERRET_VERSION#v}"
  # The output is taken whole before it is matched: `--version | grep -q` under pipefail fails
  # when grep exits at the first line while FerretDB still writes the next ones (SIGPIPE; 11 of
  # 300 tries here), and a cached binary was then rebuilt for minutes.
  if [[ -x "$bin" ]] && grep -q "version: $FERRET_VERSION" <<<"$("$bin" --version 2>/dev/null)"; then
    echo "$bin"; return
  fi
  command -v go >/dev/null || die "Go is needed to build FerretDB $FERRET_VERSION once (install golang >= 1.22)"
  log "building FerretDB $FERRET_VERSION (first time only, a few minutes)"
  # `go install ...@version` is refused by the proxy here (it looks up the deprecation list),
  # and a build from another module leaves build/version/version.txt empty, which makes the
  # binary panic at start. So: download the module at the pinned version, add version.txt the
  # way FerretDB's own `task gen-version` does, and build inside it with its own go.sum.
  local dir src work
  dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRET_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download github.com/FerretDB/FerretDB@$FERRET_VERSION gave no source directory"
  work=$(mktemp -d)
  src="$work/FerretDB"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  echo "$FERRET_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$bin.tmp" ./cmd/ferretdb) || die "building FerretDB failed"
  mv "$bin.tmp" "$bin"
  rm -rf "$work"
  echo "$bin"
}

start_ferretdb() { # name host port
  local name=$1 host=$2 port=$3 dir="$STATE/$1"
  mkdir -p "$dir/data"
  local listen="$host:$port"
  [[ $host == *:* ]] && listen="[$host]:$port"
  setsid "$FERRETDB" --handler=sqlite --sqlite-url="file:$dir/data/" --state-dir="$dir" \
    --listen-addr="$listen" --debug-addr="127.0.0.1:$(free_port)" --telemetry=disable \
    --log-level=WARN >"$dir/log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    port_open "$host" "$port" && return 0
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/log" >&2; die "FerretDB ($name) exited at start"; }
    sleep 0.1
  done
  die "FerretDB ($name) did not listen on $listen within 10 s; see $dir/log"
}

# --- RabbitMQ ---------------------------------------------------------------------------
rabbit_env() { # dir node
  export HOME="$1/home"
  export RABBITMQ_NODENAME="$2"
  export RABBITMQ_CONF_ENV_FILE="$1/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$1/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$1/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$1/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$1/mnesia"
  export RABBITMQ_LOG_BASE="$1/log"
  export RABBITMQ_PID_FILE="$1/pid"
}

RABBIT_BIN=/usr/lib/rabbitmq/bin

# A CA and a server certificate (CN=localhost, so 127.0.0.1 does not match its name) for the
# TLS listener of the plain node: Pulp's py-amqp checks the chain, never the name.
make_tls() { # dir
  local t="$1/tls"
  mkdir -p "$t"
  command -v openssl >/dev/null || die "openssl is needed for the TLS test listener"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.crt" -days 30 -subj /CN=pulp-entrypoint-test-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" -subj /CN=localhost 2>/dev/null
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -out "$t/server.crt" -days 30 2>/dev/null \
    || die "openssl could not make the test certificates"
  chmod 644 "$t"/*.crt "$t"/*.key
}

start_rabbitmq() { # dir node port distport ipv6(yes|no) plugins(amqp1_0|none) password [tls-port]
  local d=$1 node=$2 port=$3 dist=$4 v6=$5 plugins=$6 pw=$7 tls_port=${8:-}
  mkdir -p "$d/home" "$d/mnesia" "$d/log"
  chmod 700 "$d/home"
  : >"$d/rabbitmq-env.conf"
  echo "[]." >"$d/advanced.config"
  [[ -n $tls_port ]] && make_tls "$d"
  {
    echo "listeners.tcp.1 = 127.0.0.1:$port"
    [[ $v6 == yes ]] && echo "listeners.tcp.2 = ::1:$port"
    if [[ -n $tls_port ]]; then
      echo "listeners.ssl.1 = 127.0.0.1:$tls_port"
      echo "ssl_options.cacertfile = $d/tls/ca.crt"
      echo "ssl_options.certfile = $d/tls/server.crt"
      echo "ssl_options.keyfile = $d/tls/server.key"
      echo "ssl_options.verify = verify_none"
      echo "ssl_options.fail_if_no_peer_cert = false"
    fi
    echo "loopback_users = none"
    echo "log.console = false"
    echo "log.file.level = warning"
  } >"$d/rabbitmq.conf"
  rabbit_env "$d" "$node"
  export RABBITMQ_DIST_PORT="$dist"
  if [[ $plugins == amqp1_0 ]]; then
    "$RABBIT_BIN/rabbitmq-plugins" enable --offline rabbitmq_amqp1_0 >"$d/plugins.log" 2>&1 \
      || { cat "$d/plugins.log" >&2; die "rabbitmq-plugins enable rabbitmq_amqp1_0 failed"; }
  else
    echo "[]." >"$d/enabled_plugins"
  fi
  (cd "$d" && exec setsid "$RABBIT_BIN/rabbitmq-server") >"$d/stdout" 2>&1 </dev/null &
  echo $! >"$d/server.pid"
  # `wait` follows the pid file, so it also covers the seconds before the node reaches epmd.
  "$RABBIT_BIN/rabbitmqctl" -n "$node" wait --timeout 90 "$RABBITMQ_PID_FILE" >"$d/await.log" 2>&1 \
    || { tail -20 "$d/stdout" >&2; die "RabbitMQ ($node) did not start; see $d/stdout and $d/log"; }
  "$RABBIT_BIN/rabbitmqctl" -n "$node" add_user pulptest "$pw" >/dev/null
  "$RABBIT_BIN/rabbitmqctl" -n "$node" set_permissions -p / pulptest '.*' '.*' '.*' >/dev/null
  if [[ $plugins == none ]]; then
    "$RABBIT_BIN/rabbitmqctl" -n "$node" add_vhost pulp-test >/dev/null
    "$RABBIT_BIN/rabbitmqctl" -n "$node" set_permissions -p pulp-test pulptest '.*' '.*' '.*' >/dev/null
  fi
}

# --- Qpid Broker-J ----------------------------------------------------------------------
qpid_lib() {
  local cache lib
  cache=$(cache_dir)
  lib="$cache/qpid-broker-j-$QPID_VERSION/lib"
  if [[ -f "$lib/qpid-broker-$QPID_VERSION.jar" && -f "$lib/.complete" ]]; then echo "$lib"; return; fi
  command -v mvn >/dev/null || die "mvn is needed to fetch Qpid Broker-J $QPID_VERSION from Maven Central once (apt-get install maven)"
  log "fetching Qpid Broker-J $QPID_VERSION from Maven Central (first time only)"
  rm -rf "$lib.tmp"
  mvn -B -q -f "$HERE/qpid-broker-j/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$lib.tmp" >"$STATE/mvn.log" 2>&1 || { tail -20 "$STATE/mvn.log" >&2; die "fetching Qpid Broker-J failed"; }
  touch "$lib.tmp/.complete"
  rm -rf "$lib"
  mv "$lib.tmp" "$lib"
  echo "$lib"
}

start_qpid() { # port anonymous-port password
  local d="$STATE/qpid" lib
  lib=$(qpid_lib)
  command -v java >/dev/null || die "java (>= 17) is needed to run Qpid Broker-J (apt-get install openjdk-17-jre-headless)"
  mkdir -p "$d/work"
  # The -prop values fill the ${...} of the initial config (ports, the test user's password).
  (cd "$d" && QPID_WORK="$d/work" exec setsid java -Xmx256m -cp "$lib/*" \
    -Dqpid.work_dir="$d/work" org.apache.qpid.server.Main -icp "$HERE/qpid-broker-j/initial-config.json" -st Memory \
    -prop "qpid.amqp_port=$1" -prop "qpid.anonymous_port=$2" -prop "qpid.test_password=$3") >"$d/stdout" 2>&1 </dev/null &
  echo $! >"$d/pid"
}

await_qpid() { # port anonymous-port
  local d="$STATE/qpid"
  for _ in $(seq 1 300); do
    port_open 127.0.0.1 "$1" && port_open 127.0.0.1 "$2" && return 0
    kill -0 "$(cat "$d/pid")" 2>/dev/null || { tail -20 "$d/stdout" >&2; die "Qpid Broker-J exited at start"; }
    sleep 0.1
  done
  die "Qpid Broker-J did not listen within 30 s; see $d/stdout"
}

# --- main -------------------------------------------------------------------------------
if [[ -f "$ENV_FILE" ]] && pid_alive "$STATE/ferretdb/pid" && pid_alive "$STATE/rabbitmq/pid" \
  && pid_alive "$STATE/rabbitmq-plain/pid" && pid_alive "$STATE/qpid/pid"; then
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  # An env file from an older start.sh lacks some addresses: then everything starts anew.
  if addr_open "${PULP_TEST_MONGODB:-}" && addr_open "${PULP_TEST_AMQP:-}" && addr_open "${PULP_TEST_AMQP091:-}" \
    && addr_open "${PULP_TEST_AMQPS:-}" && addr_open "${PULP_TEST_QPID:-}" && addr_open "${PULP_TEST_QPID_ANONYMOUS:-}"; then
    log "already running (state in $STATE)"
    cat "$ENV_FILE"
    exit 0
  fi
fi
"$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true

if [[ ! -x $RABBIT_BIN/rabbitmq-server ]]; then
  log "installing rabbitmq-server"
  command -v apt-get >/dev/null || die "rabbitmq-server is missing and there is no apt-get to install it"
  DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server >/dev/null; } \
    || die "apt-get install rabbitmq-server failed"
fi
# Debian's package starts a system node on install where it can; ours never touches it.

mkdir -p "$STATE"
FERRETDB=$(ferretdb_binary)
V6=no
has_ipv6_loopback && V6=yes

MONGO_PORT=$(free_port)
start_ferretdb ferretdb 127.0.0.1 "$MONGO_PORT"
MONGO6=""
if [[ $V6 == yes ]]; then
  MONGO6_PORT=$(free_port)
  start_ferretdb ferretdb6 ::1 "$MONGO6_PORT"
  MONGO6="[::1]:$MONGO6_PORT"
fi

RABBIT_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
QPID_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
QPID_PORT=$(free_port)
QPID_ANON_PORT=$(free_port)
start_qpid "$QPID_PORT" "$QPID_ANON_PORT" "$QPID_PASSWORD"

AMQP_PORT=$(free_port)
start_rabbitmq "$STATE/rabbitmq" "$NODE_NAME" "$AMQP_PORT" "$(free_port)" "$V6" amqp1_0 "$RABBIT_PASSWORD"
AMQP091_PORT=$(free_port)
AMQPS_PORT=$(free_port)
start_rabbitmq "$STATE/rabbitmq-plain" "$PLAIN_NODE_NAME" "$AMQP091_PORT" "$(free_port)" no none "$RABBIT_PASSWORD" "$AMQPS_PORT"
await_qpid "$QPID_PORT" "$QPID_ANON_PORT"

umask 077
{
  echo "# written by test/services/start.sh; stop with test/services/stop.sh"
  echo "export PULP_TEST_MONGODB=127.0.0.1:$MONGO_PORT"
  echo "export PULP_TEST_MONGODB_IPV6=$MONGO6"
  echo "export PULP_TEST_AMQP=127.0.0.1:$AMQP_PORT"
  echo "export PULP_TEST_AMQP_IPV6=$([[ $V6 == yes ]] && echo "[::1]:$AMQP_PORT")"
  echo "export PULP_TEST_AMQP_USER=pulptest"
  echo "export PULP_TEST_AMQP_PASSWORD=$RABBIT_PASSWORD"
  echo "export PULP_TEST_FERRETDB_BIN=$FERRETDB"
  echo "# RabbitMQ without plugins (AMQP 0-9-1 only); vhost pulp-test; guest/guest allowed"
  echo "export PULP_TEST_AMQP091=127.0.0.1:$AMQP091_PORT"
  echo "export PULP_TEST_AMQP091_USER=pulptest"
  echo "export PULP_TEST_AMQP091_PASSWORD=$RABBIT_PASSWORD"
  echo "# its TLS listener, certificate CN=localhost signed by this CA"
  echo "export PULP_TEST_AMQPS=127.0.0.1:$AMQPS_PORT"
  echo "export PULP_TEST_AMQPS_CA=$STATE/rabbitmq-plain/tls/ca.crt"
  echo "# Qpid Broker-J: PLAIN (user pulptest) and ANONYMOUS ports"
  echo "export PULP_TEST_QPID=127.0.0.1:$QPID_PORT"
  echo "export PULP_TEST_QPID_ANONYMOUS=127.0.0.1:$QPID_ANON_PORT"
  echo "export PULP_TEST_QPID_USER=pulptest"
  echo "export PULP_TEST_QPID_PASSWORD=$QPID_PASSWORD"
} >"$ENV_FILE"
log "started (state in $STATE)"
cat "$ENV_FILE"
