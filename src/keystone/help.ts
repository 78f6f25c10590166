// keystone-entrypoint --help: kept next to the code it describes; the README and docs/keystone.md repeat the tables.

/** Keystone's --help text; `exitCodes` is the shared table, rendered (src/cli/help.ts). */
export function keystoneHelp(exitCodes: string): string {
  return `keystone-entrypoint: configure, wait, init and exec OpenStack Keystone's API in a container.
The same program installed as pulp-entrypoint does it for Pulp 2's Celery roles
(pulp-entrypoint --help).

Usage:
  keystone-entrypoint api [ARGS...]            configure -> wait -> init -> exec the API (+ gunicorn ARGS)
  keystone-entrypoint run api [ARGS...]        the same
  keystone-entrypoint preview api [--json]     dry run: what it would write, wait for and run
  keystone-entrypoint configure                apply the environment to keystone.conf, print the edits
  keystone-entrypoint wait [--timeout S]       wait until the database answers
  keystone-entrypoint check [--timeout S]      one attempt, 5 s default (exec probes); then this
                                               replica's heartbeat, and the contract when it is due
  keystone-entrypoint init                     run the one-time init (db_sync, bootstrap) alone
  keystone-entrypoint keys [PREFIX]            print two Kubernetes Secrets with fresh keys,
                                               PREFIX-fernet-keys and PREFIX-credential-keys
                                               (default prefix keystone)
  keystone-entrypoint sync-keys [--dry-run]    the keys sidecar: keep the key repositories equal to
                                               the mounted Secrets while the pod runs (a rotation
                                               installed in two steps, never a half set)
  keystone-entrypoint rotate fernet|credential [--dry-run]
                                               rotate the keys in their Secret through the
                                               Kubernetes API, as keystone-manage fernet_rotate /
                                               credential_rotate would (the CronJobs' command)
  keystone-entrypoint default-conf             print Keystone's sample keystone.conf (to start from)
  keystone-entrypoint PROGRAM [ARGS...]        configure, then exec PROGRAM (e.g. bash)
  keystone-entrypoint --help | --version

A first word that is not a command, a role or a program on PATH is refused (64), with the
command or role it most likely meant; nothing is read or written.

Role: api. Every replica runs it: the first to take the lease (a row in Keystone's own database)
runs keystone-manage db_sync, then bootstrap when OS_BOOTSTRAP_PASSWORD is set; the others wait
for its record. Then gunicorn serves keystone.wsgi.api:application as KEYSTONE_RUN_AS.

Upgrades (a new image, docs/keystone-upgrade.md): on a database that has a schema, the init runs
db_sync --check, then db_sync --expand when it answers 2, never the contract; each replica keeps
a row with its image's init key, refreshed by every check (gone after 90 s without one); a check
runs db_sync --contract once, under the lease, when no replica of another image is left. An
image older than the database is refused before anything runs (78).

Environment (empty counts as unset; NAME_FILE, never an empty file, for MYSQL_USER, MYSQL_PASSWORD,
OS_BOOTSTRAP_PASSWORD, ADMIN_TOKEN):
  KEYSTONE_CONF               file to edit (default /etc/keystone/keystone.conf)
  KEYSTONE_CONF_TEMPLATE      start from this file, write KEYSTONE_CONF (read-only ConfigMaps)
  KEYSTONE_DB_SERVICE         Kubernetes Service of MySQL/MariaDB (default db -> DB_SERVICE_HOST,
                              DB_SERVICE_PORT_MYSQL, DB_SERVICE_PORT, docker-link DB_PORT_3306_TCP_ADDR, ...)
  MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE
                              [database] connection = mysql+pymysql://USER:PASSWORD@HOST:PORT/DB
                              (defaults keystone, -, keystone; percent-encoded, the port kept)
  OS_BOOTSTRAP_PASSWORD       run keystone-manage bootstrap after db_sync, with its own variables
                              OS_BOOTSTRAP_USERNAME, _PROJECT_NAME, _ROLE_NAME, _SERVICE_NAME,
                              _REGION_ID, _PUBLIC_URL, _INTERNAL_URL, _ADMIN_URL
  KEYSTONE_FERNET_KEYS        directory with the fernet keys (files 0, 1, ...), e.g. a mounted
                              Secret: installed into [fernet_tokens] key_repository as the run-as
                              user, mode 0600; unset: this replica makes its own (warned)
  KEYSTONE_CREDENTIAL_KEYS    the same for [credential] key_repository
  KEYSTONE_KEYS_SYNCED        true: the sync-keys sidecar keeps the repositories; the API waits for
                              them (within KEYSTONE_WAIT_TIMEOUT) and never writes them
  KEYSTONE_FERNET_SECRET, KEYSTONE_CREDENTIAL_SECRET
                              the Secrets rotate writes, in the pod's namespace (default
                              keystone-fernet-keys, keystone-credential-keys)
  KEYSTONE_ROTATION_SCHEDULE  the fernet CronJob's schedule: rotate refuses when [fernet_tokens]
                              max_active_keys cannot cover a token's life at that pace
  KEYSTONE_CACHE_SERVERS      [cache] memcache_servers, and the cache switched on (127.0.0.1:11211)
  KEYSTONE_LISTEN             gunicorn's bind, host:port (default 0.0.0.0:5000)
  KEYSTONE_WORKERS            gunicorn workers (default 2)
  KEYSTONE_CONF__SECTION__KEY set any [section] key (KEYSTONE_CONF__DEFAULT__DEBUG=true); one
                              Keystone's sample does not document is warned about, and written
  KEYSTONE_WAIT_TIMEOUT       seconds for the wait and the init's lease together (default 60)
  KEYSTONE_RUN_AS             user for init and API (default keystone; needs root)
  KEYSTONE_INIT_KEY           what makes an init "the same one" again; KEYSTONE_FORCE_INIT=1 re-runs it
  KEYSTONE_INIT_LEASE_TTL     seconds a dead or stalled init holder blocks the init (default 30,
                              by the database server's clock)
  KEYSTONE_SIGNAL_REWRITE     e.g. TERM:INT, signals rewritten on the way to gunicorn (supervise mode)
  KEYSTONE_ENTRYPOINT_LOG     text (default) or json log lines on stderr
  KEYSTONE_ENTRYPOINT_TRACE   1: log every step with its inputs
  KEYSTONE_EXEC_MODE          auto (default), exec or supervise
  ADMIN_TOKEN                 the original image's: not written ([DEFAULT] admin_token is an
                              all-powerful shared secret in Keystone 30); use OS_BOOTSTRAP_PASSWORD

Waits (run, wait, check): MySQL handshake, login with the user and password of [database]
connection, the database selected, SELECT 1 (mysql2). A refused login or an unknown database ends
the wait at once. memcached is not waited for: Keystone only caches there and starts without it.
While waiting: each dependency's first failure, then a line every 5 s (every attempt with the
trace switch). Not ready in time: one line per dependency with its last reason and what to
check, then a last line naming the limit (--timeout, or the variable).

Exit codes:
${exitCodes}

Every key is edited only when the environment gives its value; secrets show as ********.
A variable that looks like one of the above but is none is named in a warning (did you mean ...?).
`;
}
