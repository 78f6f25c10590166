// Secrets must never reach a log line, a preview or a diff. Three mechanisms:
// - structural: keys and URL passwords known to be secret are masked where they are rendered;
// - by value: every secret value the agent learns is registered, and every line it prints
//   passes through redact(), so a secret that slips into an error message is still masked;
// - by shape: redact() also masks anything shaped `user:password@`, so a password in a value
//   the agent could not parse (and so never learnt as a secret) is masked too.
import { maskUrlPassword, maskUserinfo } from './url.ts';

export const MASK = '********';

/** Registered secrets, longest first, so a secret that contains another is masked whole. */
let secrets: string[] = [];

function add(value: string): void {
  if (secrets.includes(value)) return;
  secrets = [...secrets, value].sort((a, b) => b.length - a.length);
}

export function registerSecret(value: string | undefined): void {
  // Very short values would mask ordinary text ("a", "1"); a secret that short is no secret.
  if (value !== undefined && value.length >= 3) {
    add(value);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) add(encoded);
  }
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MASK);
  return out.includes('@') ? maskUserinfo(out, MASK) : out;
}

const SECRET_KEY = /pass(word|wd)?|secret|token|credential/i;

/** Whether a server.conf key holds a secret by its name (password, oauth_secret, ...). */
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

/** How a server.conf value is shown: masked whole for secret keys, URL passwords masked otherwise. */
export function redactValue(key: string, value: string): string {
  if (isSecretKey(key) && value !== '') return MASK;
  return redactUrl(value);
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets = [];
}
