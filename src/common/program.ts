// Which program this process is (busybox picks its applet by name): the name its lines begin
// with and the prefix of its own variables. main() sets it once, from the system the name
// picked, before any line is written; shared code that names a variable asks here.

export interface ProgramNames {
  /** "pulp-entrypoint": how every log line begins, and the name --help and errors use. */
  program: string;
  /** "PULP": the agent's own variables are PREFIX_WAIT_TIMEOUT, PREFIX_RUN_AS, ... */
  prefix: string;
  /** "server.conf": the file values are checked for. */
  confName: string;
  /**
   * Who reads white space + ";" inside a value as the start of a comment ("Pulp 2's
   * ConfigParser"), so such a value is refused; undefined when the file's reader does not.
   */
  inlineComments?: string;
}

// The package's own name, which it keeps under any name no system claims (node dist/main.mjs).
let current: ProgramNames = { program: 'pulp-entrypoint', prefix: 'PULP', confName: 'server.conf', inlineComments: "Pulp 2's ConfigParser" };

export function useProgram(names: ProgramNames): void {
  current = names;
}

export function programNames(): ProgramNames {
  return current;
}

/** One of the agent's own variables: envName('WAIT_TIMEOUT') is PULP_WAIT_TIMEOUT for Pulp. */
export function envName(suffix: string): string {
  return `${current.prefix}_${suffix}`;
}
