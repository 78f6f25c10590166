// Secrets must never reach a log line, a preview or a diff. Three mechanisms:
// - structural: keys and URL passwords known to be secret are masked where they are rendered;
// - by value: the plan returns every secret value it learns (settings, server.conf, the
//   targets' passwords), the logger is given a redactor built from them, and every line it
//   prints passes through it, so a secret that slips into an error message is still masked;
// - by shape: every redactor also masks anything shaped `user:password@`, so a password in a
//   value the agent could not parse (and so never learnt as a secret) is masked too.
// There is no global list: what a redactor masks is what it was built from.
import { maskUrlPassword, maskUserinfo } from './url.ts';

export const MASK = '********';

/** Masks secrets in one line of text. */
export type Redactor = (text: string) => string;

/**
 * The spellings of a secret to mask: the value and its percent-encoded form (as it appears in
 * a URL). Very short values would mask ordinary text ("a", "1"); a secret that short is no
 * secret, and none is returned.
 */
export function secretSpellings(value: string | undefined): string[] {
  if (value === undefined || value.length < 3) return [];
  const encoded = encodeURIComponent(value);
  return encoded === value ? [value] : [value, encoded];
}

/** A redactor for these secrets (any spelling of them) and for the `user:password@` shape. */
export function createRedactor(values: Iterable<string | undefined> = []): Redactor {
  const all = new Set<string>();
  for (const v of values) for (const s of secretSpellings(v)) all.add(s);
  // Longest first, so a secret that contains another is masked whole.
  const secrets = [...all].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MASK);
    return out.includes('@') ? maskUserinfo(out, MASK) : out;
  };
}

const SECRET_KEY = /pass(word|wd)?|secret|token|credential/i;

/**
 * Whether a server.conf key holds a secret by its name (password, oauth_secret, ...); the
 * masking asks src/pulp/keys.ts isSecret, which falls back on this for keys outside its table.
 */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Masks the password of a URL's userinfo: qpid://user:pw@host -> qpid://user:********@host;
 * also in a value too malformed to be read as a URL (qpid:/user:pw@host).
 */
export function redactUrl(value: string): string {
  return maskUserinfo(maskUrlPassword(value, MASK), MASK);
}
