// Keystone's own variables, beside the agent's common ones (src/settings/options.ts): the
// original image's MYSQL_* and keystone-manage bootstrap's OS_BOOTSTRAP_*, the database
// Service, where gunicorn listens, the key repositories' sources and the cache servers.
import type { CleanedEnv } from 'envalid';
import { EnvError, makeValidator } from 'envalid';
import { splitHostPort } from '../common/net.ts';
import { EntrypointError } from '../common/errors.ts';
import { type CronSchedule, parseCronSchedule } from '../kube-api/cron-schedule.ts';
import { SECRET_NAME_RULE, isSecretName } from '../kube-api/names.ts';
import { KEY_KINDS } from './key-kinds.ts';
import { type SettingsSchema, type Validated, optional, sourced } from '../settings/options.ts';
import type { Sourced } from '../settings/types.ts';
import * as v from '../settings/validators.ts';

export const DEFAULT_CONF_PATH = '/etc/keystone/keystone.conf';
export const DEFAULT_LISTEN = '0.0.0.0:5000';
/**
 * gunicorn workers: each Keystone worker holds its own database pool and caches (~100 MB);
 * two serve a replica without one slow request stalling the rest. Scale with replicas first.
 */
export const DEFAULT_WORKERS = 2;

/** host:port, the host an IP or name (IPv6 bracketed), for gunicorn's bind. */
const listen = makeValidator<{ host: string; port: number }>((input: string) => {
  const hp = splitHostPort(input.trim());
  if (hp === undefined || hp.port === undefined || v.hostProblem(hp.host) !== undefined) {
    throw new EnvError(`"${v.truncate(input)}" is not host:port (0.0.0.0:5000, [::]:5000)`);
  }
  return { host: hp.host, port: hp.port };
});

const workers = makeValidator<number>((input: string) => {
  if (!/^[0-9]{1,3}$/.test(input.trim()) || Number(input) < 1) throw new EnvError(`"${v.truncate(input)}" is not a number of workers (1 to 999)`);
  return Number(input);
});

/** keystone-manage bootstrap's own variables (it reads them from the environment itself). */
export const BOOTSTRAP_VARIABLES = [
  'OS_BOOTSTRAP_USERNAME',
  'OS_BOOTSTRAP_PROJECT_NAME',
  'OS_BOOTSTRAP_ROLE_NAME',
  'OS_BOOTSTRAP_SERVICE_NAME',
  'OS_BOOTSTRAP_REGION_ID',
  'OS_BOOTSTRAP_PUBLIC_URL',
  'OS_BOOTSTRAP_INTERNAL_URL',
  'OS_BOOTSTRAP_ADMIN_URL',
] as const;

/** A Secret's name, as Kubernetes takes it (kube-api/names.ts). */
const secretName = makeValidator<string>((input: string) => {
  const t = input.trim();
  if (!isSecretName(t)) throw new EnvError(`"${v.truncate(input)}" is not a Secret name (${SECRET_NAME_RULE})`);
  return t;
});

/** A CronJob's schedule (its spec.schedule, repeated for the rotation's check). */
const schedule = makeValidator<CronSchedule>((input: string) => {
  try {
    return parseCronSchedule(input);
  } catch (err) {
    throw new EnvError(err instanceof EntrypointError ? err.message : String(err));
  }
});

const optionSpecs = {
  KEYSTONE_DB_SERVICE: v.serviceName({ default: 'db' }),
  KEYSTONE_LISTEN: listen({ default: undefined }),
  KEYSTONE_WORKERS: workers({ default: DEFAULT_WORKERS }),
  KEYSTONE_FERNET_KEYS: v.absolutePath({ default: undefined }),
  KEYSTONE_CREDENTIAL_KEYS: v.absolutePath({ default: undefined }),
  KEYSTONE_KEYS_SYNCED: v.flag({ default: false }),
  KEYSTONE_FERNET_SECRET: secretName({ default: KEY_KINDS.fernet.secret }),
  KEYSTONE_CREDENTIAL_SECRET: secretName({ default: KEY_KINDS.credential.secret }),
  KEYSTONE_ROTATION_SCHEDULE: schedule({ default: undefined }),
  OS_BOOTSTRAP_PASSWORD: v.text({ default: undefined }),
  ADMIN_TOKEN: v.text({ default: undefined }),
  ...Object.fromEntries(BOOTSTRAP_VARIABLES.map((name) => [name, v.text({ default: undefined })])),
};

/** The variables that feed keystone.conf keys (src/keystone/edits.ts). */
const confSpecs = {
  SERVICE_HOST: v.host({ default: undefined }),
  MYSQL_USER: v.text({ default: undefined }),
  MYSQL_PASSWORD: v.text({ default: undefined }),
  MYSQL_DATABASE: v.textUpTo(64)({ default: undefined }),
  KEYSTONE_CACHE_SERVERS: v.text({ default: undefined }),
};

export type KeystoneConfVars = CleanedEnv<typeof confSpecs>;

export interface KeystoneOptions {
  dbService: Sourced<string>;
  listen: Sourced<{ host: string; port: number }>;
  workers: Sourced<number>;
  fernetKeys: Sourced<string> | undefined;
  credentialKeys: Sourced<string> | undefined;
  /** The key repositories are kept by the sync-keys sidecar: the api container only checks them. */
  keysSynced: Sourced<boolean>;
  /** The Secrets `rotate` rotates. */
  fernetSecret: Sourced<string>;
  credentialSecret: Sourced<string>;
  /** The rotation CronJob's schedule, for the check of max_active_keys against token lifetimes. */
  rotationSchedule: Sourced<CronSchedule> | undefined;
  /** Set: bootstrap runs after db_sync (keystone-manage reads it from the environment). */
  bootstrapPassword: Sourced<string> | undefined;
  /** The original image's admin token, which the agent does not write (see system.ts). */
  adminToken: Sourced<string> | undefined;
}

export const KEYSTONE_SETTINGS: SettingsSchema<KeystoneOptions, KeystoneConfVars> = {
  confVar: 'KEYSTONE_CONF',
  templateVar: 'KEYSTONE_CONF_TEMPLATE',
  defaultConfPath: DEFAULT_CONF_PATH,
  runAsDefault: 'keystone',
  fileVariables: [
    { name: 'MYSQL_USER', secret: false },
    { name: 'MYSQL_PASSWORD', secret: true },
    { name: 'OS_BOOTSTRAP_PASSWORD', secret: true },
    { name: 'ADMIN_TOKEN', secret: true },
  ],
  // The original image's MYSQL_* and keystone-manage bootstrap's OS_BOOTSTRAP_*.
  prefixes: ['MYSQL_', 'OS_BOOTSTRAP_'],
  optionSpecs,
  confSpecs,
  options: (env, o: Validated): KeystoneOptions => {
    const l = optional<{ host: string; port: number }>(o, 'KEYSTONE_LISTEN');
    return {
      dbService: sourced(env, o, 'KEYSTONE_DB_SERVICE'),
      listen: l ?? { value: splitHostPort(DEFAULT_LISTEN) as { host: string; port: number }, from: ['default'] },
      workers: sourced(env, o, 'KEYSTONE_WORKERS'),
      fernetKeys: optional(o, 'KEYSTONE_FERNET_KEYS'),
      credentialKeys: optional(o, 'KEYSTONE_CREDENTIAL_KEYS'),
      keysSynced: sourced(env, o, 'KEYSTONE_KEYS_SYNCED'),
      fernetSecret: sourced(env, o, 'KEYSTONE_FERNET_SECRET'),
      credentialSecret: sourced(env, o, 'KEYSTONE_CREDENTIAL_SECRET'),
      rotationSchedule: optional(o, 'KEYSTONE_ROTATION_SCHEDULE'),
      bootstrapPassword: optional(o, 'OS_BOOTSTRAP_PASSWORD'),
      adminToken: optional(o, 'ADMIN_TOKEN'),
    };
  },
};
