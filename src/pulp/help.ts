// pulp-entrypoint --help: kept next to the code it describes; the README and docs/configuration.md repeat the tables.

/** Pulp's --help text; `exitCodes` is the shared table, rendered (src/cli/help.ts). */
export function pulpHelp(exitCodes: string): string {
  return `pulp-entrypoint: configure, wait, init and exec a Pulp 2 Celery role in a container.
The same program installed as keystone-entrypoint does it for OpenStack Keystone's API
(keystone-entrypoint --help).

Usage:
  pulp-entrypoint ROLE [ARGS...]           configure -> wait -> init -> exec the role (+ ARGS)
  pulp-entrypoint run ROLE [ARGS...]       the same
  pulp-entrypoint preview ROLE [--json]    dry run: what it would write, wait for and run
  pulp-entrypoint configure                apply the environment to server.conf, print the edits
  pulp-entrypoint wait [--timeout S]       wait until MongoDB and the Celery broker answer
  pulp-entrypoint check [--timeout S]      one attempt per dependency, 5 s default (exec probes)
  pulp-entrypoint init                     run the one-time init (pulp-manage-db) alone
  pulp-entrypoint default-conf             print the embedded default server.conf (to start from)
  pulp-entrypoint PROGRAM [ARGS...]        configure, then exec PROGRAM (e.g. bash)
  pulp-entrypoint --help | --version

A first word that is not a command, a role or a program on PATH is refused (64), with the
command or role it most likely meant; nothing is read or written.

Roles: beat (runs pulp-manage-db once first), resource_manager, worker.

Environment (empty counts as unset; an empty NAME_FILE file is refused):
  PULP_SERVER_CONF            file to edit (default /etc/pulp/server.conf)
  PULP_SERVER_CONF_TEMPLATE   start from this file, write PULP_SERVER_CONF (read-only ConfigMaps)
  PULP_SERVER_NAME            [server] server_name, and the Celery node names
                              (unset: server_name of the file, else the host name)
  PULP_DB_SERVICE             Kubernetes Service of MongoDB (default db -> DB_SERVICE_HOST, ...)
  PULP_MSG_SERVICE            Kubernetes Service of the broker (default msg -> MSG_SERVICE_HOST, ...)
  DB_SERVICE_HOST, DB_SERVICE_PORT    [database] seeds (also docker-link DB_PORT..., SERVICE_HOST)
  MSG_SERVICE_HOST, MSG_SERVICE_PORT  [messaging] url and [tasks] broker_url
  MSG_SERVICE_USER            broker user (default guest)        also as MSG_SERVICE_USER_FILE
  MSG_SERVICE_PASSWORD        broker password                    also as MSG_SERVICE_PASSWORD_FILE
  PULP_BROKER_SCHEME          qpid (default), qpids, amqp or amqps, for [tasks] broker_url
                              (amqp for RabbitMQ, as Pulp's docs set it up; no plugin needed)
  PULP_DB_NAME, PULP_DB_REPLICA_SET   [database] name, replica_set
  PULP_DB_USERNAME, PULP_DB_PASSWORD  [database] username, password (also as NAME_FILE)
  PULP_CONF__SECTION__KEY     set any [section] key (PULP_CONF__DATABASE__WRITE_CONCERN=majority);
                              one server.conf does not document is warned about, and written
  PULP_WAIT_TIMEOUT           seconds for all waits together (default 60)
  PULP_RUN_AS                 user for init and role (default apache; needs root)
  PULP_WORKER_ID              N in reserved_resource_worker-N (default: StatefulSet ordinal, else 0)
  PULP_INIT_KEY               what makes an init "the same one" again; PULP_FORCE_INIT=1 re-runs it
  PULP_INIT_LEASE_TTL         seconds a dead or stalled init holder blocks the init (default 30,
                              by the database server's clock)
  PULP_SIGNAL_REWRITE         e.g. TERM:QUIT, signals rewritten on the way to the role (supervise mode)
  PULP_CELERY_LOGLEVEL        Celery --loglevel (default info); PULP_CELERY_LOGFILE adds --logfile
  PULP_CELERY_WORKDIR         working directory of init and role (default /var/lib/pulp/celery)
  PULP_ENTRYPOINT_LOG         text (default) or json log lines on stderr
  PULP_ENTRYPOINT_TRACE       1: log every step with its inputs
  PULP_EXEC_MODE              auto (default), exec (replace the agent: Node 22.15+ or the
                              standalone binary) or supervise (the role as a child)

Waits (run, wait, check): MongoDB ping, and [tasks] broker_url in the protocol Pulp's client
speaks there: amqp://, amqps://, pyamqp://, librabbitmq:// an AMQP 0-9-1 open with the URL's
user, password and vhost (guest/guest and / when absent); qpid://, qpids:// an AMQP 1.0 open
(a Qpid answering AMQP 0-10 counts as live). [messaging] url is not waited for: the Celery
roles do not use it at start. Wrong credentials or a refused vhost end the wait at once.
While waiting: each dependency's first failure, then a line every 5 s (every attempt with the
trace switch). Not ready in time: one line per dependency with its last reason and what to
check, then a last line naming the limit (--timeout, or the variable).

Exit codes:
${exitCodes}

Every key is edited only when the environment gives its value; secrets show as ********.
A variable that looks like one of the above but is none is named in a warning (did you mean ...?).
`;
}
