// What every command starts from: the environment (credential files read), the agent's
// options, and a logger in the format they ask for.
import { readRegularFile } from './bounded-read.ts';
import { type Logger, createLogger } from './log.ts';
import type { Env } from './settings/types.ts';
import { type AgentOptions, resolveOptions } from './settings/options.ts';
import { readFileVariables } from './settings/secret-files.ts';

export interface Context {
  env: Env;
  fileFrom: ReadonlyMap<string, string>;
  opts: AgentOptions;
  log: Logger;
}

export function loadContext(): Context {
  const { env, from, secrets } = readFileVariables(process.env, readRegularFile);
  const opts = resolveOptions(env);
  // The credentials' values are masked from the first line; the plan's secrets are added to
  // this logger once it is made (main.ts).
  const log = createLogger({ format: opts.logFormat, trace: opts.trace, secrets });
  return { env, fileFrom: from, opts, log };
}

