// The InitStore on MongoDB (or FerretDB), in the Pulp database, collection
// pulp_entrypoint_init. Only a Db is passed in: the caller owns the client.
import type { Db } from 'mongodb';
import { type DoneDoc, type Holder, INIT_COLLECTION, LEASE_ID, type LeaseDoc, acquireFilter, acquireUpdate, doneId, isDuplicateKey, releaseUpdate, renewFilter, renewUpdate } from './lease.ts';
import type { AcquireResult, InitStore } from './store.ts';

type InitDoc = LeaseDoc | DoneDoc;

export function mongoInitStore(db: Db, collectionName = INIT_COLLECTION): InitStore {
  const col = db.collection<InitDoc>(collectionName);
  const readLease = async (): Promise<LeaseDoc | null> => (await col.findOne({ _id: LEASE_ID })) as LeaseDoc | null;
  return {
    async findDone(key) {
      return (await col.findOne({ _id: doneId(key) })) as DoneDoc | null;
    },
    readLease,
    async tryAcquire(holder, key, now, ttlMs): Promise<AcquireResult> {
      const before = await readLease();
      try {
        const after = (await col.findOneAndUpdate(acquireFilter(holder, now), acquireUpdate(holder, key, now, ttlMs), {
          upsert: true,
          returnDocument: 'after',
        })) as LeaseDoc | null;
        if (after !== null && after.holder === holder.id) {
          const tookOver = before !== null && before.holder !== null && before.holder !== holder.id ? before : null;
          return { acquired: true, tookOver };
        }
        return { acquired: false, current: after };
      } catch (err) {
        if (isDuplicateKey(err)) return { acquired: false, current: await readLease() };
        throw err;
      }
    },
    async renew(holder, now, ttlMs) {
      const r = await col.updateOne(renewFilter(holder), renewUpdate(now, ttlMs));
      return r.matchedCount === 1;
    },
    async release(holder, now) {
      await col.updateOne(renewFilter(holder), releaseUpdate(now));
    },
    async markDone(doc) {
      const { _id, ...rest } = doc;
      await col.updateOne({ _id }, { $set: rest }, { upsert: true });
    },
  };
}
