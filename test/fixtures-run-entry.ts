// A stand-in for the lead's `bin/pulp-entrypoint run` while the command line is wired: it
// drives src/exec and src/users the way main.ts will. Bundled by the tests with esbuild.
//   node entry.mjs exec PROGRAM [ARGS...]   -> execRole (never returns)
//   node entry.mjs init PROGRAM [ARGS...]   -> runToCompletion, exits with its code
// ENTRY_RUN_AS: user to switch to when root (PULP_RUN_AS); ENTRY_CWD: working directory.
import { EntrypointError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { execRole, runToCompletion } from '../src/exec/run.ts';
import { parseExecMode } from '../src/exec/mode.ts';
import { parseSignalRewrite } from '../src/exec/signals.ts';
import { planUser } from '../src/exec/privileges.ts';

const log = createLogger({ format: 'text', trace: false });

async function main(args: string[]): Promise<void> {
  const [what, ...argv] = args;
  const plan = planUser(process.env.ENTRY_RUN_AS ?? 'apache');
  if (plan.warning) log.warn(plan.warning);
  const spec = {
    argv,
    user: plan.user,
    cwd: process.env.ENTRY_CWD ?? process.cwd(),
    env: process.env,
    signalRewrite: parseSignalRewrite(process.env.PULP_SIGNAL_REWRITE),
    mode: parseExecMode(process.env.PULP_EXEC_MODE),
  };
  if (what === 'init') process.exit(await runToCompletion(spec, log));
  await execRole(spec, log);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof EntrypointError) {
    log.error(err.message);
    process.exit(err.exitCode);
  }
  log.error(String(err));
  process.exit(70);
});
