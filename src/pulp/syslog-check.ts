// Pulp 2 logs to syslog unless [server] log_type says console. A container has no /dev/log
// unless someone mounts it, and then every Pulp log line is lost without a sound; the
// original scripts listed this as an unhandled failure.
import type { ConfigView } from '../ini/config-view.ts';
import { pulpValue } from './keys.ts';

/** The warning to give, or undefined when Pulp's log lines have somewhere to go. */
export function syslogWarning(conf: ConfigView, devLogExists: boolean): string | undefined {
  const type = (pulpValue(conf, 'server.log_type') ?? '').toLowerCase();
  if (type !== 'syslog' || devLogExists) return undefined;
  return 'Pulp logs to syslog ([server] log_type) but /dev/log does not exist, so its log lines would be lost: set PULP_CONF__SERVER__LOG_TYPE=console, or mount /dev/log';
}
