// The keys sidecar's container as a directory, for test/keystone/sync-keys.test.ts and
// scripts/bench/sync-keys.mjs (plain JS, typed by keys-pod.d.mts): keystone.conf (the agent's
// embedded default) naming two repositories under `base`, the two key Secrets mounted as the
// kubelet lays them out, and the environment the manifests give the sidecar.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { secretVolume } from './secret-volume.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `base` must exist; the files of each Secret by name ("0", "1", ...). */
export function keysPod(base, fernetFiles, credentialFiles) {
  const conf = join(base, 'keystone.conf');
  copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), conf);
  const p = {
    fernetSecret: secretVolume(join(base, 'secrets', 'fernet'), fernetFiles),
    credentialSecret: secretVolume(join(base, 'secrets', 'credential'), credentialFiles),
    fernetRepo: join(base, 'keys', 'fernet-keys'),
    credentialRepo: join(base, 'keys', 'credential-keys'),
  };
  const env = {
    PATH: '/usr/bin:/bin',
    KEYSTONE_CONF: conf,
    KEYSTONE_FERNET_KEYS: p.fernetSecret,
    KEYSTONE_CREDENTIAL_KEYS: p.credentialSecret,
    KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: p.fernetRepo,
    KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: p.fernetRepo,
    KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: p.credentialRepo,
    // Not root: the sidecar installs the keys as this user (root gives them to keystone).
    ...(process.getuid?.() === 0 ? {} : { KEYSTONE_RUN_AS: String(process.getuid?.()) }),
  };
  return { ...p, env };
}
