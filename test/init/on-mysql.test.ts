// src/init/on-mysql.ts (with init-db.ts) against the real MariaDB of test/services/mariadb.sh:
// the init runs once and is recorded; a second start finds the record; a connection killed by
// the server while the init runs (a failover, a restart) is replaced at the next store call,
// so the holder keeps its lease, finishes and records; a wrong password is one line, at once.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { requireMysql } from '../helpers/services.ts';
import { openMysqlInit } from '../../src/init/on-mysql.ts';
import { awaitInit, runInit } from '../../src/init/init-db.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import { createLogger } from '../../src/common/log.ts';
import type { MysqlTarget } from '../../src/common/targets.ts';

const db = requireMysql(t, 'the init on MySQL');
if (db) {
  const root = (sql: string): string =>
    execFileSync('mariadb', ['--no-defaults', '--protocol=tcp', `-h${db.host}`, `-P${db.port}`, '-uroot', '-N', '-B', '-e', sql], {
      env: { ...process.env, MYSQL_PWD: db.rootPassword },
      encoding: 'utf8',
    });
  const name = `ks_onmysql_${randomBytes(3).toString('hex')}`;
  root(`CREATE DATABASE ${name}; GRANT ALL PRIVILEGES ON ${name}.* TO '${db.user}'@'%'`);
  t.teardown(() => root(`DROP DATABASE IF EXISTS ${name}`));
  const target: MysqlTarget = { kind: 'mysql', address: `${db.host}:${db.port}`, host: db.host, port: db.port, username: db.user, password: db.password, database: name, source: 'database.connection' };
  const lines: string[] = [];
  const log = createLogger({ format: 'text', trace: false, write: (l) => lines.push(l), secrets: [db.password] });

  t.test('once, recorded; the next start finds the record; a killed connection is replaced', async (t) => {
    const key = `k-${randomBytes(3).toString('hex')}`;
    const conn = openMysqlInit(target);
    let runs = 0;
    try {
      const out = await runInit({
        db: conn,
        key,
        force: false,
        argv: ['keystone-manage', 'db_sync'],
        run: async () => {
          runs++;
          // The server drops every connection of the agent to this database mid-init.
          const ids = root(`SELECT id FROM information_schema.processlist WHERE db = '${name}'`).trim().split('\n').filter(Boolean);
          t.ok(ids.length >= 1, `the agent's connection is there (${ids.length})`);
          for (const id of ids) root(`KILL CONNECTION ${id}`);
          // Longer than a third of the TTL: the watchdog must renew on a new connection.
          await new Promise((r) => setTimeout(r, 2500));
          return 0;
        },
        deadline: deadlineIn(30_000),
        log,
        ttlMs: 3000,
      });
      t.equal(out.ran, true, lines.join(''));
      t.equal(runs, 1);
    } finally {
      await conn.close();
    }
    const again = openMysqlInit(target);
    try {
      const rec = await awaitInit({ db: again, key, deadline: deadlineIn(5000), log, runBy: 'another replica', missingHint: 'x' });
      t.equal(rec.key, key, 'the record is there for the next start');
    } finally {
      await again.close();
    }
    t.notMatch(lines.join(''), new RegExp(db.password.replace(/[$%]/g, '\\$&')), 'no password in any line');
  });

  t.test('a wrong password ends the init at once, without the password', async (t) => {
    const bad = openMysqlInit({ ...target, password: 'wr0ng-Pw' });
    const at = Date.now();
    try {
      await t.rejects(
        runInit({ db: bad, key: 'x', force: false, argv: ['true'], run: async () => 0, deadline: deadlineIn(20_000), log }),
        { name: 'UnavailableError', message: /^cannot connect to MySQL at .* for the one-time init: authentication failed/ },
      );
    } finally {
      await bad.close();
    }
    t.ok(Date.now() - at < 5000, 'at once');
    t.notMatch(lines.join(''), /wr0ng-Pw/);
  });
}
