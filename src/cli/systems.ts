// The systems the agent knows, one line each, and which one a program name picks: the same
// binary installed as pulp-entrypoint or keystone-entrypoint, as busybox picks its applet.
// Only the system picked is loaded (evaluated): the other's modules stay off the start-up path.
import { basename } from 'node:path';
import type { System } from '../system/system.ts';

/** Runs `use` with the system, whatever its option and variable types. */
export type SystemRunner = <R>(use: <O, C>(system: System<O, C>) => R) => R;

function runner<O, C>(system: System<O, C>): SystemRunner {
  return (use) => use(system);
}

/** The first is the one a name no system claims gets (node dist/main.mjs, a renamed copy). */
const SYSTEMS: readonly { program: string; load: () => Promise<SystemRunner> }[] = [
  { program: 'pulp-entrypoint', load: async () => runner((await import('../pulp/system.ts')).PULP) },
  { program: 'keystone-entrypoint', load: async () => runner((await import('../keystone/system.ts')).KEYSTONE) },
];

/** The system for a program name or path ("/usr/local/bin/keystone-entrypoint"). */
export function systemFor(invokedAs: string | undefined): Promise<SystemRunner> {
  const name = basename(invokedAs ?? '');
  const found = SYSTEMS.find((s) => s.program === name) ?? SYSTEMS[0];
  if (!found) throw new Error('no system');
  return found.load();
}
