// src/settings/unknown.ts through readSettings: a name with one of the program's prefixes that
// no spec of the system declares is warned about, with the variable meant; the known names are
// the schemas' own (a variable added to a system's settings is known without a list to keep),
// and names the kubelet makes for any Service are the cluster's, not typos.
import t from 'tap';
import { useProgram } from '../../src/common/program.ts';
import { KEYSTONE } from '../../src/keystone/system.ts';
import { PULP } from '../../src/pulp/system.ts';
import { type SettingsSchema, readSettings } from '../../src/settings/options.ts';
import type { ProgramNames } from '../../src/common/program.ts';

const noFiles = (): Buffer => Buffer.from('from-a-file\n');

function warningsOf<O, C>(system: { names: ProgramNames; settings: SettingsSchema<O, C> }, env: Record<string, string>): string[] {
  useProgram(system.names);
  return readSettings(env, noFiles, system.settings).warnings;
}

// [system, variable, the variable suggested, or null: no warning at all]
const CASES: [typeof PULP | typeof KEYSTONE, string, string | undefined | null][] = [
  [PULP, 'PULP_WAIT_TIMOUT', 'PULP_WAIT_TIMEOUT'],
  [PULP, 'PULP_DB_NAM', 'PULP_DB_NAME'],
  [PULP, 'PULP_DB_PASWORD_FILE', 'PULP_DB_PASSWORD_FILE'],
  [PULP, 'PULP_WORKERID', 'PULP_WORKER_ID'],
  [PULP, 'PULP_RUNAS', 'PULP_RUN_AS'],
  [PULP, 'MSG_SERVICE_PASWORD', 'MSG_SERVICE_PASSWORD'],
  [PULP, 'MSG_SERVICE_USER_FIEL', 'MSG_SERVICE_USER_FILE'],
  [PULP, 'PULP_VERSION', undefined],
  [PULP, 'PULP_WAIT_TIMEOUT', null],
  [PULP, 'PULP_DB_PASSWORD_FILE', null],
  [PULP, 'MSG_SERVICE_HOST', null],
  [PULP, 'MSG_SERVICE_PORT_AMQP', null],
  [PULP, 'PULP_API_SERVICE_HOST', null], // a Service pulp-api
  [PULP, 'PULP_API_PORT_24817_TCP_ADDR', null],
  [PULP, 'PULP_API_PORT', null],
  [PULP, 'PULP_CONF__DATABSE__SEEDS', null], // the file's side: conf-file/undocumented.ts
  [PULP, 'MYSQL_PASWORD', null], // Keystone's family, not Pulp's
  [PULP, 'HOSTNAME', null],
  [KEYSTONE, 'KEYSTONE_WORKER', 'KEYSTONE_WORKERS'],
  [KEYSTONE, 'KEYSTONE_WAIT_TIMOUT', 'KEYSTONE_WAIT_TIMEOUT'],
  [KEYSTONE, 'MYSQL_PASWORD', 'MYSQL_PASSWORD'],
  [KEYSTONE, 'MYSQL_PASSWORD_FIEL', 'MYSQL_PASSWORD_FILE'],
  [KEYSTONE, 'MYSQL_DATABSE', 'MYSQL_DATABASE'],
  [KEYSTONE, 'OS_BOOTSTRAP_PASWORD', 'OS_BOOTSTRAP_PASSWORD'],
  [KEYSTONE, 'OS_BOOTSTRAP_REGIONID', 'OS_BOOTSTRAP_REGION_ID'],
  [KEYSTONE, 'ADMIN_TOKEN_FIEL', 'ADMIN_TOKEN_FILE'],
  [KEYSTONE, 'MYSQL_ROOT_PASSWORD', undefined],
  [KEYSTONE, 'KEYSTONE_PUBLIC_SERVICE_HOST', null], // the Service keystone-public of fixtures/k8s/keystone
  [KEYSTONE, 'KEYSTONE_PUBLIC_SERVICE_PORT_HTTP', null],
  [KEYSTONE, 'MYSQL_PORT_3306_TCP', null], // a Service mysql
  [KEYSTONE, 'OS_AUTH_URL', null], // the OpenStack clients', not ours
  [KEYSTONE, 'OS_BOOTSTRAP_ADMIN_URL', null],
  [KEYSTONE, 'PULP_WAIT_TIMOUT', null], // Pulp's prefix, not Keystone's
];

t.test('a misspelt variable is named, with the one meant; the known and the cluster\'s are not', async (t) => {
  for (const [system, name, meant] of CASES) {
    const w = warningsOf<unknown, unknown>(system, { [name]: '5' });
    const label = `${system.names.program}: ${name}`;
    if (meant === null) {
      t.same(w, [], `${label}: no warning`);
      continue;
    }
    t.equal(w.length, 1, `${label}: one warning`);
    t.match(w[0], new RegExp(`^${name} is not a variable ${system.names.program} reads: ignored`), label);
    if (meant) t.match(w[0], new RegExp(` \\(did you mean ${meant}\\?\\)$`), `${label}: did you mean ${meant}?`);
    else t.notMatch(w[0], /did you mean/, `${label}: nothing close`);
  }
});

t.test('every variable a system declares is known, under its own name and as NAME_FILE', async (t) => {
  for (const system of [PULP, KEYSTONE]) {
    const s: SettingsSchema<unknown, unknown> = system.settings;
    const declared = [...Object.keys(s.optionSpecs), ...Object.keys(s.confSpecs), ...s.fileVariables.map((f) => `${f.name}_FILE`), s.confVar, s.templateVar];
    // Empty: unset for the settings (no value to check), present for the names.
    const env = Object.fromEntries(declared.map((n) => [n, '']));
    t.ok(declared.length >= 10, `${system.names.program}: ${declared.length} declared`);
    t.same(warningsOf<unknown, unknown>(system, env), [], `${system.names.program}: none warned about`);
  }
});

t.test('an empty misspelt variable is named too; the warnings come in name order', async (t) => {
  t.same(
    warningsOf(PULP, { PULP_WAIT_TIMOUT: '', PULP_DB_NAM: 'x' }).map((w) => w.split(' ')[0]),
    ['PULP_DB_NAM', 'PULP_WAIT_TIMOUT'],
  );
});
