// `keystone-entrypoint rotate credential` with the real Keystone 30.0.0 and MariaDB, the keys
// Secret on a stand-in API server (test/helpers/fake-kube-api.ts): credentials stored with the
// first keys are migrated to each new primary (credential_migrate before and after the
// Secret is written), read back after two rotations with nothing but the Secret's keys (the
// oldest key gone), and two rotations at once run one migration at a time under the lease.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installKeySet } from '../../src/conf-file/key-repository.ts';
import { type KeySet, freshKey, freshKeySet } from '../../src/conf-file/key-set.ts';
import { HISTORY_ANNOTATION } from '../../src/keystone/rotate-keys.ts';
import { ROOT } from '../helpers/cli.ts';
import { spawnCollect } from '../helpers/exec.ts';
import { type FakeKubeApi, fakeKubeApi, inPodNamespace } from '../helpers/fake-kube-api.ts';
import { keystoneWorkspace, replicaEnv, requireKeystone } from '../helpers/keystone.ts';
import { keyVolume } from '../helpers/secret-volume.mjs';
import { requireMysql } from '../helpers/services.ts';
import { requireRoot } from '../helpers/unavailable.ts';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');
const SECRET = 'keystone-credential-keys';

/** Keystone's own credential API on a keystone.conf: store one, read it back, list the key hashes. */
const CREDENTIALS = `
import json, sys
import keystone.conf
from keystone.common import driver_hints
from keystone.server import backends
keystone.conf.configure()
keystone.conf.CONF(['--config-file', sys.argv[1]], project='keystone', default_config_files=[])
api = backends.load_backends()['credential_api']
op = sys.argv[2]
if op == 'create':
    for n in range(3):
        cid = 'cred-%d' % n
        api.create_credential(cid, {'id': cid, 'user_id': 'u', 'project_id': 'p', 'type': 'ec2', 'blob': json.dumps({'access': 'A%d' % n, 'secret': 'S%d' % n})})
    print('{}')
elif op == 'read':
    print(json.dumps(sorted(json.loads(api.get_credential('cred-%d' % n)['blob'])['secret'] for n in range(3))))
else:
    print(json.dumps(sorted({c['key_hash'] for c in api.driver.list_credentials(driver_hints.Hints())})))
`;

const keystone = requireKeystone(t, 'the credential rotation against the real Keystone');
const db = requireMysql(t, 'the credential rotation against the real Keystone');
if (keystone && db && requireRoot(t, 'the rotation in a mount namespace (unshare) holding the service account')) {
  const { work, name, template } = keystoneWorkspace(t, db, 'cred');
  const python = join(keystone, 'venv', 'bin', 'python');
  const base = (dir: string): Record<string, string> =>
    replicaEnv(dir, { bin: join(keystone, 'venv', 'bin'), template, db: { host: db.host, port: db.port, user: db.user, password: db.password, database: name } });
  const credentials = (conf: string, op: string): unknown => JSON.parse(execFileSync(python, ['-W', 'ignore', '-c', CREDENTIALS, conf, op], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  const hashOf = (key: string): string => createHash('sha1').update(key).digest('hex');
  const secretKeys = (api: FakeKubeApi): KeySet => ({
    files: Object.entries(api.secrets.get(SECRET)?.data ?? {})
      .map(([n, v]) => ({ name: n, key: Buffer.from(v, 'base64').toString() }))
      .sort((a, b) => Number(a.name) - Number(b.name)),
  });
  /** The Secret's rotation record moved an hour back, as if the last rotation were long past. */
  const longAgo = (api: FakeKubeApi): void => {
    const s = api.secrets.get(SECRET);
    const past = (s?.metadata.annotations?.[HISTORY_ANNOTATION] ?? '').replace(/@\S+/g, `@${new Date(Date.now() - 3600_000).toISOString()}`);
    api.put(SECRET, s?.data ?? {}, { [HISTORY_ANNOTATION]: past });
  };
  /** The rotation Job: the agent in a mount namespace whose /run holds the service account. */
  const rotate = (api: FakeKubeApi, dir: string): Promise<{ status: number | null; out: string }> => {
    const argv = inPodNamespace(api, [process.execPath, BIN, 'rotate', 'credential']);
    const env = { ...base(dir), KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    return spawnCollect(argv, { env }).done.then(({ code, out }) => ({ status: code, out }));
  };

  const api = await fakeKubeApi(t);

  t.test('two rotations: every stored credential migrated to each new primary, readable with the Secret alone', async (t) => {
    const first = [freshKey(), freshKey()];
    api.put(SECRET, { '0': Buffer.from(first[0] ?? '').toString('base64'), '1': Buffer.from(first[1] ?? '').toString('base64') });
    // The schema, and credentials stored by a replica holding the first keys (primary 1).
    const init = join(work, 'init');
    const r = spawnSync(process.execPath, [BIN, 'init'], { env: { ...base(init), KEYSTONE_CREDENTIAL_KEYS: keyVolume(join(init, 'secret'), first), KEYSTONE_INIT_KEY: name }, encoding: 'utf8', timeout: 300_000 });
    t.equal(r.status, 0, r.stderr.slice(-500));
    credentials(join(init, 'keystone.conf'), 'create');
    t.same(credentials(join(init, 'keystone.conf'), 'hashes'), [hashOf(first[1] ?? '')], 'stored under the primary 1');

    for (const n of [1, 2]) {
      // As if the first rotation were long past: the second drops key 1, which the replicas'
      // caches may hold for minutes after it stops being the primary (else refused, 75:
      // test/keystone/rotate-keys.test.ts).
      if (n === 2) longAgo(api);
      const before = secretKeys(api);
      const job = await rotate(api, join(work, `job${n}`));
      t.equal(job.status, 0, job.out.slice(-800));
      const after = secretKeys(api);
      t.same(after.files.map((f) => f.name), n === 1 ? ['0', '1', '2'] : ['0', '2', '3'], `rotation ${n}: the Secret's key numbers`);
      t.equal(after.files.at(-1)?.key, before.files[0]?.key, `rotation ${n}: the staged key promoted`);
      t.match(job.out, /keystone-manage credential_migrate exited code=0[\s\S]*credential keys rotated in Secret keystone\/keystone-credential-keys[\s\S]*keystone-manage credential_migrate exited code=0/, `rotation ${n}: migrate, rotate, migrate`);
      t.same(credentials(join(work, `job${n}`, 'keystone.conf'), 'hashes'), [hashOf(after.files.at(-1)?.key ?? '')], `rotation ${n}: every credential under the new primary`);
      for (const k of [...before.files, ...after.files]) t.notOk(job.out.includes(k.key), 'no key in the log');
    }
    t.notOk(secretKeys(api).files.some((f) => f.key === first[1]), 'the first primary is gone from the Secret');
    // A replica that has nothing but the Secret's keys now reads what was stored with the first ones.
    const reader = join(work, 'reader');
    const env = base(reader);
    installKeySet(env.KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY!, secretKeys(api), { uid: undefined, gid: undefined });
    // Keystone's backends load the token provider too, which needs fernet keys: its own.
    installKeySet(env.KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY!, freshKeySet(), { uid: undefined, gid: undefined });
    const repos = `[credential]\nkey_repository = ${env.KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY}\n[fernet_tokens]\nkey_repository = ${env.KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY}\n[fernet_receipts]\nkey_repository = ${env.KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY}\n`;
    writeFileSync(join(reader, 'keystone.conf'), `[database]\nconnection = mysql+pymysql://${db.user}:${encodeURIComponent(db.password)}@${db.host}:${db.port}/${name}\n${repos}`);
    t.same(credentials(join(reader, 'keystone.conf'), 'read'), ['S0', 'S1', 'S2'], 'each credential decrypts with the Secret alone');
  });

  t.test('two rotations at once: one migration at a time, the second finds the first\'s record', async (t) => {
    // The same Secret and database: the credentials are under its primary now.
    const top = (): number => Number(secretKeys(api).files.at(-1)?.name);
    const before = top();
    longAgo(api);
    const [a, b] = await Promise.all([rotate(api, join(work, 'at-once-a')), rotate(api, join(work, 'at-once-b'))]);
    t.equal(a.status, 0, a.out.slice(-500));
    t.equal(b.status, 0, b.out.slice(-500));
    const both = `${a.out}\n${b.out}`;
    // Both read the same version of the Secret, so they share one init key: one rotates, under
    // the lease; the other waits for it and finds its record (a second rotation of a newer
    // version would have been refused, 75, which the codes above exclude).
    const rotations = both.match(/credential keys rotated in Secret/g)?.length ?? 0;
    t.equal(rotations, 1, 'one rotation');
    t.equal(top(), before + 1, 'one more key in the Secret');
    t.equal(both.match(/init lease taken/g)?.length, 1, 'that one under the lease');
    t.equal(both.match(/already rotated by/g)?.length, 1, "the other found the first's record");
  });
}
