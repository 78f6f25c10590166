// Keystone's two kinds of keys in one table: the fernet keys (tokens, and receipts) and the
// credential keys (the credentials stored in the database). Where each lives in keystone.conf,
// the Secret and mount the manifests give it, the variable naming that mount, how many keys
// Keystone keeps, and what is lost when replicas do not share them. The roles, the Secret
// manifest, the sync sidecar, the rotation and the preview all read this table.
import type { KeyId } from './keys.ts';

export type KeyKind = 'fernet' | 'credential';

export interface KeyKindInfo {
  /** The keystone.conf key of its repository (receipts: the fernet keys' second home). */
  repository: KeyId;
  /** The Secret the manifests keep the keys in, one file per key: "0", "1", ... */
  secret: string;
  /** Where the manifests mount that Secret, and the variable naming the mount. */
  mount: string;
  variable: 'KEYSTONE_FERNET_KEYS' | 'KEYSTONE_CREDENTIAL_KEYS';
  /** The variable naming the Secret for the rotation command. */
  secretVariable: 'KEYSTONE_FERNET_SECRET' | 'KEYSTONE_CREDENTIAL_SECRET';
  /**
   * How many keys a rotation keeps: a keystone.conf key, or Keystone's fixed number
   * (keystone/credential/providers/fernet/core.py: MAX_ACTIVE_KEYS = 3).
   */
  maxActive: { key: KeyId } | { fixed: number };
  /** What breaks when a replica has keys of its own. */
  lost: string;
  /** What the keys protect, for messages. */
  protects: string;
}

export const KEY_KINDS: Readonly<Record<KeyKind, KeyKindInfo>> = {
  fernet: {
    repository: 'fernet_tokens.key_repository',
    secret: 'keystone-fernet-keys',
    mount: '/etc/keystone/secrets/fernet-keys',
    variable: 'KEYSTONE_FERNET_KEYS',
    secretVariable: 'KEYSTONE_FERNET_SECRET',
    maxActive: { key: 'fernet_tokens.max_active_keys' },
    lost: 'tokens it issues fail on every other replica and after the pod is replaced',
    protects: 'they sign and encrypt tokens',
  },
  credential: {
    repository: 'credential.key_repository',
    secret: 'keystone-credential-keys',
    mount: '/etc/keystone/secrets/credential-keys',
    variable: 'KEYSTONE_CREDENTIAL_KEYS',
    secretVariable: 'KEYSTONE_CREDENTIAL_SECRET',
    maxActive: { fixed: 3 },
    lost: 'credentials it stores (EC2, TOTP) cannot be read by any other replica, nor after the pod is replaced',
    protects: 'they encrypt the credentials stored in the database (EC2, TOTP)',
  },
};

export const KEY_KIND_NAMES = Object.keys(KEY_KINDS) as KeyKind[];
