// The agent's own settings (not server.conf keys), validated with envalid. Each carries its
// source: the variable that set it, or "default".
import { cleanEnv, type EnvError } from 'envalid';
import { InputError } from '../errors.ts';
import { type ExecModeSetting } from '../exec/mode.ts';
import { type SignalRewrite, parseSignalRewrite } from '../exec/signals.ts';
import type { LogFormat } from '../log.ts';
import { BROKER_SCHEMES, type BrokerScheme } from '../pulp/values.ts';
import type { Env, Sourced } from './types.ts';
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
  PULP_EXEC_MODE: v.oneOf(['auto', 'exec', 'supervise'] as const)({ default: 'auto' }),
};

/** Empty variables count as unset, as `${VAR:-default}` does in the shell scripts this replaces. */
export function withoutEmpty(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) if (val !== undefined && val !== '') out[k] = val;
  return out;
}

/** Runs envalid with a reporter that turns the first problem into one InputError line. */
export function validate<S extends Parameters<typeof cleanEnv>[1]>(env: Record<string, string>, spec: S) {
  return cleanEnv(env, spec, {
    reporter: ({ errors }) => {
      const names = Object.keys(errors).sort();
      const first = names[0];
      if (first === undefined) return;
      const err = (errors as Record<string, EnvError | undefined>)[first];
      throw new InputError(`${first}: ${err?.message ?? 'invalid value'}`);
    },
  });
}

export function resolveOptions(rawEnv: Env): AgentOptions {
  const env = withoutEmpty(rawEnv);
  const o = validate(env, specs);
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
