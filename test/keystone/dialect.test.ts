// src/keystone/dialect.ts (osloRead, KEYSTONE_DIALECT.read) with src/ini/oslo-value.ts (osloValue):
// what oslo.config returns for a keystone.conf value, and that every value the agent writes reads
// back exactly. The real oslo.config judges the same cases in test/keystone/oslo-config-real.test.ts.
import fc from 'fast-check';
import t from 'tap';
import { parseIni } from '../../src/ini/document.ts';
import { osloValue } from '../../src/ini/oslo-value.ts';
import { KEYSTONE_DIALECT, osloRead } from '../../src/keystone/dialect.ts';

const read = (text: string) => KEYSTONE_DIALECT.read(parseIni(text, 'keystone.conf'));
const valueOf = (text: string, section = 'DEFAULT', key = 'k'): string | undefined => read(text).view.get(section)?.get(key);

t.test('osloRead: stripped, one pair of matching quotes removed', async (t) => {
  t.equal(osloRead('  plain value \t'), 'plain value');
  t.equal(osloRead('"quoted"'), 'quoted');
  t.equal(osloRead("'single'"), 'single');
  t.equal(osloRead('  " spaced "  '), ' spaced ', 'strip first, then the quotes: the inner spaces stay');
  t.equal(osloRead('""double""'), '"double"', 'only one pair');
  t.equal(osloRead('"half'), '"half', 'different ends: as written');
  t.equal(osloRead(`"mixed'`), `"mixed'`);
  t.equal(osloRead('""'), '');
  // oslo's iniparser tests value[0] == value[-1]: a lone quote is its own pair (checked with oslo.config 10).
  t.equal(osloRead('"'), '');
  t.equal(osloRead("'"), '');
  t.equal(osloRead(''), '');
  t.equal(osloRead('a # not a comment ; either'), 'a # not a comment ; either', 'oslo.config has no inline comments');
  t.equal(osloRead('100%'), '100%', 'no % interpolation');
  t.equal(osloRead('é→😀\u00a0'), 'é→😀', "Python's strip takes the no-break space");
});

t.test('osloRead: "$$" is "$", "\\$" too, any other "$" a substitution (undefined)', async (t) => {
  t.equal(osloRead('p$$w'), 'p$w');
  t.equal(osloRead('$$$$'), '$$');
  t.equal(osloRead('"$$"'), '$', 'inside quotes as well');
  t.equal(osloRead('pa\\$word'), 'pa$word', 'oslo.config reads "\\$" as "$$"');
  t.equal(osloRead('a\\\\$b'), 'a\\$b', 'the second backslash escapes the "$"');
  t.equal(osloRead('a\\b'), 'a\\b', 'a backslash elsewhere is itself');
  for (const raw of ['$name', '${name}', 'pre$name', 'a$$$b', '$', 'x$y$$', 'a\\$$b']) t.equal(osloRead(raw), undefined, `${raw}: a substitution`);
});

t.test('KEYSTONE_DIALECT.read: the values oslo.config returns, by section', async (t) => {
  const { view, problems } = read('[DEFAULT]\ndebug = true\nshared = "x"\n\n[database]\nconnection = "mysql+pymysql://ks:p$$w@db/keystone"\n\n[Cache]\nenabled = false\n');
  t.same(problems, []);
  t.equal(view.get('database')?.get('connection'), 'mysql+pymysql://ks:p$w@db/keystone');
  t.equal(view.get('DEFAULT')?.get('shared'), 'x');
  t.same([...(view.get('database')?.keys() ?? [])], ['connection'], "[DEFAULT]'s keys are not merged into other sections (no ConfigParser inheritance)");
  t.equal(view.get('database')?.get('debug'), undefined);
  t.ok(view.has('Cache'), 'section names as written');
});

t.test('a $name substitution is reported, never with the value', async (t) => {
  const secret = 'Sup3r$ecret';
  const { view, problems } = read(`[DEFAULT]\nadmin_token = ${secret}\nok = fine\n[database]\nconnection = mysql+pymysql://ks:\${pw}@db/keystone\n`);
  t.same(
    problems.map((p) => `${p.section}.${p.key}`),
    ['DEFAULT.admin_token', 'database.connection'],
  );
  for (const p of problems) {
    t.match(p.reason, /\$name substitution/);
    t.notMatch(p.reason, /Sup3r|ecret|\$\{pw\}/, 'the reason holds no value');
  }
  t.equal(view.get('DEFAULT')?.get('admin_token'), secret, 'the raw value is kept in the view');
  t.equal(view.get('DEFAULT')?.get('ok'), 'fine');
  t.ok(KEYSTONE_DIALECT.refusedWhenUnreadable('database', 'connection'), 'read at start: refused');
  t.ok(KEYSTONE_DIALECT.refusedWhenUnreadable('DEFAULT', 'admin_token'));
  t.notOk(KEYSTONE_DIALECT.refusedWhenUnreadable('DEFAULT', 'some_option'), 'any other key: only warned about');
});

const roundTrip = (v: string): string | undefined => valueOf(`[DEFAULT]\nk = ${osloValue(v, 'k')}\n`);

t.test('what the agent writes reads back exactly', async (t) => {
  const values = [
    'plain',
    '',
    'p$w',
    '$admin_token',
    '${host}',
    '$$',
    '$',
    'a$',
    ' spaced ',
    'in side',
    '\tlead tab',
    '"quoted"',
    "'single'",
    '"',
    "'",
    '"half',
    "it's",
    'a#b',
    '#start',
    ';start',
    'a ;b',
    '100%',
    '%(here)s',
    'é→😀',
    '\u00a0nbsp\u00a0',
    'p@ss:w/rd?#%$',
    'mysql+pymysql://ks:p%24w@[fd00::5]:3306/keystone',
    'key = value',
    '= leading',
    '[section]',
    'back\\slash',
    'ends\\',
  ];
  for (const v of values) t.equal(roundTrip(v), v, JSON.stringify(v));
  const { problems } = read(`[DEFAULT]\n${values.map((v, i) => `k${i} = ${osloValue(v, 'k')}`).join('\n')}\n`);
  t.same(problems, [], 'no $ the agent wrote reads as a substitution');
});

t.test('a backslash before a "$" reads back exactly', async (t) => {
  // oslo.config turns "\$" into "$$" before it substitutes: osloValue's "$$" after a backslash
  // makes "\$$", which oslo.config reads as "$" plus a substitution (checked with oslo.config 10).
  for (const v of ['a\\$b', '\\$', 'x\\$$y']) {
    t.equal(roundTrip(v), v, JSON.stringify(v));
  }
});

t.test('any one-line value reads back exactly (property)', async (t) => {
  // Everything but line breaks and control characters, which the settings refuse before a value is written;
  // a backslash right before a "$" is the known case above.
  const char = fc.oneof(
    fc.constantFrom('$', '"', "'", ' ', '\t', '#', ';', '%', '=', ':', '[', ']', '{', '}', '\\', '@', '/', '\u00a0', '\u3000', 'é', '😀'),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }).filter((c) => !/[\x00-\x1f\x7f]/.test(c)),
  );
  const value = fc.array(char, { maxLength: 24 }).map((cs) => cs.join('')).filter((v) => !v.includes('\\$'));
  fc.assert(
    fc.property(value, (v) => roundTrip(v) === v),
    { numRuns: 2000 },
  );
  t.pass('2000 values');
});
