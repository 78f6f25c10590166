// `wait` and `check` read at a glance, through the real command under both names, with nothing
// listening: while waiting, the first failure of each dependency (every attempt only with the
// trace switch); at the end one line per dependency not ready, with its last reason and what to
// check, then one last line naming each and the limit as the user set it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { closedPort } from '../helpers/net.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-wait-output-');
const pulpConf = confCopy(dir);

interface Case {
  program: 'pulp-entrypoint' | 'keystone-entrypoint';
  args: string[];
  env: Record<string, string>;
  /** The dependencies not ready, as the lines name them. */
  deps: RegExp[];
  /** The end of the last line: the limit as the user set it. */
  last: RegExp;
}

t.test('nothing listening: a handful of lines, one per dependency at the end, the last naming the limit', async (t) => {
  const [db, msg] = [await closedPort(), await closedPort()];
  const pulp = { PULP_SERVER_CONF: pulpConf, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(db), MSG_SERVICE_HOST: '127.0.0.1', MSG_SERVICE_PORT: String(msg) };
  const keystone = { KEYSTONE_CONF: join(dir, 'keystone.conf'), KEYSTONE_CONF_TEMPLATE: join(ROOT, 'src', 'keystone', 'default-keystone.conf'), DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(db) };
  const mongo = new RegExp(`mongodb at 127\\.0\\.0\\.1:${db}`);
  const amqp = new RegExp(`amqp at 127\\.0\\.0\\.1:${msg} \\(\\[tasks\\] broker_url\\)`);
  const mysql = new RegExp(`mysql at 127\\.0\\.0\\.1:${db} \\(\\[database\\] connection\\)`);
  const cases: Case[] = [
    { program: 'pulp-entrypoint', args: ['wait', '--timeout', '2'], env: pulp, deps: [mongo, amqp], last: /; the limit is --timeout 2$/ },
    { program: 'pulp-entrypoint', args: ['wait'], env: { ...pulp, PULP_WAIT_TIMEOUT: '1.5' }, deps: [mongo, amqp], last: /; the limit is PULP_WAIT_TIMEOUT=1\.5$/ },
    { program: 'pulp-entrypoint', args: ['check'], env: pulp, deps: [mongo, amqp], last: /; one attempt each, limited by the default 5 s \(--timeout sets it\)$/ },
    { program: 'pulp-entrypoint', args: ['check', '--timeout', '1'], env: pulp, deps: [mongo, amqp], last: /; one attempt each, limited by --timeout 1$/ },
    { program: 'keystone-entrypoint', args: ['wait', '--timeout', '2'], env: keystone, deps: [mysql], last: /; the limit is --timeout 2$/ },
  ];
  for (const c of cases) {
    const label = `${c.program} ${c.args.join(' ')}`;
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', c.program), ...c.args], { env: { PATH: process.env.PATH, ...c.env }, encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 69, label);
    const lines = r.stderr.trimEnd().split('\n');
    // While waiting: at most one line per dependency (the first failure; progress comes every few seconds).
    t.ok(lines.length <= 2 * c.deps.length + 1, `${label}: ${lines.length} lines`);
    const last = lines.at(-1) ?? '';
    t.match(last, new RegExp(`^${c.program}: error: not ready`), `${label}: the last line says not ready`);
    t.match(last, c.last, `${label}: and names the limit as it was set`);
    const errors = lines.slice(0, -1).filter((l) => l.startsWith(`${c.program}: error: `));
    t.equal(errors.length, c.deps.length, `${label}: one error line per dependency before it`);
    for (const dep of c.deps) {
      t.match(last, new RegExp(`${dep.source}: connection refused`), `${label}: the last line names ${dep.source} and its reason`);
      const own = errors.find((l) => dep.test(l)) ?? '';
      t.match(own, /not ready after [\d.]+ s \(\d+ attempts?\): connection refused .*\(is the server running and listening on that port\?\)/, `${label}: ${dep.source}: its reason and what to check`);
    }
    t.notMatch(r.stderr, /next try in/, `${label}: no line per attempt`);
  }
});

t.test('with the trace switch, every attempt has its line', async (t) => {
  const db = await closedPort();
  const env = { PATH: process.env.PATH, PULP_SERVER_CONF: pulpConf, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(db), PULP_CONF__TASKS__BROKER_URL: `amqp://127.0.0.1:${db}//`, PULP_ENTRYPOINT_TRACE: '1' };
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'pulp-entrypoint'), 'wait', '--timeout', '1'], { env, encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 69);
  const tries = r.stderr.split('\n').filter((l) => /trace: waiting for mongodb at .*; next try in \d+ ms/.test(l));
  const attempts = Number(/mongodb at \S+ not ready after [\d.]+ s \((\d+) attempts\)/.exec(r.stderr)?.[1] ?? 0);
  t.ok(attempts > 2, `${attempts} attempts`);
  // One before each retry; the last pause may be cut by the deadline before its attempt.
  t.ok(tries.length >= attempts - 1 && tries.length <= attempts, `a trace line before each retry (${tries.length})`);
});
