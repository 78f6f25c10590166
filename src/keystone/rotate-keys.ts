// `keystone-entrypoint rotate fernet|credential [--dry-run]`: the rotation Jobs. Each reads the
// keys Secret through the Kubernetes API with the pod's service account, rotates the keys as
// keystone-manage would (key-rotation.ts) and writes the Secret back at the resourceVersion it
// read, so that two rotations at once never lose a key: the second is refused (75) and writes
// nothing. The replicas' sync-keys sidecars take the new set up within the kubelet's refresh.
//
// fernet: refused (65) when max_active_keys is too small for the token lifetime at the
// CronJob's schedule, or (75) when a key it would drop may still have signed a live token
// (the Secret records when each rotation happened).
//
// credential: a stored credential must never be left encrypted with a key that is gone, and
// two migrations must never run at once. So, under the agent's lease in Keystone's own
// database and once per version of the Secret: keystone-manage credential_migrate with the
// current keys (every credential under the current primary, which the rotation keeps), the
// rotation written to the Secret, then credential_migrate with the new keys (every credential
// under the new primary, the old staged key that every replica already holds).
import { InputError, TempFailError, UsageError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, deadlineIn } from '../common/retry.ts';
import type { MysqlTarget } from '../common/targets.ts';
import { hasKeySet, installKeySet } from '../conf-file/key-repository.ts';
import { type KeySet, describeKeySet, freshKeySet, keySetFromFiles, MAX_KEY_FILE, primaryOf, sameKeySet } from '../conf-file/key-set.ts';
import { checkSpawnAs, runToCompletion } from '../exec/run.ts';
import { planUser } from '../exec/privileges.ts';
import { runInit } from '../init/init-db.ts';
import { openMysqlInit } from '../init/on-mysql.ts';
import { httpsSend } from '../kube-api/client.ts';
import { inClusterConfig } from '../kube-api/in-cluster.ts';
import { type SecretObject, type SecretRef, getSecret, replaceSecret, secretLabel } from '../kube-api/secrets.ts';
import type { SystemTask, TaskInputs } from '../system/system.ts';
import { waitForTargets } from '../wait/wait.ts';
import { KEY_KINDS, type KeyKind } from './key-kinds.ts';
import { type Rotation, type TokenLife, credentialKeyLife, historyRefusal, parseHistory, rotateKeySet, scheduleRefusal, tokenKeyLife, withRotation } from './key-rotation.ts';
import { type KeyId, keystoneValue, labelOf } from './keys.ts';
import type { KeystoneConfVars, KeystoneOptions } from './settings.ts';
import { mountedRepositories } from './roles.ts';

type Inputs = TaskInputs<KeystoneOptions, KeystoneConfVars>;

/** The Secret's annotation recording each rotation: "3@2026-12-07T03:00:00.000Z 2@...", newest first. */
export const HISTORY_ANNOTATION = 'keystone-entrypoint/rotations';

/** A whole number from keystone.conf (oslo.config's IntOpt), at least `min`. */
function intValue(i: Inputs, id: KeyId, min: number): number {
  const text = (keystoneValue(i.effective, id) ?? '').trim();
  const n = /^[+-]?[0-9]{1,12}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min)) throw new InputError(`${labelOf(id)} = ${JSON.stringify(text.slice(0, 40))}: not a whole number of at least ${min}`);
  return n;
}

/** How many keys a rotation of `kind` keeps, from the key table: keystone.conf's, or Keystone's fixed number. */
function maxActiveKeys(i: Inputs, kind: KeyKind): number {
  const m = KEY_KINDS[kind].maxActive;
  return 'fixed' in m ? m.fixed : intValue(i, m.key, 1);
}

/** The keys in a Secret's data, checked as a directory's would be; `where` names the Secret. */
export function keysOfSecret(secret: SecretObject, where: string): KeySet {
  const data = secret.data ?? {};
  return keySetFromFiles(Object.keys(data), (name) => Buffer.from(data[name] ?? '', 'base64').subarray(0, MAX_KEY_FILE + 1), where);
}

/** The Secret with `after` as its keys (other entries kept) and the rotation recorded. */
function rotatedSecret(secret: SecretObject, r: Rotation, now: Date): SecretObject {
  const data: Record<string, string> = {};
  const before = new Set(r.before.files.map((f) => f.name));
  for (const [k, v] of Object.entries(secret.data ?? {})) if (!before.has(k)) data[k] = v;
  for (const f of r.after.files) data[f.name] = Buffer.from(f.key, 'latin1').toString('base64');
  const annotations = secret.metadata.annotations ?? {};
  const history = withRotation(parseHistory(annotations[HISTORY_ANNOTATION]), { primary: r.promoted, at: now });
  return { ...secret, data, metadata: { ...secret.metadata, annotations: { ...annotations, [HISTORY_ANNOTATION]: history } } };
}

/** "0 1 2 (primary 2) -> 0 1 2 3 (primary 3)...": what a rotation does, by key number only. */
export function rotationLine(r: Rotation): string {
  return `${describeKeySet(r.before)} -> ${describeKeySet(r.after)} (the staged key becomes primary ${r.promoted}, a new staged key 0${r.removed.length ? `, removed ${r.removed.join(', ')}` : ', none removed'})`;
}

interface Job {
  i: Inputs;
  kind: KeyKind;
  ref: SecretRef;
  deadline: Deadline;
  log: Logger;
  dryRun: boolean;
}

/**
 * Writes the rotated Secret at the version read. A conflict is read again: when the Secret now
 * holds exactly our keys, our write landed (its answer was lost and the retry met our own
 * version); anything else is another writer's, and nothing more is written (75).
 */
async function writeRotation(j: Job, secret: SecretObject, r: Rotation, now: Date): Promise<void> {
  const written = await replaceSecret(j.ref, rotatedSecret(secret, r, now), j);
  if (written !== 'conflict') return;
  const again = await getSecret(j.ref, j);
  let keys: KeySet | undefined;
  try {
    keys = keysOfSecret(again, secretLabel(j.ref));
  } catch {
    keys = undefined;
  }
  if (keys && sameKeySet(keys, r.after)) return;
  throw new TempFailError(
    `${secretLabel(j.ref)} changed while this rotation ran (another rotation, or an edit): nothing written; it now holds ${keys ? describeKeySet(keys) : 'keys that are not a usable set'}; run the rotation again if one more is wanted`,
  );
}

async function rotateFernet(j: Job): Promise<number> {
  const o = j.i.settings.opts;
  const max = maxActiveKeys(j.i, 'fernet');
  const life: TokenLife = { expirationSec: intValue(j.i, 'token.expiration', 0), allowExpiredWindowSec: intValue(j.i, 'token.allow_expired_window', 0) };
  if (o.rotationSchedule) {
    const refusal = scheduleRefusal(max, life, o.rotationSchedule.value, 'KEYSTONE_ROTATION_SCHEDULE');
    if (refusal) throw new InputError(`refusing to rotate the fernet keys: ${refusal}; nothing written`);
  } else {
    j.log.warn('KEYSTONE_ROTATION_SCHEDULE is not set: max_active_keys is not checked against how often the keys rotate (set it to the CronJob\'s schedule)');
  }
  const secret = await getSecret(j.ref, j);
  const keys = keysOfSecret(secret, secretLabel(j.ref));
  const r = rotateKeySet(keys, max);
  const now = new Date();
  const late = historyRefusal(r, parseHistory(secret.metadata.annotations?.[HISTORY_ANNOTATION]), tokenKeyLife(life), now);
  if (late) throw new TempFailError(`refusing to rotate the fernet keys of ${secretLabel(j.ref)}: ${late}; nothing written`);
  if (j.dryRun) {
    await j.i.print(`${secretLabel(j.ref)} (resourceVersion ${secret.metadata.resourceVersion ?? '?'}): would rotate ${rotationLine(r)}\nrotate --dry-run: nothing was written\n`);
    return 0;
  }
  await writeRotation(j, secret, r, now);
  j.log.info(`fernet keys rotated in ${secretLabel(j.ref)}: ${rotationLine(r)}; every replica's sync-keys sidecar takes them up within the kubelet's refresh of the Secret`);
  return 0;
}

/** How long a replica caches a stored credential, encrypted as stored: 0 when it does not. */
function credentialCacheSec(i: Inputs): number {
  const on = (id: KeyId): boolean => (keystoneValue(i.effective, id) ?? '').trim().toLowerCase() === 'true';
  if (!on('cache.enabled') || !on('credential.caching') || keystoneValue(i.effective, 'cache.backend') === 'dogpile.cache.null') return 0;
  return keystoneValue(i.effective, 'credential.cache_time') !== undefined ? intValue(i, 'credential.cache_time', 0) : intValue(i, 'cache.expiration_time', 1);
}

async function rotateCredential(j: Job): Promise<number> {
  const o = j.i.settings.opts;
  const max = maxActiveKeys(j.i, 'credential');
  const secret = await getSecret(j.ref, j);
  const keys = keysOfSecret(secret, secretLabel(j.ref));
  const r = rotateKeySet(keys, max);
  const late = historyRefusal(r, parseHistory(secret.metadata.annotations?.[HISTORY_ANNOTATION]), credentialKeyLife(credentialCacheSec(j.i)), new Date());
  if (late) throw new TempFailError(`refusing to rotate the credential keys of ${secretLabel(j.ref)}: ${late}; nothing written`);
  if (j.dryRun) {
    await j.i.print(
      `${secretLabel(j.ref)} (resourceVersion ${secret.metadata.resourceVersion ?? '?'}): would run keystone-manage credential_migrate (every credential under key ${primaryOf(r.before) ?? '?'}), ` +
        `rotate ${rotationLine(r)}, then credential_migrate again (every credential under key ${r.promoted})\nrotate --dry-run: nothing was written, the database not touched\n`,
    );
    return 0;
  }
  const target = j.i.targets.find((t): t is MysqlTarget => t.kind === 'mysql');
  if (!target) throw new Error('Keystone: no MySQL target');
  const users = planUser(o.runAs.value);
  if (users.warning) j.log.warn(users.warning);
  checkSpawnAs(users.user);
  const repo = keystoneValue(j.i.effective, KEY_KINDS.credential.repository) ?? '';
  const owner = { uid: users.user?.uid, gid: users.user?.gid };
  const confPath = o.confPath.value;
  await j.i.configure();
  // keystone-manage loads the token and receipt providers, which refuse to start without fernet
  // keys (keystone/token/providers/fernet/core.py): keys of this Job's own, that sign nothing.
  for (const r of mountedRepositories(j.i.effective, o)) {
    if (r.name === 'credential' || hasKeySet(r.dir)) continue;
    installKeySet(r.dir, freshKeySet(), owner);
    j.log.info(`${r.name} keys made in ${r.dir}: keystone-manage does not start without them (they sign nothing here)`);
  }
  await waitForTargets(j.i.targets, { deadline: j.deadline, log: j.log });
  const migrate = (lost: AbortSignal): Promise<number> =>
    runToCompletion(
      { argv: ['keystone-manage', '--config-file', confPath, 'credential_migrate'], user: users.user, cwd: '/', env: { ...j.i.env, OS_KEYSTONE_CONFIG_FILES: confPath }, label: 'keystone-manage credential_migrate' },
      j.log,
      lost,
    );
  const db = openMysqlInit(target);
  try {
    const outcome = await runInit({
      db,
      // Once per version of the Secret: a second Job that read the same version finds this record.
      key: `credential rotation ${secretLabel(j.ref)} ${secret.metadata.uid ?? ''} ${secret.metadata.resourceVersion ?? ''}`,
      force: false,
      argv: ['keystone-manage', 'credential_migrate', '&&', 'rotate', KEY_KINDS.credential.secret, '&&', 'keystone-manage', 'credential_migrate'],
      run: (lost) =>
        j.i.stop.aside(async () => {
          installKeySet(repo, keys, owner);
          const first = await migrate(lost);
          if (first !== 0 || lost.aborted) return first;
          await writeRotation(j, secret, r, new Date());
          j.log.info(`credential keys rotated in ${secretLabel(j.ref)}: ${rotationLine(r)}`);
          installKeySet(repo, r.after, owner);
          return migrate(lost);
        }),
      deadline: j.deadline,
      log: j.log,
      ttlMs: Math.round(o.initLeaseTtlSec.value * 1000),
    });
    if (!outcome.ran) j.log.info(`the credential keys of ${secretLabel(j.ref)} at this version were already rotated by ${outcome.record.host}: nothing to do`);
  } finally {
    await db.close();
  }
  return 0;
}

export const rotateTask: SystemTask<KeystoneOptions, KeystoneConfVars> = {
  async run(i, args) {
    const kind = args[0];
    const rest = args.slice(1);
    if (kind !== 'fernet' && kind !== 'credential') throw new UsageError(`rotate: which keys? fernet or credential (got ${kind === undefined ? 'nothing' : JSON.stringify(kind)})`);
    if (rest.some((a) => a !== '--dry-run') || rest.length > 1) throw new UsageError(`rotate ${kind}: unknown argument ${rest.find((a) => a !== '--dry-run') ?? rest[1] ?? ''} (only --dry-run)`);
    const o = i.settings.opts;
    const cluster = inClusterConfig(process.env);
    const name = kind === 'fernet' ? o.fernetSecret.value : o.credentialSecret.value;
    const ref: SecretRef = {
      send: httpsSend(cluster),
      server: cluster.server,
      namespace: cluster.namespace,
      name,
      permissionHint: `its service account needs get and update on this Secret (a Role with resourceNames: [${name}], as keystone-${kind}-rotate in fixtures/k8s/keystone/04-rotation.yaml)`,
    };
    const job: Job = { i, kind, ref, deadline: deadlineIn(o.waitTimeoutSec.value * 1000), log: i.log, dryRun: rest.length === 1 };
    return kind === 'fernet' ? rotateFernet(job) : rotateCredential(job);
  },
};
