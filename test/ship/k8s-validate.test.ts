// The manifests in fixtures/k8s (Pulp) and fixtures/k8s/keystone (Keystone) against the
// Kubernetes API schemas, offline, with PyPI's kubernetes-validate
// (test/k8s/kubernetes-validate.sh installs it into a venv under /var/cache/pulp-entrypoint):
// --strict rejects any field the API does not have, which a plain schema check and
// `kubectl apply --dry-run=client` let through. Pulp's against three Kubernetes versions: an
// old one still in the field, a middle one, and the newest the package ships; Keystone's
// against 1.30 and the newest (its keys sidecar is a native sidecar, an init container with
// restartPolicy Always, and its preStop a sleep action: both on by default from 1.30; older
// schemas do not have these fields, which the last test shows).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';

const DIR = join(ROOT, 'fixtures', 'k8s');
const KEYSTONE_DIR = join(DIR, 'keystone');
/** A folder's manifests, in the order `kubectl apply -f DIR` takes them (it does not recurse). */
const manifestsIn = (dir: string): string[] => readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
const PULP_FILES = manifestsIn(DIR);
const KEYSTONE_FILES = manifestsIn(KEYSTONE_DIR);
const FILES = [...PULP_FILES, ...KEYSTONE_FILES];

/** The validator, installed (or found in the cache) by the setup script; undefined after failing or skipping. */
function validator(): string | undefined {
  const r = spawnSync('bash', [join(ROOT, 'test', 'k8s', 'kubernetes-validate.sh')], { encoding: 'utf8', timeout: 240_000 });
  const path = /^export PULP_TEST_KUBERNETES_VALIDATE=(\S+)$/m.exec(r.stdout)?.[1];
  if (r.status === 0 && path) return path;
  const why = `test/k8s/kubernetes-validate.sh failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  unavailable(t, `manifest validation: ${why}; run it as root with PyPI reachable`);
  return undefined;
}

function run(bin: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

t.test('both folders are validated', async (t) => {
  const names = (dir: string): string[] => FILES.filter((f) => dirname(f) === dir).map((f) => basename(f));
  t.ok(names(DIR).length > 0, 'the Pulp manifests');
  t.same(names(KEYSTONE_DIR), ['00-db.yaml', '01-keys.yaml', '02-keystone.yaml', '03-service.yaml', '04-rotation.yaml'], 'the Keystone manifests');
});

const bin = validator();
if (bin) {
  const newest = /Defaults to (\d+\.\d+)/.exec(run(bin, ['--help']).out)?.[1];
  const versions = ['1.25', '1.30', newest ?? 'unknown'];
  const filesFor = (version: string): string[] => (version === '1.25' ? PULP_FILES : FILES);

  t.test('the newest Kubernetes version kubernetes-validate ships is known', async (t) => {
    t.match(newest, /^1\.(3[1-9]|[4-9]\d)$/, 'newer than 1.30');
  });

  for (const version of versions) {
    const files = filesFor(version);
    t.test(`${files === FILES ? 'every manifest' : "Pulp's manifests (Keystone's need 1.30)"}: --strict against Kubernetes ${version}`, async (t) => {
      const r = run(bin, ['--strict', '-k', version, ...files]);
      t.equal(r.status, 0, r.status === 0 ? 'exit 0' : r.out);
      const objects = files.flatMap((f) => readFileSync(f, 'utf8').split(/^---$/m).filter((d) => /^kind:/m.test(d)));
      const passed = r.out.split('\n').filter((l) => l.startsWith('INFO ') && l.includes(`passed for resource`) && l.endsWith(`against version ${version}`));
      t.equal(passed.length, objects.length, `each of the ${objects.length} objects passed`);
      t.notMatch(r.out, /WARN|ERROR/, 'no warning');
    });
  }

  t.test("Keystone's manifests need 1.30: 1.25's schema has no native sidecar or sleep action", async (t) => {
    const r = run(bin, ['--strict', '-k', '1.25', join(KEYSTONE_DIR, '02-keystone.yaml')]);
    t.equal(r.status, 1, 'rejected against 1.25');
    t.match(r.out, /'restartPolicy' was unexpected|'sleep' was unexpected/, 'names the field');
  });

  t.test('a misspelt field fails --strict (and only --strict)', async (t) => {
    const tmp = tempDir(t, 'k8s-validate-');
    const bad = join(tmp, 'worker.yaml');
    const text = readFileSync(join(DIR, 'worker.yaml'), 'utf8');
    t.match(text, /readinessProbe:/);
    writeFileSync(bad, text.replace('readinessProbe:', 'readinesProbe:'));
    for (const version of versions) {
      const r = run(bin, ['--strict', '-k', version, bad]);
      t.equal(r.status, 1, `${version}: rejected`);
      t.match(r.out, /Additional properties are not allowed \('readinesProbe' was unexpected\)/, `${version}: names the field`);
    }
    // Why --strict: the schema alone allows unknown fields, and the probe would silently vanish.
    t.equal(run(bin, ['-k', versions[1] as string, bad]).status, 0, 'without --strict it passes');
  });
}
