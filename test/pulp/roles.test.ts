// src/pulp/roles.ts: what each role writes as it starts (its `paths`): the Celery workers
// (resource_manager, worker) their working directory in [server] working_directory, from the
// effective server.conf or Pulp's default; beat nothing. Why, in Pulp's own sources:
// test/pulp/readers-pulp2.test.ts; refused for the run-as user: test/cli/role-paths.test.ts.
import t from 'tap';
import { ROLES, roleSpec } from '../../src/pulp/roles.ts';
import { configViewFrom } from '../helpers/targets.ts';

const inputs = (server: Record<string, string> = {}) => ({
  conf: configViewFrom({ server }),
  runAs: 'apache',
  hostname: 'pulp-worker-0',
  workerId: undefined,
  logLevel: 'INFO',
  logFile: undefined,
  workdir: undefined,
  extraArgs: [],
});

t.test("the workers make their working directory in [server] working_directory; beat writes nothing of the kind", async (t) => {
  for (const role of ROLES) {
    const paths = roleSpec(role, inputs()).paths.map((p) => [`${p.section}.${p.key}`, p.path, p.access]);
    t.same(paths, role === 'beat' ? [] : [['server.working_directory', '/var/cache/pulp', 'dir']], `${role}: Pulp's default`);
  }
  t.same(
    roleSpec('worker', inputs({ working_directory: ' /srv/pulp/cache ' })).paths.map((p) => p.path),
    ['/srv/pulp/cache'],
    'the value of the file, trimmed',
  );
});
