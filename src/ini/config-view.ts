// What Pulp itself would read from server.conf: section -> key -> value, as Python's
// ConfigParser sees it (comments dropped, continuation lines joined with "\n").
// The waits and the role table read the *effective* file through this view, so they test
// exactly what the role will use.
export type ConfigView = ReadonlyMap<string, ReadonlyMap<string, string>>;

export function confGet(conf: ConfigView, section: string, key: string): string | undefined {
  return conf.get(section)?.get(key);
}

/**
 * ConfigParser's getboolean() vocabulary (any case, surrounding space ignored), or undefined
 * for any other text. The agent's own flag variables take the same words.
 */
export function booleanOf(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(v)) return true;
  if (['0', 'no', 'false', 'off'].includes(v)) return false;
  return undefined;
}
