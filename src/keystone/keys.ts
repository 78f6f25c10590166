// The keystone.conf keys the agent knows, in one table: where each is, Keystone's default,
// whether it is secret, and who reads it as the API starts. Edits, targets, preview, redaction
// and the "Keystone cannot read this" check derive from it.
import { type ConfigView, keyParts, setValueOf } from '../ini/config-view.ts';
import { isSecretKey } from '../common/redact.ts';

export type Reader = 'mysql wait' | 'init' | 'keys' | 'rotation' | 'role paths' | 'keystone';

export interface KeystoneKey {
  /** Keystone's value when the file leaves the key out (only where the agent needs one). */
  default?: string;
  secret: boolean;
  /** Who reads it at start; a value oslo.config cannot give back as written is refused then. */
  readBy: readonly Reader[];
}

/** "section.key" -> what the agent knows of it (sections as oslo.config names them). */
export const KEYSTONE_KEYS = {
  'database.connection': { secret: false, readBy: ['mysql wait', 'init', 'keystone'] },
  // Keystone turns oslo.cache on by default (its sample says so); the null backend caches nothing.
  'cache.enabled': { default: 'true', secret: false, readBy: ['keystone'] },
  'cache.backend': { default: 'dogpile.cache.null', secret: false, readBy: ['keystone'] },
  'cache.memcache_servers': { default: 'localhost:11211', secret: false, readBy: ['keystone'] },
  'fernet_tokens.key_repository': { default: '/etc/keystone/fernet-keys/', secret: false, readBy: ['keys', 'keystone'] },
  // Keystone 30's receipts (multi-factor auth) are fernet too, from their own repository,
  // by default the tokens' one; the receipt provider refuses to load without keys there.
  'fernet_receipts.key_repository': { default: '/etc/keystone/fernet-keys/', secret: false, readBy: ['keys', 'keystone'] },
  'credential.key_repository': { default: '/etc/keystone/credential-keys/', secret: false, readBy: ['keys', 'keystone'] },
  // What a fernet rotation must respect: a key is dropped max_active_keys - 1 rotations after
  // it stopped signing, and a token lives expiration + allow_expired_window seconds.
  'fernet_tokens.max_active_keys': { default: '3', secret: false, readBy: ['rotation'] },
  'token.expiration': { default: '3600', secret: false, readBy: ['rotation', 'keystone'] },
  'token.allow_expired_window': { default: '172800', secret: false, readBy: ['rotation', 'keystone'] },
  // What a credential rotation must respect: each replica caches stored credentials as they
  // are in the database, encrypted, for this long (oslo.cache's default TTL when unset).
  'credential.caching': { default: 'true', secret: false, readBy: ['rotation', 'keystone'] },
  'credential.cache_time': { secret: false, readBy: ['rotation', 'keystone'] },
  'cache.expiration_time': { default: '600', secret: false, readBy: ['rotation', 'keystone'] },
  'DEFAULT.admin_token': { secret: true, readBy: ['keystone'] },
  // oslo.log, as the API starts: a logging configuration file to read, else a log file to
  // append to (roles.ts); unset, Keystone logs to stderr.
  'DEFAULT.log_config_append': { secret: false, readBy: ['role paths', 'keystone'] },
  'DEFAULT.log_file': { secret: false, readBy: ['role paths', 'keystone'] },
  'DEFAULT.log_dir': { secret: false, readBy: ['role paths', 'keystone'] },
} as const satisfies Record<string, KeystoneKey>;

export type KeyId = keyof typeof KEYSTONE_KEYS;
const TABLE: Readonly<Record<string, KeystoneKey>> = KEYSTONE_KEYS;

/** How messages name a key: "keystone.conf [database] connection". */
export function keyLabel(section: string, key: string): string {
  return `keystone.conf [${section}] ${key}`;
}

export function labelOf(id: KeyId): string {
  const { section, key } = keyParts(id);
  return keyLabel(section, key);
}

/** The value Keystone uses: as given (trimmed), else its default (undefined when it has none). */
export function keystoneValue(conf: ConfigView, id: KeyId): string | undefined {
  return setValueOf(conf, id) ?? TABLE[id]?.default;
}

export function isSecret(section: string, key: string): boolean {
  return TABLE[`${section}.${key}`]?.secret ?? isSecretKey(key);
}

export function refusedWhenUnreadable(section: string, key: string): boolean {
  return (TABLE[`${section}.${key}`]?.readBy.length ?? 0) > 0;
}
