// src/conf-file/plan.ts: the secrets the plan returns, and the redactor built from them.
// The plan returns every secret it learnt, the file's own included, so the logger it is given
// to masks them: there is no global list whose content depends on what ran before.
import t from 'tap';
import { planConfigure as planWith } from '../../src/conf-file/plan.ts';
import { PULP } from '../../src/pulp/system.ts';
import type { PulpOptions, ServerVars } from '../../src/pulp/settings.ts';
import type { Settings } from '../../src/settings/options.ts';
import type { StartingConf } from '../../src/conf-file/read.ts';

const planConfigure = (settings: Settings<PulpOptions, ServerVars>, starting: StartingConf) => planWith(settings, starting, PULP);

import { createRedactor } from '../../src/common/redact.ts';
import { readSettings } from '../../src/settings/options.ts';

const conf = (text: string) => ({ text, origin: 'file' as const, readFrom: '/etc/pulp/server.conf', current: text });
const noFiles = (): Buffer => {
  throw new Error('no NAME_FILE in this test');
};
const planFor = (env: Record<string, string>, text: string) => planConfigure(readSettings(env, noFiles, PULP.settings), conf(text));

t.test("passwords only in server.conf (the broker's, the database's) are the plan's secrets", async (t) => {
  const p = planFor({}, '[database]\nseeds: db:27017\nusername: pulp\npassword: file-db-pw-1\n[tasks]\nbroker_url: qpid://u:file%%2Fbroker-2@mq:5672\n');
  const redact = createRedactor(p.secrets);
  t.equal(redact('auth failed for file-db-pw-1 and file/broker-2 (file%2Fbroker-2)'), 'auth failed for ******** and ******** (********)');
});

t.test('the environment\'s secrets are the plan\'s too; a plan without any has none', async (t) => {
  t.ok(planFor({ PULP_DB_PASSWORD: 'env-db-pw-3' }, '[database]\nseeds: db:27017\n').secrets.includes('env-db-pw-3'));
  t.same(planFor({}, '[database]\nseeds: db:27017\n').secrets, []);
});
