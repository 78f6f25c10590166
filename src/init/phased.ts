// A rolling upgrade on the init's store (rollout.ts decides, this acts): at start a replica
// writes its row and is refused when its image is older than the database; the init of a new
// image runs the whole migration on an empty database, else only the expand (the schema's
// `check` picks); the readiness check refreshes the row and runs the contract once no replica
// of another image is live. The order of writes and reads is what makes it safe: a replica
// writes its row before it looks for a contract, and the contract takes the lease before it
// looks at the rows, so of a starting old replica and a contract, one always sees the other.
import { DowngradeError, UnavailableError, errorMessage } from '../common/errors.ts';
import { envName } from '../common/program.ts';
import { realClock, storeCall } from './store-call.ts';
import type { Logger } from '../common/log.ts';
import { type Deadline, deadlineIn, msLeft } from '../common/retry.ts';
import { type InitDb, runInit } from './init-db.ts';
import { doneId } from './lease.ts';
import { CONTRACT_PREFIX, REPLICA_TTL_MS, contractKey, contractVerdict, startVerdict } from './rollout.ts';
import { type InitStore, rolloutOf } from './store.ts';

/** A command the system describes (system.ts CommandSpec): its argv is all this module reads. */
interface Cmd {
  argv: string[];
}

/**
 * A schema that changes in two phases (Keystone's alembic expand and contract). The role's
 * first init step is then the whole migration, run on an empty database (a first install);
 * the later steps run after whichever phase ran.
 */
export interface SchemaPhases<C extends Cmd> {
  /** The table whose rows are the schema's versions; missing or empty: an empty database. */
  versionTable: string;
  /** Asked before migrating a database that has a schema; its exit code picks the phase (decide). */
  check: C;
  expand: C;
  /** Run once, by the readiness check, when no replica of another image serves any more. */
  contract: C;
  /** The check's exit code: run the expand or not (why, for the log), or refuse to start (a downgrade). */
  decide(code: number): { expand: boolean; why: string } | { refuse: string };
  /** What the check's exit codes mean, for a person (the preview): "0 up to date, 2 expand due, 4 contract due". */
  answers: string;
}

/** Runs one command to completion and gives its exit code (run-steps.ts: as the run-as user). */
export type RunStep<C extends Cmd> = (cmd: C, stop: AbortSignal) => Promise<number>;

/** The replica's name in its row: the pod's (Kubernetes and podman set HOSTNAME), else the host's. */
export function replicaName(env: NodeJS.ProcessEnv, host: string): string {
  const h = env.HOSTNAME?.trim();
  return h !== undefined && h !== '' ? h : host;
}

/** Thrown inside the contract's run when an older replica appeared after all: no record, lease released. */
class NotNow extends Error {}

/**
 * At start, before the init: this replica's row, then the refusal of an image older than the
 * database (DowngradeError, exit 78), read after the row was written.
 */
export async function registerReplica(o: { db: InitDb; key: string; host: string; force: boolean; deadline: Deadline; log: Logger; ttlMs?: number }): Promise<void> {
  const store = await o.db.store(o.deadline, o.log);
  const r = rolloutOf(store);
  // Each call tried again after transient failures until the deadline, as the lease's are.
  const ctx = { storeName: o.db.name, log: o.log, clock: realClock, pollMs: 500, key: o.key };
  await storeCall(ctx, "write this replica's row", o.deadline, () => r.heartbeat(o.host, o.key, o.ttlMs ?? REPLICA_TTL_MS));
  // Forced, the init runs again and the schema's own check judges the image.
  if (o.force) return;
  const [mine, contracts, lease, now] = await storeCall(ctx, 'read the init and contract records', o.deadline, () =>
    Promise.all([store.findDone(o.key), r.doneRecords(CONTRACT_PREFIX), store.readLease(), store.serverNow ? store.serverNow() : Promise.resolve(new Date())]),
  );
  const v = startVerdict({ key: o.key, mine, contracts, lease, now });
  if (!v.ok) throw new DowngradeError(`this image is older than the database: ${v.why}; refused before anything ran: run the newer image (set ${envName('FORCE_INIT')}=1 to have this image's own db_sync --check judge the schema)`);
}

/**
 * The init's run for a role with phases: on an empty database the steps as they are (the
 * whole migration first; `onFull` is told), else the check, the expand when it says so, then
 * the steps after the first. A refusal of the check throws DowngradeError (the lease is
 * released by once.ts, nothing recorded).
 */
export function phasedRun<C extends Cmd>(o: { store: InitStore; phases: SchemaPhases<C>; steps: readonly C[]; runStep: RunStep<C>; log: Logger; onFull: () => void }): (stop: AbortSignal) => Promise<number> {
  return async (stop) => {
    const versions = await rolloutOf(o.store).schemaVersions(o.phases.versionTable);
    if (versions === null || versions.length === 0) {
      o.log.info(`init phase: full (${o.phases.versionTable} ${versions === null ? 'does not exist' : 'is empty'}: an empty database, a first install): the whole migration, expand and contract at once`);
      o.onFull();
      return runAll(o.steps, o.runStep, stop);
    }
    const code = await o.runStep(o.phases.check, stop);
    const d = o.phases.decide(code);
    if ('refuse' in d) throw new DowngradeError(d.refuse);
    o.log.info(`init phase: ${d.expand ? 'expand' : 'none'} (${o.phases.versionTable} at ${versions.join(', ')}; ${d.why}); the contract waits until no replica of an older image serves`);
    if (d.expand) {
      const e = await o.runStep(o.phases.expand, stop);
      if (e !== 0) return e;
    }
    return runAll(o.steps.slice(1), o.runStep, stop);
  };
}

async function runAll<C extends Cmd>(steps: readonly C[], runStep: RunStep<C>, stop: AbortSignal): Promise<number> {
  for (const step of steps) {
    const code = await runStep(step, stop);
    if (code !== 0) return code;
  }
  return 0;
}

/**
 * After a full migration: the contract of `key` is done with it. Not written (a warning): a
 * readiness check runs the contract later, which then finds nothing to do.
 */
export async function recordFullContract(store: InitStore, key: string, host: string, holder: string, argv: string[], log: Logger): Promise<void> {
  const ck = contractKey(key);
  try {
    await store.markDone({ _id: doneId(ck), key: ck, doneAt: store.serverNow ? await store.serverNow() : new Date(), host, holder, argv, durationMs: 0 });
  } catch (err) {
    log.warn(`cannot record that the full db_sync included the contract (${errorMessage(err)}): a readiness check will run the contract, which has nothing to do`);
  }
}

export type ContractOutcome = 'ran' | 'done' | 'waiting' | 'busy';

/**
 * The readiness check's part: the row refreshed, then the contract of `key` when it is due
 * (rollout.ts), under the lease (one short try: held means the next check), the rows read again
 * once the lease is ours. Never throws for the contract: its failure is a warning, tried again
 * at the next check; the row's write failing is the check's failure (UnavailableError).
 */
export async function heartbeatAndContract<C extends Cmd>(o: {
  db: InitDb;
  key: string;
  host: string;
  phases: SchemaPhases<C>;
  runStep: RunStep<C>;
  log: Logger;
  deadline: Deadline;
  leaseTtlMs: number;
  ttlMs?: number;
}): Promise<ContractOutcome> {
  const store = await o.db.store(o.deadline, o.log);
  const r = rolloutOf(store);
  const facts = async (): Promise<ReturnType<typeof contractVerdict>> => {
    const [mine, contracted, replicas, inits] = await Promise.all([store.findDone(o.key), store.findDone(contractKey(o.key)), r.replicas(), r.doneRecords('')]);
    return contractVerdict({ key: o.key, mine, contracted: contracted !== null, replicas, inits });
  };
  // The probe's own limit: a row that cannot be written within it fails the check (69).
  await storeCall({ storeName: o.db.name, log: o.log, clock: realClock, pollMs: 250, key: o.key }, "refresh this replica's row", o.deadline, () => r.heartbeat(o.host, o.key, o.ttlMs ?? REPLICA_TTL_MS));
  let v: ReturnType<typeof contractVerdict>;
  try {
    v = await facts();
  } catch (err) {
    o.log.warn(`contract: cannot read the replicas' rows: ${errorMessage(err)} (the next check tries again)`);
    return 'waiting';
  }
  if (!v.run) {
    if (v.why === 'already done') return 'done';
    o.log.info(`contract of ${o.key} not yet: ${v.why}`);
    return 'waiting';
  }
  try {
    const out = await runInit({
      db: o.db,
      key: contractKey(o.key),
      force: false,
      argv: o.phases.contract.argv,
      run: async (stop) => {
        // The lease is ours: a replica that wrote its row before this read is seen; one that
        // writes it after finds the contract (rollout.ts startVerdict) and is refused.
        const again = await facts();
        if (!again.run) throw new NotNow(again.why);
        o.log.info(`contract of ${o.key}: no replica of another image is live; running ${o.phases.contract.argv.join(' ')}`);
        return o.runStep(o.phases.contract, stop);
      },
      // One short try for the lease: a probe does not wait for another replica's init.
      deadline: deadlineIn(Math.min(2000, Math.max(0, msLeft(o.deadline)))),
      log: o.log,
      ttlMs: o.leaseTtlMs,
    });
    return out.ran ? 'ran' : 'done';
  } catch (err) {
    if (err instanceof NotNow) {
      o.log.info(`contract of ${o.key} not yet: ${err.message}`);
      return 'waiting';
    }
    if (err instanceof UnavailableError) {
      o.log.info(`contract of ${o.key} not now: ${err.message} (the next check tries again)`);
      return 'busy';
    }
    o.log.warn(`contract of ${o.key} failed: ${errorMessage(err)} (the next check tries again)`);
    return 'waiting';
  }
}
