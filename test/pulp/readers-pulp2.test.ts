// The readBy column of src/pulp/keys.ts against the real Pulp 2 sources (the environment that
// test/services/pulp2.sh builds from ../shared/pulp2): a key lists "celery" exactly when a
// module every Celery role imports as it starts reads it, and "pulp-manage-db" exactly when
// pulp-manage-db's start or a migration reads it. Whether Pulp's ConfigParser failing on a
// value stops the agent follows from this column (test/conf-file/plan.test.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KeyId, PULP_KEYS, keyParts } from '../../src/pulp/keys.ts';
import { requirePulp2 } from '../helpers/pulp2.ts';

/** Pulp's modules read at start, per program, relative to pulp/server/pulp/server/. */
const READ_AT_START = {
  celery: ['async/celery_instance.py', 'db/connection.py', 'logs.py'],
  'pulp-manage-db': ['db/connection.py', 'logs.py', 'db/migrations/0009_qpid_queues.py'],
} as const;

const dir = requirePulp2(t);
if (dir !== undefined) {
  const server = join(dir, 'src', 'pulp', 'server', 'pulp', 'server');
  const sources = (files: readonly string[]): string => files.map((f) => readFileSync(join(server, f), 'utf8')).join('\n');
  for (const [program, files] of Object.entries(READ_AT_START)) {
    t.test(`"${program}" in readBy: exactly the keys ${files.join(', ')} read`, async (t) => {
      const text = sources(files);
      let found = 0;
      for (const id of Object.keys(PULP_KEYS) as KeyId[]) {
        const { section, key } = keyParts(id);
        const reads = new RegExp(`\\.get\\w*\\(\\s*'${section}',\\s*'${key}'\\s*\\)`).test(text);
        const listed = (PULP_KEYS[id].readBy as readonly string[]).includes(program);
        t.equal(listed, reads, `${id}: ${reads ? 'read' : 'not read'} there`);
        if (reads) found++;
      }
      t.ok(found >= 3, `${found} keys read (the check finds reads at all)`);
    });
  }
}
