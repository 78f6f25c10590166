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
  return { section, key, value, from: unique(from), secret };
}

export function checkHost(host: Sourced<string> | undefined, problems: VarProblem[]): void {
  if (!host || host.from[0] === 'SERVICE_HOST') return; // validated with the fixed variables
  const p = v.hostProblem(host.value);
  if (p) problems.push({ variable: host.from[0] ?? 'host', problem: p });
}
