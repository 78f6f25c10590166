// What the role writes (or reads) as it starts, checked for the user it runs as: one line per
// path it could not use, naming the key that gives it, the path, and what to change. run
// refuses with the first (before anything is written); preview shows them all as notes, since
// the operator's machine is not the image. Light: no driver, no child process.
import { envName } from '../common/program.ts';
import { pathProblem } from '../exec/privileges.ts';
import type { ResolvedUser } from '../exec/users.ts';
import type { ConfDialect } from '../conf-file/dialect.ts';
import type { RolePath } from '../system/system.ts';

/** The variable that sets [section] key: PULP_CONF__SERVER__WORKING_DIRECTORY. */
function overrideVariable(p: RolePath): string {
  return envName(`CONF__${p.section.toUpperCase()}__${p.key.toUpperCase()}`);
}

/** One line for each of `paths` that `user` (null: the agent's own) could not use. */
export function rolePathRefusals(paths: readonly RolePath[], user: ResolvedUser | null, dialect: ConfDialect): string[] {
  return paths.flatMap((p) => {
    const problem = pathProblem(user, p.path, p.access);
    if (problem === undefined) return [];
    const fix = p.access === 'read' ? 'make it readable there' : p.access === 'dir' ? 'create it, writable by the run-as user, in the image or a volume' : 'make its directory writable by the run-as user';
    return [`${dialect.label(p.section, p.key)} (${p.path}): ${problem}; the role would start broken: ${p.why}; ${fix}, or set ${overrideVariable(p)}`];
  });
}
