// Credentials may come as NAME (the value) or NAME_FILE (a path to a file holding it), the
// docker-library convention that Kubernetes Secrets mounted as files fit.
import { InputError, fileErrorReason } from '../common/errors.ts';

const MAX_SECRET_FILE = 64 * 1024;

/** Reads at most `maxBytes` of a regular file; throws (with an fs `code`) otherwise. */
export type ReadFile = (path: string, maxBytes: number) => Buffer;

/**
 * Returns the environment (empty variables already dropped) with every NAME_FILE read into NAME, which variable each value came
 * from (NAME or NAME_FILE), and the secret values (for the logger to mask). Both set is an
 * error, as in the docker-library images; so is a file with nothing in it (one rule for every
 * NAME_FILE: an empty value is never taken from a file, and never silently).
 */
export function readFileVariables(
  env: Readonly<Record<string, string>>,
  readFile: ReadFile,
  /** The system's NAME_FILE variables; values of the secret ones never reach a log line. */
  variables: readonly { name: string; secret: boolean }[],
): { env: Record<string, string>; from: Map<string, string>; secrets: string[] } {
  const out: Record<string, string> = { ...env };
  const from = new Map<string, string>();
  const secrets: string[] = [];
  for (const { name, secret } of variables) {
    const fileVar = `${name}_FILE`;
    const path = env[fileVar];
    if (path === undefined) {
      if (env[name] !== undefined) {
        from.set(name, name);
        if (secret) secrets.push(env[name] ?? '');
      }
      continue;
    }
    if (env[name] !== undefined) {
      throw new InputError(`both ${name} and ${fileVar} are set: set only one of them`);
    }
    let raw: Buffer;
    try {
      // One byte past the limit tells "too large" from "exactly the limit".
      raw = readFile(path, MAX_SECRET_FILE + 1);
    } catch (err) {
      throw new InputError(`${fileVar}=${path}: cannot read the file (${fileErrorReason(err)})`);
    }
    if (raw.length > MAX_SECRET_FILE) throw new InputError(`${fileVar}=${path}: the file is larger than 64 KiB`);
    // One trailing newline is how editors and `echo` leave a file; it is not part of the value.
    const value = raw.toString('utf8').replace(/\r?\n$/, '');
    // A Secret key without data, or a file not written yet, is a mistake, not a choice; taken
    // as unset (the rule for an empty NAME) it would hide that the file held nothing, and taken
    // as the value it would be an empty password that every preview and log line masks.
    if (value === '') {
      throw new InputError(`${fileVar}=${path}: the file is empty${raw.length > 0 ? ' (a line ending only)' : ''}: put the value in it, or unset ${fileVar}`);
    }
    if (secret) secrets.push(value);
    out[name] = value;
    from.set(name, fileVar);
  }
  return { env: out, from, secrets };
}
