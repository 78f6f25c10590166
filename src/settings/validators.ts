// Value checks for everything that reaches the service's file or the command line. A value that
// would inject a line into the file (newline, control character) never gets past here.
import { EnvError, makeValidator } from 'envalid';
import { booleanOf } from '../ini/config-view.ts';
import { isHost } from '../common/net.ts';
import { programNames } from '../common/program.ts';

export const MAX_VALUE = 1024;

/** Why a value cannot go into the file, or undefined when it can. Never echoes the value. */
export function textProblem(value: string, max = MAX_VALUE): string | undefined {
  const { confName, inlineComments } = programNames();
  if (/[\r\n]/.test(value)) return `contains a line break (it would inject lines into ${confName})`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) return 'contains a control character';
  if (value.length > max) return `is longer than ${max} characters`;
  if (value !== value.trim()) return `has leading or trailing white space (${confName} would drop it)`;
  if (inlineComments !== undefined && /\s;/.test(value)) return `contains white space followed by ";", which ${inlineComments} reads as the start of a comment`;
  return undefined;
}

export function hostProblem(value: string): string | undefined {
  const t = textProblem(value, 255);
  if (t) return t;
  return isHost(value) ? undefined : `"${value}" is not a host name or IP address`;
}

function check<T>(fn: (input: string) => { ok: T } | { problem: string }) {
  return makeValidator<T>((input: string) => {
    const r = fn(input);
    if ('problem' in r) throw new EnvError(r.problem);
    return r.ok;
  });
}

export const text = check<string>((v) => {
  const p = textProblem(v);
  return p ? { problem: p } : { ok: v };
});


/** Text of at most `max` characters (keys, names that end up in logs). */
export function textUpTo(max: number) {
  return check<string>((v) => {
    const p = textProblem(v, max);
    return p ? { problem: p } : { ok: v };
  });
}

export const host = check<string>((v) => {
  const p = hostProblem(v);
  return p ? { problem: p } : { ok: v };
});

export const absolutePath = check<string>((v) => {
  const p = textProblem(v, 4096);
  if (p) return { problem: p };
  return v.startsWith('/') ? { ok: v } : { problem: `"${v}" is not an absolute path` };
});

/**
 * A Kubernetes Service name: a DNS-1035 label, the only kind the apiserver accepts (upper case
 * tolerated: the variables are upper case anyway). A dot or a leading digit can name no
 * Service, so no kubelet ever gives a pod variables for it.
 */
export const serviceName = check<string>((v) =>
  /^[A-Za-z]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$/.test(v)
    ? { ok: v }
    : { problem: `"${truncate(v)}" is not a Kubernetes Service name (a letter, then letters, digits and "-", at most 63)` },
);

/** MongoDB database names: no /\. "$*<>:|? or white space, under 64 bytes. */
export const databaseName = check<string>((v) =>
  /^[^/\\. "$*<>:|?\s\x00-\x1f]{1,63}$/.test(v)
    ? { ok: v }
    : { problem: `"${truncate(v)}" is not a MongoDB database name (1..63 characters, none of /\\. "$*<>:|? or spaces)` },
);

/** The highest uid: (uid_t)-1 means "no change" to setuid(2), so it names nobody. */
export const MAX_UID = 0xfffffffe;

/** A user name or uid that can name a user on any machine: wrong here is wrong in the image. */
export const userName = check<string>((v) => {
  if (/^[0-9]+$/.test(v)) return Number(v) <= MAX_UID ? { ok: v } : { problem: `uid ${truncate(v)} is out of range (0 to ${MAX_UID})` };
  return /^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(v) ? { ok: v } : { problem: `"${truncate(v)}" is not a user name or uid` };
});

/** The longest wait, for PULP_WAIT_TIMEOUT and --timeout alike: one day. */
export const MAX_WAIT_SECONDS = 86400;

/** A wait in seconds ("5", "2.5"), more than 0 and at most MAX_WAIT_SECONDS; else undefined. */
export function waitSecondsOf(text: string): number | undefined {
  const n = secondsOf(text);
  return n !== undefined && n > 0 && n <= MAX_WAIT_SECONDS ? n : undefined;
}

function secondsOf(text: string): number | undefined {
  return /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : undefined;
}

export const seconds = check<number>((v) => {
  const n = waitSecondsOf(v.trim());
  return n !== undefined
    ? { ok: n }
    : { problem: `"${truncate(v)}" is not a number of seconds (more than 0, at most ${MAX_WAIT_SECONDS})` };
});

/** Seconds within [min, max]: "how long" settings other than the wait timeout. */
export function secondsBetween(min: number, max: number) {
  return check<number>((v) => {
    const n = secondsOf(v.trim());
    return n !== undefined && n >= min && n <= max
      ? { ok: n }
      : { problem: `"${truncate(v)}" is not a number of seconds from ${min} to ${max}` };
  });
}

export const count = check<number>((v) =>
  /^[0-9]{1,6}$/.test(v) ? { ok: Number(v) } : { problem: `"${truncate(v)}" is not a whole number 0..999999` },
);

export function oneOf<T extends string>(choices: readonly T[]) {
  return check<T>((v) =>
    (choices as readonly string[]).includes(v.toLowerCase())
      ? { ok: v.toLowerCase() as T }
      : { problem: `"${truncate(v)}" is not one of ${choices.join(', ')}` },
  );
}

/** 1/0, true/false, yes/no, on/off: the words server.conf takes. */
export const flag = check<boolean>((v) => {
  const b = booleanOf(v);
  return b === undefined ? { problem: `"${truncate(v)}" is not a boolean (1 or 0)` } : { ok: b };
});

export function truncate(v: string, max = 60): string {
  const safe = v.replace(/[\x00-\x1f\x7f]/g, '?');
  return safe.length > max ? `${safe.slice(0, max)}...` : safe;
}
