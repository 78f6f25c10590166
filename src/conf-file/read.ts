// The service's file before the edits: the file itself, the template it starts from, or
// (preview only) the system's embedded default; each read as a bounded regular file that must
// be UTF-8 text.
import { readRegularFile } from '../common/bounded-read.ts';
import { ConfFileError, InputError, fileErrorReason } from '../common/errors.ts';

/** What a system says about its file, for reading it and for the messages. */
export interface StartingConfFile {
  /** "server.conf" */
  name: string;
  /** "Pulp's server.conf": what to mount when it is missing. */
  mountWhat: string;
  /** The variables naming the file and its template. */
  confVar: string;
  templateVar: string;
  /** The system's default file, for previews on a machine without one. */
  embedded(): string;
}

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

function decode(buf: Buffer, path: string, name: string): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new InputError(`${path}: not UTF-8 text; is this really ${name}?`);
  }
}

/** Pulp's own server.conf is about 15 KB, Keystone's sample 120 KB; anything near this is not one. */
const MAX_CONF = 16 * 1024 * 1024;

/**
 * A regular file only, at most MAX_CONF + 1 bytes, never waiting: a FIFO or /dev/zero named
 * by mistake would otherwise hang the agent or fill its memory (bounded-read.ts).
 */
function readBounded(path: string, variable: string, name: string): Buffer {
  const buf = readRegularFile(path, MAX_CONF + 1);
  if (buf.length > MAX_CONF) throw new InputError(`${path} (${variable}): larger than 16 MiB; is this really ${name}?`);
  return buf;
}

/** The file's text; with `missingOk`, undefined when it does not exist. */
function readText(path: string, variable: string, name: string, missingOk: true): string | undefined;
function readText(path: string, variable: string, name: string, missingOk?: false): string;
function readText(path: string, variable: string, name: string, missingOk = false): string | undefined {
  let buf: Buffer;
  try {
    buf = readBounded(path, variable, name);
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (missingOk && isMissing(err)) return undefined;
    throw new ConfFileError(`${path} (${variable}): cannot read: ${fileErrorReason(err)}`);
  }
  return decode(buf, path, name);
}

/**
 * The text to edit: the template when its variable is set, else the file itself. With
 * `allowEmbedded` (preview only) a missing file falls back to the embedded default.
 */
export function readStartingConf(file: StartingConfFile, confPath: string, templatePath: string | undefined, allowEmbedded: boolean): StartingConf {
  const current = readText(confPath, file.confVar, file.name, true);
  // A template that cannot be read is an error for preview too: showing the embedded
  // default instead would preview a run that cannot happen.
  if (templatePath !== undefined) {
    return { text: readText(templatePath, file.templateVar, file.name), origin: 'template', readFrom: templatePath, current };
  }
  if (current !== undefined) return { text: current, origin: 'file', readFrom: confPath, current };
  if (allowEmbedded) return { text: file.embedded(), origin: 'embedded', readFrom: '(embedded default)', current };
  throw new ConfFileError(
    `${confPath} does not exist: mount ${file.mountWhat} there, set ${file.confVar} to where it is, ` +
      `or set ${file.templateVar} to a file to start from`,
  );
}
