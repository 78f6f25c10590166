// The configuration file gunicorn serves Keystone's API from (Python source, passed as its only
// argument, `-c FILE`): Keystone 30 ships no WSGI script, so gunicorn loads
// keystone.wsgi.api:application itself; and since Keystone parses sys.argv with oslo.config
// when that module is imported, no gunicorn option may be on the command line, and each worker
// empties sys.argv before it imports the application (post_fork), or every worker exits 2
// ("unrecognized arguments") and gunicorn restarts them forever.

export const KEYSTONE_WSGI_APP = 'keystone.wsgi.api:application';

export interface ApiServer {
  host: string;
  port: number;
  workers: number;
}

/** "host:port" for gunicorn's bind, an IPv6 host bracketed. */
export function bindAddress(s: Pick<ApiServer, 'host' | 'port'>): string {
  return `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

/**
 * The file's text. Values go in as JSON strings, which Python reads as the same str for the
 * host names and numbers the settings allow. Logs go to stdout/stderr (the container's), and
 * the control socket (under ~/.gunicorn, which a user without a home cannot make) is off.
 */
export function gunicornConfig(s: ApiServer): string {
  return [
    '# Written by the entrypoint for this start; gunicorn -c reads it. Edits are lost at the next start.',
    'import sys',
    '',
    `bind = [${JSON.stringify(bindAddress(s))}]`,
    `workers = ${s.workers}`,
    `wsgi_app = ${JSON.stringify(KEYSTONE_WSGI_APP)}`,
    'control_socket_disable = True',
    'accesslog = "-"',
    'errorlog = "-"',
    '',
    '',
    'def post_fork(server, worker):',
    '    # Keystone reads sys.argv with oslo.config at import: it must not see gunicorn\'s.',
    '    del sys.argv[1:]',
    '',
  ].join('\n');
}
