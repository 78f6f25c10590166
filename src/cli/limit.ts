// How a wait's limit is named in its messages: as the user set it (`--timeout 2`,
// PULP_WAIT_TIMEOUT=30) or as the default it is, so the line says what to change.
import { envName } from '../common/program.ts';
import type { Sourced } from '../settings/types.ts';

/** "--timeout 2" when given on the command line, else the variable with its value or its default. */
export function waitLimit(variable: Sourced<number>, timeoutSec?: number): string {
  if (timeoutSec !== undefined) return `--timeout ${timeoutSec}`;
  const name = envName('WAIT_TIMEOUT');
  return variable.from[0] === name ? `${name}=${variable.value}` : `${name} (default ${variable.value})`;
}
