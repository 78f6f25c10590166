// What a test needs and this machine lacks (root, a server, a tool): under CI=true a failure,
// because CI must test everything; elsewhere a skip that says what was skipped and how to
// enable it. Every such check goes through here, so none can skip silently in CI.

/** The two things of a tap test used here (helpers pass plain objects too). */
export interface Reporter {
  fail(message: string): unknown;
  skip(message: string, fn: () => void): unknown;
}

export const isRoot = process.geteuid?.() === 0;

/** `what`: the missing piece and how to get it ("faketime is missing (apt-get install faketime)"). */
export function unavailable(t: Reporter, what: string): void {
  if (process.env.CI === 'true') t.fail(`${what} (required under CI=true)`);
  else t.skip(`SKIPPED: ${what}`, () => {});
}

/** True as root; otherwise says that `what` (and what it uses root for) needs it, and returns false. */
export function requireRoot(t: Reporter, what: string): boolean {
  if (!isRoot) unavailable(t, `${what} needs root; run the suite as root, as CI does`);
  return isRoot;
}
