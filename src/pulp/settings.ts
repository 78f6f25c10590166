// Pulp's own variables, beside the agent's common ones (src/settings/options.ts): its services,
// the Celery options, and the variables that feed server.conf keys (src/pulp/edits/).
import type { CleanedEnv } from 'envalid';
import { type SettingsSchema, type Validated, optional, sourced } from '../settings/options.ts';
import type { Sourced } from '../settings/types.ts';
import * as v from '../settings/validators.ts';
import { BROKER_SCHEMES, type BrokerScheme } from './values.ts';

export const DEFAULT_CONF_PATH = '/etc/pulp/server.conf';

const optionSpecs = {
  PULP_WORKER_ID: v.count({ default: undefined }),
  PULP_BROKER_SCHEME: v.oneOf(BROKER_SCHEMES)({ default: 'qpid' }),
  PULP_DB_SERVICE: v.serviceName({ default: 'db' }),
  PULP_MSG_SERVICE: v.serviceName({ default: 'msg' }),
  PULP_CELERY_LOGLEVEL: v.oneOf(['debug', 'info', 'warning', 'error', 'critical'] as const)({ default: 'info' }),
  PULP_CELERY_LOGFILE: v.absolutePath({ default: undefined }),
  PULP_CELERY_WORKDIR: v.absolutePath({ default: undefined }),
};

/** The variables that feed server.conf keys (src/pulp/edits/), checked in the same run. */
const confSpecs = {
  PULP_SERVER_NAME: v.host({ default: undefined }),
  SERVICE_HOST: v.host({ default: undefined }),
  MSG_SERVICE_USER: v.text({ default: undefined }),
  MSG_SERVICE_PASSWORD: v.text({ default: undefined }),
  PULP_DB_USERNAME: v.text({ default: undefined }),
  PULP_DB_PASSWORD: v.text({ default: undefined }),
  PULP_DB_NAME: v.databaseName({ default: undefined }),
  PULP_DB_REPLICA_SET: v.text({ default: undefined }),
};

export function isServerVariable(name: string): name is keyof typeof confSpecs {
  return Object.hasOwn(confSpecs, name);
}

/** The server.conf variables, validated. */
export type ServerVars = CleanedEnv<typeof confSpecs>;

export interface PulpOptions {
  workerId: Sourced<number> | undefined;
  brokerScheme: Sourced<BrokerScheme>;
  dbService: Sourced<string>;
  msgService: Sourced<string>;
  celeryLogLevel: Sourced<string>;
  celeryLogFile: Sourced<string> | undefined;
  workdir: Sourced<string> | undefined;
}

export const PULP_SETTINGS: SettingsSchema<PulpOptions, ServerVars> = {
  confVar: 'PULP_SERVER_CONF',
  templateVar: 'PULP_SERVER_CONF_TEMPLATE',
  defaultConfPath: DEFAULT_CONF_PATH,
  runAsDefault: 'apache',
  fileVariables: [
    { name: 'MSG_SERVICE_USER', secret: false },
    { name: 'MSG_SERVICE_PASSWORD', secret: true },
    { name: 'PULP_DB_USERNAME', secret: false },
    { name: 'PULP_DB_PASSWORD', secret: true },
  ],
  // MSG_SERVICE_USER and _PASSWORD: the kubelet's own MSG_SERVICE_HOST, _PORT... are not judged.
  prefixes: ['MSG_SERVICE_'],
  optionSpecs,
  confSpecs,
  options: (env, o: Validated): PulpOptions => {
    const level = sourced<string>(env, o, 'PULP_CELERY_LOGLEVEL');
    return {
      workerId: optional(o, 'PULP_WORKER_ID'),
      brokerScheme: sourced(env, o, 'PULP_BROKER_SCHEME'),
      dbService: sourced(env, o, 'PULP_DB_SERVICE'),
      msgService: sourced(env, o, 'PULP_MSG_SERVICE'),
      celeryLogLevel: { ...level, value: level.value.toUpperCase() },
      celeryLogFile: optional(o, 'PULP_CELERY_LOGFILE'),
      workdir: optional(o, 'PULP_CELERY_WORKDIR'),
    };
  },
};
