// The init's connection to a MongoDB database (Pulp's): opened while the waits run, closed by
// its opener, with a mongoInitStore over it for init-db.ts. The driver loads only here.
import type { MongoClient } from 'mongodb';
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, retryUntil } from '../common/retry.ts';
import type { MongoTarget } from '../common/targets.ts';
import { REASON_HINT, toProbeError } from '../dependencies/classify.ts';
import { connectMongo, probeOptions } from '../dependencies/mongodb/connect.ts';
import { findOneDirect } from '../dependencies/mongodb/direct.ts';
import { type DoneDoc, INIT_COLLECTION, doneId } from './lease.ts';
import { mongoInitStore } from './mongo-store.ts';
import { backoffPolls } from './store-call.ts';
import type { InitDb } from './init-db.ts';
import { envName } from '../common/program.ts';

export function storeNameOf(target: MongoTarget): string {
  return `MongoDB at ${target.address} (database ${target.database})`;
}

// Each operation (server selection, socket reads) gives up after this, so that a database
// that goes away mid-init is noticed and retried by store-call.ts instead of hanging on one call
// until far past the deadline.
const OP_TIMEOUT_MS = 10_000;

/** The pause before the first retry of the connection, doubled up to 4 times as much. */
const CONNECT_POLL_MS = 500;

/** Connects, trying again after transient failures until the deadline. */
function connectForInit(target: MongoTarget, deadline: Deadline, log: Logger): Promise<MongoClient> {
  const cannot = `cannot connect to ${storeNameOf(target)} for the one-time init`;
  return retryUntil({
    deadline,
    attempt: (_n, leftMs) => connectMongo(target, { timeoutMs: Math.round(Math.min(OP_TIMEOUT_MS, Math.max(1000, leftMs))) }),
    failure: (err) => {
      const p = toProbeError(err, target.address);
      if (p.permanent) throw new UnavailableError(`${cannot}: ${p.message}; ${REASON_HINT[p.reason]}`);
      return p;
    },
    pauseMs: (failures) => backoffPolls(CONNECT_POLL_MS, failures),
    onRetry: (p, attempt, pause) => log.warn(`${cannot}: ${p.message}; trying again in ${pause} ms`, { attempt }),
    expired: (p, attempts) =>
      new UnavailableError(`${cannot}: ${p.message}, still at the deadline after ${attempts} attempts; ${REASON_HINT[p.reason]} (${envName('WAIT_TIMEOUT')} sets the deadline)`),
  });
}

function isDoneDoc(doc: Record<string, unknown> | null, key: string): doc is Record<string, unknown> & DoneDoc {
  return doc !== null && doc._id === doneId(key) && doc.key === key && doc.doneAt instanceof Date && typeof doc.host === 'string';
}

/** The record of `key` on a direct connection; undefined when not found, not readable, or a replica set (the client reads it then). */
async function readDoneDirect(target: MongoTarget, key: string): Promise<DoneDoc | undefined> {
  const seed = target.seeds[0];
  if (target.replicaSet !== undefined || target.seeds.length !== 1 || seed === undefined) return undefined;
  try {
    const attempt = { timeoutMs: 2000 };
    const doc = await findOneDirect(seed, target.database, await probeOptions(target, attempt), attempt, INIT_COLLECTION, { _id: doneId(key) });
    return isDoneDoc(doc, key) ? doc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The init's connection to the database, and the one owner of its MongoClient: whoever opens
 * it closes it, once, whatever happened. Opened while the waits run: the completion record of
 * the key is read on one direct connection (src/dependencies/mongodb/direct.ts), and a
 * MongoClient is started only when that read did not find it. On the usual restart the record
 * is there and no MongoClient (the whole driver, a monitoring connection, a pool connection) is
 * needed at all; when the database is not up yet, both come to nothing and the init connects
 * after the waits, as before. Starts at once; never rejects.
 */
export function openMongoInit(target: MongoTarget, key: string): InitDb {
  const done = readDoneDirect(target, key);
  const early = done.then((d) => (d !== undefined ? undefined : connectMongo(target, { timeoutMs: 2000 }).catch(() => undefined)));
  let client: Promise<MongoClient> | undefined;
  return {
    name: storeNameOf(target),
    done,
    store: async (deadline, log) => mongoInitStore((await (client ??= early.then((c) => c ?? connectForInit(target, deadline, log)))).db(target.database)),
    close: async () => {
      const c = await (client ?? early).catch(() => undefined);
      await c?.close(true).catch(() => {});
    },
  };
}
