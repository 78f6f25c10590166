// The Keystone image (fixtures/docker/keystone: the binary as keystone-entrypoint, Keystone 30)
// built as docs/images.md says and run with podman against the test MariaDB.
// The image is built by test/containers/build-keystone-image.sh (docs/images.md's block under its
// marker; a wheelhouse from PyPI cached by the hash of the pins; the Debian 12 base image and
// podman's configuration from test/containers/setup.sh), then:
//
// - `preview api --json` in the image: keystone.conf is the image's, keystone-manage and
//   gunicorn resolve under /opt/keystone/bin, both run as keystone;
// - `api` started detached with host networking, as the manifests configure it (MYSQL_*,
//   DB_SERVICE_*, OS_BOOTSTRAP_PASSWORD, the keys from a read-only Secret-shaped mount): GET
//   /v3 answers, the bootstrap admin gets a token that validates; the keys are installed as
//   keystone's, 0600; PID 1 is gunicorn itself (the binary execs it) as keystone;
// - `podman stop` sends the image's STOPSIGNAL (TERM) to gunicorn and the container exits 0
//   within seconds, long before the 30 s kill.
//
// The first build takes a couple of minutes (apt-get, the wheels); the layers are cached in
// podman's storage (test/containers/storage.conf), so later builds redo only the agent layer.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { join } from 'node:path';
import { freshKey } from '../../src/conf-file/key-set.ts';
import { ensureBinaries } from '../helpers/binary.ts';
import { ROOT } from '../helpers/cli.ts';
import { closedPort } from '../helpers/net.ts';
import { type Mysql, requireMysql } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';
import { keyVolume } from '../helpers/secret-volume.mjs';
import { containerSetup } from '../helpers/containers.ts';

// The first build (apt-get from the Debian mirror, the wheels from PyPI) outlasts tap's default.
t.setTimeout(30 * 60_000);

const IMAGE = 'keystone-entrypoint';
/** The agent binary the image gets (`--build-arg AGENT=`), as `npm run build:binary` writes it. */
const AGENT = 'dist/pulp-entrypoint';
const PYTHON311 = process.env.PULP_TEST_PYTHON311 ?? '/root/.pyenv/versions/3.11.7';
const ADMIN_PASSWORD = 'adm1n-$ecret pw';
const VENV_BIN = '/opt/keystone/bin';

type Env = Record<string, string>;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function fail(t: Test, what: string): undefined {
  unavailable(t, `the Keystone container test: ${what}`);
  return undefined;
}


function ready(t: Test): boolean {
  if (!existsSync(join(PYTHON311, 'bin', 'python3.11'))) {
    fail(t, `no CPython 3.11 at ${PYTHON311} to download the wheelhouse with (pyenv install 3.11.7, or set PULP_TEST_PYTHON311)`);
    return false;
  }
  const error = ensureBinaries();
  if (error !== undefined) {
    fail(t, error);
    return false;
  }
  return true;
}


const setupEnv = containerSetup(t, 'the Keystone container test');
const db = setupEnv && requireMysql(t, 'the Keystone container test');
if (setupEnv && db && ready(t)) await main(setupEnv, db);

async function main(setupEnv: Env, db: Mysql): Promise<void> {
  const podmanEnv = { ...process.env, ...setupEnv } as NodeJS.ProcessEnv;
  const podman = (args: string[], timeoutMs = 120_000): Run => {
    const r = spawnSync('podman', args, { env: podmanEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const runId = randomBytes(4).toString('hex');

  const built = await t.test('the image builds with the commands of docs/images.md', async (t) => {
    // The agent layer is rebuilt whenever the binary changes; the previous image is removed
    // afterwards, so that the cache does not grow by a binary per run. The Python layers stay.
    const imageId = (): string | undefined => {
      const r = podman(['image', 'inspect', '-f', '{{.Id}}', IMAGE]);
      return r.status === 0 ? r.stdout.trim() : undefined;
    };
    const before = imageId();
    const started = Date.now();
    const r = spawnSync('bash', [join(ROOT, 'test', 'containers', 'build-keystone-image.sh')], {
      cwd: ROOT,
      env: { ...podmanEnv, AGENT } as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 25 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    t.equal(r.status, 0, r.status === 0 ? `built in ${Math.round((Date.now() - started) / 1000)} s` : `${r.stdout.slice(-3000)}\n${r.stderr.slice(-5000)}`);
    t.equal(r.stdout.trim(), IMAGE, 'the script names the image');
    const after = imageId();
    t.ok(after, `${IMAGE} exists`);
    if (before !== undefined && after !== undefined && before !== after) podman(['rmi', before]);
  });
  if (!built?.ok) return;

  await t.test('preview api: the image\'s keystone.conf, keystone-manage and gunicorn from the venv, as keystone', async (t) => {
    const r = podman(['run', '--rm', IMAGE, 'preview', 'api', '--json']);
    t.equal(r.status, 0, `exit 0 ${r.stderr}`);
    const p = JSON.parse(r.stdout) as {
      role: string;
      config: { path: string; source: string };
      init: { argv: string[]; user: string };
      exec: { argv: string[]; user: string };
    };
    t.equal(p.role, 'api', 'the api role (CMD)');
    t.same([p.config.path, p.config.source], ['/etc/keystone/keystone.conf', 'file'], "the image's keystone.conf");
    t.same(p.init.argv.slice(0, 4), [`${VENV_BIN}/keystone-manage`, '--config-file', '/etc/keystone/keystone.conf', 'db_sync'], "the venv's keystone-manage");
    t.equal(p.init.user, 'keystone', 'the init as keystone');
    t.same(p.exec.argv, [`${VENV_BIN}/gunicorn`, '-c', '/etc/keystone/gunicorn.conf.py'], "the venv's gunicorn");
    t.equal(p.exec.user, 'keystone', 'gunicorn as keystone');
    const conf = podman(['run', '--rm', '--entrypoint', 'stat', IMAGE, '-c', '%U:%G %a', '/etc/keystone', '/etc/keystone/keystone.conf', '/etc/keystone/fernet-keys', '/etc/keystone/credential-keys']);
    t.same(conf.stdout.trim().split('\n'), ['root:keystone 750', 'root:keystone 640', 'keystone:keystone 700', 'keystone:keystone 700'], 'only root writes /etc/keystone; keystone reads keystone.conf and owns its key repositories');
  });

  await t.test('api against MariaDB: GET /v3, a token for the bootstrap admin, gunicorn as keystone is PID 1, podman stop exits 0', async (t) => {
    const database = `ks_ct_${runId}`;
    const root = (sql: string): void => {
      const r = spawnSync('mariadb', ['--no-defaults', '--protocol=tcp', `-h${db.host}`, `-P${db.port}`, '-uroot', '-N', '-B', '-e', sql], { env: { ...process.env, MYSQL_PWD: db.rootPassword }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
    };
    root(`DROP DATABASE IF EXISTS ${database}; CREATE DATABASE ${database}; GRANT ALL PRIVILEGES ON ${database}.* TO '${db.user}'@'%'`);
    t.teardown(() => root(`DROP DATABASE IF EXISTS ${database}`));

    // The keys as the kubelet mounts a Secret (read-only, root's, 0400), as fixtures/k8s mounts them.
    const secrets = tempDir(t, 'keystone-ct-');
    chmodSync(secrets, 0o755);
    const fernet = [freshKey(), freshKey()];
    const credential = [freshKey(), freshKey()];
    keyVolume(join(secrets, 'fernet-keys'), fernet);
    keyVolume(join(secrets, 'credential-keys'), credential);

    const port = await closedPort();
    const name = `keystone-ct-${runId}`;
    t.teardown(() => {
      podman(['rm', '-f', '-t', '0', name]);
    });
    const started = podman([
      'run', '-d', '--name', name, '--network=host',
      '-v', `${secrets}:/etc/keystone/secrets:ro`,
      '-e', `DB_SERVICE_HOST=${db.host}`,
      '-e', `DB_SERVICE_PORT=${db.port}`,
      '-e', `MYSQL_USER=${db.user}`,
      '-e', `MYSQL_PASSWORD=${db.password}`,
      '-e', `MYSQL_DATABASE=${database}`,
      '-e', `OS_BOOTSTRAP_PASSWORD=${ADMIN_PASSWORD}`,
      '-e', 'OS_BOOTSTRAP_REGION_ID=RegionOne',
      '-e', `OS_BOOTSTRAP_PUBLIC_URL=http://127.0.0.1:${port}/v3`,
      '-e', 'KEYSTONE_FERNET_KEYS=/etc/keystone/secrets/fernet-keys',
      '-e', 'KEYSTONE_CREDENTIAL_KEYS=/etc/keystone/secrets/credential-keys',
      '-e', `KEYSTONE_LISTEN=127.0.0.1:${port}`,
      '-e', 'KEYSTONE_WAIT_TIMEOUT=120',
      IMAGE,
    ]);
    t.equal(started.status, 0, `podman run -d ${started.stderr}`);
    const logs = (): string => {
      const r = podman(['logs', name]);
      return r.stdout + r.stderr;
    };
    const running = (): boolean => podman(['inspect', '-f', '{{.State.Running}}', name]).stdout.trim() === 'true';

    const at = Date.now();
    let up = false;
    while (!up && Date.now() - at < 180_000 && running()) {
      try {
        up = (await fetch(`http://127.0.0.1:${port}/v3`, { signal: AbortSignal.timeout(3000) })).status === 200;
      } catch {
        // not yet
      }
      if (!up) await new Promise((r) => setTimeout(r, 1000));
    }
    t.ok(up, `GET /v3 answers 200 (after ${Math.round((Date.now() - at) / 1000)} s)\n${up ? '' : logs().slice(-4000)}`);
    if (!up) return;
    const out = logs();
    t.match(out, /keystone-manage db_sync exited code=0[\s\S]*keystone-manage bootstrap exited code=0/, 'db_sync, then bootstrap, in the container');
    t.match(out, /fernet keys from \/etc\/keystone\/secrets\/fernet-keys \(KEYSTONE_FERNET_KEYS\) in \/etc\/keystone\/fernet-keys\/?: installed/, 'the fernet keys from the mount');
    t.notMatch(out, /keys of its own/, 'no replica-local keys');
    t.notOk(out.includes(db.password), 'the database password in no line');
    t.notOk(out.includes(ADMIN_PASSWORD), 'the admin password in no line');

    const res = await fetch(`http://127.0.0.1:${port}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
      signal: AbortSignal.timeout(20_000),
    });
    const token = res.headers.get('x-subject-token');
    t.equal(res.status, 201, 'the bootstrap admin gets a token');
    t.ok(token, 'X-Subject-Token');
    const check = await fetch(`http://127.0.0.1:${port}/v3/auth/tokens`, { headers: { 'x-auth-token': token ?? '', 'x-subject-token': token ?? '' }, signal: AbortSignal.timeout(20_000) });
    t.equal(check.status, 200, 'and it validates');

    const keystoneUid = Number(podman(['exec', name, 'id', '-u', 'keystone']).stdout.trim());
    const keystoneGid = Number(podman(['exec', name, 'id', '-g', 'keystone']).stdout.trim());
    const keys = podman(['exec', name, 'sh', '-c', 'stat -c "%n %U:%G %a" /etc/keystone/fernet-keys/* /etc/keystone/credential-keys/*; cat /etc/keystone/fernet-keys/1']);
    t.same(keys.stdout.trim().split('\n').slice(0, 4), [
      '/etc/keystone/fernet-keys/0 keystone:keystone 600',
      '/etc/keystone/fernet-keys/1 keystone:keystone 600',
      '/etc/keystone/credential-keys/0 keystone:keystone 600',
      '/etc/keystone/credential-keys/1 keystone:keystone 600',
    ], 'the keys copied into keystone\'s repositories, 0600');
    t.equal(keys.stdout.trim().split('\n')[4], fernet[1], 'the mounted fernet key');
    const conf = podman(['exec', name, 'stat', '-c', '%U:%G %a', '/etc/keystone/keystone.conf', '/etc/keystone/gunicorn.conf.py']).stdout.trim().split('\n');
    t.same(conf, ['root:keystone 640', 'root:root 644'], 'keystone.conf keeps its owner and mode; gunicorn.conf.py beside it');

    const cmdline = podman(['exec', name, 'cat', '/proc/1/cmdline']).stdout.split('\0').filter((a) => a !== '');
    t.same(cmdline, [`${VENV_BIN}/python3`, `${VENV_BIN}/gunicorn`, '-c', '/etc/keystone/gunicorn.conf.py'], `PID 1 is gunicorn itself: ${cmdline.join(' ')}`);
    const status = podman(['exec', name, 'cat', '/proc/1/status']).stdout;
    const uid = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    const gid = /^Gid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    t.ok(keystoneUid > 0, `keystone is uid ${keystoneUid}`);
    t.same([uid?.slice(1).map(Number), gid?.slice(1).map(Number)], [[keystoneUid, keystoneUid, keystoneUid], [keystoneGid, keystoneGid, keystoneGid]], 'PID 1 runs as keystone (real, effective, saved)');
    const top = podman(['top', name, 'pid', 'user', 'args']);
    t.match(top.stdout, /^\s*1\s+keystone\s+\/opt\/keystone\/bin\/python3 \/opt\/keystone\/bin\/gunicorn/m, `podman top:\n${top.stdout}`);

    t.equal(podman(['inspect', '-f', '{{.Config.StopSignal}}', name]).stdout.trim(), String(constants.signals.SIGTERM), 'STOPSIGNAL SIGTERM');
    const stopAt = Date.now();
    const stopped = await new Promise<number | null>((resolve) => spawn('podman', ['stop', '-t', '30', name], { env: podmanEnv, stdio: 'ignore' }).on('exit', resolve));
    const elapsed = Date.now() - stopAt;
    t.equal(stopped, 0, 'podman stop');
    t.equal(podman(['inspect', '-f', '{{.State.ExitCode}}', name]).stdout.trim(), '0', 'the container exits 0 after TERM');
    t.ok(elapsed < 10_000, `stopped in ${elapsed} ms, not killed at the 30 s grace`);
    t.match(logs(), /Handling signal: term[\s\S]*Shutting down: Master/, "gunicorn's own graceful stop");
  });
}
