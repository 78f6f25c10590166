// The environment -> the server.conf edits it asks for (pure). A key is edited only when the
// environment gives its value; everything else in the file is left as it is.
import { type ConfigView, confGet } from '../ini/config-view.ts';
import { InputError } from '../common/errors.ts';
import { joinHostPort } from '../common/net.ts';
import { directKeys, isSecret, labelOf, pulpDefault } from '../pulp/keys.ts';
import { URL_SCHEMES, parseBrokerUrl, parseSeeds } from '../pulp/values.ts';
import { splitUrl } from '../common/url.ts';
import { type VarProblem, discoverService, unique } from './kube.ts';
import type { Sourced } from './types.ts';
import { type AgentOptions, type ServerVars, type Settings, isServerVariable } from './options.ts';
import * as v from './validators.ts';

export interface PlannedEdit {
  section: string;
  key: string;
  value: string;
  /** Variables the value came from; "default" and "server.conf" mark parts not from the environment. */
  from: string[];
  /** Whole value is secret (passwords); URL passwords are masked wherever URLs are shown. */
  secret: boolean;
}

export interface EditPlan {
  edits: PlannedEdit[];
  warnings: string[];
  /** Every secret value the edits hold or were built from (passwords, secret keys, URL passwords). */
  secrets: string[];
}

const CONF_PREFIX = 'PULP_CONF__';
const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** What every part of the plan shares: the validated environment and where to report. */
interface Ctx {
  env: Readonly<Record<string, string>>;
  c: ServerVars;
  opts: AgentOptions;
  current: ConfigView;
  problems: VarProblem[];
  /** Which variable really gave a credential (NAME or NAME_FILE). */
  via: (name: string) => string;
}

/** One part's edits and the secret values they were built from. */
interface Part {
  edits: PlannedEdit[];
  secrets: string[];
}

function edit(section: string, key: string, value: string, from: string[], secret = false): PlannedEdit {
  return { section, key, value, from: unique(from), secret };
}

/** @param current the file as it is now, for the halves of a value the environment leaves out */
export function planEdits(settings: Settings, current: ConfigView): EditPlan {
  const { env, fileFrom, opts, serverVars } = settings;
  if (serverVars instanceof InputError) throw serverVars;
  const ctx: Ctx = { env, c: serverVars, opts, current, problems: [], via: (name) => fileFrom.get(name) ?? name };
  const parts = [directEdits(ctx, 'server'), databaseEdits(ctx), brokerEdits(ctx)];
  const overrides = overrideEdits(env, parts.flatMap((p) => p.edits), ctx.problems);
  const first = ctx.problems[0];
  if (first) throw new InputError(`${first.variable}: ${first.problem}`);
  const secrets = [...parts.flatMap((p) => p.secrets), ...overrides.secrets];
  return { edits: overrides.edits, warnings: overrides.warnings, secrets: [...secrets, ...urlPasswords(overrides.edits)] };
}

/** The keys of a section that one variable each sets as given (src/pulp/keys.ts). */
function directEdits(ctx: Ctx, section: string): Part {
  const edits: PlannedEdit[] = [];
  const secrets: string[] = [];
  for (const { key, env } of directKeys(section)) {
    // A variable named in the table but not validated here is a bug, caught by any test.
    if (!isServerVariable(env)) throw new Error(`${env} (src/pulp/keys.ts) has no validator in settings/options.ts`);
    const value = ctx.c[env];
    if (value === undefined) continue;
    const secret = isSecret(section, key);
    if (secret) secrets.push(value);
    edits.push(edit(section, key, value, [ctx.via(env)], secret));
  }
  return { edits, secrets };
}

/** [database] seeds from the database service, then the keys set directly. */
function databaseEdits(ctx: Ctx): Part {
  const db = discoverService(ctx.env, ctx.opts.dbService.value, { defaultPort: 27017, portNames: ['mongodb', 'mongo'] }, ctx.problems);
  checkHost(db.host, ctx.problems);
  const seeds: PlannedEdit[] = [];
  if (db.host || db.port) {
    const fileSeed = firstSeed(ctx.current);
    const host = db.host ?? { value: fileSeed.host, from: ['server.conf'] };
    const port = db.port ?? (db.host ? { value: 27017, from: ['default'] } : { value: fileSeed.port, from: ['server.conf'] });
    seeds.push(edit('database', 'seeds', joinHostPort(host.value, port.value), [...host.from, ...port.from]));
  }
  const direct = directEdits(ctx, 'database');
  return { edits: [...seeds, ...direct.edits], secrets: direct.secrets };
}

/** [messaging] url and [tasks] broker_url from the broker service, its credentials and scheme. */
function brokerEdits(ctx: Ctx): Part {
  const { env, c, opts } = ctx;
  const msg = discoverService(env, opts.msgService.value, { defaultPort: 5672, portNames: ['amqp'] }, ctx.problems);
  checkHost(msg.host, ctx.problems);
  const schemeSet = env.PULP_BROKER_SCHEME !== undefined;
  if (!(msg.host || msg.port || c.MSG_SERVICE_USER !== undefined || c.MSG_SERVICE_PASSWORD !== undefined || schemeSet)) {
    return { edits: [], secrets: [] };
  }
  const base = currentBroker(ctx.current);
  const host = msg.host ?? { value: base.host, from: ['server.conf'] };
  // The file's scheme is kept unless PULP_BROKER_SCHEME says otherwise: adding a password
  // must not turn qpids:// (TLS) into qpid://, nor kombu's pyamqp:// into qpid://.
  const scheme: Sourced<string> = schemeSet
    ? opts.brokerScheme
    : base.scheme !== undefined
      ? { value: base.scheme, from: ['server.conf'] }
      : opts.brokerScheme;
  const tlsPort = URL_SCHEMES[scheme.value]?.port ?? 5672;
  const port = msg.port ?? (msg.host ? { value: tlsPort, from: ['default'] } : { value: base.port, from: ['server.conf'] });
  const { user, password } = brokerCredentials(ctx, base);
  const edits: PlannedEdit[] = [];
  const hp = joinHostPort(host.value, port.value);
  if (msg.host || msg.port) {
    edits.push(edit('messaging', 'url', `${URL_SCHEMES[scheme.value]?.tls ? 'ssl' : 'tcp'}://${hp}`, [...host.from, ...port.from]));
  }
  const userinfo = encodeURIComponent(user.value) + (password ? `:${encodeURIComponent(password.value)}` : '');
  const vhost = base.vhost !== undefined ? `/${encodeURIComponent(base.vhost)}` : '';
  edits.push(
    edit('tasks', 'broker_url', `${scheme.value}://${userinfo}@${hp}${vhost}`, [
      ...host.from,
      ...port.from,
      ...user.from,
      ...(password?.from ?? []),
      ...scheme.from,
    ]),
  );
  return { edits, secrets: password ? [password.value] : [] };
}

/** The broker user and password: the environment's, else the file's, else Celery's guest. */
function brokerCredentials(
  ctx: Ctx,
  base: { username?: string; password?: string },
): { user: Sourced<string>; password: Sourced<string> | undefined } {
  const { c, via } = ctx;
  const user: Sourced<string> =
    c.MSG_SERVICE_USER !== undefined
      ? { value: c.MSG_SERVICE_USER, from: [via('MSG_SERVICE_USER')] }
      : base.username !== undefined
        ? { value: base.username, from: ['server.conf'] }
        : { value: 'guest', from: ['default'] };
  // A password in the file belongs to the file's user; a new user from the environment does not inherit it.
  const password: Sourced<string> | undefined =
    c.MSG_SERVICE_PASSWORD !== undefined
      ? { value: c.MSG_SERVICE_PASSWORD, from: [via('MSG_SERVICE_PASSWORD')] }
      : base.password !== undefined && c.MSG_SERVICE_USER === undefined
        ? { value: base.password, from: ['server.conf'] }
        : undefined;
  return { user, password };
}

/** PULP_CONF__SECTION__KEY: any key, the most specific way to say it, so it wins over `planned`. */
function overrideEdits(env: Record<string, string>, planned: PlannedEdit[], problems: VarProblem[]): Part & { warnings: string[] } {
  const edits = [...planned];
  const secrets: string[] = [];
  const warnings: string[] = [];
  for (const name of Object.keys(env).filter((k) => k.startsWith(CONF_PREFIX)).sort()) {
    const parts = name.slice(CONF_PREFIX.length).split('__');
    const [section, key] = parts;
    if (parts.length !== 2 || section === undefined || key === undefined || !NAME_PART.test(section) || !NAME_PART.test(key)) {
      problems.push({ variable: name, problem: 'is not of the form PULP_CONF__SECTION__KEY (letters, digits, "_", "-", ".")' });
      continue;
    }
    const value = env[name] ?? '';
    const p = v.textProblem(value);
    if (p) {
      problems.push({ variable: name, problem: p });
      continue;
    }
    const s = section.toLowerCase();
    const k = key.toLowerCase();
    const secret = isSecret(s, k);
    if (secret) secrets.push(value);
    const i = edits.findIndex((e) => e.section === s && e.key === k);
    if (i >= 0) {
      warnings.push(`${name} overrides [${s}] ${k} from ${edits[i]?.from.join(', ')}`);
      edits.splice(i, 1);
    }
    edits.push(edit(s, k, value, [name], secret));
  }
  return { edits, secrets, warnings };
}

function checkHost(host: Sourced<string> | undefined, problems: VarProblem[]): void {
  if (!host || host.from[0] === 'SERVICE_HOST') return; // validated with the fixed variables
  const p = v.hostProblem(host.value);
  if (p) problems.push({ variable: host.from[0] ?? 'host', problem: p });
}

function firstSeed(current: ConfigView): { host: string; port: number } {
  try {
    const s = parseSeeds(confGet(current, 'database', 'seeds') || pulpDefault('database.seeds'))[0];
    if (s) return s;
  } catch {
    // An unparseable value in the file is replaced whole; fall back to Pulp's default.
  }
  return { host: 'localhost', port: 27017 };
}

function currentBroker(current: ConfigView): {
  host: string;
  port: number;
  /** A Celery broker scheme (URL_SCHEMES with a protocol), else undefined. */
  scheme: string | undefined;
  username?: string;
  password?: string;
  vhost?: string;
} {
  const url = confGet(current, 'tasks', 'broker_url') || pulpDefault('tasks.broker_url');
  try {
    const u = parseBrokerUrl(url, labelOf('tasks.broker_url'));
    return { ...u, scheme: URL_SCHEMES[u.scheme]?.protocol !== undefined ? u.scheme : undefined };
  } catch {
    return { host: 'localhost', port: 5672, scheme: undefined };
  }
}

/** A password inside any URL-valued edit (PULP_CONF__TASKS__BROKER_URL=amqp://u:pw@h) is a secret too. */
function urlPasswords(edits: PlannedEdit[]): string[] {
  const out: string[] = [];
  for (const e of edits) {
    const pw = splitUrl(e.value)?.password;
    if (pw === undefined) continue;
    out.push(pw);
    try {
      out.push(decodeURIComponent(pw));
    } catch {
      // Not valid percent-encoding: the raw form is masked.
    }
  }
  return out;
}
