// [messaging] url and [tasks] broker_url from the broker service, its credentials and scheme;
// whatever the environment leaves out comes from the file's URL, then Celery's defaults.
import { type ConfigView, confGet } from '../../ini/config-view.ts';
import { joinHostPort } from '../../common/net.ts';
import { labelOf, pulpDefault } from '../keys.ts';
import { URL_SCHEMES, parseBrokerUrl } from '../values.ts';
import { discoverService } from '../../settings/kube.ts';
import type { Sourced } from '../../settings/types.ts';
import type { PulpCtx } from './direct.ts';
import { type Part, type PlannedEdit, checkHost, edit } from '../../settings/edits/edit.ts';

/** [messaging] url and [tasks] broker_url from the broker service, its credentials and scheme. */
export function brokerEdits(ctx: PulpCtx): Part {
  const { env, c, opts } = ctx;
  const msg = discoverService(env, opts.msgService.value, { defaultPort: 5672, portNames: ['amqp'] }, ctx.problems);
  checkHost(msg.host, ctx.problems);
  const schemeSet = env.PULP_BROKER_SCHEME !== undefined;
  if (!(msg.host || msg.port || c.MSG_SERVICE_USER !== undefined || c.MSG_SERVICE_PASSWORD !== undefined || schemeSet)) {
    return { edits: [], secrets: [] };
  }
  const base = currentBroker(ctx.current);
  const host = msg.host ?? { value: base.host, from: ['server.conf'] };
  // The file's scheme is kept unless PULP_BROKER_SCHEME says otherwise: adding a password
  // must not turn qpids:// (TLS) into qpid://, nor kombu's pyamqp:// into qpid://.
  const scheme: Sourced<string> = schemeSet
    ? opts.brokerScheme
    : base.scheme !== undefined
      ? { value: base.scheme, from: ['server.conf'] }
      : opts.brokerScheme;
  const tlsPort = URL_SCHEMES[scheme.value]?.port ?? 5672;
  const port = msg.port ?? (msg.host ? { value: tlsPort, from: ['default'] } : { value: base.port, from: ['server.conf'] });
  const { user, password } = brokerCredentials(ctx, base);
  const edits: PlannedEdit[] = [];
  const hp = joinHostPort(host.value, port.value);
  if (msg.host || msg.port) {
    edits.push(edit('messaging', 'url', `${URL_SCHEMES[scheme.value]?.tls ? 'ssl' : 'tcp'}://${hp}`, [...host.from, ...port.from]));
  }
  const userinfo = encodeURIComponent(user.value) + (password ? `:${encodeURIComponent(password.value)}` : '');
  const vhost = base.vhost !== undefined ? `/${encodeURIComponent(base.vhost)}` : '';
  edits.push(
    edit('tasks', 'broker_url', `${scheme.value}://${userinfo}@${hp}${vhost}`, [
      ...host.from,
      ...port.from,
      ...user.from,
      ...(password?.from ?? []),
      ...scheme.from,
    ]),
  );
  return { edits, secrets: password ? [password.value] : [] };
}

/** The broker user and password: the environment's, else the file's, else Celery's guest. */
function brokerCredentials(
  ctx: PulpCtx,
  base: { username?: string; password?: string },
): { user: Sourced<string>; password: Sourced<string> | undefined } {
  const { c, via } = ctx;
  const user: Sourced<string> =
    c.MSG_SERVICE_USER !== undefined
      ? { value: c.MSG_SERVICE_USER, from: [via('MSG_SERVICE_USER')] }
      : base.username !== undefined
        ? { value: base.username, from: ['server.conf'] }
        : { value: 'guest', from: ['default'] };
  // A password in the file belongs to the file's user; a new user from the environment does not inherit it.
  const password: Sourced<string> | undefined =
    c.MSG_SERVICE_PASSWORD !== undefined
      ? { value: c.MSG_SERVICE_PASSWORD, from: [via('MSG_SERVICE_PASSWORD')] }
      : base.password !== undefined && c.MSG_SERVICE_USER === undefined
        ? { value: base.password, from: ['server.conf'] }
        : undefined;
  return { user, password };
}

function currentBroker(current: ConfigView): {
  host: string;
  port: number;
  /** A Celery broker scheme (URL_SCHEMES with a protocol), else undefined. */
  scheme: string | undefined;
  username?: string;
  password?: string;
  vhost?: string;
} {
  const url = confGet(current, 'tasks', 'broker_url') || pulpDefault('tasks.broker_url');
  try {
    const u = parseBrokerUrl(url, labelOf('tasks.broker_url'));
    return { ...u, scheme: URL_SCHEMES[u.scheme]?.protocol !== undefined ? u.scheme : undefined };
  } catch {
    return { host: 'localhost', port: 5672, scheme: undefined };
  }
}
