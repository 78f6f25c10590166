#!/usr/bin/env bash
# Stops what test/services/start.sh and mariadb.sh started (only those processes, by their recorded ids)
# and removes the state dir. Usage: test/services/stop.sh
set -uo pipefail

STATE=${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}
NODE_NAME=${PULP_TEST_RABBIT_NODE:-pulp-entrypoint-test@localhost}
PLAIN_NODE_NAME=${PULP_TEST_RABBIT_PLAIN_NODE:-${NODE_NAME%@*}-plain@${NODE_NAME#*@}}
[[ -d "$STATE" ]] || exit 0

stop_rabbit() { # dir node
  [[ -f "$1/rabbitmq.conf" ]] || return 0
  (
    export HOME="$1/home" RABBITMQ_NODENAME="$2"
    export RABBITMQ_CONF_ENV_FILE="$1/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$1/rabbitmq.conf"
    export RABBITMQ_MNESIA_BASE="$1/mnesia" RABBITMQ_LOG_BASE="$1/log"
    timeout 30 /usr/lib/rabbitmq/bin/rabbitmqctl -n "$2" stop "$1/pid" >/dev/null 2>&1
  )
}
stop_rabbit "$STATE/rabbitmq" "$NODE_NAME"
stop_rabbit "$STATE/rabbitmq-plain" "$PLAIN_NODE_NAME"
for f in "$STATE/rabbitmq/pid" "$STATE/rabbitmq/server.pid" "$STATE/rabbitmq-plain/pid" "$STATE/rabbitmq-plain/server.pid" \
  "$STATE/qpid/pid" "$STATE/ferretdb/pid" "$STATE/ferretdb6/pid" "$STATE/mariadb/pid"; do
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
done
rm -rf "$STATE"
echo "services: stopped" >&2
