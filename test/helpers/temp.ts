// Scratch directories for tests, made under os.tmpdir() and removed when the test that asked
// for them ends; and the default server.conf the tests start from, named once.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

/** Pulp's own server.conf as shipped, which the agent embeds as its default. */
export const DEFAULT_CONF = join(ROOT, 'src', 'pulp', 'default-server.conf');

/** What tempDir needs of a tap test: a subtest, or a file's root `t` for a dir shared by the whole file. */
export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * A new directory under os.tmpdir() named `prefix` plus random characters, removed with all it
 * holds when `t` ends. mkdtemp makes it 0700: callers whose files a dropped-privilege role must
 * reach chmod it themselves.
 */
export function tempDir(t: Teardown, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The same for code that runs outside any one test (a helper called many times): removed when `fn` returns or throws. */
export function withTempDir<T>(prefix: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Copies the default server.conf into `dir` as `name`; returns its path. */
export function confCopy(dir: string, name = 'server.conf'): string {
  const conf = join(dir, name);
  copyFileSync(DEFAULT_CONF, conf);
  return conf;
}
