// The exit codes have one table (src/common/errors.ts): every code the agent can end with is
// in it, --help prints it (src/cli/help.ts), and the README's "Exit codes" table is it, row for
// row, so neither can drift from the code.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, exitCodeMeanings } from '../../src/common/errors.ts';

// The README's table: every code of both programs (Keystone's rotation and downgrade codes say so in their text).
const EXIT_CODE_MEANINGS = exitCodeMeanings('server.conf', ['rotate'], true);
import { ROOT, cli } from '../helpers/cli.ts';
import { spawnSync } from 'node:child_process';

const squash = (s: string): string => s.replaceAll('`', '').replace(/\s+/g, ' ').trim();

t.test('every exit code of ExitCode has a meaning, once', async (t) => {
  // The whole table: with the codes of the rotation and of the schema's phases (Keystone's).
  const listed = exitCodeMeanings('server.conf', ['rotate'], true).map(([code]) => code);
  t.equal(new Set(listed).size, listed.length, 'no code twice');
  for (const [name, code] of Object.entries(ExitCode)) {
    if (name === 'signalBase') t.match(EXIT_CODE_MEANINGS.find(([c]) => c === 'other')?.[1], /128 \+ signal/, '128 + signal: in "other"');
    else t.ok(listed.includes(code), `${name} (${code})`);
  }
});

t.test("the README's Exit codes table is the table, row for row", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Exit codes\n');
  t.ok(start >= 0, 'the README has the section');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const rows = section.split('\n').filter((l) => /^\| (\d+|other) \|/.test(l));
  t.same(
    rows,
    EXIT_CODE_MEANINGS.map(([code, meaning]) => `| ${code} | ${meaning} |`),
  );
});

t.test('--help prints every code with its meaning, in order (the rotation\'s only under keystone-entrypoint)', async (t) => {
  const r = cli(['--help']);
  t.equal(r.status, 0);
  const block = r.stdout.slice(r.stdout.indexOf('\nExit codes:\n'));
  t.notMatch(block, /rotate/, "pulp-entrypoint has no rotate: none of its codes");
  const ks = spawnSync(process.execPath, [join(ROOT, 'bin', 'keystone-entrypoint'), '--help'], { encoding: 'utf8' }).stdout;
  t.match(ks.slice(ks.indexOf('\nExit codes:\n')), /\n {2}75 {5}keystone-entrypoint rotate: the Secret changed/, 'keystone-entrypoint lists them');
  t.notMatch(block, /\n {2}78 /, 'pulp-entrypoint has no schema phases: no downgrade code');
  t.match(ks.slice(ks.indexOf('\nExit codes:\n')), /\n {2}78 {5}keystone-entrypoint: the image is older than its database \(a downgrade/, "keystone-entrypoint lists the downgrade's code");
  let at = 0;
  for (const [code, meaning] of exitCodeMeanings('server.conf', [], false)) {
    const found = squash(block).indexOf(`${code} ${squash(meaning)}`, at);
    t.ok(found > at || (at === 0 && found >= 0), `${code}: ${squash(meaning).slice(0, 50)}...`);
    at = found;
  }
  t.ok(block.split('\n').every((l) => l.length <= 100), 'no line wider than 100 columns');
});

t.test("package.json's bin gives both names; each --help opens with its own system and names the other", async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; description: string };
  const SYSTEMS: Record<string, { own: RegExp; other: string }> = {
    'pulp-entrypoint': { own: /^pulp-entrypoint: .*Pulp 2/, other: 'keystone-entrypoint' },
    'keystone-entrypoint': { own: /^keystone-entrypoint: .*Keystone/, other: 'pulp-entrypoint' },
  };
  t.same(Object.keys(pkg.bin).sort(), Object.keys(SYSTEMS).sort(), 'npm i -g and npx give both names');
  for (const [name, file] of Object.entries(pkg.bin)) {
    const r = spawnSync(process.execPath, [join(ROOT, file), '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 30_000 });
    t.equal(r.status, 0, `${name} --help`);
    const want = SYSTEMS[name];
    if (!want) continue;
    t.match(r.stdout, want.own, `${name} --help opens with its own system`);
    t.match(r.stdout.split('\n').slice(0, 4).join(' '), want.other, `${name} --help names ${want.other} in its first lines`);
    t.match(pkg.description, new RegExp(`\\(${name}\\)`), `the description names ${name}`);
  }
});
