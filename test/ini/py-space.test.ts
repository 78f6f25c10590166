// src/ini/py-space.ts against Python itself: the code points str.isspace() counts, for which
// ConfigParser strips names and values, are exactly the ones pyStrip removes.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { pyLstrip, pyRstrip, pyStrip } from '../../src/ini/py-space.ts';

const pythonSpaces: number[] = JSON.parse(
  execFileSync('python3', ['-c', 'import json, sys; print(json.dumps([c for c in range(sys.maxunicode + 1) if chr(c).isspace()]))'], {
    encoding: 'utf8',
  }),
) as number[];

t.test("the whitespace is Python's, over every code point", async (t) => {
  t.ok(pythonSpaces.includes(0x85) && pythonSpaces.includes(0x1c) && !pythonSpaces.includes(0xfeff), 'Python counts U+0085 and U+001C, not U+FEFF');
  const stripped: number[] = [];
  for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue; // lone surrogates are not text in either language
    if (pyStrip(String.fromCodePoint(c)) === '') stripped.push(c);
  }
  t.same(stripped, pythonSpaces.filter((c) => c < 0xd800 || c > 0xdfff));
});

t.test('each strip takes its own side only, and all of it', async (t) => {
  const s = '\u0085 \t\u3000a b\u001c\u2028 ';
  t.equal(pyLstrip(s), 'a b\u001c\u2028 ');
  t.equal(pyRstrip(s), '\u0085 \t\u3000a b');
  t.equal(pyStrip(s), 'a b');
  t.equal(pyStrip('\ufeffa\ufeff'), '\ufeffa\ufeff', 'a BOM is not whitespace');
  t.equal(pyStrip(''), '');
});
