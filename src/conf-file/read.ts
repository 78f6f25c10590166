// server.conf before the edits: the file itself, the template it starts from, or (preview
// only) the embedded default; each read as a bounded regular file that must be UTF-8 text.
import { embeddedServerConf } from '../common/embedded.ts';
import { readRegularFile } from '../common/bounded-read.ts';
import { ConfFileError, InputError, fileErrorReason } from '../common/errors.ts';

export type ConfOrigin = 'file' | 'template' | 'embedded';

export interface StartingConf {
  /** The text the edits apply to. */
  text: string;
  origin: ConfOrigin;
  /** Where the text came from (the target, the template, or "(embedded default)"). */
  readFrom: string;
  /** The target's current bytes, when it exists: a write is needed only if they differ. */
  current: string | undefined;
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ENOENT';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(buf: Buffer, path: string): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new InputError(`${path}: not UTF-8 text; is this really server.conf?`);
  }
}

/** Pulp's own server.conf is about 15 KB; anything near this is not one. */
const MAX_CONF = 16 * 1024 * 1024;

/**
 * A regular file only, at most MAX_CONF + 1 bytes, never waiting: a FIFO or /dev/zero named
 * by mistake would otherwise hang the agent or fill its memory (bounded-read.ts).
 */
function readBounded(path: string, variable: string): Buffer {
  const buf = readRegularFile(path, MAX_CONF + 1);
  if (buf.length > MAX_CONF) throw new InputError(`${path} (${variable}): larger than 16 MiB; is this really server.conf?`);
  return buf;
}

/** The file's text; with `missingOk`, undefined when it does not exist. */
function readText(path: string, variable: string, missingOk: true): string | undefined;
function readText(path: string, variable: string, missingOk?: false): string;
function readText(path: string, variable: string, missingOk = false): string | undefined {
  let buf: Buffer;
  try {
    buf = readBounded(path, variable);
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (missingOk && isMissing(err)) return undefined;
    throw new ConfFileError(`${path} (${variable}): cannot read: ${fileErrorReason(err)}`);
  }
  return decode(buf, path);
}

/**
 * The text to edit: the template when PULP_SERVER_CONF_TEMPLATE is set, else the file itself.
 * With `allowEmbedded` (preview only) a missing file falls back to the embedded default.
 */
export function readStartingConf(confPath: string, templatePath: string | undefined, allowEmbedded: boolean): StartingConf {
  const current = readText(confPath, 'PULP_SERVER_CONF', true);
  // A template that cannot be read is an error for preview too: showing the embedded
  // default instead would preview a run that cannot happen.
  if (templatePath !== undefined) {
    return { text: readText(templatePath, 'PULP_SERVER_CONF_TEMPLATE'), origin: 'template', readFrom: templatePath, current };
  }
  if (current !== undefined) return { text: current, origin: 'file', readFrom: confPath, current };
  if (allowEmbedded) return { text: embeddedServerConf(), origin: 'embedded', readFrom: '(embedded default)', current };
  throw new ConfFileError(
    `${confPath} does not exist: mount Pulp's server.conf there, set PULP_SERVER_CONF to where it is, ` +
      'or set PULP_SERVER_CONF_TEMPLATE to a file to start from',
  );
}
