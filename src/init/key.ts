// What makes an init "the same one" again (PULP_INIT_KEY's default). The init is a program
// from the image (pulp-manage-db); what it does depends on the Pulp installed beside it.
// The default key is the program's name plus a hash of: its resolved path, its arguments,
// its size, its mtime (whole seconds: image layers keep mtimes, some only to the second)
// and a SHA-256 of its content. A new Pulp release changes the script (setuptools writes the
// package version into it) or at least its mtime, so a new image runs the init once more;
// every pod of one image computes the same key, so the init runs once per image. Rebuilding
// an image without changes may run the init again: harmless, pulp-manage-db is idempotent.
// Set PULP_INIT_KEY to decide otherwise (e.g. the Pulp version, or the image digest); the
// worker images must then set the same value.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../common/errors.ts';
import { resolveOnPath } from '../common/program-path.ts';
import { envName } from '../common/program.ts';

export interface KeyFacts {
  path: string;
  args: string[];
  size: number;
  mtimeSeconds: number;
  sha256: string;
}

/** Pure: the key from the facts. */
export function initKeyOf(facts: KeyFacts): string {
  const h = createHash('sha256');
  for (const part of [facts.path, ...facts.args, String(facts.size), String(facts.mtimeSeconds), facts.sha256]) h.update(part).update('\0');
  return `${basename(facts.path)}@${h.digest('hex').slice(0, 16)}`;
}

export async function keyFactsOf(file: string, args: string[]): Promise<KeyFacts> {
  const [st, content] = await Promise.all([stat(file), readFile(file)]);
  return {
    path: file,
    args,
    size: st.size,
    mtimeSeconds: Math.floor(st.mtimeMs / 1000),
    sha256: createHash('sha256').update(content).digest('hex'),
  };
}

/**
 * `given` (PULP_INIT_KEY, validated with the other settings) when set, else the default above
 * for `initArgv` (argv[0] found on PATH). Roles without an init pass the init command of the
 * role that has one (beat's), so they wait for the same key that beat writes.
 */
export async function resolveInitKey(
  initArgv: readonly string[],
  given: string | undefined,
  PATH: string | undefined,
  /** Which value the variable must take instead: "the key the beat role uses". */
  keyHint = 'the same value in every role',
): Promise<string> {
  if (given !== undefined) return given;
  const name = initArgv[0] ?? '';
  const file = resolveOnPath(name, PATH);
  if (file === undefined) {
    throw new InputError(`cannot compute the default init key: ${name} is not found on PATH; install it in this image or set ${envName('INIT_KEY')} to ${keyHint}`);
  }
  return initKeyOf(await keyFactsOf(file, initArgv.slice(1)));
}
