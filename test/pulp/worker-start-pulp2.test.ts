// Why a Celery worker without its [server] working_directory is refused (src/pulp/roles.ts,
// src/exec/privileges.ts's pathProblem), judged by the real Pulp 2 (test/services/pulp2.sh):
// Pulp's own initialize_worker, connected to Celery's celeryd_after_setup as a worker imports
// pulp.server.async.app, run as apache in a pod view of /etc/pulp (test/services/pulp2-pod.sh)
// against the real FerretDB. It makes WORKING_DIRECTORY/<node name> with os.mkdir: a missing
// directory or one apache may not write fails there, and Celery 4.0.2's signal dispatch logs
// the exception and returns, so the worker would go on to "ready" without its working
// directory. The agent's check refuses exactly those cases and passes the one Pulp manages.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureApacheUser, POD_SCRIPT, requirePulp2 } from '../helpers/pulp2.ts';
import { freshDatabases, openDir } from '../helpers/exec.ts';
import { requireServices } from '../helpers/services.ts';
import { requireRoot } from '../helpers/unavailable.ts';
import { pathProblem } from '../../src/exec/privileges.ts';
import { resolveUser } from '../../src/exec/users.ts';

const NODE = 'reserved_resource_worker-0@pulp.test';

/** Celery's dispatch of celeryd_after_setup to Pulp's receivers, as a starting worker does it; what each returned. */
const DISPATCH = [
  'from pulp.server.async import app',
  'from celery.signals import celeryd_after_setup',
  `for receiver, result in celeryd_after_setup.send(sender='${NODE}', instance=None):`,
  "    print('raised %s' % result if isinstance(result, Exception) else 'returned')",
  "print('dispatch returned')",
].join('\n');

const pulp2 = requireRoot(t, 'the real Pulp 2 worker start (unshare --mount, setpriv to apache)') ? requirePulp2(t) : undefined;
const s = pulp2 ? requireServices(t, "the real Pulp 2 worker start (initialize_worker connects to MongoDB)") : undefined;
if (pulp2 && s) {
  ensureApacheUser();
  const apache = resolveUser('apache');
  const newDb = freshDatabases(t, s, 'pe_wstart');
  const dir = openDir(t, 'pe-wstart-');

  /** Runs the dispatch as apache with `workingDirectory` in the pod's server.conf. */
  const start = (name: string, workingDirectory: string): string => {
    const view = join(dir, `view-${name}`);
    mkdirSync(join(view, 'etc', 'pulp'), { recursive: true });
    mkdirSync(join(view, 'lib', 'pulp', 'plugins', 'types'), { recursive: true });
    writeFileSync(join(view, 'etc', 'pulp', 'server.conf'), `[server]\nworking_directory: ${workingDirectory}\nlog_type: console\n\n[database]\nseeds: ${s.mongodb}\nname: ${newDb()}\n`);
    chmodSync(join(view, 'etc', 'pulp', 'server.conf'), 0o644);
    const r = spawnSync(
      'unshare',
      ['--mount', 'bash', POD_SCRIPT, view, '-', 'setpriv', `--reuid=${apache.uid}`, `--regid=${apache.gid}`, '--init-groups', join(pulp2, 'venv', 'bin', 'python'), '-c', DISPATCH],
      { encoding: 'utf8', timeout: 120_000, env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' } },
    );
    return `${r.stdout}${r.stderr}`;
  };

  t.test('a working directory Pulp can use: the worker makes its own there, and the agent lets it start', async (t) => {
    const cache = join(dir, 'cache');
    mkdirSync(cache);
    chownSync(cache, apache.uid, apache.gid);
    const out = start('usable', cache);
    t.match(out, /^returned$/m, `initialize_worker returned\n${out}`);
    t.ok(statSync(join(cache, NODE)).isDirectory(), 'Pulp made WORKING_DIRECTORY/<node name>');
    t.equal(pathProblem(apache, cache, 'dir'), undefined, 'the agent agrees');
  });

  t.test('missing, or not writable by apache: initialize_worker fails, Celery goes on; the agent refuses both', async (t) => {
    const missing = join(dir, 'missing');
    const rootOwned = join(dir, 'root-owned');
    mkdirSync(rootOwned);
    chmodSync(rootOwned, 0o755);
    for (const [what, path, errno] of [['missing', missing, 'ENOENT|No such file'], ['not writable by apache', rootOwned, 'EACCES|Permission denied']] as const) {
      const out = start(what.replace(/ /g, '-'), path);
      t.match(out, new RegExp(`^raised .*(${errno})`, 'm'), `${what}: Pulp's initialize_worker raised\n${out}`);
      t.match(out, /^dispatch returned$/m, `${what}: and Celery's dispatch returned: the worker would go on to "ready"`);
      t.notOk(existsSync(join(path, NODE)), `${what}: no working directory for the worker`);
      t.match(pathProblem(apache, path, 'dir'), what === 'missing' ? /does not exist/ : /cannot make entries in .*: no write \(w\) permission/, `${what}: the agent refuses it`);
    }
  });
}
