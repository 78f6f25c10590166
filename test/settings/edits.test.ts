// src/settings/edits/ (plan.ts and the parts it assembles): environment -> edits: which keys
// change, to what, and from which variables.
import t from 'tap';
import { configViewFrom } from '../helpers/targets.ts';
import type { PlannedEdit } from '../../src/settings/edits/edit.ts';
import { planEdits } from '../../src/pulp/edits/plan.ts';
import { PULP_SETTINGS } from '../../src/pulp/settings.ts';
import { readSettings } from '../../src/settings/options.ts';
import { parseBrokerUrl } from '../../src/pulp/values.ts';
import { createRedactor } from '../../src/common/redact.ts';

const empty = configViewFrom({});
const noFiles = (): Buffer => {
  throw new Error('no NAME_FILE in this test');
};
const plan = (env: Record<string, string>, current = empty) => planEdits(readSettings(env, noFiles, PULP_SETTINGS), current);
const byKey = (edits: PlannedEdit[]) => Object.fromEntries(edits.map((e) => [`${e.section}.${e.key}`, e]));

t.test('no environment, no edits: the file keeps every value', async (t) => {
  t.same(plan({}).edits, []);
  t.same(plan({ PULP_WAIT_TIMEOUT: '5', PULP_RUN_AS: 'apache' }).edits, [], 'agent settings are not server.conf keys');
  t.same(plan({ DB_SERVICE_HOST: '' }).edits, [], 'an empty variable is unset');
});

t.test('the original four keys', async (t) => {
  const e = byKey(
    plan({ PULP_SERVER_NAME: 'pulp.example.org', DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '27017', MSG_SERVICE_HOST: '10.0.0.6', MSG_SERVICE_PORT: '5672' }).edits,
  );
  t.equal(e['server.server_name']?.value, 'pulp.example.org');
  t.equal(e['database.seeds']?.value, '10.0.0.5:27017');
  t.same(e['database.seeds']?.from, ['DB_SERVICE_HOST', 'DB_SERVICE_PORT']);
  t.equal(e['messaging.url']?.value, 'tcp://10.0.0.6:5672');
  t.equal(e['tasks.broker_url']?.value, 'qpid://guest@10.0.0.6:5672', 'the original qpid://user@host:port');
});

t.test('SERVICE_HOST alone gives both services with default ports, as the original', async (t) => {
  const e = byKey(plan({ SERVICE_HOST: '192.0.2.10' }).edits);
  t.equal(e['database.seeds']?.value, '192.0.2.10:27017');
  t.same(e['database.seeds']?.from, ['SERVICE_HOST', 'default']);
  t.equal(e['messaging.url']?.value, 'tcp://192.0.2.10:5672');
});

t.test('IPv6 cluster IPs are bracketed', async (t) => {
  const e = byKey(plan({ DB_SERVICE_HOST: 'fd00::10', DB_SERVICE_PORT: '27017', MSG_SERVICE_HOST: 'fd00::11', MSG_SERVICE_PORT: '5672' }).edits);
  t.equal(e['database.seeds']?.value, '[fd00::10]:27017');
  t.equal(e['messaging.url']?.value, 'tcp://[fd00::11]:5672');
  t.equal(e['tasks.broker_url']?.value, 'qpid://guest@[fd00::11]:5672');
});

t.test('a port alone keeps the host the file has', async (t) => {
  const current = configViewFrom({ database: { seeds: 'mongo.internal:27017' }, tasks: { broker_url: 'amqp://pulp:old@rabbit:5672/pulpvh' } });
  const e = byKey(plan({ DB_SERVICE_PORT: '27018', MSG_SERVICE_PORT: '5673' }, current).edits);
  t.equal(e['database.seeds']?.value, 'mongo.internal:27018');
  t.same(e['database.seeds']?.from, ['DB_SERVICE_PORT', 'server.conf']);
  t.equal(e['tasks.broker_url']?.value, 'amqp://pulp:old@rabbit:5673/pulpvh', 'scheme, user, password and vhost kept from the file');
});

t.test('a new broker user does not inherit the file user\'s password', async (t) => {
  const current = configViewFrom({ tasks: { broker_url: 'amqp://pulp:old@rabbit:5672' } });
  const e = byKey(plan({ MSG_SERVICE_USER: 'other' }, current).edits);
  t.equal(e['tasks.broker_url']?.value, 'amqp://other@rabbit:5672');
});

t.test('credentials with URL delimiters are percent-encoded and decode back', async (t) => {
  for (const [user, password] of [
    ['user@corp', 'p@ss:w/rd#%'],
    ['a:b', '100%/x?y'],
    ['ünï', 'spa ce'],
  ] as const) {
    const e = byKey(plan({ MSG_SERVICE_HOST: 'rabbit', MSG_SERVICE_USER: user, MSG_SERVICE_PASSWORD: password, PULP_BROKER_SCHEME: 'amqp' }).edits);
    const url = e['tasks.broker_url']?.value ?? '';
    const userinfo = url.slice('amqp://'.length, url.lastIndexOf('@'));
    t.equal(url.split('@').length, 2, `one @ in ${url}`);
    t.equal(userinfo.split(':').length, 2, 'one : in the userinfo');
    t.notMatch(userinfo, /[/#?\s]/, 'no delimiter left raw');
    const back = parseBrokerUrl(url, 'test');
    t.equal(back.username, user);
    t.equal(back.password, password);
    t.equal(back.host, 'rabbit');
  }
});

t.test('PULP_CONF__SECTION__KEY sets any key and wins over the derived value', async (t) => {
  const r = plan({ DB_SERVICE_HOST: 'db', PULP_CONF__DATABASE__SEEDS: 'a:1,b:2', PULP_CONF__DATABASE__WRITE_CONCERN: 'majority', PULP_CONF__NEW_SECTION__SOME_KEY: 'x' });
  const e = byKey(r.edits);
  t.equal(e['database.seeds']?.value, 'a:1,b:2');
  t.same(e['database.seeds']?.from, ['PULP_CONF__DATABASE__SEEDS']);
  t.equal(e['database.write_concern']?.value, 'majority');
  t.equal(e['new_section.some_key']?.value, 'x');
  t.match(r.warnings[0], /PULP_CONF__DATABASE__SEEDS overrides \[database\] seeds from DB_SERVICE_HOST/);
});

t.test('secrets are marked and returned with the plan, for redaction', async (t) => {
  const p = plan({ PULP_DB_PASSWORD: 'db-secret-1', PULP_CONF__OAUTH__OAUTH_SECRET: 'oauth-secret-2', MSG_SERVICE_HOST: 'r', MSG_SERVICE_PASSWORD: 'amqp-secret-3' });
  const e = byKey(p.edits);
  t.equal(e['database.password']?.secret, true);
  t.equal(e['oauth.oauth_secret']?.secret, true);
  t.equal(createRedactor(p.secrets)('x db-secret-1 oauth-secret-2 amqp-secret-3'), 'x ******** ******** ********');
  t.same(plan({ MSG_SERVICE_HOST: 'r' }).secrets, [], 'a plan without secrets returns none (nothing left over from the plan before)');
});

t.test('NAME_FILE: value from the file, trailing newline dropped, source named', async (t) => {
  const files: Record<string, string> = { '/run/secrets/pw': 's3cret\n', '/run/secrets/user': 'pulp' };
  const read = (p: string) => {
    const v = files[p];
    if (v === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return Buffer.from(v);
  };
  const settings = readSettings({ MSG_SERVICE_PASSWORD_FILE: '/run/secrets/pw', MSG_SERVICE_USER_FILE: '/run/secrets/user', MSG_SERVICE_HOST: 'r' }, read, PULP_SETTINGS);
  t.equal(settings.env.MSG_SERVICE_PASSWORD, 's3cret');
  const e = byKey(planEdits(settings, empty).edits);
  t.equal(e['tasks.broker_url']?.value, 'qpid://pulp:s3cret@r:5672');
  t.ok(e['tasks.broker_url']?.from.includes('MSG_SERVICE_PASSWORD_FILE'));
  t.throws(() => readSettings({ PULP_DB_PASSWORD_FILE: '/nope' }, read, PULP_SETTINGS), /PULP_DB_PASSWORD_FILE=\/nope: cannot read the file \(no such file\)/);
});

t.test('another Service name reads that service\'s variables', async (t) => {
  const e = byKey(plan({ PULP_DB_SERVICE: 'mongodb', DB_SERVICE_HOST: '10.9.9.9', MONGODB_SERVICE_HOST: '10.0.0.2', MONGODB_SERVICE_PORT: '27017' }).edits);
  t.equal(e['database.seeds']?.value, '10.0.0.2:27017');
});

t.test('an empty NAME or NAME_FILE counts as unset', async (t) => {
  const read = () => Buffer.from('from-file\n');
  const { env } = readSettings({ MSG_SERVICE_PASSWORD: '', MSG_SERVICE_PASSWORD_FILE: '/run/secrets/pw', PULP_DB_PASSWORD_FILE: '' }, read, PULP_SETTINGS);
  t.equal(env.MSG_SERVICE_PASSWORD, 'from-file');
  t.equal(env.PULP_DB_PASSWORD, undefined);
});

t.test('PULP_CONF__DEFAULT__KEY lands in [DEFAULT], which ConfigParser spells so', async (t) => {
  const e = plan({ PULP_CONF__DEFAULT__X: '1', PULP_CONF__Default__Y: '2' }).edits;
  t.same(
    e.filter((x) => x.key === 'x' || x.key === 'y').map((x) => x.section),
    ['DEFAULT', 'DEFAULT'],
  );
});
