// [database]: seeds from the database service (the file's or Pulp's default for a half the
// environment leaves out), then the keys set directly.
import { type ConfigView, confGet } from '../../ini/config-view.ts';
import { joinHostPort } from '../../common/net.ts';
import { pulpDefault } from '../keys.ts';
import { parseSeeds } from '../values.ts';
import { discoverService } from '../../settings/kube.ts';
import { pulpDirectEdits } from './direct.ts';
import type { PulpCtx } from './direct.ts';
import { type Part, type PlannedEdit, checkHost, edit } from '../../settings/edits/edit.ts';

/** [database] seeds from the database service, then the keys set directly. */
export function databaseEdits(ctx: PulpCtx): Part {
  const db = discoverService(ctx.env, ctx.opts.dbService.value, { defaultPort: 27017, portNames: ['mongodb', 'mongo'] }, ctx.problems);
  checkHost(db.host, ctx.problems);
  const seeds: PlannedEdit[] = [];
  if (db.host || db.port) {
    const fileSeed = firstSeed(ctx.current);
    const host = db.host ?? { value: fileSeed.host, from: ['server.conf'] };
    const port = db.port ?? (db.host ? { value: 27017, from: ['default'] } : { value: fileSeed.port, from: ['server.conf'] });
    seeds.push(edit('database', 'seeds', joinHostPort(host.value, port.value), [...host.from, ...port.from]));
  }
  const direct = pulpDirectEdits(ctx, 'database');
  return { edits: [...seeds, ...direct.edits], secrets: direct.secrets };
}

function firstSeed(current: ConfigView): { host: string; port: number } {
  try {
    const s = parseSeeds(confGet(current, 'database', 'seeds') || pulpDefault('database.seeds'))[0];
    if (s) return s;
  } catch {
    // An unparseable value in the file is replaced whole; fall back to Pulp's default.
  }
  return { host: 'localhost', port: 27017 };
}
