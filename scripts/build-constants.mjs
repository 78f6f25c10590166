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

// The packages in dist/drivers.cjs, kept out of bin/'s main bundle (scripts/build.mjs).
export const DRIVER_PACKAGES = ['mongodb', 'rhea', 'amqplib', 'mysql2'];

// dist/drivers.cjs for bin/ (scripts/build.mjs), as src/dependencies/drivers.ts reads it.
// mongodbConnection: the same module instance the driver itself uses (the frame guard's
// connectionType, src/dependencies/mongodb/connect.ts).
export const DRIVERS_CHUNK = `module.exports = {
  get mongodb() { return require('mongodb'); },
  get mongodbConnection() { return require('mongodb/lib/cmap/connection.js'); },
  get rhea() { return require('rhea'); },
  get amqplib() { return require('amqplib'); },
  get mysql() { return require('mysql2/promise'); },
  get mongoProbe() {
    const { connect } = require('mongodb/lib/cmap/connect.js');
    const { makeClientMetadata } = require('mongodb/lib/cmap/handshake/client_metadata.js');
    const { resolveRuntimeAdapters } = require('mongodb/lib/runtime_adapters.js');
    const { MongoClientAuthProviders } = require('mongodb/lib/mongo_client_auth_providers.js');
    const { MongoCredentials } = require('mongodb/lib/cmap/auth/mongo_credentials.js');
    const { HostAddress, ns } = require('mongodb/lib/utils.js');
    return { connect, makeClientMetadata, resolveRuntimeAdapters, MongoClientAuthProviders, MongoCredentials, HostAddress, ns };
  },
};
`;
