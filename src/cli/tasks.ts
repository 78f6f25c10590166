// A system's own commands that run with its settings and file (Keystone's sync-keys and
// rotate): the plan made as `run` makes it (the file must exist, or a template), the task
// given what it needs, and a stop signal ending it at once until the task says otherwise.
import type { Context } from './context.ts';
import { planFromFile, writeAndReport } from './configure.ts';
import { writeStdout } from './output.ts';
import { exitOnStopSignals } from '../exec/stop-signals.ts';
import { UsageError } from '../common/errors.ts';
import { serviceEnvironment } from './service-inputs.ts';

export async function runTask<O, C>(ctx: Context<O, C>, name: string, args: readonly string[], exit: (code: number) => never): Promise<number> {
  const task = ctx.system.tasks?.[name];
  if (task === undefined) throw new UsageError(`unknown command ${name}`);
  const stop = exitOnStopSignals(ctx.log, name, exit);
  const p = planFromFile(ctx, false);
  return task.run(
    {
      settings: ctx,
      log: ctx.log,
      effective: p.effective,
      targets: p.targets,
      configure: () => writeAndReport(ctx, p, false),
      stop,
      print: writeStdout,
      env: serviceEnvironment(ctx, p.edits).env,
    },
    args,
  );
}
