// fixtures/docker (the example images) read and previewed; no one src module.
// test/e2e/containers.test.ts builds and runs these images with podman; this reads the
// Dockerfiles the way `docker build` would and checks, quickly and without a runtime, that
// they name only what this project has:
// COPY sources that exist (or that `npm run build:binary` writes), an ENTRYPOINT that is
// where COPY put the agent, CMD roles the agent knows, ENV names it reads, valid
// STOPSIGNALs. Then it runs each image's ENTRYPOINT + CMD with the image's ENV through
// `bin/pulp-entrypoint preview` (the binary takes the same arguments).
import t from 'tap';
import { constants } from 'node:os';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ROLES } from '../../src/pulp/roles.ts';
import { ROOT, cli } from '../helpers/cli.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';

const DIR = join(ROOT, 'fixtures', 'docker');
const BINARY_OUTPUT = 'dist/pulp-entrypoint';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile syntax as far as these files use it: comments, `\` continuations, one instruction a line. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+(.*)$/.exec(full);
    if (!m?.[1] || m[2] === undefined) throw new Error(`unparseable Dockerfile line: ${full}`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
  }
  return out;
}

function all(ins: Instruction[], op: string): string[] {
  return ins.filter((i) => i.op === op).map((i) => i.args);
}

/** The exec (JSON) form; the shell form would put /bin/sh -c in front and break signals. */
function execForm(args: string): string[] {
  const v: unknown = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return v;
}

function argDefaults(ins: Instruction[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of all(ins, 'ARG')) {
    const [name, value] = a.split('=', 2);
    if (name && value !== undefined) m.set(name, value);
  }
  return m;
}

/** `${NAME}` and `$NAME` replaced by the ARG defaults, as a build without --build-arg sees them. */
function withArgs(ins: Instruction[], text: string): string {
  const args = argDefaults(ins);
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get(a ?? b ?? '') ?? '');
}

function resolveFrom(ins: Instruction[]): string {
  const from = all(ins, 'FROM');
  if (from.length !== 1 || !from[0]) throw new Error(`expected one FROM, got ${from.length}`);
  return withArgs(ins, from[0]);
}

function envOf(ins: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of all(ins, 'ENV')) {
    for (const m of e.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return env;
}

function read(name: string): { text: string; ins: Instruction[] } {
  const text = readFileSync(join(DIR, name, 'Dockerfile'), 'utf8');
  return { text, ins: parseDockerfile(text) };
}

function srcText(): string {
  const texts: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) texts.push(readFileSync(p, 'utf8'));
    }
  };
  walk(join(ROOT, 'src'));
  return texts.join('\n');
}

const base = read('base');
const baseTag = /docker build -f fixtures\/docker\/base\/Dockerfile -t (\S+) \./.exec(base.text)?.[1];

t.test("one base image and one image per Pulp role, and Keystone's, nothing else", async (t) => {
  const dirs = readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  t.same(dirs, ['base', 'pulp2', 'keystone', ...ROLES].sort());
  t.ok(baseTag, 'the base Dockerfile documents its build command and tag');
});

t.test('base: COPY sources exist or are the build output, ENTRYPOINT is the copied agent', async (t) => {
  const copies = all(base.ins, 'COPY').map((c) => withArgs(base.ins, c).split(/\s+/));
  t.ok(copies.length > 0, 'base copies the agent in');
  let agentDest: string | undefined;
  for (const parts of copies) {
    t.notOk(parts.some((p) => p.startsWith('--from')), 'no multi-stage sources: the context is the repository');
    const dest = parts[parts.length - 1] as string;
    for (const src of parts.slice(0, -1)) {
      if (src === BINARY_OUTPUT) {
        const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
        t.match(pkg.scripts['build:binary'], /scripts\/build-binary\.mjs/, 'npm run build:binary is the build script');
        t.match(readFileSync(join(ROOT, 'scripts', 'build-binary.mjs'), 'utf8'), /join\(root, 'dist', 'pulp-entrypoint'\)/, `${src} is what build-binary.mjs writes`);
        agentDest = dest.endsWith('/') ? posix.join(dest, 'pulp-entrypoint') : dest;
      } else {
        t.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists in the repository`);
      }
    }
  }
  t.ok(agentDest, `base copies ${BINARY_OUTPUT}`);
  const entry = all(base.ins, 'ENTRYPOINT');
  t.equal(entry.length, 1);
  t.same(execForm(entry[0] as string), [agentDest], 'ENTRYPOINT is the agent, exec form, where COPY put it');
  const cmd = execForm(all(base.ins, 'CMD')[0] ?? '[]');
  const r = cli(cmd);
  t.equal(r.status, 0, `the base image's CMD (${cmd.join(' ')}) works: ${r.stderr}`);
});

t.test('ENV names are ones the agent reads', async (t) => {
  const src = srcText();
  for (const name of ['base', ...ROLES]) {
    for (const key of Object.keys(envOf(read(name).ins))) {
      if (key.startsWith('PULP_CONF__')) t.match(key, /^PULP_CONF__[A-Z0-9_]+__[A-Z0-9_]+$/, `${name}: ${key} has the PULP_CONF__SECTION__KEY form`);
      else t.ok(src.includes(`'${key}'`), `${name}: ${key} is read in src/`);
    }
  }
});

for (const role of ROLES) {
  t.test(`${role}: a thin layer on the base, CMD the role, a valid STOPSIGNAL`, async (t) => {
    const { ins } = read(role);
    t.equal(resolveFrom(ins), baseTag, 'FROM the base image (ARG default)');
    t.same(all(ins, 'ENTRYPOINT'), [], 'keeps the base ENTRYPOINT');
    t.same(all(ins, 'COPY'), [], 'adds no files');
    t.same(all(ins, 'RUN'), [], 'runs nothing at build time');
    const cmd = execForm(all(ins, 'CMD')[0] ?? '[]');
    t.same(cmd, [role], 'CMD is the role');
    const signals = all(ins, 'STOPSIGNAL');
    t.equal(signals.length, 1, 'the stop signal is decided explicitly');
    t.ok((signals[0] as string) in constants.signals, `${signals[0]} is a signal`);
    // Pulp's unit files stop workers with QUIT (seed notes); the others use Celery's warm TERM.
    t.equal(signals[0], role === 'worker' ? 'SIGQUIT' : 'SIGTERM');

    // What `docker run` would start: ENTRYPOINT + CMD with the image's ENV, previewed.
    const conf = confCopy(tempDir(t, 'ship-docker-'));
    const env = { ...envOf(base.ins), ...envOf(ins), PULP_SERVER_CONF: conf };
    const r = cli(['preview', ...cmd, '--json'], env);
    t.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { role: string; exec: { argv: string[] }; config: { edits: { section: string; key: string; value: string }[] } };
    t.equal(p.role, role);
    t.equal(p.exec.argv[1], role === 'beat' ? 'beat' : 'worker', 'celery subcommand');
    t.match(p.config.edits, [{ section: 'server', key: 'log_type', value: 'console' }], 'the base ENV turns syslog off');
  });
}

t.test('.dockerignore sends only what the root-context images copy', async (t) => {
  // Without it the context is the whole checkout (node_modules, the Node 24 copy, dist): about
  // 480 MB for one binary. test/e2e/containers.test.ts lists what a real build receives.
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  t.equal(rules[0], '*', 'everything is excluded first');
  const kept = rules.slice(1);
  t.ok(kept.every((r) => r.startsWith('!dist/pulp-entrypoint')), `only the agent binaries are let back in: ${kept.join(' ')}`);
  const copied = all(base.ins, 'COPY').map((c) => withArgs(base.ins, c).split(/\s+/).slice(0, -1)).flat();
  for (const src of copied) t.ok(kept.includes(`!${src}`), `COPY source ${src} is let in`);
});
