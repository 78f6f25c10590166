// The environment -> the edits of a system's file (pure): the system's parts, then the
// PREFIX_CONF__SECTION__KEY overrides over them. A key is edited only when the environment
// gives its value; everything else in the file is left as it is.
import { InputError } from '../../common/errors.ts';
import { splitUrl } from '../../common/url.ts';
import type { Settings } from '../options.ts';
import type { Ctx, Part, PlannedEdit } from './edit.ts';
import { overrideEdits } from './overrides.ts';
import type { ConfigView } from '../../ini/config-view.ts';

export interface EditPlan {
  edits: PlannedEdit[];
  warnings: string[];
  /** Every secret value the edits hold or were built from (passwords, secret keys, URL passwords). */
  secrets: string[];
}

/**
 * @param current the file as it is now, for the halves of a value the environment leaves out
 * @param parts the system's own parts of the plan, in order
 */
export function planEditsWith<O, C>(
  settings: Settings<O, C>,
  current: ConfigView,
  parts: (ctx: Ctx<O, C>) => Part[],
  isSecret: (section: string, key: string) => boolean,
): EditPlan {
  const { env, fileFrom, opts, confVars } = settings;
  if (confVars instanceof InputError) throw confVars;
  const ctx: Ctx<O, C> = { env, c: confVars, opts, current, problems: [], via: (name) => fileFrom.get(name) ?? name };
  const planned = parts(ctx);
  const overrides = overrideEdits(env, planned.flatMap((p) => p.edits), ctx.problems, isSecret);
  const first = ctx.problems[0];
  if (first) throw new InputError(`${first.variable}: ${first.problem}`);
  const secrets = [...planned.flatMap((p) => p.secrets), ...overrides.secrets];
  return { edits: overrides.edits, warnings: overrides.warnings, secrets: [...secrets, ...urlPasswords(overrides.edits)] };
}

/** A password inside any URL-valued edit (PULP_CONF__TASKS__BROKER_URL=amqp://u:pw@h) is a secret too. */
function urlPasswords(edits: PlannedEdit[]): string[] {
  const out: string[] = [];
  for (const e of edits) {
    const pw = splitUrl(e.value)?.password;
    if (pw === undefined) continue;
    out.push(pw);
    try {
      out.push(decodeURIComponent(pw));
    } catch {
      // Not valid percent-encoding: the raw form is masked.
    }
  }
  return out;
}
