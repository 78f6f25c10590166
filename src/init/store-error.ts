// What an InitStore throws when the database fails it. The store (mongo-store.ts) reduces the
// driver's error to this, so store-call.ts can decide without knowing the driver: a transient failure
// (the network, an election, a timeout) is worth another try before the deadline; anything
// else (credentials, permissions) will not get better by waiting.
export class StoreError extends Error {
  constructor(
    /** One line: what went wrong ("connection refused (connect ECONNREFUSED 10.0.0.5:27017)"). */
    readonly reason: string,
    readonly transient: boolean,
    /** What a person should check, for the final error line. */
    readonly hint: string,
  ) {
    super(reason);
    this.name = 'StoreError';
  }
}
