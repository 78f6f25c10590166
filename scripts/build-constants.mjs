// Shared by scripts/build.mjs (bin/) and scripts/build-binary.mjs (the standalone binaries).
import { readFileSync } from 'node:fs';

// The systems' default files, which previews show on a machine without them
// (src/common/embedded.ts embeddedFile reads them from here in the bundle).
const EMBEDDED = ['pulp/default-server.conf', 'keystone/default-keystone.conf'];

/** The bundle's define of PULP_EMBEDDED_FILES: src/-relative path -> text. */
export function embeddedFilesDefine(root) {
  return JSON.stringify(Object.fromEntries(EMBEDDED.map((f) => [f, readFileSync(new URL(`src/${f}`, root), 'utf8')])));
}

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
