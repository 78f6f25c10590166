// The direct MongoDB probe (src/dependencies/mongodb/direct.ts: one connection made by the driver's
// own connection code, no MongoClient) answers exactly as the MongoClient path does
// (connectMongo, which the init uses), against the real FerretDB of test/services/start.sh:
// ready; authentication attempted and refused; TLS against a plain port; a closed port; a
// listener that never answers. The direct probe also opens a single connection.
import t from 'tap';
import net from 'node:net';
import { requireServices } from '../helpers/services.ts';
import { connectMongo } from '../../src/dependencies/mongodb/connect.ts';
import { probeMongo } from '../../src/wait/mongodb.ts';
import { ProbeError } from '../../src/dependencies/classify.ts';
import type { MongoTarget } from '../../src/common/targets.ts';
import { mongoFromConf } from '../helpers/targets.ts';

const s = requireServices(t, 'the direct MongoDB probe against FerretDB');

async function outcome(work: () => Promise<void>): Promise<string> {
  try {
    await work();
    return 'ready';
  } catch (err) {
    if (!(err instanceof ProbeError)) return `not a ProbeError: ${String(err)}`;
    // The driver's words after the address name its own connection ids ("connection 1" here,
    // "connection <monitor>" for a MongoClient); what the agent says before them must match.
    return `${err.reason} permanent=${err.permanent}: ${err.message.replace(/ \(.*$/s, '')}`;
  }
}

async function listen(onConnection: (c: net.Socket) => void): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    n++;
    sockets.add(c);
    c.on('error', () => {});
    onConnection(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const c of sockets) c.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => n };
}

if (s) {
  const base = mongoFromConf(s.mongodb);
  const variants: [string, MongoTarget][] = [
    ['ready', base],
    ['credentials FerretDB refuses', { ...base, username: 'pulp', password: 'not-this-one' }],
    ['TLS against a plain port', { ...base, tls: true, tlsVerify: false }],
  ];

  t.test('the same outcome as the MongoClient path', async (t) => {
    const closed = await listen((c) => c.destroy());
    const silent = await listen(() => {});
    const all: [string, MongoTarget][] = [
      ...variants,
      ['a listener that resets', mongoFromConf(`127.0.0.1:${closed.port}`)],
      ['a listener that never answers', mongoFromConf(`127.0.0.1:${silent.port}`)],
    ];
    for (const [name, target] of all) {
      const direct = await outcome(() => probeMongo(target, { timeoutMs: 1500 }));
      const client = await outcome(async () => {
        const c = await connectMongo(target, { timeoutMs: 1500 });
        await c.close(true);
      });
      t.equal(direct, client, `${name}: ${direct}`);
    }
    const refused = await outcome(() => probeMongo({ ...base, username: 'pulp', password: 'not-this-one' }, { timeoutMs: 1500 }));
    t.match(refused, /^auth permanent=true/, 'credentials are sent: the server judged them');
    t.notMatch(refused, /not-this-one/, 'no password in the message');
  });

  t.test('one connection per probe (a MongoClient opens a monitoring one besides)', async (t) => {
    const upstream = mongoFromConf(s.mongodb).seeds[0];
    if (!upstream) throw new Error('no seed');
    const relay = await listen((c) => {
      const u = net.connect(upstream.port, upstream.host);
      u.on('error', () => c.destroy());
      c.pipe(u).pipe(c);
      c.on('close', () => u.destroy());
    });
    await probeMongo(mongoFromConf(`127.0.0.1:${relay.port}`), { timeoutMs: 3000 });
    t.equal(relay.connections(), 1);
  });
}
