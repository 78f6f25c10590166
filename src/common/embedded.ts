// Build-time constants. The bundle defines them (scripts/build.mjs); running from source
// (tests) reads the same files, so both see the same default files and version.
import { readFileSync } from 'node:fs';

declare const PULP_ENTRYPOINT_VERSION: string | undefined;
/** src/-relative path -> text, of every system's default file (scripts/build.mjs EMBEDDED). */
declare const PULP_EMBEDDED_FILES: Readonly<Record<string, string>> | undefined;

export function version(): string {
  if (typeof PULP_ENTRYPOINT_VERSION === 'string') return PULP_ENTRYPOINT_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** A file under src/ that the bundle carries ("pulp/default-server.conf"), for previews on a machine without it. */
export function embeddedFile(srcPath: string): string {
  if (typeof PULP_EMBEDDED_FILES === 'object') {
    const text = PULP_EMBEDDED_FILES[srcPath];
    if (text === undefined) throw new Error(`${srcPath} is not embedded (scripts/build.mjs EMBEDDED)`);
    return text;
  }
  return readFileSync(new URL(`../${srcPath}`, import.meta.url), 'utf8');
}
