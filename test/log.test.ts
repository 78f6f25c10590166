// Log lines: text or JSON on stderr, never a registered secret, however it is quoted.
import t from 'tap';
import { createLogger } from '../src/log.ts';
import { clearSecrets, registerSecret } from '../src/redact.ts';

t.test('secrets with quotes and backslashes are masked in text and JSON, in messages and fields', async (t) => {
  clearSecrets();
  const secret = 'pa"ss\\word';
  registerSecret(secret);
  for (const format of ['text', 'json'] as const) {
    const lines: string[] = [];
    const log = createLogger({ format, trace: false, write: (l) => lines.push(l) });
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
