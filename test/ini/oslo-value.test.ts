// src/ini/oslo-value.ts: what is written so that oslo.config reads back the value meant. The
// cases here pin the rules; test/keystone/oslo-config-real.test.ts has oslo.config itself judge
// the same values in a real keystone.conf.
import fc from 'fast-check';
import t from 'tap';
import { osloValue } from '../../src/ini/oslo-value.ts';
import { pyStrip } from '../../src/ini/py-space.ts';
import { InputError } from '../../src/common/errors.ts';

t.test('a $ is written \\$, so $name and ${name} are never substituted, even after a backslash', async (t) => {
  t.equal(osloValue('p$w', 'X'), 'p\\$w');
  t.equal(osloValue('${admin}', 'X'), '\\${admin}');
  t.equal(osloValue('$$', 'X'), '\\$\\$');
  t.equal(osloValue('a\\$b', 'X'), 'a\\\\$b', 'a backslash of the value before it stays');
  t.equal(osloValue('plain', 'X'), 'plain', 'nothing else changes');
  t.equal(osloValue('a%b #c ;d', 'X'), 'a%b #c ;d', '% and comment characters mean nothing to oslo.config inside a value');
});

t.test('quotes around the value when the strip or the quote removal would change it', async (t) => {
  t.equal(osloValue(' lead', 'X'), '" lead"');
  t.equal(osloValue('trail\t', 'X'), '"trail\t"');
  t.equal(osloValue('"quoted"', 'X'), '""quoted""', 'one pair is removed, the inner pair stays');
  t.equal(osloValue("'", 'X'), `"'"`, 'a lone quote starts and ends with itself');
  t.equal(osloValue('"half', 'X'), '"half', 'different ends: read as written');
  t.equal(osloValue('a\u00a0', 'X'), '"a\u00a0"', "Python's strip() takes the no-break space too");
  t.equal(osloValue('', 'X'), '', 'empty stays empty');
});

t.test('a line break is refused, naming what', async (t) => {
  const err = t.throws(() => osloValue('a\nb', 'MYSQL_PASSWORD')) as unknown;
  t.ok(err instanceof InputError);
  t.match((err as Error).message, /^MYSQL_PASSWORD: a line break/);
  t.throws(() => osloValue('a\rb', 'X'));
});

/** oslo.config's reading of a value without $name references (iniparser, then "\\$" as "$$", then Template's $$). */
function osloRead(raw: string): string {
  let v = pyStrip(raw);
  const first = v[0];
  if (first !== undefined && first === v.at(-1) && `"'`.includes(first)) v = v.slice(1, -1);
  return v.replaceAll('\\$', '$$$$').replace(/\$\$/g, '$');
}

t.test('read back, every single-line value is itself', async (t) => {
  const unit = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...'$${}"\' \t#;=%:'.split(''), '\u00a0', '\x1f', '\x85', '$x', '${x}') },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  );
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 20 }).filter((v) => !/[\r\n]/.test(v)), (v) => osloRead(osloValue(v, 'X')) === v),
    { numRuns: 3000 },
  );
});
