// The shapes every settings module shares: the environment as read, and a value with its source.

export type Env = Readonly<Record<string, string | undefined>>;

/** A value and the variables (or "default", or "server.conf") it came from. */
export interface Sourced<T> {
  value: T;
  from: string[];
}

/** PULP_EXEC_MODE: exec replaces the agent with the role, supervise keeps it as the parent (exec/mode.ts). */
export const EXEC_MODE_SETTINGS = ['auto', 'exec', 'supervise'] as const;
export type ExecModeSetting = (typeof EXEC_MODE_SETTINGS)[number];
