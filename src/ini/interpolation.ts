// Pulp 2 reads server.conf with Python 2's SafeConfigParser, which interpolates: "%%" is a
// literal "%", "%(name)s" is the value of another key of the same section (or of DEFAULT),
// and any other "%" makes get() raise. This module mirrors BasicInterpolation._interpolate_some
// (Python 3.11), whose rules are the same as SafeConfigParser's except that Python 2 also
// resolves the intrinsic "%(__name__)s" to the section name; Python 3 does not, nor do we.
import type { ConfigView } from './config-view.ts';

/** The text to write so that SafeConfigParser/BasicInterpolation reads back exactly `value`. */
export function escapeValue(value: string): string {
  return value.replaceAll('%', '%%');
}

export interface InterpolationProblem {
  readonly section: string;
  readonly key: string;
  /** One line; never contains the value or any part of it (values may be passwords). */
  readonly reason: string;
}

/** Which Python exception get() would raise; the names are Python's, for the tests. */
export type InterpolationFailure = 'InterpolationSyntaxError' | 'InterpolationMissingOptionError' | 'InterpolationDepthError';

export type InterpolatedValue = { ok: true; value: string } | { ok: false; failure: InterpolationFailure; nested: boolean };

// configparser.MAX_INTERPOLATION_DEPTH; the key's own value is depth 1.
const MAX_DEPTH = 10;
// BasicInterpolation._KEYCRE, anchored where the "%" stands; [^)] also matches line breaks.
const REFERENCE_RE = /%\(([^)]+)\)s/y;

class Failed {
  constructor(
    readonly failure: InterpolationFailure,
    readonly depth: number,
  ) {}
}

/**
 * What ConfigParser.get() returns for a raw value, given every key visible from its section
 * (the section's own keys over DEFAULT's, names lower-cased as optionxform leaves them).
 */
export function interpolateValue(keys: ReadonlyMap<string, string>, value: string): InterpolatedValue {
  const out: string[] = [];
  try {
    interpolateSome(keys, value, 1, out);
  } catch (e) {
    if (e instanceof Failed) return { ok: false, failure: e.failure, nested: e.depth > 1 };
    throw e;
  }
  return { ok: true, value: out.join('') };
}

// Same order of checks as Python, so the first fault found is the one Python reports.
function interpolateSome(keys: ReadonlyMap<string, string>, rest: string, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) throw new Failed('InterpolationDepthError', depth);
  let at = 0;
  while (at < rest.length) {
    const p = rest.indexOf('%', at);
    if (p < 0) {
      out.push(rest.slice(at));
      return;
    }
    out.push(rest.slice(at, p));
    const next = rest[p + 1];
    if (next === '%') {
      out.push('%');
      at = p + 2;
    } else if (next === '(') {
      REFERENCE_RE.lastIndex = p;
      const m = REFERENCE_RE.exec(rest);
      if (m === null) throw new Failed('InterpolationSyntaxError', depth);
      at = REFERENCE_RE.lastIndex;
      // optionxform is str.lower(); toLowerCase() agrees with it, final sigma included.
      const referenced = keys.get(m[1]!.toLowerCase());
      if (referenced === undefined) throw new Failed('InterpolationMissingOptionError', depth);
      if (referenced.includes('%')) interpolateSome(keys, referenced, depth + 1, out);
      else out.push(referenced);
    } else {
      throw new Failed('InterpolationSyntaxError', depth);
    }
  }
}

const REASONS: Record<InterpolationFailure, string> = {
  InterpolationSyntaxError: "has a '%' that is neither '%%' (a literal percent sign) nor a '%(name)s' reference",
  InterpolationMissingOptionError: "has a '%(name)s' reference to a key that is set neither in its section nor in [DEFAULT]",
  InterpolationDepthError: `has '%(name)s' references nested deeper than ${MAX_DEPTH} levels (a key referring to itself?)`,
};

/**
 * What Pulp reads: BasicInterpolation applied to a raw view from toConfigView() (whose
 * sections already hold DEFAULT's keys, as ConfigParser.items() does, so references to DEFAULT
 * resolve). Keys Python could not read are kept raw and listed in problems.
 */
export function interpolateView(raw: ConfigView): { view: ConfigView; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const view = new Map<string, ReadonlyMap<string, string>>();
  for (const [section, keys] of raw) {
    const out = new Map<string, string>();
    for (const [key, value] of keys) {
      const read = interpolateValue(keys, value);
      if (read.ok) {
        out.set(key, read.value);
        continue;
      }
      out.set(key, value);
      const where = read.nested && read.failure !== 'InterpolationDepthError' ? 'a key it refers to' : 'its value';
      const reason = `Python's ConfigParser cannot read it: ${where} ${REASONS[read.failure]}; write '%%' for every literal '%'`;
      problems.push({ section, key, reason });
    }
    view.set(section, out);
  }
  return { view, problems };
}
