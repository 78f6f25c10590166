// The MySQL wait (src/wait/mysql.ts over src/dependencies/mysql/) against hostile peers on raw
// loopback sockets, through the whole command (bin/keystone-entrypoint wait, whose one
// dependency is the database): a peer that floods the agent with packets of the largest length,
// one 16 MiB packet of random bytes after the greeting, an endless result set of small rows.
// Each attempt is refused with what the peer sent, the wait retries and exits 69 by its
// deadline, and the agent holds no more than a few MiB for it: its peak RSS (getrusage, from
// outside: test/helpers/measure.ts) is compared with a run against a peer that never answers
// (whose last line says the connection was made). An error packet with a long message full of
// control characters, and an authentication plugin mysql2 lacks (69 at once, one attempt).
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import { type Measured, runMeasured } from '../helpers/measure.ts';
import { ROOT } from '../helpers/cli.ts';
import { authSwitch, errPacket, greeting, header, okPacket, resultHead, row } from '../helpers/mysql-peer.ts';
import { type Peer, flood, scriptedPeer } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';

const KEYSTONE = join(ROOT, 'bin', 'keystone-entrypoint');
const DEADLINE_S = 3;
/** What the agent may hold for a hostile peer beyond its size against a silent one. */
const MAX_EXTRA_KIB = 24 * 1024;
const MAX_RSS_KIB = 150 * 1024;

const conf = join(tempDir(t, 'ks-hostile-'), 'keystone.conf');
copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), conf);

const wait = (peer: Peer): Promise<Measured> =>
  runMeasured(['wait', '--timeout', String(DEADLINE_S)], { KEYSTONE_CONF: conf, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(peer.port), MYSQL_PASSWORD: 'pw' }, { bin: KEYSTONE });

const lastLine = (r: Measured): string => r.stderr.trimEnd().split('\n').pop() ?? '';
/** The error line of the dependency itself (what the peer sent, what to check), before the last line that names each one. */
const reasonLine = (r: Measured): string => r.stderr.trimEnd().split('\n').filter((l) => / error: /.test(l)).at(-2) ?? lastLine(r);

// The agent's own size for this command: the same wait against a peer that accepts and says nothing.
const baseline = await wait(await scriptedPeer(t, () => {}));
t.equal(baseline.status, 69, `the baseline wait ends 69: ${lastLine(baseline)}`);
t.comment(`baseline (a silent peer): peak RSS ${Math.round(baseline.maxRssKib / 1024)} MiB`);
// A peer that accepted the connection is not a routing problem: the line says it connected.
t.match(reasonLine(baseline), /no answer at 127\.0\.0\.1:\d+: connected, but no MySQL greeting came within \d+ ms \(the connection was made: is it the server's own port/);
t.notMatch(reasonLine(baseline), /ETIMEDOUT|firewall/, 'no hint at the network for a connection that was made');

const bounded = (t: Test, r: Measured, peer: Peer, what: RegExp): void => {
  const last = reasonLine(r);
  t.equal(r.status, 69, `exit 69: ${last}`);
  t.match(last, what, "the database's line names it and what the peer sent");
  t.match(lastLine(r), /^keystone-entrypoint: error: not ready after \d+ s: mysql at 127\.0\.0\.1:\d+ \(\[database\] connection\): /, 'the last line names the database');
  const extra = r.maxRssKib - baseline.maxRssKib;
  t.comment(`peak RSS ${Math.round(r.maxRssKib / 1024)} MiB, ${Math.round(extra / 1024)} MiB over the baseline; ${peer.connections()} connections`);
  t.ok(r.maxRssKib > 0 && r.maxRssKib < MAX_RSS_KIB, `peak RSS ${Math.round(r.maxRssKib / 1024)} MiB (limit ${MAX_RSS_KIB / 1024} MiB)`);
  t.ok(extra < MAX_EXTRA_KIB, `${Math.round(extra / 1024)} MiB over the baseline (limit ${MAX_EXTRA_KIB / 1024} MiB)`);
  t.ok(r.elapsedMs < (DEADLINE_S + 5) * 1000, `exit after ${r.elapsedMs} ms with a ${DEADLINE_S} s deadline`);
  t.ok(peer.connections() > 1, 'each attempt refused and retried');
  t.equal(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('keystone-entrypoint')).length, 0, 'every line is the agent\'s own');
};

t.test('a peer that answers the connection with 16 MiB packets back to back', async (t) => {
  const big = Buffer.concat([header(0xffffff), Buffer.alloc(0xffffff)]);
  const peer = await scriptedPeer(t, (s) => flood(s, big));
  bounded(t, await wait(peer), peer, /mysql at 127\.0\.0\.1:\d+ .*protocol mismatch at 127\.0\.0\.1:\d+: not a MySQL server \(it sent "ÿÿÿ/);
});

t.test('a greeting, then after the login one 16 MiB packet of random bytes', async (t) => {
  const random = Buffer.concat([header(0xffffff, 2), randomBytes(0xffffff)]);
  const peer = await scriptedPeer(t, async (s, next) => {
    s.write(greeting());
    await next();
    s.write(random);
  });
  bounded(t, await wait(peer), peer, /oversized MySQL packet at 127\.0\.0\.1:\d+: the peer announced 16777219 bytes, at most 16384 are allowed here/);
});

t.test('a greeting, a login, then SELECT 1 answered with rows without end', async (t) => {
  // 256 rows numbered so that the sequence goes on across chunks: 4, 5, ... 255, 0, ... 3.
  const rows = Buffer.concat(Array.from({ length: 256 }, (_, i) => row((i + 4) & 0xff, '1')));
  const peer = await scriptedPeer(t, async (s, next) => {
    s.write(greeting());
    await next();
    s.write(okPacket(2));
    await next();
    s.write(resultHead());
    flood(s, rows);
  });
  bounded(t, await wait(peer), peer, /protocol mismatch at 127\.0\.0\.1:\d+: the server sent more than 64 packets, where a MySQL login and SELECT 1 take about ten/);
});

t.test('an error packet instead of the greeting, its message of 12 KB with newlines and escapes', async (t) => {
  const peer = await scriptedPeer(t, (s: net.Socket) => {
    s.end(errPacket(0, 1040, `Too many connections\n\x1b[31mforged line\x1b[0m ${'x'.repeat(12_000)}`));
  });
  const r = await wait(peer);
  t.equal(r.status, 69, lastLine(r));
  t.notMatch(r.stderr, /\x1b/, 'no terminal escape reaches the output');
  t.notMatch(r.stderr, /^forged line/m, 'the message stays inside its line');
  t.ok(r.stderr.split('\n').every((l) => l.length < 1000), 'no line holds the message whole');
  t.match(reasonLine(r), /failed at 127\.0\.0\.1:\d+ \(Too many connections \[31mforged line \[0m x+\.\.\.\)/, 'the message on one line, cut');
});

t.test('an authentication plugin the agent cannot speak: 69 at once, one attempt, one line naming it', async (t) => {
  const peer = await scriptedPeer(t, async (s, next) => {
    s.write(greeting());
    await next();
    s.write(authSwitch(2, 'dialog'));
  });
  const r = await runMeasured(['wait', '--timeout', '30'], { KEYSTONE_CONF: conf, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: String(peer.port), MYSQL_PASSWORD: 'pw' }, { bin: KEYSTONE });
  t.comment(`refused ${r.elapsedMs} ms after the start (the whole command, Node start included)`);
  t.equal(r.status, 69, lastLine(r));
  t.equal(peer.connections(), 1, 'not retried');
  t.ok(r.elapsedMs < 10_000, `long before the 30 s deadline (${r.elapsedMs} ms)`);
  t.match(lastLine(r), /^keystone-entrypoint: error: unsupported authentication plugin at 127\.0\.0\.1:\d+: the server asks for the authentication plugin "dialog", which mysql2 \(the agent's MySQL client\) does not speak; let the database user log in with/);
  t.notMatch(r.stderr, /TODO/);
});
