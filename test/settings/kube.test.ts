// src/settings/kube.ts: Kubernetes discovery follows the kubelet's variable rules (seed-notes.md).
import t from 'tap';
import { discoverService, servicePrefix, type VarProblem } from '../../src/settings/kube.ts';

t.test('service name to variable prefix, as the kubelet does it', async (t) => {
  t.equal(servicePrefix('db'), 'DB');
  t.equal(servicePrefix('pulp-mongo'), 'PULP_MONGO');
  t.equal(servicePrefix('2nd-http'), '2ND_HTTP', 'a port name with a leading digit: no "_" added (the real kubelet, test/k8s/pulp-pods.test.ts)');
});

const mongo = { defaultPort: 27017, portNames: ['mongodb', 'mongo'] };

t.test('precedence of host and port sources', async (t) => {
  const cases: { name: string; env: Record<string, string>; host?: [string, string]; port?: [number, string] }[] = [
    { name: 'nothing', env: {} },
    { name: 'service host and port', env: { DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '27018' }, host: ['10.0.0.5', 'DB_SERVICE_HOST'], port: [27018, 'DB_SERVICE_PORT'] },
    {
      name: 'named port beats the first port',
      env: { DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '9216', DB_SERVICE_PORT_MONGODB: '27017' },
      host: ['10.0.0.5', 'DB_SERVICE_HOST'],
      port: [27017, 'DB_SERVICE_PORT_MONGODB'],
    },
    {
      name: 'docker-link exact port variables',
      env: { DB_PORT_27017_TCP_ADDR: '10.0.0.7', DB_PORT_27017_TCP_PORT: '27017' },
      host: ['10.0.0.7', 'DB_PORT_27017_TCP_ADDR'],
      port: [27017, 'DB_PORT_27017_TCP_PORT'],
    },
    { name: 'docker-link NAME_PORT', env: { DB_PORT: 'tcp://10.0.0.8:27999' }, host: ['10.0.0.8', 'DB_PORT'], port: [27999, 'DB_PORT'] },
    { name: 'docker-link IPv6', env: { DB_PORT: 'tcp://[fd00::10]:27017' }, host: ['fd00::10', 'DB_PORT'], port: [27017, 'DB_PORT'] },
    { name: 'legacy SERVICE_HOST', env: { SERVICE_HOST: '192.0.2.1' }, host: ['192.0.2.1', 'SERVICE_HOST'] },
    {
      name: 'service variables beat SERVICE_HOST',
      env: { SERVICE_HOST: '192.0.2.1', DB_SERVICE_HOST: '10.0.0.5' },
      host: ['10.0.0.5', 'DB_SERVICE_HOST'],
    },
    { name: 'port alone', env: { DB_SERVICE_PORT: '27100' }, port: [27100, 'DB_SERVICE_PORT'] },
  ];
  for (const c of cases) {
    const problems: VarProblem[] = [];
    const d = discoverService(c.env, 'db', mongo, problems);
    t.same(problems, [], `${c.name}: no problems`);
    t.same(d.host ? [d.host.value, d.host.from[0]] : undefined, c.host, `${c.name}: host`);
    t.same(d.port ? [d.port.value, d.port.from[0]] : undefined, c.port, `${c.name}: port`);
  }
});

t.test('PULP_DB_SERVICE picks another service and ignores db', async (t) => {
  const env = { DB_SERVICE_HOST: '10.0.0.1', MONGODB_SERVICE_HOST: '10.0.0.2', MONGODB_SERVICE_PORT: '27017' };
  const d = discoverService(env, 'mongodb', mongo, []);
  t.equal(d.host?.value, '10.0.0.2');
  const dashed = discoverService({ PULP_MONGO_SERVICE_HOST: '10.1.1.1' }, 'pulp-mongo', mongo, []);
  t.equal(dashed.host?.from[0], 'PULP_MONGO_SERVICE_HOST');
  // The kubelet adds nothing before a leading digit (a port name can have one; a Service name
  // cannot, and the settings refuse it): only the exact name counts.
  const named = discoverService({ DB_SERVICE_HOST: '10.1.1.3', DB_SERVICE_PORT_2ND_MONGO: '27018', DB_SERVICE_PORT__2ND_MONGO: '1' }, 'db', { defaultPort: 27017, portNames: ['2nd-mongo'] }, []);
  t.same(named.port && [named.port.value, named.port.from[0]], [27018, 'DB_SERVICE_PORT_2ND_MONGO']);
});

t.test('bad docker-link and port values are problems naming the variable', async (t) => {
  const problems: VarProblem[] = [];
  discoverService({ DB_PORT: 'http//x', DB_SERVICE_PORT: '70000' }, 'db', mongo, problems);
  t.same(
    problems.map((p) => p.variable).sort(),
    ['DB_PORT', 'DB_SERVICE_PORT'],
  );
});
