// The standalone binaries (npm run build:binary -> dist/pulp-entrypoint-linux-{x64,arm64},
// dist/pulp-entrypoint): they need glibc 2.17 at most (EL7), run with no Node.js and no
// node_modules around them, answer like bin/pulp-entrypoint, ignore what a container's
// working directory or environment holds for other programs, and reach the real FerretDB
// and RabbitMQ (test/services/start.sh). The arm64 one runs under qemu-user
// (qemu-aarch64 -L /usr/aarch64-linux-gnu: Debian's qemu-user and libc6-arm64-cross).
// Everything else the agent does is run against the binary by test/ship/binary-runs.test.ts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY, ROOT, binOn, cli } from '../helpers/cli.ts';
import { BINARIES, ensureBinaries } from '../helpers/binary.ts';
import { requireServices } from '../helpers/services.ts';
import { DEFAULT_CONF, tempDir } from '../helpers/temp.ts';
import { compareVersions, glibcVersionsNeeded } from '../../scripts/elf-glibc.mjs';
import { unavailable } from '../helpers/unavailable.ts';

// Found on the test's PATH: the binaries themselves run with a PATH that has nothing on it.
const QEMU = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim() || 'qemu-aarch64';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

const buildError = ensureBinaries();
if (buildError) {
  t.fail(buildError);
} else {
  // A directory with nothing in it but the binary and server.conf, and a PATH without node.
  const dir = tempDir(t, 'ship-binary-');
  const bin = join(dir, 'pulp-entrypoint');
  copyFileSync(BINARY, bin);
  const conf = join(dir, 'server.conf');
  const lonePath = '/nonexistent-bin';

  const runBinary = (args: string[], env: Record<string, string> = {}, argv0: string[] = [bin]) => {
    copyFileSync(DEFAULT_CONF, conf);
    const [cmd = '', ...pre] = argv0;
    return spawnSync(cmd, [...pre, ...args], { cwd: dir, encoding: 'utf8', env: { PATH: lonePath, PULP_SERVER_CONF: conf, ...env }, timeout: 60_000 });
  };

  t.test('each binary needs glibc 2.17 at most (ELF version needs), and the one for this machine is dist/pulp-entrypoint', async (t) => {
    for (const [arch, file] of Object.entries(BINARIES)) {
      const versions = glibcVersionsNeeded(readFileSync(file));
      const highest = versions.at(-1);
      t.ok(highest !== undefined, `${arch}: links against glibc`);
      t.ok(highest !== undefined && compareVersions(highest, '2.17') <= 0, `${arch}: highest GLIBC_${highest} <= 2.17`);
      // binutils reads the same section: a check on the parser itself.
      const r = spawnSync('readelf', ['-V', '-W', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.error) {
        unavailable(t, `the readelf cross-check: readelf is missing (apt-get install binutils): ${r.error.message}`);
      } else {
        const byReadelf = [...new Set([...r.stdout.matchAll(/Name: GLIBC_([\d.]+)/g)].map((m) => m[1] ?? ''))].sort(compareVersions);
        t.same(versions, byReadelf, `${arch}: the same GLIBC_ versions as readelf -V`);
      }
    }
    t.ok(readFileSync(BINARY).equals(readFileSync(process.arch === 'arm64' ? BINARIES.arm64 : BINARIES.x64)), 'dist/pulp-entrypoint is the build for this machine');
    t.notOk(glibcVersionsNeeded(readFileSync('/bin/true')).length === 0, 'control: the parser finds the needs of /bin/true');
  });

  t.test('runs with no Node.js and no node_modules: --version, --help', async (t) => {
    t.notOk(spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: lonePath } }).status === 0, 'no node on the PATH it runs with');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = runBinary(['--version']);
    t.equal(v.status, 0, v.stderr);
    t.equal(v.stdout, `pulp-entrypoint ${pkg.version}\n`);
    const h = runBinary(['--help']);
    t.equal(h.status, 0, h.stderr);
    t.equal(h.stdout, cli(['--help'], {}, {}, binOn()).stdout, 'the same help as bin/');
  });

  t.test('answers exactly like bin/pulp-entrypoint (preview --json, usage errors)', async (t) => {
    const env = { DB_SERVICE_HOST: '10.0.0.5', MSG_SERVICE_HOST: 'fd00::6', MSG_SERVICE_PASSWORD: 'binary-secret', PULP_BROKER_SCHEME: 'amqp', HOSTNAME: 'pulp-worker-4' };
    for (const role of ['beat', 'resource_manager', 'worker']) {
      const b = runBinary(['preview', role, '--json'], env);
      t.equal(b.status, 0, b.stderr);
      copyFileSync(DEFAULT_CONF, conf);
      const n = cli(['preview', role, '--json'], { ...env, PATH: lonePath, PULP_SERVER_CONF: conf }, {}, binOn());
      t.equal(n.status, 0, n.stderr);
      t.same(JSON.parse(b.stdout), JSON.parse(n.stdout), `preview ${role}: same document`);
      t.notOk(b.stdout.includes('binary-secret'), 'password masked');
    }
    const bad = runBinary(['preview', 'no-such-role']);
    const badN = cli(['preview', 'no-such-role'], { PATH: lonePath, PULP_SERVER_CONF: conf }, {}, binOn());
    t.equal(bad.status, 64);
    t.equal(bad.status, badN.status, 'same exit code for a usage error');
    t.equal(bad.stderr, badN.stderr, 'same message');
  });

  t.test('what the container holds for other programs does not reach the agent', async (t) => {
    const r = runBinary(['--version'], { NODE_OPTIONS: '--require=/nonexistent-preload.js' });
    t.equal(r.status, 0, `NODE_OPTIONS ignored: ${r.stderr}`);
    // Bun would load these from the working directory by default; the build turns that off.
    writeFileSync(join(dir, '.env'), 'DB_SERVICE_HOST=from-dotenv\nPULP_WAIT_TIMEOUT=abc\n');
    writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["/nonexistent-preload.ts"]\n');
    t.teardown(() => rmSync(join(dir, '.env'), { force: true }));
    t.teardown(() => rmSync(join(dir, 'bunfig.toml'), { force: true }));
    const p = runBinary(['preview', 'beat', '--json']);
    t.equal(p.status, 0, p.stderr);
    t.notMatch(p.stdout, /from-dotenv/, 'a .env in the working directory is not loaded');
  });

  t.test('the drivers work inside the binary: check against FerretDB and RabbitMQ; arm64 under qemu answers the same', async (t) => {
    const s = requireServices(t, 'the standalone binary reaching real servers');
    if (!s) return;
    const split = (a: string): [string, string] => {
      const i = a.lastIndexOf(':');
      return [a.slice(0, i), a.slice(i + 1)];
    };
    const [dbHost, dbPort] = split(s.mongodb);
    const [msgHost, msgPort] = split(s.amqp);
    const env = {
      DB_SERVICE_HOST: dbHost,
      DB_SERVICE_PORT: dbPort,
      MSG_SERVICE_HOST: msgHost,
      MSG_SERVICE_PORT: msgPort,
      MSG_SERVICE_USER: s.amqpUser,
      MSG_SERVICE_PASSWORD: s.amqpPassword,
      PULP_BROKER_SCHEME: 'amqp',
    };
    const r = runBinary(['check'], env);
    t.equal(r.status, 0, `check exit 0: ${r.stderr}`);
    t.match(r.stderr, /mongodb at .* ready/);
    t.match(r.stderr, /amqp at .* ready/);
    t.notMatch(r.stderr, /Cannot find module|internal error/, 'everything it needs is inside');

    const qemu = spawnSync(QEMU, ['-version'], { encoding: 'utf8' });
    if (qemu.error || !existsSync(join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) {
      const why = `${QEMU} or ${ARM64_SYSROOT} missing (apt-get install qemu-user libc6-arm64-cross; test/setup-machine.sh does)`;
      unavailable(t, `the arm64 binary under qemu: ${why}`);
      return;
    }
    const arm = [QEMU, '-L', ARM64_SYSROOT, BINARIES.arm64];
    const x64 = [BINARIES.x64];
    const previewEnv = { ...env, HOSTNAME: 'pulp-beat-0' };
    const pa = runBinary(['preview', 'beat', '--json'], previewEnv, arm);
    const px = runBinary(['preview', 'beat', '--json'], previewEnv, x64);
    t.equal(pa.status, 0, `arm64 preview: ${pa.stderr}`);
    t.equal(pa.stdout, px.stdout, 'arm64 preview beat --json: the same bytes as x64');
    t.notOk(pa.stdout.includes(s.amqpPassword), 'password masked');
    // Timings differ; the lines otherwise do not.
    const lines = (text: string) => text.replace(/ elapsed_ms=\d+/g, '').replace(/after [\d.]+ s/g, 'after N s').split('\n').sort();
    const ca = runBinary(['check'], env, arm);
    const cx = runBinary(['check'], env, x64);
    t.equal(ca.status, 0, `arm64 check: ${ca.stderr}`);
    t.equal(ca.status, cx.status);
    t.same(lines(ca.stderr), lines(cx.stderr), 'arm64 check: the same lines as x64');
    const closed = runBinary(['check'], { ...env, DB_SERVICE_PORT: '9' }, arm);
    t.equal(closed.status, 69, 'arm64 check against a closed port: 69');
    t.match(closed.stderr, /mongodb at .*:9 .*refused/);
  });
}
