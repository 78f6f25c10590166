// The file a write must change when server.conf is a symbolic link: the link is kept and its
// final target edited, as augtool does.
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfFileError } from '../common/errors.ts';

const MAX_LINKS = 40;

/**
 * The file a write must change: `path` itself, or, when it is a symbolic link (a chain of
 * them), the file it finally points to, as augtool does. Replacing the link with a regular
 * file would leave the real file unedited and the link gone. A link leaving /etc/pulp is
 * followed too: the agent runs as root in its own container and reads the same target anyway.
 */
export function writeTargetOf(path: string): string {
  let at = path;
  for (let hops = 0; ; hops++) {
    let link: string;
    try {
      if (!lstatSync(at).isSymbolicLink()) break;
      link = readlinkSync(at);
    } catch {
      break; // missing: the write creates it there
    }
    if (hops === MAX_LINKS) throw new ConfFileError(`${path}: too many levels of symbolic links`);
    at = resolve(dirname(at), link);
  }
  // The directory as the kernel resolves it, so the temporary file is renamed within one directory.
  try {
    return join(realpathSync(dirname(at)), basename(at));
  } catch {
    return at;
  }
}
