// src/keystone/rotate-keys.ts as a whole process (`keystone-entrypoint rotate fernet`) against a
// stand-in API server (test/helpers/fake-kube-api.ts), the pod's service account given in a
// mount namespace of its own: the rotation written at the version read, the dry run, the
// refusals (schedule, live tokens, bad keys) with nothing written, the API's answers with the
// table's codes, a lost answer, a conflict, two rotations at once. The real API server and the
// credential rotation: test/k8s/keystone-rotation.test.ts, test/keystone/rotate-credential-real.test.ts.
import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_NAME, freshKey } from '../../src/conf-file/key-set.ts';
import { HISTORY_ANNOTATION } from '../../src/keystone/rotate-keys.ts';
import { ROOT } from '../helpers/cli.ts';
import { spawnCollect } from '../helpers/exec.ts';
import { type FakeKubeApi, fakeKubeApi, inPodNamespace } from '../helpers/fake-kube-api.ts';
import { tempDir, type Teardown } from '../helpers/temp.ts';
import { requireRoot } from '../helpers/unavailable.ts';

const BIN = join(ROOT, 'bin', 'keystone-entrypoint');
const SECRET = 'keystone-fernet-keys';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function envFor(t: Teardown, api: FakeKubeApi, env: Record<string, string>): Record<string, string> {
  const conf = join(tempDir(t, 'pe-rotate-conf-'), 'keystone.conf');
  copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), conf);
  return { PATH: '/usr/bin:/bin', KEYSTONE_CONF: conf, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), KEYSTONE_WAIT_TIMEOUT: '5', ...env };
}

/** The agent run as in a pod (in the background: the stand-in API answers from this process). */
function rotate(t: Teardown, api: FakeKubeApi, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return spawnCollect(inPodNamespace(api, [process.execPath, BIN, ...args]), { env: envFor(t, api, env) }).done.then(({ code, stdout, stderr }) => ({ status: code, stdout, stderr }));
}

const b64 = (key: string): string => Buffer.from(key).toString('base64');
/** A Secret's data for keys named `names`; returns the keys by name too. */
function keysData(names: string[]): { data: Record<string, string>; keys: Record<string, string> } {
  const keys = Object.fromEntries(names.map((n) => [n, freshKey()]));
  return { keys, data: Object.fromEntries(Object.entries(keys).map(([n, k]) => [n, b64(k)])) };
}
const keysOf = (api: FakeKubeApi): Record<string, string> =>
  Object.fromEntries(Object.entries(api.secrets.get(SECRET)?.data ?? {}).map(([n, v]) => [n, Buffer.from(v, 'base64').toString()]));
const MAX5 = { KEYSTONE_CONF__FERNET_TOKENS__MAX_ACTIVE_KEYS: '5', KEYSTONE_ROTATION_SCHEDULE: '0 3 * * *' };
const lastLine = (s: string): string => s.trim().split('\n').at(-1) ?? '';

if (requireRoot(t, 'the rotation in a mount namespace (unshare) holding the service account')) {
  t.test('rotate fernet: the staged key promoted, a fresh 0, written at the version read and recorded', async (t) => {
    const api = await fakeKubeApi(t);
    const { keys, data } = keysData(['0', '1']);
    api.put(SECRET, { ...data, note: b64('kept as it is') });
    const version = api.secrets.get(SECRET)?.metadata.resourceVersion;
    const r = await rotate(t, api, ['rotate', 'fernet'], MAX5);
    t.equal(r.status, 0, r.stderr);
    const after = keysOf(api);
    t.same(Object.keys(after).filter((n) => KEY_NAME.test(n)), ['0', '1', '2']);
    t.equal(after['2'], keys['0'], 'the staged key is the new primary 2');
    t.equal(after['1'], keys['1'], 'the old primary kept');
    t.not(after['0'], keys['0'], 'a fresh staged key');
    t.equal(after.note, 'kept as it is', "the Secret's other entries kept");
    t.match(api.secrets.get(SECRET)?.metadata.annotations?.[HISTORY_ANNOTATION], /^2@\d{4}-\d\d-\d\dT/, 'the rotation recorded');
    t.equal(api.requests.filter((q) => q.method === 'PUT').length, 1, 'one PUT');
    t.not(api.secrets.get(SECRET)?.metadata.resourceVersion, version);
    t.match(r.stderr, /fernet keys rotated in Secret keystone\/keystone-fernet-keys: 2 keys: 0 \(staged\), 1 \(primary\) -> 3 keys: 0 \(staged\), 1, 2 \(primary\) \(the staged key becomes primary 2, a new staged key 0, none removed\)/);
    for (const k of [...Object.values(keys), ...Object.values(after)]) t.notOk(r.stderr.includes(k) || r.stdout.includes(k), 'no key in any line');
  });

  t.test('--dry-run: what it would change, by key numbers only; nothing written', async (t) => {
    const api = await fakeKubeApi(t);
    const { keys, data } = keysData(['0', '1', '2', '3', '4']);
    api.put(SECRET, data);
    const r = await rotate(t, api, ['rotate', 'fernet', '--dry-run'], { KEYSTONE_CONF__FERNET_TOKENS__MAX_ACTIVE_KEYS: '5' });
    t.equal(r.status, 0, r.stderr);
    t.equal(
      r.stdout,
      'Secret keystone/keystone-fernet-keys (resourceVersion 1001): would rotate 5 keys: 0 (staged), 1, 2, 3, 4 (primary) -> 5 keys: 0 (staged), 2, 3, 4, 5 (primary) (the staged key becomes primary 5, a new staged key 0, removed 1)\nrotate --dry-run: nothing was written\n',
    );
    t.same(keysOf(api), keys, 'unchanged');
    t.notOk(api.requests.some((q) => q.method === 'PUT'), 'no write');
    t.match(r.stderr, /warn: KEYSTONE_ROTATION_SCHEDULE is not set: max_active_keys is not checked/);
  });

  t.test('refusals, one line each, nothing written', async (t) => {
    const api = await fakeKubeApi(t);
    const put = (names: string[], annotations?: Record<string, string>): Record<string, string> => {
      const { keys, data } = keysData(names);
      api.put(SECRET, data, annotations);
      return keys;
    };
    const cases: [what: string, setup: () => void, env: Record<string, string>, code: number, line: RegExp][] = [
      [
        'max_active_keys too small for the schedule',
        () => put(['0', '1']),
        { KEYSTONE_ROTATION_SCHEDULE: '0 3 * * *' },
        65,
        /^keystone-entrypoint: error: refusing to rotate the fernet keys: \[fernet_tokens\] max_active_keys = 3 drops a key 1 rotation after it stops signing \(24 h at the quickest\), but tokens live 49 h \(\[token\] expiration 3600 s \+ allow_expired_window 172800 s\) and keys rotate as often as every 24 h \(KEYSTONE_ROTATION_SCHEDULE "0 3 \* \* \*"\): Keystone's formula \(176400 \/ 86400 \+ 2, rounded up\) needs max_active_keys = 5; nothing written$/,
      ],
      [
        'a key it would drop may still have signed a live token',
        () => put(['0', '1', '2', '3', '4'], { [HISTORY_ANNOTATION]: `4@${new Date(Date.now() - 3600_000).toISOString()} 3@${new Date(Date.now() - 7200_000).toISOString()} 2@${new Date(Date.now() - 10800_000).toISOString()}` }),
        MAX5,
        75,
        /^keystone-entrypoint: error: refusing to rotate the fernet keys of Secret keystone\/keystone-fernet-keys: rotating now drops key 1, the primary until \S+ \(3 h ago\), and tokens live 49 h \(\[token\] expiration \+ allow_expired_window\): the next rotation may run after \S+; nothing written$/,
      ],
      ['a key of the wrong length', () => api.put(SECRET, { '0': b64(freshKey()), '1': b64(`${freshKey()}xyz`) }), MAX5, 65, /: file 1 is not a Fernet key \(47 characters, not 44; a key is 44 characters of URL-safe base64 of 32 bytes\)$/],
      ['no staged key', () => put(['1', '2']), MAX5, 65, /: no file 0 \(the staged key\); Keystone's repositories always hold one \(files found: 1, 2\)$/],
      ['two names for one number', () => put(['0', '1', '01']), MAX5, 65, /: files "01" and 1 are two names for key 1 \(Keystone would load either\); keep only 1$/],
      ['far too many keys', () => put(Array.from({ length: 1001 }, (_, i) => String(i))), MAX5, 65, /: 1001 key files, more than 1000: not a key repository/],
      ['the old one-Secret layout', () => api.put(SECRET, { 'fernet-0': b64(freshKey()), 'fernet-1': b64(freshKey()) }), MAX5, 65, /no key files found; .* \(found only fernet-0, fernet-1: key files are named 0, 1, 2, \.\.\.\)$/],
      ['a bad schedule', () => put(['0', '1']), { KEYSTONE_ROTATION_SCHEDULE: '0 3 * *' }, 65, /^keystone-entrypoint: error: KEYSTONE_ROTATION_SCHEDULE: schedule "0 3 \* \*": 4 fields; a schedule has 5/],
      ['a bad command line', () => put(['0', '1']), MAX5, 64, /^keystone-entrypoint: error: rotate: which keys\? fernet or credential \(got "tokens"\)$/],
    ];
    for (const [what, setup, env, code, line] of cases) {
      setup();
      const before = JSON.stringify(api.secrets.get(SECRET));
      const r = await rotate(t, api, what === 'a bad command line' ? ['rotate', 'tokens'] : ['rotate', 'fernet'], env);
      t.equal(r.status, code, `${what}: exit ${code}`);
      t.match(lastLine(r.stderr), line, what);
      t.equal(r.stderr.trim().split('\n').filter((l) => /error:/.test(l)).length, 1, `${what}: one error line`);
      t.equal(JSON.stringify(api.secrets.get(SECRET)), before, `${what}: nothing written`);
      t.notMatch(r.stderr, /at .*\.ts:\d+/, `${what}: no stack trace`);
    }
  });

  t.test('a credential rotation soon after the last one is refused (75) before anything runs: replicas may still use the key it would drop', async (t) => {
    const api = await fakeKubeApi(t);
    const name = 'keystone-credential-keys';
    const { data } = keysData(['0', '1', '2', '3']);
    // Key 3 became the primary 2 minutes ago; 2 was the primary until then; rotating now drops 2.
    api.put(name, data, { [HISTORY_ANNOTATION]: `3@${new Date(Date.now() - 120_000).toISOString()}` });
    const before = JSON.stringify(api.secrets.get(name));
    const cases: [env: Record<string, string>, life: string][] = [
      [{}, '3 min'],
      [{ KEYSTONE_CONF__CACHE__ENABLED: 'true', KEYSTONE_CONF__CACHE__BACKEND: 'dogpile.cache.memcached', KEYSTONE_CONF__CREDENTIAL__CACHE_TIME: '600' }, '13 min'],
    ];
    for (const [env, life] of cases) {
      const r = await rotate(t, api, ['rotate', 'credential'], env);
      t.equal(r.status, 75, `exit 75 (${life})`);
      t.match(
        lastLine(r.stderr),
        new RegExp(`^keystone-entrypoint: error: refusing to rotate the credential keys of Secret keystone/${name}: rotating now drops key 2, the primary until \\S+ \\(2 min ago\\), and replicas may use credentials encrypted with it for ${life} after .*: the next rotation may run after \\S+; nothing written$`),
        `the numbers, one line (${life})`,
      );
      t.notMatch(r.stderr, /keystone-manage|waiting for/, 'refused before the database or keystone-manage');
      t.equal(JSON.stringify(api.secrets.get(name)), before, 'nothing written');
    }
  });

  t.test("the API's answers: 403 -> 77, 404 -> 66, 503 until the deadline -> 69, none without the kubelet's variables -> 65", async (t) => {
    const api = await fakeKubeApi(t);
    api.put(SECRET, keysData(['0', '1']).data);
    api.script = () => ({ status: 403, message: 'secrets "keystone-fernet-keys" is forbidden: User "system:serviceaccount:keystone:default" cannot get resource "secrets" in API group "" in the namespace "keystone"' });
    const r403 = await rotate(t, api, ['rotate', 'fernet'], MAX5);
    t.equal(r403.status, 77);
    t.match(lastLine(r403.stderr), /refused to get Secret keystone\/keystone-fernet-keys \(403: .*\): its service account needs get and update on this Secret \(a Role with resourceNames: \[keystone-fernet-keys\], as keystone-fernet-rotate in fixtures\/k8s\/keystone\/04-rotation\.yaml\)$/);
    api.script = () => 'pass';
    const r404 = await rotate(t, api, ['rotate', 'fernet'], { ...MAX5, KEYSTONE_FERNET_SECRET: 'other-keys' });
    t.equal(r404.status, 66);
    t.match(lastLine(r404.stderr), /has nothing to get Secret keystone\/other-keys \(404: secrets "other-keys" not found\)$/);
    api.script = () => ({ status: 503, message: 'the server is currently unable to handle the request' });
    const r503 = await rotate(t, api, ['rotate', 'fernet'], { ...MAX5, KEYSTONE_WAIT_TIMEOUT: '2' });
    t.equal(r503.status, 69);
    t.match(lastLine(r503.stderr), /did not get Secret keystone\/keystone-fernet-keys before the deadline \(\d+ attempts; last: HTTP 503: the server is currently unable to handle the request\)$/);
    api.script = () => 'pass';
    const none = await rotate(t, api, ['rotate', 'fernet'], { ...MAX5, KUBERNETES_SERVICE_HOST: '' });
    t.equal(none.status, 65);
    t.match(lastLine(none.stderr), /KUBERNETES_SERVICE_HOST is not set/);
  });

  t.test('a write whose answer is lost is found landed; a write that lost the race writes nothing (75)', async (t) => {
    const api = await fakeKubeApi(t);
    const { keys, data } = keysData(['0', '1']);
    api.put(SECRET, data);
    let puts = 0;
    api.script = (q) => (q.method === 'PUT' && ++puts === 1 ? 'apply-then-drop' : 'pass');
    const r = await rotate(t, api, ['rotate', 'fernet'], MAX5);
    t.equal(r.status, 0, r.stderr);
    t.same(Object.keys(keysOf(api)), ['0', '1', '2'], 'one rotation, not two');
    t.equal(keysOf(api)['2'], keys['0']);

    // Someone else writes between our read and our write.
    const other = keysData(['0', '1', '2', '3']);
    api.script = (q) => {
      if (q.method === 'PUT') api.put(SECRET, other.data);
      return 'pass';
    };
    const lost = await rotate(t, api, ['rotate', 'fernet'], MAX5);
    t.equal(lost.status, 75);
    t.match(lastLine(lost.stderr), /Secret keystone\/keystone-fernet-keys changed while this rotation ran \(another rotation, or an edit\): nothing written; it now holds 4 keys: 0 \(staged\), 1, 2, 3 \(primary\); run the rotation again if one more is wanted$/);
    t.same(keysOf(api), other.keys, "the other writer's keys, untouched");
  });

  t.test('two rotations at once: each one either lands whole or writes nothing; the Secret stays a key set', async (t) => {
    const api = await fakeKubeApi(t);
    const { keys, data } = keysData(['0', '1']);
    api.put(SECRET, data);
    const runs = await Promise.all([rotate(t, api, ['rotate', 'fernet'], MAX5), rotate(t, api, ['rotate', 'fernet'], MAX5)]);
    const codes = runs.map((r) => r.status).sort();
    t.ok(codes.every((c) => c === 0 || c === 75), `exit codes ${codes.join(', ')}`);
    const landed = codes.filter((c) => c === 0).length;
    t.ok(landed >= 1, 'at least one landed');
    const after = keysOf(api);
    const numbers = Object.keys(after).filter((n) => KEY_NAME.test(n));
    t.same(numbers, ['0', '1', ...Array.from({ length: landed }, (_, i) => String(i + 2))], `${landed} rotation(s), each whole`);
    t.equal(after['1'], keys['1'], 'no key lost');
    t.equal(after['2'], keys['0'], 'the first rotation promoted the original staged key');
    t.equal(api.secrets.get(SECRET)?.metadata.annotations?.[HISTORY_ANNOTATION]?.split(' ').length, landed, 'one record per rotation');
  });
}
