// A stand-in for the lead's `bin/pulp-entrypoint run` while the command line is wired: it
// drives src/exec and src/users the way main.ts will. Bundled by the tests with esbuild.
//   node entry.mjs exec PROGRAM [ARGS...]   -> execRole (never returns)
//   node entry.mjs init PROGRAM [ARGS...]   -> runToCompletion, exits with its code
//   node entry.mjs initonce PROGRAM [ARGS...] -> the one-time init under the lease, then exit
//   node entry.mjs awaitinit INITPROGRAM -- ROLE [ARGS...] -> wait for the init's record, exec ROLE
// ENTRY_RUN_AS: user to switch to when root (PULP_RUN_AS); ENTRY_CWD: working directory;
// ENTRY_MONGO host:port and ENTRY_DB: the Pulp database; ENTRY_DEADLINE_MS: the deadline
// from now; PULP_INIT_LEASE_TTL, PULP_INIT_KEY, PULP_FORCE_INIT as main.ts will read them.
import { EntrypointError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { execRole, runToCompletion } from '../src/exec/run.ts';
import { parseExecMode } from '../src/exec/mode.ts';
import { parseSignalRewrite } from '../src/exec/signals.ts';
import { planUser } from '../src/exec/privileges.ts';
import { resolveInitKey } from '../src/init/key.ts';
import { awaitInitOnMongo, parseForceInit, parseLeaseTtl, runInitOnMongo } from '../src/init/on-mongo.ts';
import type { MongoTarget } from '../src/targets.ts';

function target(): MongoTarget {
  const [host = '127.0.0.1', port = '27017'] = (process.env.ENTRY_MONGO ?? '127.0.0.1:27017').split(':');
  return {
    kind: 'mongodb',
    address: `${host}:${port}`,
    seeds: [{ host, port: Number(port) }],
    database: process.env.ENTRY_DB ?? 'pulp_database',
    username: undefined,
    password: undefined,
    replicaSet: undefined,
    tls: false,
    tlsVerify: true,
    caFile: undefined,
    certFile: undefined,
    keyFile: undefined,
  };
}

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
  const deadline = Date.now() + Number(process.env.ENTRY_DEADLINE_MS ?? 60_000);
  if (what === 'initonce') {
    const key = await resolveInitKey(argv, process.env);
    await runInitOnMongo({
      target: target(),
      key,
      force: parseForceInit(process.env.PULP_FORCE_INIT),
      argv,
      run: () => runToCompletion({ ...spec, label: 'init' }, log),
      deadline,
      log,
      ttlMs: parseLeaseTtl(process.env.PULP_INIT_LEASE_TTL),
    });
    process.exit(0);
  }
  if (what === 'awaitinit') {
    const sep = argv.indexOf('--');
    const key = await resolveInitKey(argv.slice(0, sep), process.env);
    await awaitInitOnMongo({ target: target(), key, deadline, log });
    await execRole({ ...spec, argv: argv.slice(sep + 1) }, log);
  }
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
