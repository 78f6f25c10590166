// Programs are found through PATH (the contract), so an image or a test decides which
// `celery` and `pulp-manage-db` run, and a preview can show the exact file.
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** What PATH means when the environment has none (the usual Debian/RHEL root PATH). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file `name` runs, as execvp(3) would find it: a name with a slash is taken as a path
 * (resolved against `cwd`); a bare name is looked up in each PATH entry in order. Empty and
 * relative PATH entries are skipped: they would make the result depend on the working
 * directory, which for PID 1 nobody wants. Returns undefined when nothing is found.
 */
export function resolveOnPath(name: string, PATH: string | undefined = DEFAULT_PATH, cwd: string = process.cwd()): string | undefined {
  if (name === '') return undefined;
  if (name.includes('/')) {
    const file = isAbsolute(name) ? name : resolve(cwd, name);
    return isExecutableFile(file) ? file : undefined;
  }
  for (const dir of PATH.split(':')) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const file = join(dir, name);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}
