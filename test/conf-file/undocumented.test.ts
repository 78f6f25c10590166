// src/conf-file/undocumented.ts and src/ini/documented.ts through planConfigure: a
// PREFIX_CONF__SECTION__KEY whose section or key the service does not document (Keystone: its
// sample's option list; Pulp: its server.conf) is warned about with the one meant, and still
// written; what the file itself has counts as known.
import t from 'tap';
import { useProgram } from '../../src/common/program.ts';
import { planConfigure } from '../../src/conf-file/plan.ts';
import { parseIni } from '../../src/ini/document.ts';
import { documentedKeys } from '../../src/ini/documented.ts';
import { KEYSTONE } from '../../src/keystone/system.ts';
import { PULP } from '../../src/pulp/system.ts';
import { readSettings } from '../../src/settings/options.ts';
import type { System } from '../../src/system/system.ts';

const noFiles = (): Buffer => {
  throw new Error('no NAME_FILE in this test');
};

function warningsWith<O, C>(system: System<O, C>, env: Record<string, string>, text: string): { warnings: string[]; keys: string[] } {
  useProgram(system.names);
  const settings = readSettings({ [system.settings.confVar]: '/etc/x.conf', ...env }, noFiles, system.settings);
  const p = planConfigure(settings, { text, origin: 'file', readFrom: '/etc/x.conf', current: text }, system);
  return { warnings: p.warnings.filter((w) => w.includes('documents no')), keys: p.edits.map((e) => `[${e.section}] ${e.key}`) };
}

function warnings(system: typeof PULP | typeof KEYSTONE, env: Record<string, string>, text = system.file.embedded()): { warnings: string[]; keys: string[] } {
  return system === PULP ? warningsWith(PULP, env, text) : warningsWith(KEYSTONE, env, text);
}

// [system, variable, the warning's tail, or null: none]
const CASES: [typeof PULP | typeof KEYSTONE, string, string | null][] = [
  [PULP, 'PULP_CONF__DATABSE__SEEDS', "Pulp 2's server.conf documents no section [databse] (did you mean [database]?); written as given"],
  [PULP, 'PULP_CONF__DATABASE__SEDS', "Pulp 2's server.conf documents no key seds in [database] (did you mean seeds?); written as given"],
  [PULP, 'PULP_CONF__Server__Log_Typ', "Pulp 2's server.conf documents no key log_typ in [server] (did you mean log_type?); written as given"],
  [PULP, 'PULP_CONF__FOO__BAR', "Pulp 2's server.conf documents no section [foo]; written as given"],
  [PULP, 'PULP_CONF__DATABASE__WRITE_CONCERN', null],
  [PULP, 'PULP_CONF__DATABASE__X509_AUTH', null],
  [PULP, 'PULP_CONF__TASKS__WORKER_TIMEOUT', null],
  [PULP, 'PULP_CONF__DEFAULT__ANYTHING', "Pulp 2's server.conf documents no key anything in [DEFAULT]; written as given"],
  // Prose in the description paragraphs is not a key: "# name:   name of the database" sits in [lazy]'s block.
  [PULP, 'PULP_CONF__SERVER__NAME', "Pulp 2's server.conf documents no key name in [server]; written as given"],
  [KEYSTONE, 'KEYSTONE_CONF__DATABASE__CONECTION', "Keystone 30.0.0's keystone.conf documents no key conection in [database] (did you mean connection?); written as given"],
  [KEYSTONE, 'KEYSTONE_CONF__CAHCE__ENABLED', "Keystone 30.0.0's keystone.conf documents no section [cahce] (did you mean [cache]?); written as given"],
  [KEYSTONE, 'KEYSTONE_CONF__DEFAULT__DEBUG', null],
  [KEYSTONE, 'KEYSTONE_CONF__DEFAULT__LOGFILE', null], // "# Deprecated group/name - [DEFAULT]/logfile": oslo still reads it
  [KEYSTONE, 'KEYSTONE_CONF__TOKEN__EXPIRATION', null],
  [KEYSTONE, 'KEYSTONE_CONF__DEFAULT__REASON', "Keystone 30.0.0's keystone.conf documents no key reason in [DEFAULT]; written as given"], // "# Reason: ..." is prose
];

t.test('each override of an undocumented section or key is named, and still written', async (t) => {
  for (const [system, name, tail] of CASES) {
    const w = warnings(system, { [name]: 'v' });
    if (tail === null) t.same(w.warnings, [], `${name}: no warning`);
    else t.same(w.warnings, [`${name}: ${tail}`], name);
    const [, section = '', key = ''] = name.split('__');
    t.ok(w.keys.includes(`[${section.toUpperCase() === 'DEFAULT' ? 'DEFAULT' : section.toLowerCase()}] ${key.toLowerCase()}`), `${name}: written as given (${w.keys.join(', ')})`);
  }
});

t.test("the file's own sections and keys count as known", async (t) => {
  const text = PULP.file.embedded() + '\n[my_plugin]\nlevel: 1\n';
  t.same(warnings(PULP, { PULP_CONF__MY_PLUGIN__LEVEL: '2' }, text).warnings, []);
  t.same(warnings(PULP, { PULP_CONF__MY_PLUGIN__LEVLE: '2' }, text).warnings, ["PULP_CONF__MY_PLUGIN__LEVLE: Pulp 2's server.conf documents no key levle in [my_plugin] (did you mean level?); written as given"]);
});

t.test("documentedKeys: Pulp's defaults under each header, oslo's #name = lines and renamed options", async (t) => {
  const pulp = documentedKeys(parseIni(PULP.file.embedded()), 'pulp');
  t.same([...(pulp.get('database') ?? [])].sort().slice(0, 4), ['ca_path', 'name', 'password', 'replica_set']);
  t.notOk(pulp.get('server')?.has('name'), 'a description paragraph is not a section\'s keys');
  const ks = documentedKeys(parseIni(KEYSTONE.file.embedded()), 'oslo');
  t.ok(ks.get('database')?.has('connection'));
  t.ok(ks.get('fernet_tokens')?.has('key_repository'));
  t.ok(ks.get('DEFAULT')?.has('logfile'), 'renamed: [DEFAULT]/logfile');
  t.notOk(ks.get('DEFAULT')?.has('reason'), 'prose is not an option');
  t.ok([...ks.values()].reduce((n, k) => n + k.size, 0) > 400, 'the sample documents hundreds of options');
});
