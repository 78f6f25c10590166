// What a call threw, for tests that check an error's message and class.

/** The thrown error, or a failure when nothing is thrown. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return new Error('nothing was thrown');
}

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
