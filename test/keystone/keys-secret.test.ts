// src/keystone/keys-secret.ts: `keystone-entrypoint keys` prints two Secrets with fresh keys,
// one file per key, that the manifests mount whole; the YAML reads back (the yaml package,
// PyYAML, kubernetes-validate --strict) to the same keys, and mounted as the kubelet would, to
// the same key sets.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { InputError, UsageError } from '../../src/common/errors.ts';
import { readKeySet } from '../../src/conf-file/key-repository.ts';
import { freshKeySet, isFernetKey } from '../../src/conf-file/key-set.ts';
import { keysCommand, keysSecretManifest, secretNames } from '../../src/keystone/keys-secret.ts';
import { ROOT } from '../helpers/cli.ts';
import { secretVolume } from '../helpers/secret-volume.mjs';
import { tempDir } from '../helpers/temp.ts';
import { unavailable } from '../helpers/unavailable.ts';
import { messageOf, thrown } from '../helpers/thrown.ts';

interface SecretDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

const docsOf = (text: string): SecretDoc[] => parseAllDocuments(text).map((d) => d.toJSON() as SecretDoc);

t.test('two Secrets, keystone-fernet-keys and keystone-credential-keys, files "0" and "1"', async (t) => {
  const sets = { fernet: freshKeySet(), credential: freshKeySet() };
  const text = keysSecretManifest('keystone', sets);
  t.match(text, /^# /, 'starts with the explanation');
  const docs = docsOf(text);
  t.same(docs.map((d) => [d.apiVersion, d.kind, d.metadata.name, d.type]), [
    ['v1', 'Secret', 'keystone-fernet-keys', 'Opaque'],
    ['v1', 'Secret', 'keystone-credential-keys', 'Opaque'],
  ]);
  for (const [doc, set] of [[docs[0], sets.fernet], [docs[1], sets.credential]] as const) {
    t.same(Object.keys(doc?.data ?? {}), ['0', '1'], 'keys as strings "0" and "1", not numbers');
    for (const f of set.files) t.equal(Buffer.from(doc?.data[f.name] ?? '', 'base64').toString('latin1'), f.key, `${doc?.metadata.name} ${f.name}`);
    t.ok(Object.values(doc?.data ?? {}).every((v) => isFernetKey(Buffer.from(v, 'base64').toString('latin1'))));
  }
  for (const f of [...sets.fernet.files, ...sets.credential.files]) t.notOk(text.includes(f.key), 'no key in clear (only base64 of it)');
  t.notMatch(text, /items:/, 'never `items` naming keys: rotations rename and remove them');
  t.match(text, /secretName: keystone-fernet-keys, defaultMode: 0400/);
  t.match(text, /args: \["sync-keys"\]/, 'the comment shows the keys sidecar');
  t.equal(keysSecretManifest('keystone', sets), text, 'deterministic for the same keys');

  // What the kubelet makes of each Secret mounted whole: a volume that reads back as the set.
  for (const [doc, set] of [[docs[0], sets.fernet], [docs[1], sets.credential]] as const) {
    const files = Object.fromEntries(Object.entries(doc?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    const volume = secretVolume(join(tempDir(t, 'pe-keys-secret-'), 'v'), files);
    t.same(readKeySet(volume, 'KEYSTONE_FERNET_KEYS'), set, `${doc?.metadata.name} mounted reads back as its set`);
  }
});

t.test('PyYAML reads the same Secrets', async (t) => {
  if (spawnSync('python3', ['-c', 'import yaml']).status !== 0) {
    unavailable(t, 'PyYAML is missing (apt-get install python3-yaml)');
    return;
  }
  const sets = { fernet: freshKeySet(), credential: freshKeySet() };
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin.read()))))'], { input: keysSecretManifest('ks.prod-1', sets), encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const docs = JSON.parse(r.stdout) as SecretDoc[];
  t.same(docs.map((d) => d.metadata.name), ['ks.prod-1-fernet-keys', 'ks.prod-1-credential-keys']);
  t.same(Object.keys(docs[0]?.data ?? {}), ['0', '1'], 'string keys in PyYAML too');
  t.equal(Buffer.from(docs[1]?.data['1'] ?? '', 'base64').toString('latin1'), sets.credential.files[1]?.key);
});

t.test('the prefix must give DNS-1123 subdomains; keys takes at most that one argument', async (t) => {
  for (const good of ['k', 'keystone', 'a.b-c.d', '0keys']) t.doesNotThrow(() => secretNames(good), good);
  for (const bad of ['', 'Keystone', 'keys_1', '-keys', 'a..b', '.a', 'a b', 'a\nkind: Pod', 'a'.repeat(250)]) {
    const err = thrown(() => secretNames(bad));
    t.type(err, InputError, JSON.stringify(bad.slice(0, 20)));
    t.match(messageOf(err), /not a DNS-1123 subdomain/);
  }
  t.type(thrown(() => keysSecretManifest('k', { fernet: { files: [{ name: '0', key: 'nope' }] }, credential: freshKeySet() })), InputError, 'a bad key');
  t.type(thrown(() => keysCommand(['a', 'b'])), UsageError);
  t.type(thrown(() => keysCommand(['--name'])), UsageError);
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'keystone-entrypoint'), 'keys', 'prod'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  t.equal(r.status, 0, r.stderr);
  t.same(docsOf(r.stdout).map((d) => d.metadata.name), ['prod-fernet-keys', 'prod-credential-keys'], 'keystone-entrypoint keys prod');
});

t.test('kubernetes-validate --strict accepts the Secrets', async (t) => {
  const r = spawnSync('bash', [join(ROOT, 'test', 'k8s', 'kubernetes-validate.sh')], { encoding: 'utf8', timeout: 240_000 });
  const bin = /^export PULP_TEST_KUBERNETES_VALIDATE=(\S+)$/m.exec(r.stdout)?.[1];
  if (r.status !== 0 || !bin) {
    unavailable(t, `kubernetes-validate: test/k8s/kubernetes-validate.sh failed (${r.status}); run it as root with PyPI reachable`);
    return;
  }
  const file = join(tempDir(t, 'pe-keys-manifest-'), 'keys.yaml');
  writeFileSync(file, keysSecretManifest('keystone', { fernet: freshKeySet(), credential: freshKeySet() }));
  const v = spawnSync(bin, ['--strict', file], { encoding: 'utf8', timeout: 60_000 });
  t.equal(v.status, 0, v.stdout + v.stderr);
  t.equal((v.stdout + v.stderr).match(/passed for resource/g)?.length, 2, 'both Secrets');
});
