// The few internal modules of the official MongoDB driver (mongodb 7.x) that the readiness
// probe uses to open one connection without a MongoClient (src/dependencies/mongodb/direct.ts). The
// package ships no declarations for them; these are the parts used, as the driver defines them.
declare module 'mongodb/lib/cmap/connect.js' {
  export interface DriverConnection {
    command(ns: unknown, command: Record<string, unknown>, options?: Record<string, unknown>): Promise<Record<string, unknown>>;
    destroy(): void;
  }
  /** Socket (TLS when options.tls), the hello handshake and authentication; a ready connection. */
  export function connect(options: Record<string, unknown>): Promise<DriverConnection>;
}
declare module 'mongodb/lib/cmap/handshake/client_metadata.js' {
  export function makeClientMetadata(driverInfo: unknown[], options: { appName?: string; runtime: Promise<unknown> }): Promise<unknown>;
}
declare module 'mongodb/lib/runtime_adapters.js' {
  export function resolveRuntimeAdapters(options: Record<string, unknown>): Promise<unknown>;
}
declare module 'mongodb/lib/mongo_client_auth_providers.js' {
  export class MongoClientAuthProviders {}
}
declare module 'mongodb/lib/cmap/auth/mongo_credentials.js' {
  export class MongoCredentials {
    constructor(options: { username: string; password: string; source: string; mechanism?: string; mechanismProperties: Record<string, unknown> });
  }
}
declare module 'mongodb/lib/utils.js' {
  export class HostAddress {
    static fromString(s: string): HostAddress;
  }
  export function ns(ns: string): unknown;
}

// The Connection class, which the probes subclass (connectionType, an option the driver accepts
// but does not document) to put a guard on the socket before the driver reads from it
// (guardedConnectionType in src/dependencies/mongodb/connect.ts).
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
