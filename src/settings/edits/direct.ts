// The keys a variable each sets as given, value unchanged (a system's key table names them).
import { type Ctx, type Part, type PlannedEdit, edit } from './edit.ts';

/** A key set directly from one variable. */
export interface DirectKey {
  key: string;
  env: string;
  secret: boolean;
}

/** The edits of `keys` (one section's, in table order) whose variable is set. */
export function directEdits<O, C extends Readonly<Record<string, unknown>>>(ctx: Ctx<O, C>, section: string, keys: readonly DirectKey[]): Part {
  const edits: PlannedEdit[] = [];
  const secrets: string[] = [];
  for (const { key, env, secret } of keys) {
    // A variable named in the table but not validated is a bug, caught by any test.
    if (!Object.hasOwn(ctx.c, env)) throw new Error(`${env} (the key table) has no validator in the system's settings`);
    const value = ctx.c[env];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new Error(`${env}: a direct key takes text`);
    if (secret) secrets.push(value);
    edits.push(edit(section, key, value, [ctx.via(env)], secret));
  }
  return { edits, secrets };
}
