// A typo never acts: through the real command under both names, a first word that is not a
// command, a role or a program on PATH is exit 64 with the word meant, before anything is read
// or written (the file's bytes and mtime unchanged); a real program still starts. A misspelt
// variable is named, with the one meant, in the preview's notes and in the log of every start.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-typos-');
const SYSTEMS = {
  'pulp-entrypoint': { confVar: 'PULP_SERVER_CONF', sample: join(ROOT, 'src', 'pulp', 'default-server.conf') },
  'keystone-entrypoint': { confVar: 'KEYSTONE_CONF', sample: join(ROOT, 'src', 'keystone', 'default-keystone.conf') },
} as const;
type Name = keyof typeof SYSTEMS;

function run(name: Name, args: string[], conf: string, more: Record<string, string> = {}) {
  // Variables that would make the edits change the file, had anything been run.
  const env = { PATH: process.env.PATH, [SYSTEMS[name].confVar]: conf, DB_SERVICE_HOST: '10.9.9.9', MSG_SERVICE_HOST: '10.9.9.8', ...more };
  return spawnSync(process.execPath, [join(ROOT, 'bin', name), ...args], { env, encoding: 'utf8', timeout: 30_000 });
}

/** A copy of the system's file, its mtime in the past, and a check that it is still that. */
function untouchedFile(name: Name, label: string): { conf: string; unchanged: () => boolean } {
  const conf = join(dir, `${label.replace(/\W+/g, '_')}.conf`);
  copyFileSync(SYSTEMS[name].sample, conf);
  const past = new Date('2020-03-03T00:00:00Z');
  utimesSync(conf, past, past);
  const before = readFileSync(conf);
  return { conf, unchanged: () => readFileSync(conf).equals(before) && statSync(conf).mtimeMs === past.getTime() };
}

// [program, argv, the word suggested]
const TYPOS: [Name, string[], string | undefined][] = [
  ['pulp-entrypoint', ['preveiw', 'beat'], 'preview'],
  ['pulp-entrypoint', ['beet'], 'beat'],
  ['pulp-entrypoint', ['Beat'], 'beat'],
  ['pulp-entrypoint', ['resource-manager'], 'resource_manager'],
  ['pulp-entrypoint', ['confgure'], 'configure'],
  ['pulp-entrypoint', ['no-such-program-xyz'], undefined],
  ['keystone-entrypoint', ['apii'], 'api'],
  ['keystone-entrypoint', ['API'], 'api'],
  ['keystone-entrypoint', ['preveiw', 'api'], 'preview'],
  ['keystone-entrypoint', ['key'], 'keys'],
];

for (const [name, argv, meant] of TYPOS) {
  t.test(`${name} ${argv.join(' ')}: exit 64${meant ? `, did you mean ${meant}?` : ''}; the file untouched`, async (t) => {
    const file = untouchedFile(name, `${name}-${argv.join('-')}`);
    const r = run(name, argv, file.conf);
    t.equal(r.status, 64, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], new RegExp(`^${name}: error: ${argv[0]}: not a command, a role or a program on PATH`));
    if (meant) t.match(lines[0], new RegExp(`did you mean ${meant}\\?`));
    else t.notMatch(lines[0], /did you mean/);
    t.equal(r.stdout, '', 'nothing on stdout');
    t.ok(file.unchanged(), 'bytes and mtime unchanged');
  });
}

t.test('a real program still starts, configured first (the docker-library convention)', async (t) => {
  for (const name of Object.keys(SYSTEMS) as Name[]) {
    const file = untouchedFile(name, `${name}-bash`);
    const ok = run(name, ['bash', '-c', 'true'], file.conf);
    t.equal(ok.status, 0, `${name} bash -c true: ${ok.stderr}`);
    t.notOk(file.unchanged(), `${name}: configure ran before it`);
    t.equal(run(name, ['sh', '-c', 'exit 3'], file.conf).status, 3, `${name} sh -c 'exit 3': its own code`);
  }
});

// [program, variable, the variable meant]
const VARIABLES: [Name, string, string][] = [
  ['pulp-entrypoint', 'PULP_WAIT_TIMOUT', 'PULP_WAIT_TIMEOUT'],
  ['pulp-entrypoint', 'PULP_CONF__DATABSE__SEEDS', '[database]'],
  ['keystone-entrypoint', 'KEYSTONE_WORKER', 'KEYSTONE_WORKERS'],
  ['keystone-entrypoint', 'MYSQL_PASWORD', 'MYSQL_PASSWORD'],
];

for (const [name, variable, meant] of VARIABLES) {
  t.test(`${name}: ${variable}=5 is named with ${meant}, in the preview's notes and the log of a start`, async (t) => {
    const file = untouchedFile(name, `${name}-${variable}`);
    const role = name === 'pulp-entrypoint' ? 'beat' : 'api';
    const p = run(name, ['preview', role, '--json'], file.conf, { [variable]: '5' });
    t.equal(p.status, 0, p.stderr);
    const notes = (JSON.parse(p.stdout) as { notes: string[] }).notes;
    const named = notes.filter((n) => n.startsWith(variable));
    t.equal(named.length, 1, `one note: ${named.join(' | ')}`);
    t.match(named[0], `(did you mean ${meant}?)`);
    const c = run(name, ['configure'], file.conf, { [variable]: '5' });
    t.equal(c.status, 0, c.stderr);
    t.match(c.stderr, `${name}: warn: ${variable}`, 'warned at the start');
    t.match(c.stderr, `did you mean ${meant}?`);
  });
}
