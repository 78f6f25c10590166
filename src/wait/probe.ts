// One readiness attempt for any target, and how targets are named in log lines and errors.
import type { Target } from '../targets.ts';
import { probeAmqp } from './amqp.ts';
import { type AttemptOptions, probeMongo } from './mongodb.ts';

export function probeTarget(target: Target, opts: AttemptOptions): Promise<void> {
  return target.kind === 'mongodb' ? probeMongo(target, opts) : probeAmqp(target, opts);
}

/** "mongodb at db:27017" or "amqp at msg:5672 ([tasks] broker_url)". */
export function describeTarget(target: Target): string {
  if (target.kind === 'mongodb') return `mongodb at ${target.address}`;
  const [section, key] = target.source.split('.');
  return `amqp at ${target.address} ([${section}] ${key})`;
}
