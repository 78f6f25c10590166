// The mongodb driver's Connection class, which its typings leave out: the probe subclasses
// it (connectionType, an option the driver accepts but does not document) to put a guard on
// the socket before the driver reads from it (src/wait/mongodb.ts). Only what is used.
declare module 'mongodb/lib/cmap/connection.js' {
  import type { Duplex } from 'node:stream';

  export interface ConnectionOptions {
    hostAddress?: { toString(): string };
  }

  export class Connection {
    constructor(stream: Duplex, options: ConnectionOptions);
    get hello(): unknown;
    set hello(response: unknown);
  }
}
