// The table of the server.conf keys the agent knows (src/pulp/keys.ts) agrees with Pulp's
// documented defaults and with the other places that depend on it.
import t from 'tap';
import { configViewFrom } from '../helpers/targets.ts';
import { embeddedFile } from '../../src/common/embedded.ts';

const embeddedServerConf = (): string => embeddedFile('pulp/default-server.conf');
import {
  type KeyId,
  PULP_KEYS,
  TLS_FILE_KEYS,
  directKeys,
  isSecret,
  keyParts,
  labelOf,
  pulpValue,
  refusedWhenUnreadable,
  setValue,
} from '../../src/pulp/keys.ts';
import { BROKER_SCHEMES, URL_SCHEMES } from '../../src/pulp/values.ts';
import { isSecretKey } from '../../src/common/redact.ts';
import { planEdits } from '../../src/pulp/edits/plan.ts';
import { PULP_SETTINGS } from '../../src/pulp/settings.ts';
import { readSettings } from '../../src/settings/options.ts';

const noFiles = (): Buffer => {
  throw new Error('no NAME_FILE in this test');
};

const ids = Object.keys(PULP_KEYS) as KeyId[];

/** The commented-out example values of Pulp's server.conf ("# seeds: localhost:27017"), per section. */
function documentedValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = '';
  for (const line of text.split('\n')) {
    const head = /^\[([^\]]+)\]/.exec(line);
    if (head?.[1] !== undefined) section = head[1];
    // One space after the colon: the example lines; the explanations pad their column.
    const m = /^# ?([a-z_]+): (\S.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(`${section}.${m[1]}`, m[2].trim());
  }
  return out;
}

t.test("every default is the example value Pulp's own server.conf gives", async (t) => {
  const documented = documentedValues(embeddedServerConf());
  let checked = 0;
  for (const id of ids) {
    const d = (PULP_KEYS[id] as { default?: string }).default;
    if (d === undefined) continue;
    t.equal(documented.get(id), d, id);
    checked++;
  }
  t.ok(checked >= 8, `${checked} defaults checked`);
});

t.test('the values read: as given (trimmed), else the default; an empty value is unset', async (t) => {
  const conf = configViewFrom({ database: { seeds: '  db:1 ', name: '', username: ' ' } });
  t.equal(pulpValue(conf, 'database.seeds'), 'db:1');
  t.equal(pulpValue(conf, 'database.name'), 'pulp_database');
  t.equal(setValue(conf, 'database.username'), undefined);
  t.equal(pulpValue(conf, 'tasks.broker_url'), 'qpid://localhost/');
  t.equal(labelOf('tasks.celery_require_ssl'), 'server.conf [tasks] celery_require_ssl');
});

t.test('secret keys are also secret by name, so the diff (masked by name) hides them', async (t) => {
  for (const id of ids) {
    const { section, key } = keyParts(id);
    t.equal(isSecretKey(key), PULP_KEYS[id].secret, id);
    t.equal(isSecret(section, key), PULP_KEYS[id].secret, id);
  }
  t.equal(isSecret('server', 'oauth_secret'), true, 'a key outside the table: by its name');
  t.equal(isSecret('server', 'oauth_key'), false);
});

t.test('a key is refused when Pulp cannot read it exactly when someone reads it at start', async (t) => {
  t.equal(refusedWhenUnreadable('database', 'seeds'), true, 'the waits, the init, Celery and pulp-manage-db');
  t.equal(refusedWhenUnreadable('tasks', 'login_method'), true, 'every Celery role reads it as it imports celery_instance');
  t.equal(refusedWhenUnreadable('messaging', 'transport'), true, "pulp-manage-db's migration 0009; the preview's protocol");
  t.equal(refusedWhenUnreadable('messaging', 'clientcert'), true, "pulp-manage-db's migration 0009");
  t.equal(refusedWhenUnreadable('messaging', 'cacert'), false, "only httpd's gofer connector reads it");
  t.equal(refusedWhenUnreadable('server', 'other'), false, 'a key the agent does not know');
  for (const id of ids) {
    const { section, key } = keyParts(id);
    t.equal(refusedWhenUnreadable(section, key), PULP_KEYS[id].readBy.length > 0, `${id}: refused iff read`);
  }
});

t.test('TLS file keys per section', async (t) => {
  t.same(TLS_FILE_KEYS, {
    database: { ca: 'database.ca_path', cert: 'database.ssl_certfile', key: 'database.ssl_keyfile' },
    tasks: { ca: 'tasks.cacert', cert: 'tasks.certfile', key: 'tasks.keyfile' },
  });
});

t.test('each variable of the table sets its key, as given, secrets marked', async (t) => {
  const env: Record<string, string> = {};
  for (const s of ['server', 'database']) for (const d of directKeys(s)) env[d.env] = `v-${d.key.replace('_', '-')}`;
  t.same(Object.keys(env), ['PULP_SERVER_NAME', 'PULP_DB_NAME', 'PULP_DB_USERNAME', 'PULP_DB_PASSWORD', 'PULP_DB_REPLICA_SET']);
  const plan = planEdits(readSettings(env, noFiles, PULP_SETTINGS), configViewFrom({}));
  t.same(
    plan.edits.map((e) => [e.section, e.key, e.value, e.secret]),
    [
      ['server', 'server_name', 'v-server-name', false],
      ['database', 'name', 'v-name', false],
      ['database', 'username', 'v-username', false],
      ['database', 'password', 'v-password', true],
      ['database', 'replica_set', 'v-replica-set', false],
    ],
  );
  t.same(plan.secrets, ['v-password']);
});

t.test('PULP_BROKER_SCHEME offers the Celery schemes of the table, in its order', async (t) => {
  t.same(BROKER_SCHEMES, ['qpid', 'qpids', 'amqp', 'amqps']);
  for (const s of BROKER_SCHEMES) t.not(URL_SCHEMES[s]?.protocol, undefined, s);
});
