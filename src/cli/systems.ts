// The systems the agent knows, one line each, and which one a program name picks: the same
// binary installed as pulp-entrypoint or keystone-entrypoint, as busybox picks its applet.
import { basename } from 'node:path';
import { KEYSTONE } from '../keystone/system.ts';
import { PULP } from '../pulp/system.ts';
import type { System } from '../system/system.ts';

/** Runs `use` with the system, whatever its option and variable types. */
export type SystemRunner = <R>(use: <O, C>(system: System<O, C>) => R) => R;

function runner<O, C>(system: System<O, C>): { program: string; run: SystemRunner } {
  return { program: system.names.program, run: (use) => use(system) };
}

/** The first is the one a name no system claims gets (node dist/main.mjs, a renamed copy). */
const SYSTEMS = [runner(PULP), runner(KEYSTONE)];

/** The system for a program name or path ("/usr/local/bin/keystone-entrypoint"). */
export function systemFor(invokedAs: string | undefined): SystemRunner {
  const name = basename(invokedAs ?? '');
  const found = SYSTEMS.find((s) => s.program === name) ?? SYSTEMS[0];
  if (!found) throw new Error('no system');
  return found.run;
}
