// Pulp's keys set directly from one variable each (the env column of src/pulp/keys.ts), and
// the context every part of Pulp's plan is given.
import type { Ctx, Part } from '../../settings/edits/edit.ts';
import { directEdits } from '../../settings/edits/direct.ts';
import { directKeys, isSecret } from '../keys.ts';
import type { PulpOptions, ServerVars } from '../settings.ts';

export type PulpCtx = Ctx<PulpOptions, ServerVars>;

/** The keys of a section that one variable each sets as given. */
export function pulpDirectEdits(ctx: PulpCtx, section: string): Part {
  return directEdits(ctx, section, directKeys(section).map((k) => ({ key: k.key, env: k.env, secret: isSecret(section, k.key) })));
}
