// `keystone-entrypoint sync-keys`: the keys sidecar. It keeps Keystone's key repositories (a
// volume shared with the API container) equal to the mounted key Secrets for the pod's whole
// life, so a rotated Secret reaches Keystone within the kubelet's refresh, without a restart:
// Keystone reads its repositories again at every token operation. The first pass must
// succeed (else the exit code says why and Kubernetes restarts the sidecar); later passes
// that fail keep the keys in place. A stop signal ends it with 0. `--dry-run` prints what the
// first pass would do and touches nothing.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../common/errors.ts';
import { type KeyFollow, changeLine, followKeys, syncOnce } from '../conf-file/key-sync.ts';
import { readKeySet } from '../conf-file/key-repository.ts';
import { byNumber, describeKeySet, KEYSTONE_READS_AS_KEY, type KeySet, MAX_KEY_FILE, withoutNewline } from '../conf-file/key-set.ts';
import { readRegularFile } from '../common/bounded-read.ts';
import { planUser } from '../exec/privileges.ts';
import type { SystemTask, TaskInputs } from '../system/system.ts';
import { mountedRepositories } from './roles.ts';
import type { KeystoneConfVars, KeystoneOptions } from './settings.ts';

/**
 * Seconds between passes. A pass reads a few 44-byte files and compares them: cheap enough
 * that the delay a rotation adds on top of the kubelet's own refresh (about a minute) is small.
 */
export const SYNC_INTERVAL_MS = 2000;

type Inputs = TaskInputs<KeystoneOptions, KeystoneConfVars>;

/** The repositories to keep, from the same table the api role reads: those with a Secret mounted. */
export function followsOf(i: Inputs): KeyFollow[] {
  const follows = mountedRepositories(i.effective, i.settings.opts).flatMap((r) => (r.source ? [{ name: r.name, source: r.source.dir, variable: r.source.variable, dir: r.dir }] : []));
  if (follows.length === 0) {
    throw new InputError('sync-keys: neither KEYSTONE_FERNET_KEYS nor KEYSTONE_CREDENTIAL_KEYS is set: name the mounted key Secrets it keeps the repositories equal to');
  }
  return follows;
}

/** The key files in a repository as they are now (absent or unreadable: none). */
function currentKeys(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.filter((x) => KEYSTONE_READS_AS_KEY.test(x))) {
    try {
      out.set(n, withoutNewline(readRegularFile(join(dir, n), MAX_KEY_FILE + 1).toString('latin1')));
    } catch {
      out.set(n, '');
    }
  }
  return out;
}

/** What installing `keys` in `dir` would write and remove: the dry run's lines. */
function dryRunLine(f: KeyFollow, keys: KeySet): string {
  const now = currentKeys(f.dir);
  const write = keys.files.filter((k) => now.get(k.name) !== k.key).map((k) => k.name).sort((a, b) => byNumber(b, a));
  const remove = [...now.keys()].filter((n) => !keys.files.some((k) => k.name === n)).sort();
  const did = [write.length ? `would write ${write.join(', ')}` : '', remove.length ? `would remove ${remove.join(', ')}` : ''].filter(Boolean).join('; ');
  return `${f.name}: ${f.dir} <- ${f.source} (${f.variable}): ${describeKeySet(keys)}; ${did || 'already equal, nothing to write'}`;
}

export const syncKeysTask: SystemTask<KeystoneOptions, KeystoneConfVars> = {
  async run(i, args) {
    const dryRun = args.length === 1 && args[0] === '--dry-run';
    if (args.length > 0 && !dryRun) throw new UsageError(`sync-keys: unknown argument ${args[0] ?? ''} (only --dry-run)`);
    const follows = followsOf(i);
    if (dryRun) {
      const lines = follows.map((f) => dryRunLine(f, readKeySet(f.source, f.variable)));
      await i.print(`${lines.join('\n')}\nsync-keys --dry-run: nothing was written; running, it does this at start and every ${SYNC_INTERVAL_MS / 1000} s after\n`);
      return 0;
    }
    const users = planUser(i.settings.opts.runAs.value);
    if (users.warning) i.log.warn(users.warning);
    const owner = { uid: users.user?.uid, gid: users.user?.gid };
    // The first pass decides the exit code: a bad Secret is the operator's to fix (65).
    for (const f of follows) {
      const { keys, result } = await syncOnce(f, owner);
      i.log.info(result.changed ? changeLine(f, keys, result) : `${f.name} keys in ${f.dir} already as in ${f.source} (${f.variable}): ${describeKeySet(keys)}`);
    }
    i.log.info(`keeping ${follows.map((f) => f.dir).join(', ')} equal to their Secrets, checked every ${SYNC_INTERVAL_MS / 1000} s`);
    // From here a stop is the normal end: 0, not 128 + signal.
    i.stop.release();
    const stop = new AbortController();
    const onSignal = (sig: NodeJS.Signals): void => {
      i.log.info(`${sig} received: stopping`);
      stop.abort();
    };
    for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'] as const) process.on(s, onSignal);
    await followKeys(follows, { owner, log: i.log, intervalMs: SYNC_INTERVAL_MS, signal: stop.signal });
    return 0;
  },
};
