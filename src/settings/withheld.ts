// Which variables the service does not get. A secret the agent consumed, writing it into the
// service's own file (a database or broker password, a secret key set through
// PREFIX_CONF__SECTION__KEY) or handing it to one init step in that step's own environment
// (keystone-manage bootstrap's OS_BOOTSTRAP_PASSWORD), has no business in the environment of
// the long-running service: there it is readable in /proc/PID/environ for the service's whole
// life and passed to every process it starts. Pure: from the system's credential variables
// and the plan's edits.
import { envName } from '../common/program.ts';
import { splitUrl } from '../common/url.ts';
import type { PlannedEdit } from './edits/edit.ts';

/**
 * The variables withheld from the init's steps and the role, sorted: every secret credential
 * variable of the system, as NAME and NAME_FILE (the path of the Secret's file says where to
 * read it again), and every PREFIX_CONF__SECTION__KEY whose value is secret or holds a URL
 * password. Everything else (the kubelet's variables, user names, the agent's own settings,
 * PATH, HOME...) is passed on as it is.
 */
export function withheldVariables(credentials: readonly { name: string; secret: boolean }[], edits: readonly PlannedEdit[]): string[] {
  const out = new Set<string>();
  for (const c of credentials) {
    if (!c.secret) continue;
    out.add(c.name);
    out.add(`${c.name}_FILE`);
  }
  const CONF_PREFIX = envName('CONF__');
  for (const e of edits) {
    const [variable] = e.from;
    if (e.from.length !== 1 || variable === undefined || !variable.startsWith(CONF_PREFIX)) continue;
    if (e.secret || splitUrl(e.value)?.password !== undefined) out.add(variable);
  }
  return [...out].sort();
}

/** `env` without `withheld`: the environment the init's steps and the role start from. */
export function withoutVariables(env: NodeJS.ProcessEnv, withheld: readonly string[]): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of withheld) delete out[name];
  return out;
}
