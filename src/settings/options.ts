// The environment -> one Settings value: empty variables dropped and NAME_FILE read once, every
// variable validated in one envalid run. The agent's own options carry their source (the
// variable that set it, or "default"); the server.conf variables are checked here too, their
// error kept for the plan to report (after server.conf is read, as it always was).
import { cleanEnv, type EnvError } from 'envalid';
import { InputError } from '../common/errors.ts';
import { type SignalRewrite, parseSignalRewrite } from '../common/signals.ts';
import type { LogFormat } from '../common/log.ts';
import { BROKER_SCHEMES, type BrokerScheme } from '../pulp/values.ts';
import { type ReadFile, readFileVariables } from './secret-files.ts';
import { EXEC_MODE_SETTINGS, type Env, type ExecModeSetting, type Sourced } from './types.ts';
import * as v from './validators.ts';

export const DEFAULT_CONF_PATH = '/etc/pulp/server.conf';

export interface AgentOptions {
  confPath: Sourced<string>;
  templatePath: Sourced<string> | undefined;
  waitTimeoutSec: Sourced<number>;
  runAs: Sourced<string>;
  workerId: Sourced<number> | undefined;
  initKey: Sourced<string> | undefined;
  forceInit: boolean;
  initLeaseTtlSec: Sourced<number>;
  logFormat: LogFormat;
  trace: boolean;
  brokerScheme: Sourced<BrokerScheme>;
  dbService: Sourced<string>;
  msgService: Sourced<string>;
  celeryLogLevel: Sourced<string>;
  celeryLogFile: Sourced<string> | undefined;
  workdir: Sourced<string> | undefined;
  /** "TERM:QUIT,INT:QUIT", parsed: signals rewritten on their way to the role (supervise mode). */
  signalRewrite: Sourced<SignalRewrite> | undefined;
  execMode: Sourced<ExecModeSetting>;
}

const specs = {
  PULP_SERVER_CONF: v.absolutePath({ default: DEFAULT_CONF_PATH }),
  PULP_SERVER_CONF_TEMPLATE: v.absolutePath({ default: undefined }),
  PULP_WAIT_TIMEOUT: v.seconds({ default: 60 }),
  PULP_RUN_AS: v.userName({ default: 'apache' }),
  PULP_WORKER_ID: v.count({ default: undefined }),
  PULP_INIT_KEY: v.textUpTo(200)({ default: undefined }),
  PULP_FORCE_INIT: v.flag({ default: false }),
  PULP_INIT_LEASE_TTL: v.secondsBetween(0.3, 3600)({ default: 30 }),
  PULP_ENTRYPOINT_LOG: v.oneOf(['text', 'json'] as const)({ default: 'text' }),
  PULP_ENTRYPOINT_TRACE: v.flag({ default: false }),
  PULP_BROKER_SCHEME: v.oneOf(BROKER_SCHEMES)({ default: 'qpid' }),
  PULP_DB_SERVICE: v.serviceName({ default: 'db' }),
  PULP_MSG_SERVICE: v.serviceName({ default: 'msg' }),
  PULP_CELERY_LOGLEVEL: v.oneOf(['debug', 'info', 'warning', 'error', 'critical'] as const)({ default: 'info' }),
  PULP_CELERY_LOGFILE: v.absolutePath({ default: undefined }),
  PULP_CELERY_WORKDIR: v.absolutePath({ default: undefined }),
  PULP_SIGNAL_REWRITE: v.text({ default: undefined }),
  PULP_EXEC_MODE: v.oneOf(EXEC_MODE_SETTINGS)({ default: 'auto' }),
};

/** The variables that feed server.conf keys (settings/edits/), checked in the same run. */
const serverSpecs = {
  PULP_SERVER_NAME: v.host({ default: undefined }),
  SERVICE_HOST: v.host({ default: undefined }),
  MSG_SERVICE_USER: v.text({ default: undefined }),
  MSG_SERVICE_PASSWORD: v.text({ default: undefined }),
  PULP_DB_USERNAME: v.text({ default: undefined }),
  PULP_DB_PASSWORD: v.text({ default: undefined }),
  PULP_DB_NAME: v.databaseName({ default: undefined }),
  PULP_DB_REPLICA_SET: v.text({ default: undefined }),
};

const allSpecs = { ...specs, ...serverSpecs };

export function isServerVariable(name: string): name is keyof typeof serverSpecs {
  return Object.hasOwn(serverSpecs, name);
}
type Validated = Readonly<ReturnType<typeof cleanEnv<typeof allSpecs>>>;
/** The server.conf variables, validated. */
export type ServerVars = Pick<Validated, keyof typeof serverSpecs>;

/** The environment, read and checked once: what every command starts from. */
export interface Settings {
  /** Without empty variables, NAME_FILE read into NAME. */
  env: Readonly<Record<string, string>>;
  /** Which variable each credential really came from (NAME or NAME_FILE). */
  fileFrom: ReadonlyMap<string, string>;
  /** The credentials' secret values, for the logger to mask from the first line. */
  fileSecrets: string[];
  opts: AgentOptions;
  /** The server.conf variables, or the first problem with them (reported by the plan). */
  serverVars: ServerVars | InputError;
}

/** Empty variables count as unset, as `${VAR:-default}` does in the shell scripts this replaces. */
function withoutEmpty(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) if (val !== undefined && val !== '') out[k] = val;
  return out;
}

/** The first problem (by variable name) among `names`, as one InputError line. */
function firstProblem(errors: Partial<Record<string, EnvError>>, names: string[]): InputError | undefined {
  const first = Object.keys(errors).filter((n) => names.includes(n)).sort()[0];
  return first === undefined ? undefined : new InputError(`${first}: ${errors[first]?.message ?? 'invalid value'}`);
}

/** Reads the settings from the raw environment; `readFile` reads the NAME_FILE credentials. */
export function readSettings(rawEnv: Env, readFile: ReadFile): Settings {
  const { env, from, secrets } = readFileVariables(withoutEmpty(rawEnv), readFile);
  let serverProblem: InputError | undefined;
  const all = cleanEnv(env, allSpecs, {
    reporter: ({ errors }) => {
      const problems = errors as Partial<Record<string, EnvError>>;
      const optionProblem = firstProblem(problems, Object.keys(specs));
      if (optionProblem) throw optionProblem;
      serverProblem = firstProblem(problems, Object.keys(serverSpecs));
    },
  });
  return { env, fileFrom: from, fileSecrets: secrets, opts: agentOptions(env, all), serverVars: serverProblem ?? all };
}

function agentOptions(env: Readonly<Record<string, string>>, o: Validated): AgentOptions {
  const src = <T>(name: keyof typeof specs, value: T): Sourced<T> => ({
    value,
    from: env[name] !== undefined ? [name] : ['default'],
  });
  const opt = <T>(name: keyof typeof specs, value: T | undefined): Sourced<T> | undefined =>
    value === undefined ? undefined : { value, from: [name] };
  return {
    confPath: src('PULP_SERVER_CONF', o.PULP_SERVER_CONF),
    templatePath: opt('PULP_SERVER_CONF_TEMPLATE', o.PULP_SERVER_CONF_TEMPLATE),
    waitTimeoutSec: src('PULP_WAIT_TIMEOUT', o.PULP_WAIT_TIMEOUT),
    runAs: src('PULP_RUN_AS', o.PULP_RUN_AS),
    workerId: opt('PULP_WORKER_ID', o.PULP_WORKER_ID),
    initKey: opt('PULP_INIT_KEY', o.PULP_INIT_KEY),
    forceInit: o.PULP_FORCE_INIT,
    initLeaseTtlSec: src('PULP_INIT_LEASE_TTL', o.PULP_INIT_LEASE_TTL),
    logFormat: o.PULP_ENTRYPOINT_LOG,
    trace: o.PULP_ENTRYPOINT_TRACE,
    brokerScheme: src('PULP_BROKER_SCHEME', o.PULP_BROKER_SCHEME),
    dbService: src('PULP_DB_SERVICE', o.PULP_DB_SERVICE),
    msgService: src('PULP_MSG_SERVICE', o.PULP_MSG_SERVICE),
    celeryLogLevel: src('PULP_CELERY_LOGLEVEL', o.PULP_CELERY_LOGLEVEL.toUpperCase()),
    celeryLogFile: opt('PULP_CELERY_LOGFILE', o.PULP_CELERY_LOGFILE),
    workdir: opt('PULP_CELERY_WORKDIR', o.PULP_CELERY_WORKDIR),
    signalRewrite: opt('PULP_SIGNAL_REWRITE', o.PULP_SIGNAL_REWRITE === undefined ? undefined : parseSignalRewrite(o.PULP_SIGNAL_REWRITE)),
    execMode: src('PULP_EXEC_MODE', o.PULP_EXEC_MODE),
  };
}
