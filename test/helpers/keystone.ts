// The real Keystone 30.0.0 environment that test/services/keystone.sh builds (a venv with
// keystone, oslo.config, SQLAlchemy, gunicorn), and oslo.config itself as the judge of what a
// keystone.conf means: test/helpers/oslo-judge.py reads files exactly as Keystone's programs do.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './cli.ts';
import { cachedBuild } from './cached-build.ts';
import { type Mysql, freshDatabase } from './services.ts';
import { tempDir } from './temp.ts';
import { unavailable } from './unavailable.ts';
import { ensureServiceUser } from './users.ts';

const BUILD_SCRIPT = join(ROOT, 'test', 'services', 'keystone.sh');
const JUDGE = join(ROOT, 'test', 'helpers', 'oslo-judge.py');

/** The built environment: PULP_TEST_KEYSTONE, else the cached build of test/services/keystone.sh. */
export function keystoneDir(): string | undefined {
  return cachedBuild(BUILD_SCRIPT, 'PULP_TEST_KEYSTONE');
}

/** Keystone 28.0.2's environment (the upgrade tests' older release): PULP_TEST_KEYSTONE_28, else the cached build of its pins. */
export function keystone28Dir(): string | undefined {
  const given = process.env.PULP_TEST_KEYSTONE_28;
  if (given) return cachedBuild(BUILD_SCRIPT, 'PULP_TEST_KEYSTONE_28');
  const saved = process.env.PULP_TEST_KEYSTONE_PINS;
  process.env.PULP_TEST_KEYSTONE_PINS = 'requirements-28-py311.txt';
  const saved30 = process.env.PULP_TEST_KEYSTONE;
  delete process.env.PULP_TEST_KEYSTONE;
  try {
    return cachedBuild(BUILD_SCRIPT, 'PULP_TEST_KEYSTONE');
  } finally {
    if (saved === undefined) delete process.env.PULP_TEST_KEYSTONE_PINS;
    else process.env.PULP_TEST_KEYSTONE_PINS = saved;
    if (saved30 !== undefined) process.env.PULP_TEST_KEYSTONE = saved30;
  }
}

/** The Keystone environment, or undefined after failing (CI=true) or skipping loudly. */
export function requireKeystone(t: Test, what: string): string | undefined {
  const dir = keystoneDir();
  if (dir) return dir;
  unavailable(t, `${what}: the real Keystone environment is not built; run \`bash test/services/keystone.sh\` once (about a minute from PyPI; \`npm test\` does it)`);
  return undefined;
}

/** What oslo.config (with Keystone's options registered as Keystone registers them) reads from one file. */
export interface Judgement {
  /** "group.option" -> the value Keystone would get (repr() when not plain data), or "ERR <exception>". */
  values: Record<string, unknown>;
  /** [database] connection as SQLAlchemy's make_url splits it, when it is set. */
  url: { username: string | null; password: string | null; host: string | null; port: number | null; database: string | null; drivername: string } | null;
}

/** oslo.config's reading of each file, in one Python process (Keystone's imports take seconds). */
export function judge(dir: string, files: readonly string[]): Judgement[] {
  const out = execFileSync(join(dir, 'venv', 'bin', 'python'), ['-W', 'ignore', JUDGE, ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' },
  });
  return JSON.parse(out) as Judgement[];
}

/** The user Keystone runs as (KEYSTONE_RUN_AS' default), made as Debian's package does when missing. */
export function ensureKeystoneUser(): void {
  ensureServiceUser('keystone', '/var/lib/keystone');
}

/**
 * Where a test runs the real Keystone: the keystone user, a work directory (0755: Keystone runs
 * as that user), keystone.conf's template from the agent's embedded default, and a fresh
 * database `ks_TAG_PID` of the test's own (services.ts freshDatabase).
 */
export function keystoneWorkspace(t: Test, db: Mysql, tag: string): { work: string; name: string; template: string } {
  ensureKeystoneUser();
  const work = tempDir(t, `ks-${tag}-`);
  chmodSync(work, 0o755);
  const name = `ks_${tag}_${process.pid}`;
  freshDatabase(t, db, name);
  const template = join(work, 'keystone.conf.template');
  copyFileSync(join(ROOT, 'src', 'keystone', 'default-keystone.conf'), template);
  return { work, name, template };
}

/**
 * The environment of a Keystone replica that a test runs as a process of its own: its
 * keystone.conf and key repositories under `dir` (made, 0755), from `template`, on `db`, with
 * `bin` (a venv's or a stand-in's) first on PATH.
 */
export function replicaEnv(dir: string, o: { bin: string; template: string; db: { host: string; port: number; user: string; password: string; database: string } }): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return {
    PATH: `${o.bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
    DB_SERVICE_HOST: o.db.host,
    DB_SERVICE_PORT: String(o.db.port),
    MYSQL_USER: o.db.user,
    MYSQL_PASSWORD: o.db.password,
    MYSQL_DATABASE: o.db.database,
    KEYSTONE_CONF: join(dir, 'keystone.conf'),
    KEYSTONE_CONF_TEMPLATE: o.template,
    KEYSTONE_CONF__FERNET_TOKENS__KEY_REPOSITORY: join(dir, 'fernet-keys'),
    KEYSTONE_CONF__FERNET_RECEIPTS__KEY_REPOSITORY: join(dir, 'fernet-keys'),
    KEYSTONE_CONF__CREDENTIAL__KEY_REPOSITORY: join(dir, 'credential-keys'),
    KEYSTONE_WAIT_TIMEOUT: '120',
  };
}
