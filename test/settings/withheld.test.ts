// src/settings/withheld.ts: which variables the init's steps and the role do not get, for each
// system, from its credential variables and the edits its own planner makes of a pod's
// environment (the same plan run uses); and the environment without them. The services'
// /proc/PID/environ is read in test/exec/pid1.test.ts (Pulp's roles) and
// test/keystone/api-real.test.ts (gunicorn).
import t from 'tap';
import { useProgram } from '../../src/common/program.ts';
import { readSettings } from '../../src/settings/options.ts';
import { withheldVariables, withoutVariables } from '../../src/settings/withheld.ts';
import { PULP } from '../../src/pulp/system.ts';
import { KEYSTONE } from '../../src/keystone/system.ts';
import type { System } from '../../src/system/system.ts';
import { configViewFrom } from '../helpers/targets.ts';

const fromFiles = (path: string): Buffer => Buffer.from(`value of ${path}\n`);

function withheld<O, C>(system: System<O, C>, env: Record<string, string>): string[] {
  useProgram(system.names);
  const settings = readSettings(env, fromFiles, system.settings);
  return withheldVariables(system.settings.fileVariables, system.planEdits(settings, configViewFrom({})).edits);
}

t.test("Pulp: the broker and database passwords, as values or files, and secret PULP_CONF__ values; nothing else", async (t) => {
  const env = {
    PATH: '/usr/bin:/bin',
    DB_SERVICE_HOST: '10.0.0.5',
    MSG_SERVICE_HOST: '10.0.0.6',
    MSG_SERVICE_USER: 'pulp',
    MSG_SERVICE_PASSWORD_FILE: '/run/secrets/msg',
    PULP_DB_USERNAME: 'pulp',
    PULP_DB_PASSWORD: 'db-pw',
    PULP_CONF__TASKS__BROKER_URL: 'amqp://pulp:url-pw@10.0.0.6:5672//',
    PULP_CONF__OAUTH__OAUTH_SECRET: 'oauth-s3cret',
    PULP_CONF__SERVER__SERVER_NAME: 'pulp.example.org',
    PULP_CONF__MESSAGING__URL: 'tcp://10.0.0.6:5672',
    PULP_WAIT_TIMEOUT: '60',
  };
  t.same(withheld(PULP, env), [
    'MSG_SERVICE_PASSWORD',
    'MSG_SERVICE_PASSWORD_FILE',
    'PULP_CONF__OAUTH__OAUTH_SECRET',
    'PULP_CONF__TASKS__BROKER_URL',
    'PULP_DB_PASSWORD',
    'PULP_DB_PASSWORD_FILE',
  ]);
  const left = withoutVariables(env, withheld(PULP, env));
  t.same(
    Object.keys(left).sort(),
    ['DB_SERVICE_HOST', 'MSG_SERVICE_HOST', 'MSG_SERVICE_USER', 'PATH', 'PULP_CONF__MESSAGING__URL', 'PULP_CONF__SERVER__SERVER_NAME', 'PULP_DB_USERNAME', 'PULP_WAIT_TIMEOUT'],
    'the kubelet\'s variables, user names, other settings stay',
  );
  t.equal(env.PULP_DB_PASSWORD, 'db-pw', 'the agent\'s own environment is not changed');
});

t.test('Keystone: the database and bootstrap passwords, ADMIN_TOKEN, and secret KEYSTONE_CONF__ values', async (t) => {
  const env = {
    DB_SERVICE_HOST: '10.0.0.5',
    MYSQL_USER: 'keystone',
    MYSQL_PASSWORD_FILE: '/run/secrets/db',
    OS_BOOTSTRAP_PASSWORD: 'adm1n',
    OS_BOOTSTRAP_REGION_ID: 'RegionOne',
    ADMIN_TOKEN: 't0ken',
    KEYSTONE_CONF__CACHE__MEMCACHE_SASL_PASSWORD: 'sasl-pw',
    KEYSTONE_CONF__DEFAULT__DEBUG: 'true',
  };
  t.same(withheld(KEYSTONE, env), [
    'ADMIN_TOKEN',
    'ADMIN_TOKEN_FILE',
    'KEYSTONE_CONF__CACHE__MEMCACHE_SASL_PASSWORD',
    'MYSQL_PASSWORD',
    'MYSQL_PASSWORD_FILE',
    'OS_BOOTSTRAP_PASSWORD',
    'OS_BOOTSTRAP_PASSWORD_FILE',
  ]);
  t.ok(withheld(KEYSTONE, { KEYSTONE_CONF__DATABASE__CONNECTION: 'mysql+pymysql://ks:url-pw@db/keystone' }).includes('KEYSTONE_CONF__DATABASE__CONNECTION'), 'a URL with a password');
  t.notOk(withheld(KEYSTONE, { KEYSTONE_CONF__DATABASE__CONNECTION: 'mysql+pymysql://ks@db/keystone' }).includes('KEYSTONE_CONF__DATABASE__CONNECTION'), 'one without stays');
});
