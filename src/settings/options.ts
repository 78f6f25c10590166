// The environment -> one Settings value: empty variables dropped and NAME_FILE read once, every
// variable validated in one envalid run. The agent's own options (PREFIX_WAIT_TIMEOUT, ...) are
// the same for every system; a system adds its own (SettingsSchema) and the variables that
// feed its file, whose error is kept for the plan to report (after the file is read, as it
// always was). Each option carries its source: the variable that set it, or "default". A name
// that looks like one of them but is none is warned about (unknown.ts).
import { cleanEnv, type EnvError, type ValidatorSpec } from 'envalid';
import { InputError } from '../common/errors.ts';
import { envName } from '../common/program.ts';
import { type SignalRewrite, parseSignalRewrite } from '../common/signals.ts';
import type { LogFormat } from '../common/log.ts';
import { type ReadFile, readFileVariables } from './secret-files.ts';
import { unknownVariables } from './unknown.ts';
import { EXEC_MODE_SETTINGS, type Env, type ExecModeSetting, type Sourced } from './types.ts';
import * as v from './validators.ts';

/** The options every system has, under its own prefix. */
export interface CommonOptions {
  confPath: Sourced<string>;
  templatePath: Sourced<string> | undefined;
  waitTimeoutSec: Sourced<number>;
  runAs: Sourced<string>;
  initKey: Sourced<string> | undefined;
  forceInit: boolean;
  initLeaseTtlSec: Sourced<number>;
  logFormat: LogFormat;
  trace: boolean;
  /** "TERM:QUIT,INT:QUIT", parsed: signals rewritten on their way to the role (supervise mode). */
  signalRewrite: Sourced<SignalRewrite> | undefined;
  execMode: Sourced<ExecModeSetting>;
}

export type Specs = Record<string, ValidatorSpec<unknown>>;
/** The variables as validated: name -> value (undefined when unset without a default). */
export type Validated = Readonly<Record<string, unknown>>;

/** What a system adds to the common options. */
export interface SettingsSchema<O, C> {
  /** The variable naming the file, and the one naming its template. */
  confVar: string;
  templateVar: string;
  defaultConfPath: string;
  /** PREFIX_RUN_AS's default. */
  runAsDefault: string;
  /** Variables that may be given as NAME_FILE; the secret ones never reach a log line. */
  fileVariables: readonly { name: string; secret: boolean }[];
  /**
   * The families of names this system reads besides PREFIX_ (Keystone: MYSQL_, OS_BOOTSTRAP_):
   * a name in one of them, or in PREFIX_ or a NAME_FILE's, that no spec here declares is warned about.
   */
  prefixes: readonly string[];
  /** The system's own options: a bad one is refused at once. */
  optionSpecs: Specs;
  /**
   * The variables that feed the file: a bad one is refused by the plan, after the file is read.
   * C is the record of their validated values (CleanedEnv of these specs).
   */
  confSpecs: Specs;
  /** The system's options from the validated variables (the optionSpecs checked them). */
  options(env: Readonly<Record<string, string>>, o: Validated): O;
}

/** The environment, read and checked once: what every command starts from. */
export interface Settings<O, C> {
  /** Without empty variables, NAME_FILE read into NAME. */
  env: Readonly<Record<string, string>>;
  /** Which variable each credential really came from (NAME or NAME_FILE). */
  fileFrom: ReadonlyMap<string, string>;
  /** The credentials' secret values, for the logger to mask from the first line. */
  fileSecrets: string[];
  opts: CommonOptions & O;
  /** The file's variables, or the first problem with them (reported by the plan). */
  confVars: C | InputError;
  /** What the start warns about and the preview notes: names that look like ours but are not read. */
  warnings: string[];
}

function commonSpecs<O, C>(s: SettingsSchema<O, C>): Specs {
  return {
    [s.confVar]: v.absolutePath({ default: s.defaultConfPath }),
    [s.templateVar]: v.absolutePath({ default: undefined }),
    [envName('WAIT_TIMEOUT')]: v.seconds({ default: 60 }),
    [envName('RUN_AS')]: v.userName({ default: s.runAsDefault }),
    [envName('INIT_KEY')]: v.textUpTo(200)({ default: undefined }),
    [envName('FORCE_INIT')]: v.flag({ default: false }),
    [envName('INIT_LEASE_TTL')]: v.secondsBetween(0.3, 3600)({ default: 30 }),
    [envName('ENTRYPOINT_LOG')]: v.oneOf(['text', 'json'] as const)({ default: 'text' }),
    [envName('ENTRYPOINT_TRACE')]: v.flag({ default: false }),
    [envName('SIGNAL_REWRITE')]: v.text({ default: undefined }),
    [envName('EXEC_MODE')]: v.oneOf(EXEC_MODE_SETTINGS)({ default: 'auto' }),
  } as Specs;
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
export function readSettings<O, C>(rawEnv: Env, readFile: ReadFile, schema: SettingsSchema<O, C>): Settings<O, C> {
  const { env, from, secrets } = readFileVariables(withoutEmpty(rawEnv), readFile, schema.fileVariables);
  const common = commonSpecs(schema);
  const optionNames = [...Object.keys(common), ...Object.keys(schema.optionSpecs)];
  let confProblem: InputError | undefined;
  const all: Validated = cleanEnv(env, { ...common, ...schema.optionSpecs, ...schema.confSpecs }, {
    reporter: ({ errors }) => {
      const problems = errors as Partial<Record<string, EnvError>>;
      const optionProblem = firstProblem(problems, optionNames);
      if (optionProblem) throw optionProblem;
      confProblem = firstProblem(problems, Object.keys(schema.confSpecs));
    },
  });
  const opts = { ...commonOptions(env, all, schema), ...schema.options(env, all) };
  // The confSpecs validated exactly these names: C is their record (one assertion, here). Read
  // only when they all passed: envalid refuses reading a variable that failed.
  const confVars = (): C => Object.fromEntries(Object.keys(schema.confSpecs).map((k) => [k, all[k]])) as C;
  const known = [...optionNames, ...Object.keys(schema.confSpecs), ...schema.fileVariables.map((f) => `${f.name}_FILE`)];
  const prefixes = [envName(''), ...schema.prefixes, ...schema.fileVariables.map((f) => `${f.name}_`)];
  const warnings = unknownVariables(Object.keys(rawEnv), known, prefixes, envName('CONF__'));
  return { env, fileFrom: from, fileSecrets: secrets, opts, confVars: confProblem ?? confVars(), warnings };
}

/** A validated option with its source: the variable, or "default". */
export function sourced<T>(env: Readonly<Record<string, string>>, o: Validated, name: string): Sourced<T> {
  return { value: o[name] as T, from: env[name] !== undefined ? [name] : ['default'] };
}

/** A validated option without a default, or undefined when unset. */
export function optional<T>(o: Validated, name: string): Sourced<T> | undefined {
  const value = o[name] as T | undefined;
  return value === undefined ? undefined : { value, from: [name] };
}

function commonOptions<O, C>(env: Readonly<Record<string, string>>, o: Validated, s: SettingsSchema<O, C>): CommonOptions {
  const rewrite = o[envName('SIGNAL_REWRITE')] as string | undefined;
  return {
    confPath: sourced(env, o, s.confVar),
    templatePath: optional(o, s.templateVar),
    waitTimeoutSec: sourced(env, o, envName('WAIT_TIMEOUT')),
    runAs: sourced(env, o, envName('RUN_AS')),
    initKey: optional(o, envName('INIT_KEY')),
    forceInit: o[envName('FORCE_INIT')] as boolean,
    initLeaseTtlSec: sourced(env, o, envName('INIT_LEASE_TTL')),
    logFormat: o[envName('ENTRYPOINT_LOG')] as LogFormat,
    trace: o[envName('ENTRYPOINT_TRACE')] as boolean,
    signalRewrite: rewrite === undefined ? undefined : { value: parseSignalRewrite(rewrite), from: [envName('SIGNAL_REWRITE')] },
    execMode: sourced(env, o, envName('EXEC_MODE')),
  };
}
