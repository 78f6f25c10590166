// src/conf-file/plan.ts on its own, pure (the CLI tests reach it only through the whole agent):
// the environment's edits applied to a server.conf text, what is refused before anything is
// written and what is only warned about, the diff and the secrets it hands to the logger.
import t from 'tap';
import { embeddedFile } from '../../src/common/embedded.ts';

const embeddedServerConf = (): string => embeddedFile('pulp/default-server.conf');
import { ExitCode, InputError } from '../../src/common/errors.ts';
import type { StartingConf } from '../../src/conf-file/read.ts';
import { planConfigure as planWith } from '../../src/conf-file/plan.ts';
import { PULP } from '../../src/pulp/system.ts';
import type { PulpOptions, ServerVars } from '../../src/pulp/settings.ts';
import type { Settings } from '../../src/settings/options.ts';

const planConfigure = (settings: Settings<PulpOptions, ServerVars>, starting: StartingConf) => planWith(settings, starting, PULP);

import { readSettings } from '../../src/settings/options.ts';

const noFiles = (): Buffer => {
  throw new Error('no NAME_FILE in this test');
};

const CONF = '/etc/pulp/server.conf';

function fileOf(text: string): StartingConf {
  return { text, origin: 'file', readFrom: CONF, current: text };
}

function plan(env: Record<string, string>, text = embeddedServerConf()): ReturnType<typeof planConfigure> {
  return planConfigure(readSettings({ PULP_SERVER_CONF: CONF, ...env }, noFiles, PULP.settings), fileOf(text));
}

t.test('the kubelet variables become edits with their sources, the waits read the result', async (t) => {
  const p = plan({ DB_SERVICE_HOST: '10.0.0.5', DB_SERVICE_PORT: '27017', MSG_SERVICE_HOST: '10.0.0.6', MSG_SERVICE_PORT: '5672', PULP_BROKER_SCHEME: 'amqp' });
  const seeds = p.edits.find((e) => e.section === 'database' && e.key === 'seeds');
  t.equal(seeds?.value, '10.0.0.5:27017');
  t.same(seeds?.from, ['DB_SERVICE_HOST', 'DB_SERVICE_PORT']);
  t.equal(seeds?.path, "/files/etc/pulp/server.conf/target[. = 'database']/seeds");
  t.ok(p.writes, 'the file changes');
  t.same(
    p.targets.map((x) => [x.kind, x.address]),
    [
      ['mongodb', '10.0.0.5:27017'],
      ['amqp', '10.0.0.6:5672'],
    ],
  );
  t.match(p.diff, /^\+seeds: 10\.0\.0\.5:27017$/m, 'the diff shows the new line');
});

t.test('the same environment over its own result writes nothing', async (t) => {
  const env = { DB_SERVICE_HOST: 'db', PULP_DB_NAME: 'pulp' };
  const once = plan(env);
  const twice = plan(env, once.after);
  t.equal(twice.after, once.after);
  t.notOk(twice.writes);
  t.equal(twice.diff, '', 'no diff');
  t.ok(twice.edits.every((e) => !e.changes), 'every edit already holds');
});

t.test('secrets: masked in the edits and the diff, handed to the logger', async (t) => {
  const p = plan({ PULP_DB_PASSWORD: 's3cret-db', MSG_SERVICE_HOST: 'mq', MSG_SERVICE_USER: 'pulp', MSG_SERVICE_PASSWORD: 'mq-s3cret', PULP_BROKER_SCHEME: 'amqp' });
  t.notMatch(JSON.stringify(p.edits.map((e) => e.shown)), /s3cret/);
  t.notMatch(p.diff, /s3cret/);
  t.match(p.diff, /^\+password: \*{8} \(changed\)$/m);
  t.ok(p.secrets.includes('s3cret-db') && p.secrets.includes('mq-s3cret'), 'both passwords are known secrets');
});

t.test('what Pulp could not read: refused when someone reads the key at start, else a warning', async (t) => {
  // The agent writes every value escaped (% as %%), so only the file itself can hold such a value.
  const withBad = (section: string, key: string): string => `[${section}]\n${key}: %(nowhere)s\n`;
  const why = "Python's ConfigParser cannot read it: its value has a '%(name)s' reference to a key that is set neither in its section nor in [DEFAULT]; write '%%' for every literal '%'";
  t.throws(() => plan({}, withBad('tasks', 'login_method')), new InputError(`${CONF} [tasks] login_method: ${why}`), 'login_method: every Celery role reads it');
  t.throws(() => plan({}, withBad('messaging', 'transport')), { exitCode: ExitCode.dataErr, message: /\[messaging\] transport: / }, "transport: pulp-manage-db's migration 0009");
  t.throws(() => plan({}, withBad('messaging', 'clientcert')), { exitCode: ExitCode.dataErr, message: /\[messaging\] clientcert: / }, "clientcert: pulp-manage-db's migration 0009");
  t.same(plan({}, withBad('messaging', 'cacert')).warnings, [`${CONF} [messaging] cacert: ${why}`], "cacert: only httpd's gofer reads it");
  t.same(plan({}, withBad('server', 'anything')).warnings, [`${CONF} [server] anything: ${why}`], 'a key the agent does not know');
  t.same(plan({ PULP_CONF__TASKS__LOGIN_METHOD: '%(nowhere)s' }).warnings, [], 'a value from the environment is written escaped: nothing to refuse');
});

t.test('a value the waits cannot use is refused naming the variable that gave it', async (t) => {
  t.throws(() => plan({ PULP_CONF__DATABASE__SEEDS: 'db:99999' }), { exitCode: ExitCode.dataErr, message: /^PULP_CONF__DATABASE__SEEDS: server\.conf \[database\] seeds: / });
});

t.test('from a template: the diff is against the target as it is (none yet: /dev/null)', async (t) => {
  const text = embeddedServerConf();
  const p = planConfigure(readSettings({ PULP_SERVER_CONF: CONF, DB_SERVICE_HOST: 'db' }, noFiles, PULP.settings), { text, origin: 'template', readFrom: '/template/server.conf', current: undefined });
  t.ok(p.writes);
  t.match(p.diff, /^--- \/dev\/null\n\+\+\+ b\/etc\/pulp\/server\.conf\n/);
});
