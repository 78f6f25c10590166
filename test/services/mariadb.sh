#!/usr/bin/env bash
# Starts a MariaDB (Debian's 10.11) for the tests, on 127.0.0.1 and a free port, with its own
# datadir and socket, and prints how to reach it as shell exports (also kept in <state>/env):
#
#   export PULP_TEST_MYSQL=127.0.0.1:PORT
#   export PULP_TEST_MYSQL_USER=keystone          # may do anything in database `keystone`
#   export PULP_TEST_MYSQL_PASSWORD=ks$%pa%ss-<random hex>
#   export PULP_TEST_MYSQL_DATABASE=keystone
#   export PULP_TEST_MYSQL_ROOT_PASSWORD=<random hex>   # root@'%' and root@localhost, TCP or socket
#   export PULP_TEST_MYSQL_SOCKET=<state>/mysqld.sock
#
#   bash test/services/mariadb.sh          # start (idempotent: when running, only print)
#   bash test/services/mariadb.sh stop     # stop it and remove its state
#
# The keystone password holds `$` and `%` (hostile to URLs, shells and oslo.config). Its `$` is
# followed by `%`, which no shell expands, so the value is the same whether the env file is
# sourced by a shell or read raw (as test/helpers/services.ts does); no quotes are needed.
# The anonymous users mariadb-install-db creates (''@'localhost', ''@'<hostname>') are dropped:
# they match before 'keystone'@'%' for connections from this machine and refuse its password.
#
# State: ${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}/mariadb (datadir, socket,
# pid, log, env, a client option file with the root password). Note: test/services/stop.sh
# removes the whole services dir; run `mariadb.sh stop` first, or start it again after.
# Needs: mariadb-server (test/setup-machine.sh installs it), node (to
# pick a free port). Run as root (mariadbd --user=root) or as a user owning the state dir.
set -euo pipefail
umask 077

STATE=${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}/mariadb
ENV_FILE="$STATE/env"
SOCK="$STATE/mysqld.sock"
PIDFILE="$STATE/pid"
CLIENT_CNF="$STATE/root.cnf"

log() { printf 'mariadb: %s\n' "$*" >&2; }
die() { printf 'mariadb: error: %s\n' "$*" >&2; exit 1; }

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port_open() { # host port
  node -e 'const c=require("net").connect({host:process.argv[1],port:+process.argv[2]});c.setTimeout(500);c.on("connect",()=>process.exit(0));c.on("error",()=>process.exit(1));c.on("timeout",()=>process.exit(1))' "$1" "$2" 2>/dev/null
}
pid_alive() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

stop_server() {
  if [[ -f $PIDFILE ]]; then
    local pid
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
}

running() { # the env file, the pid alive and the port answering
  [[ -f $ENV_FILE ]] && pid_alive || return 1
  local addr
  addr=$(sed -n 's/^export PULP_TEST_MYSQL=//p' "$ENV_FILE")
  [[ -n $addr ]] && port_open "${addr%:*}" "${addr##*:}"
}

(umask 022; mkdir -p "${STATE%/*}")
mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9

if [[ ${1:-} == stop ]]; then
  stop_server
  find "$STATE" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +
  rm -f "$STATE/lock"
  rmdir "$STATE" 2>/dev/null || true
  log "stopped"
  exit 0
fi
[[ -z ${1:-} ]] || die "usage: $0 [stop]"

if running; then
  log "already running (state in $STATE)"
  cat "$ENV_FILE"
  exit 0
fi

MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
[[ -x $MARIADBD ]] || die "mariadbd is missing (apt-get install mariadb-server; bash test/setup-machine.sh does)"
command -v node >/dev/null || die "node is needed to pick a free port"

stop_server
find "$STATE" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +
USER_OPT=()
[[ $(id -u) == 0 ]] && USER_OPT=(--user=root)

mariadb-install-db --no-defaults "${USER_OPT[@]}" --datadir="$STATE/data" --auth-root-authentication-method=normal \
  --skip-test-db >"$STATE/install.log" 2>&1 || { tail -20 "$STATE/install.log" >&2; die "mariadb-install-db failed"; }

PORT=$(free_port)
setsid "$MARIADBD" --no-defaults "${USER_OPT[@]}" --datadir="$STATE/data" --socket="$SOCK" --port="$PORT" \
  --bind-address=127.0.0.1 --pid-file="$STATE/mariadbd.pid" --log-error="$STATE/error.log" \
  --skip-name-resolve --innodb-buffer-pool-size=64M --max-connections=500 \
  >"$STATE/stdout" 2>&1 </dev/null 9>&- &
# (9>&-: the server must not inherit the lock, or every later run waits on it forever.)
echo $! >"$PIDFILE"
# A set-up that fails half-way leaves no server behind: the next run starts from scratch.
trap '[[ -f $ENV_FILE ]] || stop_server' EXIT
for _ in $(seq 1 300); do
  [[ -S $SOCK ]] && port_open 127.0.0.1 "$PORT" && break
  pid_alive || { tail -20 "$STATE/error.log" >&2; die "mariadbd exited at start; see $STATE/error.log"; }
  sleep 0.1
done
port_open 127.0.0.1 "$PORT" || die "mariadbd did not listen on 127.0.0.1:$PORT within 30 s; see $STATE/error.log"

KS_PASSWORD="ks\$%pa%ss-$(rand_hex 9)"
ROOT_PASSWORD=$(rand_hex 12)
# root has no password yet and is reached over the socket; root@'%' is for TCP from anywhere
# the server would listen (--skip-name-resolve: 127.0.0.1 never matches root@localhost).
sql() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"; }
# Accounts by host name (''@<hostname>, root@<hostname>) are not loaded under
# --skip-name-resolve (ALTER/DROP USER fail on them) and never match here: left alone.
local_hosts="Host IN ('localhost', '127.0.0.1', '::1')"
anon=$(sql -N -B -e "SELECT CONCAT('DROP USER ''''@''', Host, ''';') FROM mysql.user WHERE User='' AND $local_hosts")
# mariadb-install-db may also make root@127.0.0.1 and root@::1 without a password, and they
# match before root@'%': they get the password.
roots=$(sql -N -B -e "SELECT CONCAT('ALTER USER ''root''@''', Host, ''' IDENTIFIED BY ''$ROOT_PASSWORD'';') FROM mysql.user WHERE User='root' AND $local_hosts")
sql <<SQL || die "setting up the users failed"
$anon
CREATE DATABASE IF NOT EXISTS keystone;
CREATE USER 'keystone'@'%' IDENTIFIED BY '$KS_PASSWORD';
GRANT ALL PRIVILEGES ON keystone.* TO 'keystone'@'%';
CREATE USER 'root'@'%' IDENTIFIED BY '$ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
$roots
FLUSH PRIVILEGES;
SQL
printf '[client]\nuser=root\npassword=%s\nsocket=%s\n' "$ROOT_PASSWORD" "$SOCK" >"$CLIENT_CNF"

# The proof: the keystone user over TCP, with its password, into its database.
MYSQL_PWD=$KS_PASSWORD mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$PORT" -ukeystone keystone -N -B -e 'SELECT 1' >/dev/null \
  || die "the keystone user cannot log in over TCP"
MYSQL_PWD=$ROOT_PASSWORD mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$PORT" -uroot -N -B -e 'SELECT 1' >/dev/null \
  || die "root cannot log in over TCP"

{
  echo "# written by test/services/mariadb.sh; stop with test/services/mariadb.sh stop"
  echo "export PULP_TEST_MYSQL=127.0.0.1:$PORT"
  echo "export PULP_TEST_MYSQL_USER=keystone"
  echo "export PULP_TEST_MYSQL_PASSWORD=$KS_PASSWORD"
  echo "export PULP_TEST_MYSQL_DATABASE=keystone"
  echo "export PULP_TEST_MYSQL_ROOT_PASSWORD=$ROOT_PASSWORD"
  echo "export PULP_TEST_MYSQL_SOCKET=$SOCK"
} >"$ENV_FILE"
log "started on 127.0.0.1:$PORT (state in $STATE)"
cat "$ENV_FILE"
