// The test servers of test/services/start.sh, for the benchmarks (test/helpers/services.ts is
// the same for the tests, in TypeScript): one place for how their addresses are found, and
// the loopback ports the benchmarks' relays take.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

/**
 * The PULP_TEST_* variables: the environment's when it names both FerretDB and RabbitMQ,
 * else the env file that start.sh writes in PULP_TEST_SERVICES_DIR over the environment's
 * (its servers belong together). undefined when neither names both.
 */
export function testEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('PULP_TEST_') && v) env[k] = v;
  if (!env.PULP_TEST_MONGODB || !env.PULP_TEST_AMQP) {
    try {
      const dir = process.env.PULP_TEST_SERVICES_DIR ?? '/tmp/pulp-entrypoint-services';
      for (const line of readFileSync(join(dir, 'env'), 'utf8').split('\n')) {
        const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
        if (m) env[m[1]] = m[2];
      }
    } catch {
      return undefined;
    }
  }
  return env.PULP_TEST_MONGODB && env.PULP_TEST_AMQP ? env : undefined;
}

/** The servers the benchmarks use, or undefined (start them with test/services/start.sh). */
export function services() {
  const env = testEnv();
  if (!env) return undefined;
  return {
    mongodb: env.PULP_TEST_MONGODB,
    amqp: env.PULP_TEST_AMQP,
    user: env.PULP_TEST_AMQP_USER ?? 'guest',
    password: env.PULP_TEST_AMQP_PASSWORD ?? 'guest',
    amqp091: env.PULP_TEST_AMQP091,
    qpid: env.PULP_TEST_QPID,
    qpidUser: env.PULP_TEST_QPID_USER,
    qpidPassword: env.PULP_TEST_QPID_PASSWORD,
    pulp2: env.PULP_TEST_PULP2,
  };
}

/** "127.0.0.1:27017" or "[::1]:27017" -> [host without brackets, port as written]. */
export function hostPort(address) {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}

/** A loopback port that was free a moment ago (taken and released at once), for a relay to listen on. */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}
