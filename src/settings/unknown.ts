// The environment's names that look like the program's own (its prefixes) but that it does not
// read: a misspelt PULP_WAIT_TIMOUT is ignored like any stranger, so it is named, with the
// variable most likely meant, in the log at every start and in the preview's notes (pure).
import { programNames } from '../common/program.ts';
import { didYouMean } from '../common/suggest.ts';
import { isKubeletVariable } from './kube.ts';

/**
 * One warning per name (in name order) that starts with one of `prefixes`, is not `known`, is not
 * a PREFIX_CONF__ override (its section and key are checked against the file, conf-file/plan.ts),
 * and has no shape the kubelet gives its Services' variables.
 */
export function unknownVariables(names: Iterable<string>, known: readonly string[], prefixes: readonly string[], confPrefix: string): string[] {
  const out: string[] = [];
  for (const name of [...names].sort()) {
    if (!prefixes.some((p) => name.startsWith(p)) || known.includes(name) || name.startsWith(confPrefix) || isKubeletVariable(name)) continue;
    out.push(`${name} is not a variable ${programNames().program} reads: ignored${didYouMean(name, known)}`);
  }
  return out;
}
