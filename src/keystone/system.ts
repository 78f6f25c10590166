// OpenStack Keystone as a system of the pipeline (src/system/system.ts): keystone.conf,
// MySQL/MariaDB, the api role under gunicorn, keystone-manage db_sync and bootstrap as the
// init, the fernet and credential keys. Everything here is read from the other modules of
// this folder; this one only puts them together.
import { embeddedFile } from '../common/embedded.ts';
import { InputError } from '../common/errors.ts';
import type { Target } from '../common/targets.ts';
import type { System } from '../system/system.ts';
import { KEYSTONE_DIALECT } from './dialect.ts';
import { planEdits } from './edits.ts';
import { keystoneHelp } from './help.ts';
import { keystoneValue, type KeyId } from './keys.ts';
import { keysCommand } from './keys-secret.ts';
import { rotateTask } from './rotate-keys.ts';
import { syncKeysTask } from './sync-keys.ts';
import { ROLES, apiSpec, initArgv } from './roles.ts';
import { KEYSTONE_SETTINGS, type KeystoneConfVars, type KeystoneOptions } from './settings.ts';
import { CACHE_NOT_WAITED, MYSQL_CHECK, MYSQL_WHY, mysqlTarget } from './targets.ts';

export const KEYSTONE: System<KeystoneOptions, KeystoneConfVars> = {
  names: { program: 'keystone-entrypoint', prefix: 'KEYSTONE', confName: 'keystone.conf' },
  title: 'Keystone 30.0.0',
  file: {
    name: 'keystone.conf',
    mountWhat: "Keystone's keystone.conf",
    confVar: KEYSTONE_SETTINGS.confVar,
    templateVar: KEYSTONE_SETTINGS.templateVar,
    embedded: () => embeddedFile('keystone/default-keystone.conf'),
  },
  dialect: KEYSTONE_DIALECT,
  settings: KEYSTONE_SETTINGS,
  roles: ROLES,
  initRole: 'api',
  phasedSchema: true,
  planEdits,
  targets: (effective) => [mysqlTarget(effective)],
  initStore: (targets) => {
    const db = targets.find((t) => t.kind === 'mysql');
    if (!db) throw new Error('Keystone: no MySQL target');
    return db;
  },
  // Every replica runs the api role and so the init; none only waits for it.
  awaitInit: { runBy: 'another replica', missingHint: 'check the log of the replica holding the lease', keyHint: 'the same value in every replica' },
  initKeyArgv: (s) => initArgv(s.opts.bootstrapPassword !== undefined),
  roleSpec: (role, s, inputs) => {
    if (role !== 'api') throw new InputError(`unknown role ${role}`);
    return apiSpec({ conf: inputs.effective, confPath: s.opts.confPath.value, runAs: s.opts.runAs.value, opts: s.opts, extraArgs: inputs.extraArgs });
  },
  startWarnings: (_effective, s) =>
    s.opts.adminToken
      ? [
          `${s.opts.adminToken.from.join(', ')} is not written to keystone.conf: Keystone 30 would take [DEFAULT] admin_token as an all-powerful shared secret (deprecated there as a security risk); the admin comes from OS_BOOTSTRAP_PASSWORD (keystone-manage bootstrap), or set KEYSTONE_CONF__DEFAULT__ADMIN_TOKEN to want the token anyway`,
        ]
      : [],
  preview: {
    wait: (t: Target) => {
      if (t.kind !== 'mysql') throw new Error(`Keystone waits for no ${t.kind}`);
      return { source: t.source, protocol: 'mysql', check: MYSQL_CHECK, why: MYSQL_WHY };
    },
    notWaited: (effective) =>
      (keystoneValue(effective, 'cache.enabled') ?? '').toLowerCase() === 'true' && keystoneValue(effective, 'cache.backend') !== 'dogpile.cache.null'
        ? [{ source: 'cache.memcache_servers' satisfies KeyId, address: keystoneValue(effective, 'cache.memcache_servers') ?? '', protocol: 'memcached', why: CACHE_NOT_WAITED }]
        : [],
    settings: (s) => [
      { name: 'database service', value: s.opts.dbService.value, from: s.opts.dbService.from },
      { name: 'listen', value: `${s.opts.listen.value.host}:${s.opts.listen.value.port}`, from: s.opts.listen.from },
      { name: 'workers', value: String(s.opts.workers.value), from: s.opts.workers.from },
      ...(s.opts.fernetKeys ? [{ name: 'fernet keys from', value: s.opts.fernetKeys.value, from: s.opts.fernetKeys.from }] : []),
      ...(s.opts.credentialKeys ? [{ name: 'credential keys from', value: s.opts.credentialKeys.value, from: s.opts.credentialKeys.from }] : []),
      { name: 'bootstrap', value: s.opts.bootstrapPassword ? 'after db_sync' : 'no (OS_BOOTSTRAP_PASSWORD unset)', from: s.opts.bootstrapPassword?.from ?? ['default'] },
    ],
  },
  commands: { keys: keysCommand },
  tasks: { 'sync-keys': syncKeysTask, rotate: rotateTask },
  help: keystoneHelp,
};
