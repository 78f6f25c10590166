// src/common/log.ts: log lines: text or JSON on stderr, never a secret the logger was given,
// however it is quoted.
import t from 'tap';
import { createLogger } from '../../src/common/log.ts';

t.test('secrets with quotes and backslashes are masked in text and JSON, in messages and fields', async (t) => {
  const secret = 'pa"ss\\word';
  for (const format of ['text', 'json'] as const) {
    const lines: string[] = [];
    const log = createLogger({ format, trace: false, write: (l) => lines.push(l) }).withSecrets([secret]);
    log.warn(`auth with ${secret} failed`, { password: secret, list: ['a', secret] });
    const out = lines.join('');
    t.notMatch(out, /ss\\+"?\\*word|pa\\?"ss/, `${format}: no trace of the secret`);
    t.match(out, /\*{8}/, `${format}: masked`);
    if (format === 'json') t.doesNotThrow(() => JSON.parse(out), 'still one JSON object');
  }
});

t.test('JSON lines carry level, message and fields', async (t) => {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', trace: false, write: (l) => lines.push(l), now: () => new Date(0) });
  log.info('ready', { attempts: 2, address: 'db:27017' });
  t.same(JSON.parse(lines[0] ?? ''), { time: '1970-01-01T00:00:00.000Z', level: 'info', msg: 'ready', attempts: 2, address: 'db:27017' });
});

t.test('a logger masks only what it was given: no secret is shared between loggers', async (t) => {
  const lines: string[] = [];
  const plain = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) });
  const given = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l), secrets: ['from-a-file-1'] });
  const more = given.withSecrets(['from-the-plan-2']);
  plain.info('from-a-file-1 from-the-plan-2');
  given.info('from-a-file-1 from-the-plan-2');
  more.info('from-a-file-1 from-the-plan-2');
  t.same(lines, [
    'pulp-entrypoint: from-a-file-1 from-the-plan-2\n',
    'pulp-entrypoint: ******** from-the-plan-2\n',
    'pulp-entrypoint: ******** ********\n',
  ]);
});
