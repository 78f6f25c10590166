// A planned edit, and what the parts of a system's plan share: the validated environment,
// where to report a problem, the check of a host a service gave.
import type { ConfigView } from '../../ini/config-view.ts';
import { type VarProblem, unique } from '../kube.ts';
import type { Sourced } from '../types.ts';
import type { CommonOptions } from '../options.ts';
import * as v from '../validators.ts';

export interface PlannedEdit {
  section: string;
  key: string;
  value: string;
  /** Variables the value came from; "default" and the file's name mark parts not from the environment. */
  from: string[];
  /** Whole value is secret (passwords); URL passwords are masked wherever URLs are shown. */
  secret: boolean;
}

/** What every part of a plan shares: the validated environment and where to report. */
export interface Ctx<O, C> {
  env: Readonly<Record<string, string>>;
  c: C;
  opts: CommonOptions & O;
  current: ConfigView;
  problems: VarProblem[];
  /** Which variable really gave a credential (NAME or NAME_FILE). */
  via: (name: string) => string;
}

/** One part's edits and the secret values they were built from. */
export interface Part {
  edits: PlannedEdit[];
  secrets: string[];
}

export function edit(section: string, key: string, value: string, from: string[], secret = false): PlannedEdit {
  return { section, key, value, from: inStableOrder(unique(from)), secret };
}

/**
 * Sources in one order whatever gave them: the variables by name, then "default", then the
 * file's name. The parts of a value are found in code order, which puts a variable before or
 * after "default" depending on which parts the environment gave (a host from DB_SERVICE_HOST,
 * or the port alone): the same edit would list its sources differently from one run to the next.
 */
export function inStableOrder(from: readonly string[]): string[] {
  const isVariable = (f: string): boolean => /^[A-Z0-9_]+$/.test(f);
  const rank = (f: string): number => (isVariable(f) ? 0 : f === 'default' ? 1 : 2);
  return [...from].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export function checkHost(host: Sourced<string> | undefined, problems: VarProblem[]): void {
  if (!host || host.from[0] === 'SERVICE_HOST') return; // validated with the fixed variables
  const p = v.hostProblem(host.value);
  if (p) problems.push({ variable: host.from[0] ?? 'host', problem: p });
}
