// The environment -> the server.conf edits it asks for (pure). A key is edited only when the
// environment gives its value; everything else in the file is left as it is.
import type { ConfigView } from '../../ini/config-view.ts';
import { InputError } from '../../common/errors.ts';
import { splitUrl } from '../../common/url.ts';
import type { Settings } from '../options.ts';
import { brokerEdits } from './broker.ts';
import { databaseEdits } from './database.ts';
import { directEdits } from './direct.ts';
import type { Ctx, PlannedEdit } from './edit.ts';
import { overrideEdits } from './overrides.ts';

export interface EditPlan {
  edits: PlannedEdit[];
  warnings: string[];
  /** Every secret value the edits hold or were built from (passwords, secret keys, URL passwords). */
  secrets: string[];
}

/** @param current the file as it is now, for the halves of a value the environment leaves out */
export function planEdits(settings: Settings, current: ConfigView): EditPlan {
  const { env, fileFrom, opts, serverVars } = settings;
  if (serverVars instanceof InputError) throw serverVars;
  const ctx: Ctx = { env, c: serverVars, opts, current, problems: [], via: (name) => fileFrom.get(name) ?? name };
  const parts = [directEdits(ctx, 'server'), databaseEdits(ctx), brokerEdits(ctx)];
  const overrides = overrideEdits(env, parts.flatMap((p) => p.edits), ctx.problems);
  const first = ctx.problems[0];
  if (first) throw new InputError(`${first.variable}: ${first.problem}`);
  const secrets = [...parts.flatMap((p) => p.secrets), ...overrides.secrets];
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
