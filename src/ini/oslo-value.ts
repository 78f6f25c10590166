// Values as oslo.config reads them (OpenStack's own INI dialect, not ConfigParser): its parser
// strips the value and then one pair of matching quotes around it, and at get() time it
// substitutes "$name" / "${name}" with other options, "$$" being a literal "$" (and "\$" read
// as "$$" first). A value is written so that what oslo.config returns is exactly the value meant.
import { InputError } from '../common/errors.ts';
import { pyStrip } from './py-space.ts';

const QUOTES = `"'`;

/**
 * The text to write after "key = " so that oslo.config reads back exactly `value`: every "$"
 * written "\$" (no substitution; oslo.config turns each "\$" into "$$" and that into "$". "$$"
 * would not do: after a backslash in the value, "\$$" reads as "$" and a substitution), and
 * the whole wrapped in double quotes when oslo.config's strip or its quote removal would
 * otherwise change it (white space at either end, or a value that itself starts and ends with
 * the same quote). A line break cannot be written in one line.
 */
export function osloValue(value: string, what: string): string {
  if (/[\r\n]/.test(value)) throw new InputError(`${what}: a line break cannot be written into one line of the file`);
  const escaped = value.replaceAll('$', '\\$');
  const first = escaped[0];
  const quoted = first !== undefined && first === escaped.at(-1) && QUOTES.includes(first);
  // Python's str.strip() (more than ASCII space: \x1c-\x1f, \x85, the Unicode spaces).
  return quoted || pyStrip(escaped) !== escaped ? `"${escaped}"` : escaped;
}
