// keystone-entrypoint keys [NAME]: a Kubernetes Secret with fresh fernet and credential keys on
// stdout, for every replica to mount (KEYSTONE_FERNET_KEYS, KEYSTONE_CREDENTIAL_KEYS).
import { UsageError } from '../common/errors.ts';
import { freshKeySet, keysSecretManifest } from '../conf-file/key-repository.ts';

export function keysCommand(args: readonly string[]): string {
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) throw new UsageError('keys: takes at most one argument, the Secret\'s name (default keystone-keys)');
  return keysSecretManifest(args[0] ?? 'keystone-keys', freshKeySet(), freshKeySet());
}
