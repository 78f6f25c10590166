// src/common/url.ts: one URL reading for waits, edits and redaction: a password never leaks as host
// or path.
import t from 'tap';
import { createRedactor, redactUrl } from '../../src/common/redact.ts';
import { parseBrokerUrl } from '../../src/pulp/values.ts';
import { splitUrl } from '../../src/common/url.ts';
import { configViewFrom } from '../helpers/targets.ts';
import { planEdits } from '../../src/pulp/edits/plan.ts';
import { PULP_SETTINGS } from '../../src/pulp/settings.ts';
import { readSettings } from '../../src/settings/options.ts';

const noFiles = (): Buffer => {
  throw new Error('no NAME_FILE in this test');
};

t.test('raw delimiters inside a password stay inside it', async (t) => {
  for (const pw of ['Top?Secret99', 'Top#Secret99', 'Top@Secret99', 'Top/Secret99']) {
    const url = `amqp://pulp:${pw}@broker:5672/vh`;
    const p = splitUrl(url);
    t.equal(p?.hostPort, 'broker:5672', `${pw}: host`);
    t.equal(redactUrl(url), 'amqp://pulp:********@broker:5672/vh', `${pw}: masked whole`);
  }
});

t.test('parse errors never quote a URL that carries a password', async (t) => {
  for (const url of ['amqp://pulp:Top/Secret99@broker:x', 'amqp://pulp:Secret99@bad_host', 'foo://pulp:Secret99@h']) {
    let message = '';
    try {
      parseBrokerUrl(url, 'where');
    } catch (err) {
      message = (err as Error).message;
    }
    t.match(message, /^where: /, `${url} is refused`);
    t.notMatch(message, /Secret99/, 'without the password');
  }
});

t.test('a password in PULP_CONF__TASKS__BROKER_URL is one of the plan\'s secrets', async (t) => {
  const env = { PULP_CONF__TASKS__BROKER_URL: 'amqp://pulp:Top%3FSecret99@broker:5672' };
  const { secrets } = planEdits(readSettings(env, noFiles, PULP_SETTINGS), configViewFrom({}));
  t.equal(createRedactor(secrets)('log Top%3FSecret99 and Top?Secret99'), 'log ******** and ********');
});

t.test("the file's TLS scheme and port survive an edit that adds a password", async (t) => {
  const current = configViewFrom({ tasks: { broker_url: 'qpids://pulp@oldbroker:5671/' } });
  const env = { MSG_SERVICE_PASSWORD: 'x-secret' };
  const e = planEdits(readSettings(env, noFiles, PULP_SETTINGS), current).edits.find((x) => x.key === 'broker_url');
  t.match(e?.value, /^qpids:\/\/pulp:x-secret@oldbroker:5671/);
  const moved = planEdits(readSettings({ MSG_SERVICE_HOST: 'newbroker' }, noFiles, PULP_SETTINGS), current).edits;
  t.match(moved.find((x) => x.key === 'broker_url')?.value, /^qpids:\/\/pulp@newbroker:5671/, 'TLS default port');
  t.equal(moved.find((x) => x.key === 'url')?.value, 'ssl://newbroker:5671');
});
