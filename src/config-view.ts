// What Pulp itself would read from server.conf: section -> key -> value, as Python's
// ConfigParser sees it (comments dropped, continuation lines joined with "\n").
// The waits and the role table read the *effective* file through this view, so they test
// exactly what the role will use.
export type ConfigView = ReadonlyMap<string, ReadonlyMap<string, string>>;

export function confGet(conf: ConfigView, section: string, key: string): string | undefined {
  return conf.get(section)?.get(key);
}

/** Builds a view from plain objects (tests, embedded defaults). */
export function configViewFrom(obj: Record<string, Record<string, string>>): ConfigView {
  return new Map(Object.entries(obj).map(([s, kv]) => [s, new Map(Object.entries(kv))]));
}
