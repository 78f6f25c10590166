// What the service's own programs start from, computed alike by every command that starts one
// (run and init, check's contract, the system's tasks) and by the preview: the init key, and
// the environment without the secrets the agent consumed (settings/withheld.ts).
import type { Context } from './context.ts';
import type { PlannedEdit } from '../settings/edits/edit.ts';
import { resolveInitKey } from '../init/key.ts';
import { withheldVariables, withoutVariables } from '../settings/withheld.ts';

/** The init key: PREFIX_INIT_KEY, else the default from the init program (init/key.ts). */
export function contextInitKey<O, C>(ctx: Context<O, C>): Promise<string> {
  return resolveInitKey(ctx.system.initKeyArgv(ctx), ctx.opts.initKey?.value, process.env.PATH, ctx.system.awaitInit.keyHint);
}

/** The process's environment less the variables withheld for this plan, and their names. */
export function serviceEnvironment<O, C>(ctx: Context<O, C>, edits: readonly PlannedEdit[]): { env: NodeJS.ProcessEnv; withheld: string[] } {
  const withheld = withheldVariables(ctx.system.settings.fileVariables, edits);
  return { env: withoutVariables(process.env, withheld), withheld };
}
