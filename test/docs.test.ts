// The README is the front page and docs/ the rest: the README opens with what package.json's
// description says (both systems), its first commands are the preview of each system and what it
// shows of their output is what they print, and every relative link of README.md and docs/
// reaches a file and, with an anchor, a heading of it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ROOT } from './helpers/cli.ts';
import { unavailable } from './helpers/unavailable.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const squash = (s: string): string => s.replaceAll('`', '').replace(/\s+/g, ' ').trim();

t.test("the README's opening paragraph is package.json's description, naming both programs", async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { description: string };
  const opening = README.split('\n\n')[1] ?? '';
  t.equal(squash(opening), squash(pkg.description));
  for (const name of ['pulp-entrypoint', 'keystone-entrypoint']) t.match(opening, `\`${name}\``, name);
});

/** The fenced blocks of `text`, each as its lines. */
const blocks = (text: string): string[][] =>
  [...text.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => (m[1] ?? '').replace(/\n$/, '').split('\n'));

t.test("the README's first commands are the preview of each system, and show what they print", async (t) => {
  const all = blocks(README);
  const first = all[0] ?? [];
  const PREVIEWS = [
    { command: 'bin/pulp-entrypoint preview beat', program: 'pulp-entrypoint', args: ['preview', 'beat'], file: '/etc/pulp/server.conf' },
    { command: 'bin/keystone-entrypoint preview api', program: 'keystone-entrypoint', args: ['preview', 'api'], file: '/etc/keystone/keystone.conf' },
  ];
  for (const p of PREVIEWS) {
    t.ok(first.includes(p.command), `the first block runs ${p.command}`);
    if (existsSync(p.file)) {
      unavailable(t, `${p.file} exists on this machine, so ${p.command} does not show the embedded default the README shows (move it away to check)`);
      continue;
    }
    // As on a machine without the service: node alone on PATH (no celery, gunicorn, ...).
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', p.program), ...p.args], {
      encoding: 'utf8',
      env: { PATH: dirname(process.execPath) },
      timeout: 30_000,
    });
    t.equal(r.status, 0, `${p.command} exits 0`);
    const out = r.stdout.split('\n');
    const at = README.indexOf(`\`${p.command}\` prints`);
    t.ok(at > 0, `the README shows what ${p.command} prints`);
    const excerpt = blocks(README.slice(at))[0] ?? [];
    t.ok(excerpt.length > 10, 'an excerpt of some lines');
    // Each line in order: "..." stands for lines left out, "text ..." for a line shortened.
    let from = 0;
    for (const line of excerpt) {
      if (line === '...') continue;
      const cut = line.endsWith(' ...') ? line.slice(0, -4) : undefined;
      const found = out.findIndex((o, i) => i >= from && (cut === undefined ? o === line : o.startsWith(cut)));
      t.ok(found >= 0, `${p.program} prints, in this order: ${line.slice(0, 80)}`);
      if (found >= 0) from = found + 1;
    }
  }
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
const anchor = (heading: string): string =>
  heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-');

t.test('every relative link of README.md and docs/ reaches its file and heading', async (t) => {
  let links = 0;
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    const prose = text.replace(/^```[\s\S]*?^```$/gm, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] ?? '';
      if (/^[a-z]+:/.test(target)) continue;
      const [path = '', hash] = target.split('#');
      links++;
      const file = path === '' ? join(ROOT, doc) : resolve(dirname(join(ROOT, doc)), path);
      if (!t.ok(existsSync(file), `${doc}: ${target}: the file exists`)) continue;
      if (hash === undefined) continue;
      const headings = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```$/gm, '').match(/^#+ .*$/gm) ?? [];
      t.ok(headings.map((h) => anchor(h.replace(/^#+ /, ''))).includes(hash), `${doc}: ${target}: the heading exists`);
    }
  }
  // About a hundred today: a pattern that stopped matching would check none and pass.
  t.ok(links >= 50, `${links} relative links checked`);
});

t.test('docs/README.md lists every file of docs/, and the front page links each', async (t) => {
  const index = readFileSync(join(ROOT, 'docs', 'README.md'), 'utf8');
  for (const doc of DOCS.filter((d) => d.startsWith('docs/') && d !== 'docs/README.md')) {
    const name = doc.slice('docs/'.length);
    t.match(index, `](${name})`, `docs/README.md links ${name}`);
    t.match(README, `](${doc}`, `README.md links ${doc}`);
  }
});

t.test('the README stays a front page', async (t) => {
  const lines = README.split('\n').length;
  t.ok(lines <= 300, `README.md has ${lines} lines (at most 300; the rest goes into docs/)`);
  t.match(README, /\n## Development\n[\s\S]*```sh\nnpm ci && npm test\n```/, "the README's test command is npm test (.ci/run runs it)");
});
