// The role table: Keystone has one role, `api`, run by every replica: the one-time init
// (db_sync, then bootstrap when a password is given) under the lease, its keys installed, then
// the API under gunicorn as `keystone`. Pure data read by the preview and by run.
import { dirname, join, resolve } from 'node:path';
import type { CommandSpec, KeyRepositorySpec, RolePath, RoleSpec } from '../system/system.ts';
import { type ConfigView, keyParts } from '../ini/config-view.ts';
import { KEYSTONE_WSGI_APP, bindAddress, gunicornConfig } from './gunicorn.ts';
import { type KeyId, keystoneValue } from './keys.ts';
import type { KeystoneOptions } from './settings.ts';
import { KEY_KINDS, type KeyKind } from './key-kinds.ts';
import { keystonePhases } from './db-phases.ts';

export const ROLES = ['api'] as const;

/** gunicorn's -c file, next to keystone.conf (the same writable directory). */
export const GUNICORN_CONF = 'gunicorn.conf.py';

/** Keystone's processes need no particular directory; "/" exists in every image. */
const CWD = '/';

/** The init's program and arguments, which make the default init key (a new Keystone: a new key). */
export function initArgv(bootstrap: boolean): string[] {
  return bootstrap ? ['keystone-manage', 'db_sync', 'bootstrap'] : ['keystone-manage', 'db_sync'];
}

export interface ApiInputs {
  conf: ConfigView;
  confPath: string;
  runAs: string;
  opts: KeystoneOptions;
  extraArgs: readonly string[];
}

const NO_SECRET = (kind: KeyKind): string =>
  `${KEY_KINDS[kind].variable} is not set: this replica uses ${kind} keys of its own, so ${KEY_KINDS[kind].lost}; mount the same keys into every replica from a Secret (keystone-entrypoint keys prints one)`;

/**
 * The role's key repositories, from the key table: the fernet keys (and the receipts' copy
 * when that repository is moved apart) and the credential keys; each from its Secret mount,
 * or kept by the sync-keys sidecar (KEYSTONE_KEYS_SYNCED), or made here.
 */
export function keyRepositories(conf: ConfigView, o: KeystoneOptions): KeyRepositorySpec[] {
  const repo = (name: string, kind: KeyKind, dir: string | undefined): KeyRepositorySpec => {
    const source = kind === 'fernet' ? o.fernetKeys : o.credentialKeys;
    const variable = KEY_KINDS[kind].variable;
    return {
      name,
      dir: dir ?? '',
      source: source && !o.keysSynced.value ? { dir: source.value, variable } : undefined,
      ...(o.keysSynced.value ? { keptBy: 'KEYSTONE_KEYS_SYNCED' } : {}),
      generatedWarning: NO_SECRET(kind),
    };
  };
  const tokens = keystoneValue(conf, KEY_KINDS.fernet.repository);
  const receipts = keystoneValue(conf, 'fernet_receipts.key_repository');
  const same = (a: string | undefined, b: string | undefined): boolean => a?.replace(/\/+$/, '') === b?.replace(/\/+$/, '');
  return [
    repo('fernet', 'fernet', tokens),
    // Moved apart from the tokens' repository, the receipts' gets the same fernet keys.
    ...(same(tokens, receipts) ? [] : [repo('fernet receipt', 'fernet', receipts)]),
    repo('credential', 'credential', keystoneValue(conf, KEY_KINDS.credential.repository)),
  ];
}

/**
 * The repositories as the keys sidecar and the rotation Job see them: each from its Secret
 * mount (or made here), whatever KEYSTONE_KEYS_SYNCED says (it tells the API container that
 * the sidecar keeps them; these are the sidecar's and the Job's own).
 */
export function mountedRepositories(conf: ConfigView, o: KeystoneOptions): KeyRepositorySpec[] {
  return keyRepositories(conf, { ...o, keysSynced: { value: false, from: ['default'] } });
}

/**
 * What the API opens as it starts, from oslo.log (log.setup, as keystone.server.configure
 * calls it in each gunicorn worker): the logging configuration of [DEFAULT] log_config_append,
 * which then replaces everything else; else the file of log_file (in log_dir when both are
 * set), or log_dir/BINARY.log with log_dir alone, BINARY being the script the process started
 * from: gunicorn. Without it every worker fails to boot and gunicorn exits.
 */
function logPaths(conf: ConfigView): RolePath[] {
  // Python's os.path.join, as oslo.log uses it: an absolute last part wins; relative to the role's CWD.
  const at = (id: KeyId, parts: string[], access: RolePath['access'], why: string): RolePath => ({ ...keyParts(id), path: resolve(CWD, ...parts), access, why });
  const append = keystoneValue(conf, 'DEFAULT.log_config_append');
  if (append !== undefined) return [at('DEFAULT.log_config_append', [append], 'read', 'oslo.log reads the logging configuration from it as each API worker starts')];
  const file = keystoneValue(conf, 'DEFAULT.log_file');
  const dir = keystoneValue(conf, 'DEFAULT.log_dir');
  const why = 'oslo.log opens the log file to append as each API worker starts; a worker that cannot fails to boot';
  if (file !== undefined) return [at('DEFAULT.log_file', dir === undefined ? [file] : [dir, file], 'file', why)];
  if (dir !== undefined) return [at('DEFAULT.log_dir', [dir, 'gunicorn.log'], 'file', why)];
  return [];
}

export function apiSpec(i: ApiInputs): RoleSpec {
  // Keystone finds its file itself (/etc/keystone/keystone.conf, ~/keystone.conf, ...): the
  // API is told with OS_KEYSTONE_CONFIG_FILES, keystone-manage with --config-file, so both
  // read the file the agent wrote and no other.
  const files = { OS_KEYSTONE_CONFIG_FILES: i.confPath };
  const as = (argv: string[], env?: Record<string, string>, label?: string): CommandSpec => ({ argv, user: i.runAs, cwd: CWD, env: { ...files, ...env }, ...(label ? { label } : {}) });
  const manage = ['keystone-manage', '--config-file', i.confPath];
  const o = i.opts;
  // On an empty database the whole db_sync (a first install); on a schema, its phases (db-phases.ts).
  const init = [as([...manage, 'db_sync'], {}, 'keystone-manage db_sync')];
  // bootstrap reads OS_BOOTSTRAP_* from its environment; a password given as a file is passed
  // as the variable, never on the command line.
  if (o.bootstrapPassword) init.push(as([...manage, 'bootstrap'], { OS_BOOTSTRAP_PASSWORD: o.bootstrapPassword.value }, 'keystone-manage bootstrap'));
  const file = join(dirname(i.confPath), GUNICORN_CONF);
  return {
    role: 'api',
    init,
    // Extra arguments are gunicorn's; each worker empties sys.argv before Keystone reads it (gunicorn.ts).
    exec: as(['gunicorn', '-c', file, ...i.extraArgs]),
    files: [{ path: file, text: gunicornConfig({ ...o.listen.value, workers: o.workers.value }), why: `gunicorn's settings: bind ${bindAddress(o.listen.value)}, ${o.workers.value} workers, ${KEYSTONE_WSGI_APP}` }],
    keys: keyRepositories(i.conf, o),
    paths: logPaths(i.conf),
    settings: [],
    phases: keystonePhases((args, label) => as([...manage, ...args], {}, label)),
  };
}
