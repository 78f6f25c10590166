// The standalone binary (npm run build:binary -> dist/pulp-entrypoint): it runs with no
// Node.js and no node_modules around it, answers like bin/pulp-entrypoint, ignores a stray
// NODE_OPTIONS, keeps the drivers out of the configure/preview path, and loads them (an
// embedded asset with its own code cache) to reach the real FerretDB and RabbitMQ
// (test/services/start.sh).
// Builds the binary first when it is missing or older than the sources (a few seconds once
// Node 24 and postject are installed; both come from the npm registry).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cli } from './helpers/cli.ts';
import { requireServices } from './helpers/services.ts';

const BINARY = join(ROOT, 'dist', 'pulp-entrypoint');
const BUNDLE = join(ROOT, 'dist', 'sea', 'main.cjs');

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  for (const f of ['scripts/build-binary.mjs', 'scripts/sea/entry.ts', 'scripts/sea/drivers.ts', 'scripts/sea/warm-drivers.mjs', 'scripts/sea/loader.cjs', 'scripts/sea/warm-main.mjs', 'package.json']) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

function ensureBinary(): string | undefined {
  if (existsSync(BINARY) && existsSync(BUNDLE) && statSync(BINARY).mtimeMs >= newestSource()) return undefined;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-binary.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  return r.status === 0 ? undefined : `npm run build:binary failed (${r.status}): ${r.stderr.split('\n').filter((l) => !l.includes('string offset')).slice(-5).join(' | ')}`;
}

const buildError = ensureBinary();
if (buildError) {
  t.fail(buildError);
  t.end();
} else {
  // A directory with nothing in it but the binary and server.conf, and a PATH without node.
  const dir = mkdtempSync(join(tmpdir(), 'ship-binary-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'pulp-entrypoint');
  copyFileSync(BINARY, bin);
  const conf = join(dir, 'server.conf');
  const lonePath = '/nonexistent-bin';

  const runBinary = (args: string[], env: Record<string, string> = {}) => {
    copyFileSync(join(ROOT, 'src', 'default-server.conf'), conf);
    return spawnSync(bin, args, { cwd: dir, encoding: 'utf8', env: { PATH: lonePath, PULP_SERVER_CONF: conf, ...env }, timeout: 60_000 });
  };

  t.test('runs with no Node.js and no node_modules: --version, --help', async (t) => {
    t.notOk(spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: lonePath } }).status === 0, 'no node on the PATH it runs with');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = runBinary(['--version']);
    t.equal(v.status, 0, v.stderr);
    t.match(v.stdout, pkg.version);
    const h = runBinary(['--help']);
    t.equal(h.status, 0, h.stderr);
    t.match(h.stdout, /preview/);
  });

  t.test('answers exactly like bin/pulp-entrypoint (preview --json, usage errors)', async (t) => {
    const env = { DB_SERVICE_HOST: '10.0.0.5', MSG_SERVICE_HOST: 'fd00::6', MSG_SERVICE_PASSWORD: 'binary-secret', PULP_BROKER_SCHEME: 'amqp', HOSTNAME: 'pulp-worker-4' };
    for (const role of ['beat', 'resource_manager', 'worker']) {
      const b = runBinary(['preview', role, '--json'], env);
      t.equal(b.status, 0, b.stderr);
      copyFileSync(join(ROOT, 'src', 'default-server.conf'), conf);
      const n = cli(['preview', role, '--json'], { ...env, PATH: lonePath, PULP_SERVER_CONF: conf });
      t.equal(n.status, 0, n.stderr);
      t.same(JSON.parse(b.stdout), JSON.parse(n.stdout), `preview ${role}: same document`);
      t.notOk(b.stdout.includes('binary-secret'), 'password masked');
    }
    const bad = runBinary(['preview', 'no-such-role']);
    const badN = cli(['preview', 'no-such-role'], { PATH: lonePath, PULP_SERVER_CONF: conf });
    t.equal(bad.status, badN.status, 'same exit code for a usage error');
    t.equal(bad.status, 64);
  });

  t.test('a NODE_OPTIONS meant for another program does not reach the agent', async (t) => {
    const r = runBinary(['--version'], { NODE_OPTIONS: '--require=/nonexistent-preload.js' });
    t.equal(r.status, 0, r.stderr);
  });

  t.test('configure and preview leave the drivers unevaluated', async (t) => {
    // The drivers are not in the binary's main script at all: they are a separate asset
    // (scripts/sea/drivers.ts loads it on the first wait).
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'sea', 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    t.notOk(inputs.some((i) => /node_modules\/(mongodb|rhea|bson)\//.test(i)), 'main script holds no driver code');
    t.ok(inputs.some((i) => i.endsWith('scripts/sea/drivers.ts')), 'src/drivers.ts is replaced by the asset loader');
    t.notOk(inputs.some((i) => i.endsWith('src/drivers.ts')), 'src/drivers.ts itself is not bundled');
    // The binary takes no node options, so the same main script runs under node with a
    // preload that lists the built-in modules loaded: the wait code pulls in tls (the AMQP
    // probe), so configure and preview must not load it; `check` is the control.
    const preload = join(dir, 'list-modules.cjs');
    writeFileSync(preload, "process.on('exit', () => process.stderr.write('\\nLOADED ' + process.moduleLoadList.join(',') + '\\n'));\n");
    const loaded = (args: string[]) => {
      copyFileSync(join(ROOT, 'src', 'default-server.conf'), conf);
      const r = spawnSync(process.execPath, ['-r', preload, BUNDLE, ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: lonePath, PULP_SERVER_CONF: conf, DB_SERVICE_HOST: '127.0.0.1', DB_SERVICE_PORT: '9', MSG_SERVICE_HOST: '127.0.0.1', MSG_SERVICE_PORT: '9' },
        timeout: 60_000,
      });
      const line = /^LOADED (.*)$/m.exec(r.stderr)?.[1] ?? '';
      return { status: r.status, modules: line.split(',') };
    };
    for (const args of [['preview', 'beat', '--json'], ['configure']]) {
      const r = loaded(args);
      t.equal(r.status, 0, `${args.join(' ')} ran`);
      for (const m of ['zlib', 'tls', 'dns']) t.notOk(r.modules.includes(`NativeModule ${m}`), `${args.join(' ')}: ${m} not loaded`);
    }
    const control = loaded(['check']);
    t.not(control.status, 0, 'check outside the binary (no assets, closed ports) fails');
    t.ok(control.modules.includes('NativeModule tls'), 'control: check evaluates the wait code (tls)');
  });

  t.test('the drivers work inside the binary: check against FerretDB and RabbitMQ', async (t) => {
    const s = requireServices(t, 'the standalone binary reaching real servers');
    if (!s) return;
    const split = (a: string): [string, string] => {
      const i = a.lastIndexOf(':');
      return [a.slice(0, i), a.slice(i + 1)];
    };
    const [dbHost, dbPort] = split(s.mongodb);
    const [msgHost, msgPort] = split(s.amqp);
    const r = runBinary(['check'], {
      DB_SERVICE_HOST: dbHost,
      DB_SERVICE_PORT: dbPort,
      MSG_SERVICE_HOST: msgHost,
      MSG_SERVICE_PORT: msgPort,
      MSG_SERVICE_USER: s.amqpUser,
      MSG_SERVICE_PASSWORD: s.amqpPassword,
      PULP_BROKER_SCHEME: 'amqp',
    });
    t.equal(r.status, 0, `check exit 0: ${r.stderr}`);
    t.notMatch(r.stderr, /ERR_UNKNOWN_BUILTIN_MODULE|Cannot find module/, 'everything it needs is inside');
  });
}
