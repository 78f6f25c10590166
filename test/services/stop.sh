#!/usr/bin/env bash
# Stops what test/services/start.sh started (only those processes, by their recorded ids)
# and removes the state dir. Usage: test/services/stop.sh
set -uo pipefail

STATE=${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}
NODE_NAME=${PULP_TEST_RABBIT_NODE:-pulp-entrypoint-test@localhost}
[[ -d "$STATE" ]] || exit 0

if [[ -f "$STATE/rabbitmq/rabbitmq.conf" ]]; then
  export HOME="$STATE/rabbitmq/home" RABBITMQ_NODENAME="$NODE_NAME"
  export RABBITMQ_CONF_ENV_FILE="$STATE/rabbitmq/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$STATE/rabbitmq/rabbitmq.conf"
  export RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$STATE/rabbitmq/log"
  timeout 30 /usr/lib/rabbitmq/bin/rabbitmqctl -n "$NODE_NAME" stop "$STATE/rabbitmq/pid" >/dev/null 2>&1
fi
for f in "$STATE/rabbitmq/pid" "$STATE/rabbitmq/server.pid" "$STATE/ferretdb/pid" "$STATE/ferretdb6/pid"; do
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
done
rm -rf "$STATE"
echo "services: stopped" >&2
