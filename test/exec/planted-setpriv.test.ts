// src/common/trusted-helper.ts: where setpriv may come from, also through `pulp-entrypoint init`.
// setpriv runs as root (it sets the groups, then the ids), so it must never come from PATH: a
// `setpriv` planted in a world-writable directory early in PATH would run as uid 0. Through
// bin/pulp-entrypoint `init` (Node 20: supervise, so the init is spawned), as a user with a
// supplementary group, against the real FerretDB and RabbitMQ.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRYPOINT, FAKE_BIN, agentEnv, createTestUser, freshDatabases, openDir, readRecord, runAgent } from '../helpers/exec.ts';
import { requireServices } from '../helpers/services.ts';
import { tempDir } from '../helpers/temp.ts';
import { findTrustedHelper, untrustedBecause } from '../../src/common/trusted-helper.ts';
import { isRoot, requireRoot } from '../helpers/unavailable.ts';


t.test('trusted helper: root-owned, not group/world-writable, the file and every directory above it', async (t) => {
  t.equal(untrustedBecause('/x', { uid: 0, mode: 0o100755 }), undefined);
  t.match(untrustedBecause('/x', { uid: 1000, mode: 0o100755 }), /owned by uid 1000, not root/);
  t.match(untrustedBecause('/x', { uid: 0, mode: 0o100775 }), /writable by its group \(mode 0775\)/);
  t.match(untrustedBecause('/x', { uid: 0, mode: 0o100757 }), /writable by others \(mode 0757\)/);
  t.match(untrustedBecause('/x', { uid: 0, mode: 0o041777 }), /writable by its group and others \(mode 1777\)/);
  t.same(findTrustedHelper(['/usr/bin/setpriv']), { path: '/usr/bin/setpriv' });
  t.match(findTrustedHelper(['/nonexistent/setpriv']), { refused: /not found at \/nonexistent\/setpriv/ });
  if (!isRoot) return;
  const dir = tempDir(t, 'pe-trusted-');
  chmodSync(dir, 0o755);
  const prog = join(dir, 'setpriv');
  writeFileSync(prog, '#!/bin/sh\n', { mode: 0o755 });
  // /tmp itself is world-writable (sticky): a directory above the file that others may write.
  t.match(findTrustedHelper([prog]), { refused: /\/tmp is writable by its group and others/ });
  chownSync(prog, 65534, 65534);
  t.match(findTrustedHelper([prog, '/usr/bin/setpriv']), { path: '/usr/bin/setpriv' }, 'falls through to the next location');
});

const s = requireRoot(t, 'the planted-setpriv test (useradd, a user switch)') ? requireServices(t, 'a planted setpriv (init waits for MongoDB and AMQP)') : undefined;
if (s) {
  const user = createTestUser('pe-setpriv');
  t.teardown(() => user.remove());
  const newDb = freshDatabases(t, s, 'pe_setpriv');

  t.test('a setpriv planted early in PATH is not run; the init still gets the user with its groups', async (t) => {
    const dir = openDir(t, 'pe-setpriv-');
    const planted = join(dir, 'planted');
    mkdirSync(planted);
    chmodSync(planted, 0o777);
    const mark = join(dir, 'planted-ran');
    // Records who ran it, then does what setpriv would, so the init starts either way.
    writeFileSync(join(planted, 'setpriv'), `#!/bin/sh\nid -u >> ${mark}\nexec /usr/bin/setpriv "$@"\n`, { mode: 0o777 });
    chmodSync(join(planted, 'setpriv'), 0o777);
    const rec = join(dir, 'init.jsonl');
    const r = await runAgent(process.execPath, ['init'], {
      PATH: `${planted}:${FAKE_BIN}:/usr/bin:/bin`,
      HOME: '/root',
      FAKE_RECORD: rec,
      FAKE_INIT_SLEEP: '0',
      PULP_RUN_AS: user.name,
      PULP_CELERY_WORKDIR: dir,
      PULP_INIT_KEY: 'planted',
      PULP_EXEC_MODE: 'supervise',
      ...agentEnv(s, dir, newDb()),
    }).done;
    t.equal(r.code, 0, r.out);
    const ranAs = existsSync(mark) ? readFileSync(mark, 'utf8').trim().split('\n').join(', ') : undefined;
    t.equal(ranAs, undefined, 'the planted setpriv never ran (before the fix it ran as uid 0)');
    const start = readRecord(rec).find((e) => e.event === 'start' && e.prog === 'pulp-manage-db');
    t.same(start?.uid, [user.uid, user.uid, user.uid], 'the init ran as the user');
    t.same(start?.groups, [user.gid, user.extraGid].sort((a, b) => a - b), 'with its supplementary group');
  });

  t.test('no trusted setpriv (hidden): refused before server.conf is written, one line naming it', async (t) => {
    const dir = openDir(t, 'pe-nosetpriv-');
    const planted = join(dir, 'planted');
    mkdirSync(planted);
    chmodSync(planted, 0o777);
    writeFileSync(join(planted, 'setpriv'), '#!/bin/sh\nexec /usr/bin/setpriv "$@"\n', { mode: 0o777 });
    chmodSync(join(planted, 'setpriv'), 0o777);
    const env = {
      PATH: `${planted}:${FAKE_BIN}:/usr/bin:/bin`,
      HOME: '/root',
      PULP_RUN_AS: user.name,
      PULP_CELERY_WORKDIR: dir,
      PULP_INIT_KEY: 'nosetpriv',
      ...agentEnv(s, dir, newDb()),
    };
    const before = readFileSync(join(dir, 'server.conf'));
    // /usr/bin/setpriv (and /bin/setpriv, the same file here) hidden behind /dev/null.
    const r = spawnSync('unshare', ['--mount', 'sh', '-c', `mount --bind /dev/null /usr/bin/setpriv && exec "${process.execPath}" "${ENTRYPOINT}" init`], { env, encoding: 'utf8' });
    t.equal(r.status, 126, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => /error:/.test(l));
    t.equal(errors.length, 1, r.stderr);
    t.match(errors[0], new RegExp(`setpriv \\(util-linux\\) not found at /usr/bin/setpriv or /bin/setpriv: it is needed to start a program as ${user.name} with its groups .*never looked up on PATH`));
    t.ok(readFileSync(join(dir, 'server.conf')).equals(before), 'server.conf untouched');
  });
}
