// The original image edited server.conf with augtool paths; accepting the same paths keeps
// its documentation and habits valid. Only the shapes it used are accepted: a section
// selected by name or by position, and optionally one key under it.
import { InputError } from '../errors.ts';
import type { IniDocument } from './document.ts';
import { getKey, removeKey, setKey } from './edit.ts';

export interface AugeasPath {
  /** The edited file's absolute path, e.g. /etc/pulp/server.conf. */
  file: string;
  /** By name, or by 1-based position among all section headers in file order (as Augeas counts). */
  section: { name: string } | { index: number };
  key: string | undefined;
}

const PATH_RE =
  /^\/files(\/[^[\]\s]+?)\/target\s*\[\s*(?:\.\s*=\s*(?:'([^'\r\n]+)'|"([^"\r\n]+)")|([1-9][0-9]*))\s*\](?:\/([A-Za-z0-9_][A-Za-z0-9_.-]*))?$/;

export function parseAugeasPath(path: string): AugeasPath {
  const m = PATH_RE.exec(path);
  if (m === null || m[1]!.split('/').some((part, i) => i > 0 && (part === '' || part === '.' || part === '..'))) {
    throw new InputError(
      `invalid Augeas path ${JSON.stringify(path)}: expected /files/<file>/target[. = '<section>']/<key> or /files/<file>/target[<n>]/<key>`,
    );
  }
  const [, file, single, double, index, key] = m;
  const name = single ?? double;
  return {
    file: file!,
    section: name !== undefined ? { name } : { index: Number(index) },
    key,
  };
}

export function formatAugeasPath(file: string, section: string, key: string): string {
  const quoted = section.includes("'") ? `"${section}"` : `'${section}'`;
  return `/files${file}/target[. = ${quoted}]/${key}`;
}

/**
 * The value at path; for a path without a key, the section's name (what Augeas stores at
 * a target node) when the section exists. The path's file part is not compared: the
 * caller knows which file doc came from.
 */
export function getPath(doc: IniDocument, path: AugeasPath | string): string | undefined {
  const p = toPath(path);
  const section = sectionName(doc, p);
  if (section === undefined) return undefined;
  if (p.key !== undefined) return getKey(doc, section, p.key);
  return doc.lines.some((line) => line.kind === 'section' && line.name === section) ? section : undefined;
}

export function setPath(doc: IniDocument, path: AugeasPath | string, value: string): IniDocument {
  const p = toPath(path);
  const key = requireKey(p, path);
  const section = sectionName(doc, p);
  if (section === undefined) {
    throw new InputError(`${doc.fileName}: ${describe(path)}: the file has no section number ${(p.section as { index: number }).index}`);
  }
  return setKey(doc, section, key, value);
}

export function removePath(doc: IniDocument, path: AugeasPath | string): IniDocument {
  const p = toPath(path);
  const key = requireKey(p, path);
  const section = sectionName(doc, p);
  return section === undefined ? doc : removeKey(doc, section, key);
}

function toPath(path: AugeasPath | string): AugeasPath {
  return typeof path === 'string' ? parseAugeasPath(path) : path;
}

function describe(path: AugeasPath | string): string {
  if (typeof path === 'string') return path;
  const section = 'name' in path.section ? `. = '${path.section.name}'` : String(path.section.index);
  return `/files${path.file}/target[${section}]${path.key === undefined ? '' : `/${path.key}`}`;
}

function requireKey(p: AugeasPath, path: AugeasPath | string): string {
  // Whole sections are never written or removed through a path: only keys are configured.
  if (p.key === undefined) throw new InputError(`${describe(path)}: names a section, not a key`);
  return p.key;
}

/**
 * A position resolves to the name of the section at that position; the edit then follows
 * the by-name rules, so a duplicated section is refused the same way.
 */
function sectionName(doc: IniDocument, p: AugeasPath): string | undefined {
  if ('name' in p.section) return p.section.name;
  let seen = 0;
  for (const line of doc.lines) {
    if (line.kind === 'section' && ++seen === p.section.index) return line.name;
  }
  return undefined;
}
