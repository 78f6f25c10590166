// The real servers started by test/services/start.sh, from PULP_TEST_* variables or, when
// those are unset, from the env file that script writes. Under CI=true a missing server fails
// the test; elsewhere the test is skipped loudly, saying how to enable it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { unavailable } from './unavailable.ts';

export interface Services {
  /** 127.0.0.1:port of FerretDB. */
  mongodb: string;
  /** [::1]:port of a second FerretDB, when the machine has IPv6 loopback. */
  mongodbIpv6: string | undefined;
  /** 127.0.0.1:port of RabbitMQ with AMQP 1.0. */
  amqp: string;
  /** [::1]:port of the same RabbitMQ, when the machine has IPv6 loopback. */
  amqpIpv6: string | undefined;
  amqpUser: string;
  amqpPassword: string;
  /** The FerretDB binary, for tests that start their own. */
  ferretdbBin: string | undefined;
  /** 127.0.0.1:port of RabbitMQ with no plugins (AMQP 0-9-1 only); same user and password as amqp. */
  amqp091: string | undefined;
  /** 127.0.0.1:port of Qpid Broker-J with SASL PLAIN (qpidUser, qpidPassword), and with ANONYMOUS. */
  qpid: string | undefined;
  qpidAnonymous: string | undefined;
  /** 127.0.0.1:port of the plain RabbitMQ's TLS listener, and the CA that signed its certificate (CN=localhost). */
  amqps: string | undefined;
  amqpsCa: string | undefined;
  qpidUser: string;
  qpidPassword: string;
}

/** The brokers beyond the first RabbitMQ, all present. */
export type Brokers = Services & { amqp091: string; qpid: string; qpidAnonymous: string; amqps: string; amqpsCa: string };

export const SERVICES_DIR = process.env.PULP_TEST_SERVICES_DIR ?? '/tmp/pulp-entrypoint-services';

function readEnvFile(file = `${SERVICES_DIR}/env`): Record<string, string> {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m?.[1] !== undefined) out[m[1]] = m[2] ?? '';
    }
    return out;
  } catch {
    return {};
  }
}

export function testServices(): Services | undefined {
  const env = process.env.PULP_TEST_MONGODB && process.env.PULP_TEST_AMQP ? process.env : { ...readEnvFile() };
  const v = (k: string): string | undefined => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  const mongodb = v('PULP_TEST_MONGODB');
  const amqp = v('PULP_TEST_AMQP');
  if (mongodb === undefined || amqp === undefined) return undefined;
  return {
    mongodb,
    mongodbIpv6: v('PULP_TEST_MONGODB_IPV6'),
    amqp,
    amqpIpv6: v('PULP_TEST_AMQP_IPV6'),
    amqpUser: v('PULP_TEST_AMQP_USER') ?? 'guest',
    amqpPassword: v('PULP_TEST_AMQP_PASSWORD') ?? 'guest',
    ferretdbBin: v('PULP_TEST_FERRETDB_BIN'),
    amqp091: v('PULP_TEST_AMQP091'),
    qpid: v('PULP_TEST_QPID'),
    qpidAnonymous: v('PULP_TEST_QPID_ANONYMOUS'),
    amqps: v('PULP_TEST_AMQPS'),
    amqpsCa: v('PULP_TEST_AMQPS_CA'),
    qpidUser: v('PULP_TEST_QPID_USER') ?? 'pulptest',
    qpidPassword: v('PULP_TEST_QPID_PASSWORD') ?? '',
  };
}

/** The kubelet's variables of the Services db and msg, pointing at the first FerretDB and RabbitMQ, and the broker login. */
export function serviceVariables(s: Services): Record<string, string> {
  const [dbHost = '', dbPort = ''] = s.mongodb.split(':');
  const [mqHost = '', mqPort = ''] = s.amqp.split(':');
  return {
    DB_SERVICE_HOST: dbHost,
    DB_SERVICE_PORT: dbPort,
    MSG_SERVICE_HOST: mqHost,
    MSG_SERVICE_PORT: mqPort,
    MSG_SERVICE_USER: s.amqpUser,
    MSG_SERVICE_PASSWORD: s.amqpPassword,
  };
}

/** The servers, or undefined after failing (CI=true) or skipping loudly. */
export function requireServices(t: Test, what: string): Services | undefined {
  const s = testServices();
  if (s) return s;
  const how = 'run test/services/start.sh (or set PULP_TEST_MONGODB and PULP_TEST_AMQP)';
  unavailable(t, `${what}: no FerretDB/RabbitMQ test servers; ${how}`);
  return undefined;
}

/**
 * Every broker of test/services/start.sh (RabbitMQ with and without plugins, Qpid Broker-J),
 * or undefined after failing (CI=true) or skipping loudly.
 */
export function requireBrokers(t: Test, what: string): Brokers | undefined {
  const s = testServices();
  if (s?.amqp091 !== undefined && s.qpid !== undefined && s.qpidAnonymous !== undefined && s.amqps !== undefined && s.amqpsCa !== undefined) {
    return { ...s, amqp091: s.amqp091, qpid: s.qpid, qpidAnonymous: s.qpidAnonymous, amqps: s.amqps, amqpsCa: s.amqpsCa };
  }
  const how = 'run test/services/start.sh (or set PULP_TEST_AMQP091, PULP_TEST_AMQPS, PULP_TEST_AMQPS_CA, PULP_TEST_QPID and PULP_TEST_QPID_ANONYMOUS)';
  unavailable(t, `${what}: no RabbitMQ-without-plugins / Qpid Broker-J test brokers; ${how}`);
  return undefined;
}

/** The MariaDB of test/services/mariadb.sh: a database `keystone` its user may use, and root. */
export interface Mysql {
  /** 127.0.0.1:port */
  address: string;
  host: string;
  port: number;
  user: string;
  /** Holds `$` and `%`, as the hostile cases want. */
  password: string;
  database: string;
  rootPassword: string;
}

/** MariaDB from PULP_TEST_MYSQL* or the env file test/services/mariadb.sh writes; else fails (CI=true) or skips loudly. */
export function requireMysql(t: Test, what: string): Mysql | undefined {
  const env = process.env.PULP_TEST_MYSQL ? process.env : readEnvFile(`${SERVICES_DIR}/mariadb/env`);
  const address = env.PULP_TEST_MYSQL;
  const m = address === undefined ? null : /^(.+):(\d+)$/.exec(address);
  if (address !== undefined && m?.[1] !== undefined && m[2] !== undefined && env.PULP_TEST_MYSQL_PASSWORD !== undefined) {
    return {
      address,
      host: m[1],
      port: Number(m[2]),
      user: env.PULP_TEST_MYSQL_USER ?? 'keystone',
      password: env.PULP_TEST_MYSQL_PASSWORD,
      database: env.PULP_TEST_MYSQL_DATABASE ?? 'keystone',
      rootPassword: env.PULP_TEST_MYSQL_ROOT_PASSWORD ?? '',
    };
  }
  unavailable(t, `${what}: no MariaDB test server; run bash test/services/mariadb.sh (or set PULP_TEST_MYSQL, PULP_TEST_MYSQL_USER and PULP_TEST_MYSQL_PASSWORD)`);
  return undefined;
}

/** SQL as the test server's root, in `database` when given: its output, rows tab-separated without a header. */
export function mysqlRoot(db: Mysql): (sql: string, database?: string) => string {
  return (sql, database = '') =>
    execFileSync('mariadb', ['--no-defaults', '--protocol=tcp', `-h${db.host}`, `-P${db.port}`, '-uroot', '-N', '-B', '-e', sql, ...(database ? [database] : [])], {
      env: { ...process.env, MYSQL_PWD: db.rootPassword },
      encoding: 'utf8',
      stdio: 'pipe',
    });
}

/**
 * A database `name` of the test's own on `db`, empty, the test user granted everything on it,
 * dropped when `t` ends; returns a runner of SQL as root.
 */
export function freshDatabase(t: Test, db: Mysql, name: string): (sql: string) => string {
  const root = mysqlRoot(db);
  root(`DROP DATABASE IF EXISTS ${name}; CREATE DATABASE ${name}; GRANT ALL PRIVILEGES ON ${name}.* TO '${db.user}'@'%'`);
  t.teardown(() => root(`DROP DATABASE IF EXISTS ${name}`));
  return root;
}
