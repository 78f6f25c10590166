// Wait targets for the tests, derived by the real code from a server.conf view, the way run
// derives them: a new field or default in MongoTarget/AmqpTarget reaches the tests by itself,
// and a test cannot build a target that server.conf could never produce.
import type { ConfigView } from '../../src/ini/config-view.ts';
import { mongoTarget, targetsFromConfig } from '../../src/pulp/targets.ts';
import type { AmqpTarget, MongoTarget } from '../../src/common/targets.ts';

/** A ConfigView from plain objects: section -> key -> value. */
export function configViewFrom(obj: Record<string, Record<string, string>>): ConfigView {
  return new Map(Object.entries(obj).map(([s, kv]) => [s, new Map(Object.entries(kv))]));
}

/** The target of `[database] seeds` (e.g. "db:27017,db2:27017") plus other [database] keys. */
export function mongoFromConf(seeds: string, database: Record<string, string> = {}): MongoTarget {
  return mongoTarget(configViewFrom({ database: { seeds, ...database } }));
}

/** The Celery broker target of `[tasks] broker_url` plus other [tasks] keys. */
export function brokerFromConf(brokerUrl: string, tasks: Record<string, string> = {}): AmqpTarget {
  // targetsFromConfig always lists the database first and the broker second.
  const broker = targetsFromConfig(configViewFrom({ tasks: { broker_url: brokerUrl, ...tasks } }))[1];
  if (broker?.kind !== 'amqp') throw new Error(`no broker target from broker_url ${brokerUrl}`);
  return broker;
}

/** amqp://[user[:password]@]address/ with user and password percent-encoded. */
export function brokerUrl(address: string, auth?: { username: string; password?: string }): string {
  const cred = auth === undefined ? '' : `${encodeURIComponent(auth.username)}${auth.password === undefined ? '' : `:${encodeURIComponent(auth.password)}`}@`;
  return `amqp://${cred}${address}/`;
}
