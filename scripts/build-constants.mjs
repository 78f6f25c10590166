// Shared by scripts/build.mjs (bin/) and scripts/build-binary.mjs (the standalone binaries).

// Optional peers that mongodb require()s inside try/catch; not installed, so not bundled:
// the driver reports them missing only if a configuration asks for one (kerberos, zstd...).
export const OPTIONAL_DRIVER_PEERS = [
  'kerberos',
  '@mongodb-js/zstd',
  '@aws-sdk/credential-providers',
  'gcp-metadata',
  'snappy',
  'socks',
  'aws4',
  'mongodb-client-encryption',
];
