// src/cli/systems.ts and src/system/system.ts: the program's name picks the system (busybox
// style), a name no system claims is Pulp's, and under each name everything the program says
// of itself (--help, --version, errors) speaks of that system only.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { systemFor } from '../../src/cli/systems.ts';
import { PULP } from '../../src/pulp/system.ts';
import { KEYSTONE } from '../../src/keystone/system.ts';

const named = async (name: string | undefined): Promise<string> => (await systemFor(name))((s) => s.names.program);

t.test('the name (or path) picks the system; any other name is Pulp', async (t) => {
  t.equal(await named('keystone-entrypoint'), 'keystone-entrypoint');
  t.equal(await named('/usr/local/bin/keystone-entrypoint'), 'keystone-entrypoint');
  t.equal(await named('/usr/local/bin/pulp-entrypoint'), 'pulp-entrypoint');
  t.equal(await named('/work/dist/main.mjs'), 'pulp-entrypoint');
  t.equal(await named(undefined), 'pulp-entrypoint');
});

t.test("each system's names are its own", async (t) => {
  for (const s of [PULP, KEYSTONE]) {
    t.equal(s.settings.confVar.split('_')[0], s.names.prefix, `${s.names.program}: its file's variable has its prefix`);
    t.ok(s.roles.includes(s.initRole), `${s.names.program}: init runs a role it has`);
    t.equal(s.dialect.name, s.file.name);
  }
  t.not(PULP.names.prefix, KEYSTONE.names.prefix);
});

function run(bin: string, args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(join(ROOT, 'bin', bin), args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** --help's opening lines name the other program (the same one under its other name); the rest is the system's own. */
const pastOpening = (help: string): string => help.slice(help.indexOf('\nUsage:\n'));

t.test('under keystone-entrypoint, nothing speaks of Pulp; under pulp-entrypoint, nothing of Keystone (but the pointer to the other name)', async (t) => {
  const ks = [run('keystone-entrypoint', ['--help']), run('keystone-entrypoint', ['--version']), run('keystone-entrypoint', ['run', 'beat']), run('keystone-entrypoint', [])];
  t.match(ks[0]?.out.split('\n').slice(0, 3).join(' '), /the same program installed as pulp-entrypoint does it for Pulp 2's Celery roles \(pulp-entrypoint --help\)/i);
  for (const r of ks) {
    t.notMatch(pastOpening(r.out), /PULP|[Pp]ulp|server\.conf|celery|beat role/, r.out.split('\n')[0] ?? '');
    t.match(r.out, /keystone-entrypoint/);
  }
  t.equal(ks[0]?.status, 0);
  t.match(ks[2]?.out, /^keystone-entrypoint: error: run: unknown role "beat": one of api\n$/);
  t.equal(ks[2]?.status, 64);
  const pulp = [run('pulp-entrypoint', ['--help']), run('pulp-entrypoint', ['run', 'api'])];
  t.match(pulp[0]?.out.split('\n').slice(0, 3).join(' '), /installed as keystone-entrypoint does it for OpenStack Keystone's API \(keystone-entrypoint --help\)/);
  for (const r of pulp) t.notMatch(pastOpening(r.out), /KEYSTONE|[Kk]eystone/, r.out.split('\n')[0] ?? '');
  const bad = run('keystone-entrypoint', ['configure'], { KEYSTONE_WAIT_TIMEOUT: 'soon' });
  t.equal(bad.status, 65);
  t.equal(bad.out, 'keystone-entrypoint: error: KEYSTONE_WAIT_TIMEOUT: "soon" is not a number of seconds (more than 0, at most 86400)\n');
});

t.test('keystone-entrypoint keys: two Secrets with two fresh keys each, new each time', async (t) => {
  const a = run('keystone-entrypoint', ['keys']);
  const b = run('keystone-entrypoint', ['keys', 'ks']);
  t.equal(a.status, 0, a.out);
  t.equal(a.out.match(/^kind: Secret$/gm)?.length, 2);
  t.match(a.out, /^ {2}name: keystone-fernet-keys$/m);
  t.match(a.out, /^ {2}name: keystone-credential-keys$/m);
  t.match(b.out, /^ {2}name: ks-fernet-keys$/m);
  t.equal(a.out.match(/^ {2}"[01]": \S+$/gm)?.length, 4, 'files "0" and "1" in each');
  t.not(a.out.match(/"1": (\S+)/)?.[1], b.out.match(/"1": (\S+)/)?.[1], 'fresh keys each time');
  t.equal(run('keystone-entrypoint', ['keys', 'a', 'b']).status, 64);
});
