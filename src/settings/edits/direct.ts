// The keys a variable each sets as given, value unchanged (the env column of src/pulp/keys.ts).
import { directKeys, isSecret } from '../../pulp/keys.ts';
import { isServerVariable } from '../options.ts';
import { type Ctx, type Part, type PlannedEdit, edit } from './edit.ts';

/** The keys of a section that one variable each sets as given (src/pulp/keys.ts). */
export function directEdits(ctx: Ctx, section: string): Part {
  const edits: PlannedEdit[] = [];
  const secrets: string[] = [];
  for (const { key, env } of directKeys(section)) {
    // A variable named in the table but not validated here is a bug, caught by any test.
    if (!isServerVariable(env)) throw new Error(`${env} (src/pulp/keys.ts) has no validator in settings/options.ts`);
    const value = ctx.c[env];
    if (value === undefined) continue;
    const secret = isSecret(section, key);
    if (secret) secrets.push(value);
    edits.push(edit(section, key, value, [ctx.via(env)], secret));
  }
  return { edits, secrets };
}
