// Build-time constants. The bundle defines them (scripts/build.mjs); running from source
// (tests) reads the same files, so both see the same default server.conf and version.
import { readFileSync } from 'node:fs';

declare const PULP_ENTRYPOINT_VERSION: string | undefined;
declare const PULP_EMBEDDED_SERVER_CONF: string | undefined;

export function version(): string {
  if (typeof PULP_ENTRYPOINT_VERSION === 'string') return PULP_ENTRYPOINT_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** A server.conf shaped like Pulp 2's, for previews on a machine that has none. */
export function embeddedServerConf(): string {
  if (typeof PULP_EMBEDDED_SERVER_CONF === 'string') return PULP_EMBEDDED_SERVER_CONF;
  return readFileSync(new URL('../pulp/default-server.conf', import.meta.url), 'utf8');
}
