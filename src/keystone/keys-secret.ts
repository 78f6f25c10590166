// `keystone-entrypoint keys [PREFIX]`: two Kubernetes Secrets with fresh keys, PREFIX-fernet-keys
// and PREFIX-credential-keys, one file per key ("0", "1"), with a comment saying how the
// manifests mount them. Whole Secrets, never `items` naming keys: a rotation renames and
// removes keys, and a volume whose items name a key that is gone cannot be mounted.
import { InputError, UsageError } from '../common/errors.ts';
import { type KeySet, checkKeySet, freshKeySet } from '../conf-file/key-set.ts';
import { SECRET_NAME_RULE, isSecretName } from '../kube-api/names.ts';
import { KEY_KINDS, KEY_KIND_NAMES, type KeyKind } from './key-kinds.ts';

/** The Secret of each kind for a prefix: "keystone" gives the manifests' own names. */
export function secretNames(prefix: string): Record<KeyKind, string> {
  const names = Object.fromEntries(KEY_KIND_NAMES.map((k) => [k, `${prefix}-${KEY_KINDS[k].secret.replace(/^keystone-/, '')}`])) as Record<KeyKind, string>;
  for (const name of Object.values(names)) {
    if (!isSecretName(name)) throw new InputError(`Secret name ${JSON.stringify(name)}: not a DNS-1123 subdomain (${SECRET_NAME_RULE})`);
  }
  return names;
}

/** One Secret, its keys as data "0", "1", ... (quoted: YAML would read 0 as a number). */
function secretDoc(name: string, kind: KeyKind, keys: KeySet): string[] {
  // Plain scalars are safe: base64 of a 44-character key is 60 characters ending in '=',
  // which YAML can read as nothing but a string.
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    '    app.kubernetes.io/name: keystone',
    `    app.kubernetes.io/component: ${kind}-keys`,
    'type: Opaque',
    'data:',
    ...keys.files.map((f) => `  "${f.name}": ${Buffer.from(f.key, 'latin1').toString('base64')}`),
  ];
}

/** Both Secrets as one YAML stream, after the comment that says how they are used. */
export function keysSecretManifest(prefix: string, sets: Readonly<Record<KeyKind, KeySet>>): string {
  const names = secretNames(prefix);
  for (const kind of KEY_KIND_NAMES) checkKeySet(sets[kind], `${kind} keys`);
  const f = KEY_KINDS.fernet;
  const c = KEY_KINDS.credential;
  return [
    "# Keystone's fernet keys (they sign and encrypt tokens) and credential keys (they encrypt",
    '# the credentials stored in the database), freshly generated: one Secret each, one file per',
    "# key, named as in Keystone's repository (0 is the staged key, the highest number the",
    '# primary). Keep them as secret as the database password: whoever holds the fernet keys can',
    '# forge any token.',
    '#',
    '# Every replica mounts the same Secrets, whole (no `items`: rotations rename and remove keys).',
    '# The keys sidecar (`keystone-entrypoint sync-keys`, fixtures/k8s/keystone/02-keystone.yaml)',
    "# keeps Keystone's own repositories equal to them, owned by keystone, 0700/0600, rotations",
    '# included; `keystone-entrypoint rotate fernet|credential` rotates them in place:',
    '#',
    '#   volumes:',
    `#     - { name: fernet-secret, secret: { secretName: ${names.fernet}, defaultMode: 0400 } }`,
    `#     - { name: credential-secret, secret: { secretName: ${names.credential}, defaultMode: 0400 } }`,
    '#   initContainers:',
    '#     - name: keys',
    '#       restartPolicy: Always',
    '#       args: ["sync-keys"]',
    '#       env:',
    `#         - { name: ${f.variable}, value: ${f.mount} }`,
    `#         - { name: ${c.variable}, value: ${c.mount} }`,
    '#       volumeMounts:',
    `#         - { name: fernet-secret, mountPath: ${f.mount}, readOnly: true }`,
    `#         - { name: credential-secret, mountPath: ${c.mount}, readOnly: true }`,
    ...secretDoc(names.fernet, 'fernet', sets.fernet),
    '---',
    ...secretDoc(names.credential, 'credential', sets.credential),
    '',
  ].join('\n');
}

export function keysCommand(args: readonly string[]): string {
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
    throw new UsageError("keys: takes at most one argument, the Secrets' name prefix (default keystone: keystone-fernet-keys, keystone-credential-keys)");
  }
  return keysSecretManifest(args[0] ?? 'keystone', { fernet: freshKeySet(), credential: freshKeySet() });
}
