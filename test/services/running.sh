#!/usr/bin/env bash
# Which of the servers test/services/start.sh and mariadb.sh started are running now, by the
# process ids they recorded: one line, "FerretDB, RabbitMQ, ...", or nothing when none is.
# `npm test` ends by saying which it leaves running for the next run (scripts/test.sh).
# Usage: test/services/running.sh
set -uo pipefail

STATE=${PULP_TEST_SERVICES_DIR:-/tmp/pulp-entrypoint-services}
names=()
# The state dir of each server and its name.
while read -r dir name; do
  pid_file="$STATE/$dir/pid"
  [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null && names+=("$name")
done <<'SERVERS'
ferretdb FerretDB
ferretdb6 FerretDB (IPv6)
rabbitmq RabbitMQ
rabbitmq-plain RabbitMQ (no plugins)
qpid Qpid Broker-J
mariadb MariaDB
SERVERS
((${#names[@]} > 0)) || exit 0
joined=$(printf '%s, ' "${names[@]}")
echo "${joined%, }"
