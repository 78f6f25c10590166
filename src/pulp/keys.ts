// The server.conf keys the agent knows, in one table: where each is, Pulp 2's default, whether
// it is secret, which variable sets it and who in the agent reads it. Edits, targets, preview,
// redaction and the "Pulp cannot read this" check derive from it.
import { type ConfigView, keyParts as splitId, setValueOf } from '../ini/config-view.ts';
import { isSecretKey } from '../common/redact.ts';

/** The parts of the agent that read a key from the effective file. */
export type AgentReader = 'mongodb wait' | 'init' | 'broker wait' | 'messaging check' | 'role command' | 'syslog check' | 'role paths';

/**
 * Pulp's own programs that the agent starts and that read the key as they start, from Pulp 2's
 * sources: every Celery role imports pulp.server.async.celery_instance ([tasks]),
 * pulp.server.db.connection ([database]) and pulp.server.logs ([server] log_type);
 * pulp-manage-db the last two, and migration 0009 reads [messaging] url, transport and
 * clientcert when it upgrades a Qpid installation. [messaging] cacert is read only by httpd's
 * gofer connector, which no Celery container starts.
 */
export type PulpReader = 'celery' | 'pulp-manage-db';

export type Reader = AgentReader | PulpReader;

export interface PulpKey {
  /** Pulp 2's value when the file leaves the key out or empty (only where the agent needs one). */
  default?: string;
  /** Shown masked wherever it is rendered. */
  secret: boolean;
  /**
   * Who reads it at start: parts of the agent, and Pulp programs the agent starts. A value
   * Pulp's ConfigParser cannot read (a bad %(name)s reference) is refused when anyone here
   * reads it, because then the agent or the role cannot start; otherwise it is only warned about.
   */
  readBy: readonly Reader[];
  /** The variable that sets the key directly, value as given (others are built in settings/edits/). */
  env?: string;
  /** A CA, certificate or key file a TLS probe presents. */
  tlsFile?: 'ca' | 'cert' | 'key';
}

const DB: readonly Reader[] = ['mongodb wait', 'init', 'celery', 'pulp-manage-db'];
const BROKER: readonly Reader[] = ['broker wait', 'celery'];
/** Migration 0009 (an upgrade from Qpid) in pulp-manage-db; the agent's preview names the protocol. */
const MESSAGING: readonly Reader[] = ['messaging check', 'pulp-manage-db'];

/** "section.key" -> what the agent knows of it. Order is the order direct edits are planned in. */
export const PULP_KEYS = {
  'server.server_name': { secret: false, readBy: ['role command'], env: 'PULP_SERVER_NAME' },
  'server.log_type': { default: 'syslog', secret: false, readBy: ['syslog check', 'celery', 'pulp-manage-db'] },
  // The workers' (and the resource manager's) scratch space: pulp.server.async.app's
  // initialize_worker makes WORKING_DIRECTORY/<node name> as each starts (roles.ts).
  'server.working_directory': { default: '/var/cache/pulp', secret: false, readBy: ['role paths'] },
  'database.seeds': { default: 'localhost:27017', secret: false, readBy: DB },
  'database.name': { default: 'pulp_database', secret: false, readBy: DB, env: 'PULP_DB_NAME' },
  'database.username': { secret: false, readBy: DB, env: 'PULP_DB_USERNAME' },
  'database.password': { secret: true, readBy: DB, env: 'PULP_DB_PASSWORD' },
  'database.replica_set': { secret: false, readBy: DB, env: 'PULP_DB_REPLICA_SET' },
  'database.ssl': { default: 'false', secret: false, readBy: DB },
  'database.verify_ssl': { default: 'true', secret: false, readBy: DB },
  'database.ca_path': { secret: false, readBy: DB, tlsFile: 'ca' },
  'database.ssl_certfile': { secret: false, readBy: DB, tlsFile: 'cert' },
  'database.ssl_keyfile': { secret: false, readBy: DB, tlsFile: 'key' },
  'messaging.url': { default: 'tcp://localhost:5672', secret: false, readBy: MESSAGING },
  'messaging.transport': { default: 'qpid', secret: false, readBy: MESSAGING },
  'messaging.cacert': { secret: false, readBy: [] },
  'messaging.clientcert': { secret: false, readBy: ['pulp-manage-db'] },
  'tasks.broker_url': { default: 'qpid://localhost/', secret: false, readBy: BROKER },
  'tasks.celery_require_ssl': { default: 'false', secret: false, readBy: BROKER },
  'tasks.cacert': { secret: false, readBy: BROKER, tlsFile: 'ca' },
  'tasks.certfile': { secret: false, readBy: BROKER, tlsFile: 'cert' },
  'tasks.keyfile': { secret: false, readBy: BROKER, tlsFile: 'key' },
  'tasks.login_method': { secret: false, readBy: BROKER },
} as const satisfies Record<string, PulpKey>;

export type KeyId = keyof typeof PULP_KEYS;
const TABLE: Readonly<Record<string, PulpKey>> = PULP_KEYS;

export function keyParts(id: KeyId): { section: string; key: string } {
  return splitId(id);
}

/** What the agent knows of [section] key, or undefined for a key it does not read. */
export function pulpKey(section: string, key: string): PulpKey | undefined {
  return TABLE[`${section}.${key}`];
}

/** How messages name a key: "server.conf [database] seeds". */
export function keyLabel(section: string, key: string): string {
  return `server.conf [${section}] ${key}`;
}

export function labelOf(id: KeyId): string {
  const { section, key } = keyParts(id);
  return keyLabel(section, key);
}

/** The value as given (trimmed), or undefined when the file leaves it out or empty. */
export function setValue(conf: ConfigView, id: KeyId): string | undefined {
  return setValueOf(conf, id);
}

/** The value Pulp uses: as given (trimmed), else Pulp's default (undefined when it has none). */
export function pulpValue(conf: ConfigView, id: KeyId): string | undefined {
  return setValue(conf, id) ?? TABLE[id]?.default;
}

/** Pulp 2's default for a key, '' for one without (the table gives one wherever it is read that way). */
export function pulpDefault(id: KeyId): string {
  return TABLE[id]?.default ?? '';
}

/** Whether Pulp's ConfigParser failing to read [section] key stops the agent: someone reads it at start. */
export function refusedWhenUnreadable(section: string, key: string): boolean {
  return (pulpKey(section, key)?.readBy.length ?? 0) > 0;
}

/** Whether [section] key is masked: the table says so, or its name says so (any other key). */
export function isSecret(section: string, key: string): boolean {
  return pulpKey(section, key)?.secret ?? isSecretKey(key);
}

/** The keys of one section set directly from one variable each, in table order. */
export function directKeys(section: string): { id: KeyId; key: string; env: string }[] {
  return (Object.keys(PULP_KEYS) as KeyId[]).flatMap((id) => {
    const k: PulpKey = PULP_KEYS[id];
    const p = keyParts(id);
    return p.section === section && k.env !== undefined ? [{ id, key: p.key, env: k.env }] : [];
  });
}

export type TlsFiles = Record<'ca' | 'cert' | 'key', KeyId>;

function tlsFilesOf(section: string): TlsFiles {
  const out: Partial<TlsFiles> = {};
  for (const id of Object.keys(PULP_KEYS) as KeyId[]) {
    const k: PulpKey = PULP_KEYS[id];
    if (k.tlsFile !== undefined && keyParts(id).section === section) out[k.tlsFile] = id;
  }
  if (!out.ca || !out.cert || !out.key) throw new Error(`PULP_KEYS: [${section}] lacks a TLS file key`);
  return out as TlsFiles;
}

/** The keys naming the TLS files of the database and of the Celery broker. */
export const TLS_FILE_KEYS = { database: tlsFilesOf('database'), tasks: tlsFilesOf('tasks') } as const;
