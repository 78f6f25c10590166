// What Pulp itself would read from server.conf: section -> key -> value, as Python's
// ConfigParser sees it (comments dropped, continuation lines joined with "\n").
// The waits and the role table read the *effective* file through this view, so they test
// exactly what the role will use.
export type ConfigView = ReadonlyMap<string, ReadonlyMap<string, string>>;

export function confGet(conf: ConfigView, section: string, key: string): string | undefined {
  return conf.get(section)?.get(key);
}

/** "database.seeds" -> its section and key (the key tables' ids; a key may hold dots, a section not). */
export function keyParts(id: string): { section: string; key: string } {
  const dot = id.indexOf('.');
  return { section: id.slice(0, dot), key: id.slice(dot + 1) };
}

/** The value of "section.key" as given (trimmed), or undefined when the file leaves it out or empty. */
export function setValueOf(conf: ConfigView, id: string): string | undefined {
  const { section, key } = keyParts(id);
  const v = confGet(conf, section, key)?.trim();
  return v === undefined || v === '' ? undefined : v;
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
