// The environment -> the server.conf edits it asks for (pure): [server] keys set directly,
// [database] from the database service, [messaging] and [tasks] from the broker service.
import type { ConfigView } from '../../ini/config-view.ts';
import { type EditPlan, planEditsWith } from '../../settings/edits/plan.ts';
import type { Settings } from '../../settings/options.ts';
import { isSecret } from '../keys.ts';
import type { PulpOptions, ServerVars } from '../settings.ts';
import { brokerEdits } from './broker.ts';
import { databaseEdits } from './database.ts';
import { pulpDirectEdits } from './direct.ts';

/** @param current server.conf as it is now, for the halves of a value the environment leaves out */
export function planEdits(settings: Settings<PulpOptions, ServerVars>, current: ConfigView): EditPlan {
  return planEditsWith(settings, current, (ctx) => [pulpDirectEdits(ctx, 'server'), databaseEdits(ctx), brokerEdits(ctx)], isSecret);
}
