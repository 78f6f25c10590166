// MongoDB readiness: connect, `ping`, close (the connection itself: src/dependencies/mongodb/).
import { connectMongo, probeOptions } from '../dependencies/mongodb/connect.ts';
import { pingDirect } from '../dependencies/mongodb/direct.ts';
import type { MongoTarget } from '../common/targets.ts';
import type { AttemptOptions } from '../dependencies/timeout.ts';

/** Readiness: connect, ping, close. */
export async function probeMongo(target: MongoTarget, opts: AttemptOptions): Promise<void> {
  // One seed and no replica set: one connection of the driver's own, no MongoClient (faster).
  if (target.replicaSet === undefined && target.seeds.length === 1 && target.seeds[0] !== undefined) {
    const options = await probeOptions(target, opts);
    return pingDirect(target.seeds[0], target.database, options, opts);
  }
  const client = await connectMongo(target, opts);
  await client.close(true).catch(() => {});
}
