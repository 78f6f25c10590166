// Small helpers of the network tests: a closed port, a rejection, and peers on raw loopback
// sockets that do exactly what a test scripts.
import net, { createServer } from 'node:net';
import type { Teardown } from './temp.ts';

/** A loopback port nobody listens on (taken and released at once), for "refused" cases. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
}

/** The error `p` rejects with; throws when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

export interface Peer {
  port: number;
  address: string;
  /** Connections accepted so far. */
  connections: () => number;
}

/**
 * A listener that runs `script` on each connection: it gets the socket and a function that
 * resolves with the client's next chunk (null once it has gone); whatever the script does
 * after the client has gone is ignored. Everything it opened is closed when `t` ends.
 */
export async function scriptedPeer(t: Teardown, script: (s: net.Socket, next: () => Promise<Buffer | null>) => Promise<void> | void): Promise<Peer> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    const waiting: ((b: Buffer | null) => void)[] = [];
    const queued: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      const w = waiting.shift();
      if (w) w(d);
      else queued.push(d);
    });
    s.on('close', () => {
      sockets.delete(s);
      for (const w of waiting.splice(0)) w(null);
    });
    const next = (): Promise<Buffer | null> => {
      const q = queued.shift();
      if (q) return Promise.resolve(q);
      if (s.destroyed) return Promise.resolve(null);
      return new Promise((r) => waiting.push(r));
    };
    Promise.resolve(script(s, next)).catch(() => s.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as net.AddressInfo).port;
  return { port, address: `127.0.0.1:${port}`, connections: () => connections };
}

/** Writes `chunk` again and again as fast as the client reads, until it goes away. */
export function flood(s: net.Socket, chunk: Buffer): void {
  const pump = (): void => {
    while (!s.destroyed && s.write(chunk));
  };
  s.on('drain', pump);
  pump();
}
