// src/keystone/gunicorn.ts: the file's settings (pure), then the real Keystone served by the
// real gunicorn from it: db_sync and the key repositories made for a database of its own on the
// test MariaDB, GET /v3 answering, and SIGTERM stopping gunicorn with exit 0.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseIni, printIni } from '../../src/ini/document.ts';
import { setKey } from '../../src/ini/edit.ts';
import { osloValue } from '../../src/ini/oslo-value.ts';
import { databaseUrl } from '../../src/keystone/database-url.ts';
import { bindAddress, gunicornConfig } from '../../src/keystone/gunicorn.ts';
import { ROOT } from '../helpers/cli.ts';
import { requireKeystone } from '../helpers/keystone.ts';
import { closedPort } from '../helpers/net.ts';
import { freshDatabase, requireMysql } from '../helpers/services.ts';

t.test('bind, workers, the application, and sys.argv emptied in each worker', async (t) => {
  t.equal(bindAddress({ host: '0.0.0.0', port: 5000 }), '0.0.0.0:5000');
  t.equal(bindAddress({ host: '::', port: 5000 }), '[::]:5000');
  const text = gunicornConfig({ host: '::', port: 35357, workers: 3 });
  t.match(text, /^bind = \["\[::\]:35357"\]$/m);
  t.match(text, /^workers = 3$/m);
  t.match(text, /^wsgi_app = "keystone\.wsgi\.api:application"$/m);
  t.match(text, /^control_socket_disable = True$/m);
  t.match(text, /^def post_fork\(server, worker\):\n(?:    #.*\n)?    del sys\.argv\[1:\]$/m);
});

const keystone = requireKeystone(t, 'Keystone under gunicorn');
const db = requireMysql(t, 'Keystone under gunicorn');
if (keystone && db) {
  t.test('the real Keystone answers GET /v3 from that file, and SIGTERM ends it with 0', async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'ks-gunicorn-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const name = `ks_gunicorn_${process.pid}`;
    freshDatabase(t, db, name);

    let doc = parseIni(readFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), 'utf8'), 'keystone.conf');
    const set = (s: string, k: string, v: string): void => {
      doc = setKey(doc, s, k, osloValue(v, `[${s}] ${k}`), 'oslo');
    };
    set('database', 'connection', databaseUrl({ user: db.user, password: db.password, host: db.host, port: db.port, database: name }));
    set('fernet_tokens', 'key_repository', join(work, 'fernet-keys'));
    // fernet_setup sets up the receipts' repository too, by default /etc/keystone/fernet-keys/:
    // named here, or the test writes the machine's.
    set('fernet_receipts', 'key_repository', join(work, 'fernet-keys'));
    set('credential', 'key_repository', join(work, 'credential-keys'));
    const conf = join(work, 'keystone.conf');
    writeFileSync(conf, printIni(doc));

    const bin = (p: string): string => join(keystone, 'venv', 'bin', p);
    const env = { PATH: `${join(keystone, 'venv', 'bin')}:/usr/bin:/bin`, HOME: '/nonexistent', OS_KEYSTONE_CONFIG_FILES: conf };
    const manage = (...args: string[]): void => {
      execFileSync(bin('keystone-manage'), ['--config-file', conf, ...args], { env, stdio: 'pipe', timeout: 120_000 });
    };
    manage('db_sync');
    manage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root');
    manage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root');

    const port = await closedPort();
    const gconf = join(work, 'gunicorn.conf.py');
    writeFileSync(gconf, gunicornConfig({ host: '127.0.0.1', port, workers: 2 }));
    const child = spawn(bin('gunicorn'), ['-c', gconf], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    t.teardown(() => {
      child.kill('SIGKILL');
    });

    let body = '';
    const until = Date.now() + 60_000;
    while (body === '' && Date.now() < until && child.exitCode === null) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v3`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) body = await res.text();
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    t.not(body, '', `answered within 60 s\n${output.slice(-2000)}`);
    t.match(JSON.parse(body), { version: { id: 'v3.14', status: 'stable' } }, 'GET /v3');
    t.notMatch(output, /unrecognized arguments/, "no worker saw gunicorn's arguments");

    const stopped = Date.now();
    child.kill('SIGTERM');
    t.equal(await exited, 0, `exit 0 on SIGTERM\n${output.slice(-2000)}`);
    t.ok(Date.now() - stopped < 10_000, 'within 10 s');
  });
}
