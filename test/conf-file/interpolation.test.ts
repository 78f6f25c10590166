// src/ini/interpolation.ts as used by src/conf-file/plan.ts, through `pulp-entrypoint configure`.
// Pulp reads server.conf with interpolation (Python 2's SafeConfigParser): values with "%"
// written by configure must read back exactly, in Python 3 and, where installed, Python 2.7.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cli } from '../helpers/cli.ts';
import { findPython2 } from '../helpers/ini.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

const read = (python: string, file: string, module: string, cls: string): Record<string, string> =>
  JSON.parse(
    execFileSync(
      python,
      ['-c', `import json,sys; from ${module} import ${cls}; c=${cls}(); c.read(sys.argv[1]); print(json.dumps({"broker": c.get("tasks","broker_url"), "pw": c.get("database","password"), "wc": c.get("database","write_concern")}))`, file],
      { encoding: 'utf8' },
    ),
  ) as Record<string, string>;

t.test('values with % and URL delimiters read back exactly', async (t) => {
  const conf = confCopy(tempDir(t, 'pe-interp-'));
  const env = {
    PULP_SERVER_CONF: conf,
    MSG_SERVICE_HOST: 'msg',
    MSG_SERVICE_USER: 'pulp@corp',
    MSG_SERVICE_PASSWORD: 'p@ss/w0rd%25',
    PULP_DB_PASSWORD: '50%off(s)',
    PULP_CONF__DATABASE__WRITE_CONCERN: '100%',
    PULP_BROKER_SCHEME: 'amqp',
  };
  const r = cli(['configure'], env);
  t.equal(r.status, 0, r.stderr);
  const want = { broker: 'amqp://pulp%40corp:p%40ss%2Fw0rd%2525@msg:5672', pw: '50%off(s)', wc: '100%' };
  t.same(read('python3', conf, 'configparser', 'ConfigParser'), want, 'Python 3 ConfigParser (interpolation on)');
  const py2 = findPython2();
  if (py2) t.same(read(py2, conf, 'ConfigParser', 'SafeConfigParser'), want, "Python 2.7 SafeConfigParser (Pulp 2's reader)");
  else unavailable(t, 'the SafeConfigParser check: Python 2.7 not found (pyenv install 2.7.18)');
  const mtime = statSync(conf).mtimeMs;
  const again = cli(['configure'], env);
  t.match(again.stdout, /unchanged, nothing written/, 'escaped values compare equal on the next start');
  t.equal(statSync(conf).mtimeMs, mtime);
  t.notMatch(readFileSync(conf, 'utf8'), /[^%]%[^%(]/, 'no lone % left in the file');
});

t.test('a value Pulp could not read in a key the agent uses is refused', async (t) => {
  const conf = confCopy(tempDir(t, 'pe-interp-'));
  const bad = readFileSync(conf, 'utf8').replace('[database]\n', '[database]\nseeds: db%:27017\n');
  writeText(conf, bad);
  const r = cli(['configure'], { PULP_SERVER_CONF: conf, PULP_SERVER_NAME: 'x.example' });
  t.equal(r.status, 65);
  t.match(r.stderr, /\[database\] seeds: .*'%'/);
});

function writeText(file: string, text: string): void {
  // Kept apart so the test reads as what it checks.
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: text });
}
