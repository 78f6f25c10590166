// One readiness attempt for any target, and how targets are named in log lines and errors.
import type { Target } from '../common/targets.ts';
import { probeAmqp } from './amqp.ts';
import { probeAmqp091 } from './amqp091.ts';
import { probeMongo } from './mongodb.ts';
import { probeMysql } from './mysql.ts';
import type { AttemptOptions } from '../dependencies/timeout.ts';

/** Resolves when the target is ready, with a note when readiness was only partly checked. */
export async function probeTarget(target: Target, opts: AttemptOptions): Promise<string | undefined> {
  if (target.kind === 'mongodb') {
    await probeMongo(target, opts);
    return undefined;
  }
  if (target.kind === 'mysql') {
    await probeMysql(target, opts);
    return undefined;
  }
  return target.protocol === 'amqp-0-9-1' ? probeAmqp091(target, opts) : probeAmqp(target, opts);
}

/** "mongodb at db:27017", "amqp at msg:5672 ([tasks] broker_url)", "mysql at db:3306 ([database] connection)". */
export function describeTarget(target: Target): string {
  if (target.kind === 'mongodb') return `mongodb at ${target.address}`;
  const [section, key] = target.source.split('.');
  return `${target.kind} at ${target.address} ([${section}] ${key})`;
}
