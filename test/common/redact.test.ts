// src/common/redact.ts and src/common/url.ts (maskUserinfo): masking by shape.
// Any `user:password@` shape is masked in every message, also when the value around it is no
// URL the agent can read (so it never learnt the password as a secret): the pure masking over
// many shapes, then the refusals through the real command, as text and as JSON log lines.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MASK, createRedactor, redactUrl } from '../../src/common/redact.ts';
import { maskUserinfo } from '../../src/common/url.ts';
import { cli } from '../helpers/cli.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';

t.test('shapes: the password goes, the rest stays where it can be told apart', async (t) => {
  const cases: [string, string][] = [
    ['qpid:/bob:Secret@h:5672', 'qpid:/bob:********@h:5672'],
    ['qpid://bob:Secret@h:5672/', 'qpid://bob:********@h:5672/'],
    ['bob:Secret@h', 'bob:********@h'],
    ['qpid:bob:Secret@h', 'qpid:********@h'],
    ['amqp://bob:Se@cr:et@h', 'amqp://bob:********@h'],
    ['amqp://bob:x://y@h', 'amqp://bob:********@h'],
    ['bob:x:/y@h', 'bob:********@h'],
    ['tcp:/bob@h:5672', 'tcp:********@h:5672'],
    ['url=amqp://bob:Secret@h', 'url=amqp://bob:********@h'],
    ['"qpid:/bob:my Secret@h:5672" is not a broker URL', '"qpid:/bob:********@h:5672" is not a broker URL'],
    // No password: left as it is.
    ['qpid://guest@h:5672', 'qpid://guest@h:5672'],
    ['reserved_resource_worker-2@pulp.example.com', 'reserved_resource_worker-2@pulp.example.com'],
    ['amqp://bob:@h', 'amqp://bob:@h'],
    ['mongodb at [fd00::1]:27017 ready', 'mongodb at [fd00::1]:27017 ready'],
  ];
  for (const [input, want] of cases) t.equal(maskUserinfo(input, MASK), want, input);
  t.equal(redactUrl('qpid:/bob:Secret@h:5672'), 'qpid:/bob:********@h:5672', 'redactUrl: the malformed URL too');
  t.equal(createRedactor()('broker qpid:/bob:Secret@h:5672 refused'), 'broker qpid:/bob:********@h:5672 refused', 'redact, without knowing the secret');
});

t.test('property: a password after "user:" never survives, whatever the scheme and slashes', async (t) => {
  const word = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
  const secret = fc.stringMatching(/^[A-Za-z0-9!$&()*+,;=:/?#@%~-]{6,20}$/).filter((s) => /[A-Za-z0-9]{4}/.test(s));
  fc.assert(
    fc.property(fc.constantFrom('', 'qpid:', 'qpid:/', 'qpid://', 'amqps://', 'x='), word, secret, word, (prefix, user, pw, host) => {
      // "bob://pw@h" without a scheme before it reads as a URL with a user and no password.
      if ((prefix === '' || prefix === 'x=') && pw.startsWith('//')) return true;
      const out = maskUserinfo(`error: "${prefix}${user}:${pw}@${host}:5672" is bad`, MASK);
      const longest = pw.match(/[A-Za-z0-9]{4,}/g) ?? [];
      return longest.every((piece) => !out.includes(piece) || `${prefix}${user}@${host}:5672 error is bad`.includes(piece));
    }),
  );
});

const dir = tempDir(t, 'pe-redact-');
const conf = confCopy(dir);
const pristine = readFileSync(conf, 'utf8');

/** server.conf with `key: value` added under [section]. */
function confWith(section: string, key: string, value: string): string {
  const file = join(dir, `${section}-${key}.conf`);
  writeFileSync(file, pristine.replace(`[${section}]\n`, `[${section}]\n${key}: ${value}\n`));
  return file;
}

t.test('through the command: the "is not a broker URL" refusal never shows the password', async (t) => {
  const cases: [string, Record<string, string>][] = [
    ['PULP_CONF__TASKS__BROKER_URL', { PULP_SERVER_CONF: conf, PULP_CONF__TASKS__BROKER_URL: 'qpid:/bob:Secret99@h:5672' }],
    ['PULP_CONF__MESSAGING__URL', { PULP_SERVER_CONF: conf, PULP_CONF__MESSAGING__URL: 'tcp:/bob:Secret99@h:5672' }],
    ['broker_url line in the file', { PULP_SERVER_CONF: confWith('tasks', 'broker_url', 'qpid:/bob:Secret99@h:5672') }],
    ['[messaging] url line in the file', { PULP_SERVER_CONF: confWith('messaging', 'url', 'tcp:/bob:Secret99@h:5672') }],
  ];
  for (const [name, env] of cases) {
    for (const cmd of [['configure'], ['preview', 'beat'], ['wait', '--timeout', '1']]) {
      for (const log of ['text', 'json']) {
        const r = cli(cmd, { ...env, PULP_ENTRYPOINT_LOG: log });
        const what = `${name}, ${cmd[0]}, ${log}`;
        t.equal(r.status, 65, `${what}: exit 65`);
        t.notMatch(r.stderr + r.stdout, /Secret99/, `${what}: no password`);
        t.match(r.stderr, /bob:\*{8}@h:5672.* is not a broker URL/, `${what}: the refusal, masked`);
        if (log === 'json') t.doesNotThrow(() => JSON.parse(r.stderr.trim().split('\n').pop() ?? ''), `${what}: JSON line`);
      }
    }
  }
});
