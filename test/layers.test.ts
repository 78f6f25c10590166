// The shape of src/ (docs/design.md): one folder per stage, each importing only from
// the stages before it; every module opening with a comment that says its job; the design
// notes' tree listing every module, once, and nothing else; test/ mirroring the stage folders.
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/cli.ts';

/** The stages, in the order they may depend on each other; main.ts alone on top. */
const STAGES = ['common', 'ini', 'settings', 'conf-file', 'dependencies', 'wait', 'init', 'kube-api', 'exec', 'system', 'pulp', 'keystone', 'cli'] as const;
const SRC = join(ROOT, 'src');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [relative(SRC, p)];
  });
}

const modules = walk(SRC).sort();
const code = modules.filter((m) => m.endsWith('.ts') && !m.endsWith('.d.ts'));

/** The stage of a module: its first folder; main.ts is past the last one. */
function rank(module: string): number {
  const folder = module.split('/')[0] ?? '';
  const i = (STAGES as readonly string[]).indexOf(folder);
  return module.includes('/') ? i : STAGES.length;
}

t.test('every module is in a stage folder, except main.ts on top', async (t) => {
  t.same(
    modules.filter((m) => !m.includes('/')),
    ['main.ts'],
  );
  for (const m of modules) t.not(rank(m), -1, `${m} is in a known stage`);
});

t.test('a stage imports only itself and the stages before it', async (t) => {
  let imports = 0;
  for (const m of code) {
    const text = readFileSync(join(SRC, m), 'utf8');
    for (const hit of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(SRC, resolve(dirname(join(SRC, m)), hit[1] ?? ''));
      imports++;
      if (rank(target) > rank(m)) t.fail(`${m} imports ${target}, a later stage`);
    }
  }
  t.ok(imports > 100, `${imports} relative imports checked`);
});

/** The systems' folders: each one's knowledge, none importing another's (ranks aside). */
const SYSTEMS = ['pulp', 'keystone'];

t.test("no system's folder imports another system's", async (t) => {
  for (const m of code) {
    const own = m.split('/')[0] ?? '';
    if (!SYSTEMS.includes(own)) continue;
    const text = readFileSync(join(SRC, m), 'utf8');
    for (const hit of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const folder = relative(SRC, resolve(dirname(join(SRC, m)), hit[1] ?? '')).split('/')[0] ?? '';
      t.ok(folder === own || !SYSTEMS.includes(folder), `${m} imports ${folder}/`);
    }
  }
});

t.test('every module opens with a comment saying its job', async (t) => {
  for (const m of code) {
    const first = readFileSync(join(SRC, m), 'utf8').split('\n')[0] ?? '';
    t.match(first, /^\/\/ \S.{20,}/, m);
  }
});

t.test("the design notes' tree lists every module once, and only those", async (t) => {
  const readme = readFileSync(join(ROOT, 'docs', 'design.md'), 'utf8');
  const start = readme.indexOf('  src/\n');
  t.ok(start > 0, 'docs/design.md has the tree');
  const block = readme.slice(start, readme.indexOf('```', start));
  const listed: string[] = [];
  let folder = '';
  for (const line of block.split('\n').slice(1)) {
    const m = /^ {4}( {2})?(\S+)/.exec(line);
    if (!m?.[2]) continue;
    if (m[2].endsWith('/')) folder = m[2];
    else listed.push(m[1] ? folder + m[2] : m[2]);
  }
  t.same([...listed].sort(), modules, 'the same modules');
  t.equal(new Set(listed).size, listed.length, 'each once');
});

t.test('test/ mirrors the stage folders', async (t) => {
  const testDirs = readdirSync(join(ROOT, 'test')).filter((d) => statSync(join(ROOT, 'test', d)).isDirectory());
  for (const stage of STAGES) t.ok(testDirs.includes(stage), `test/${stage}/`);
});
