// Settings validation (src/settings/) and the conf-file plan (src/conf-file/plan.ts) through
// `pulp-entrypoint configure`.
// Hostile and broken input: every case exits 65 (or 73 for files), prints exactly one line
// naming the variable or file at fault, never a stack trace, never the secret, and leaves
// server.conf byte-for-byte and mtime untouched.
import t from 'tap';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/cli.ts';
import { confCopy, tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-hostile-');
const conf = confCopy(dir);
const past = new Date('2020-01-01T00:00:00Z');
utimesSync(conf, past, past);
const original = readFileSync(conf);

const secretFile = join(dir, 'pw');
writeFileSync(secretFile, 'line1\nline2\n');

type Case = [name: string, env: Record<string, string>, names: string, code?: number];
const long = 'a'.repeat(2000);
const cases: Case[] = [
  ['newline in host', { DB_SERVICE_HOST: 'db\n[evil]' }, 'DB_SERVICE_HOST'],
  ['CR in host', { DB_SERVICE_HOST: 'db\rx' }, 'DB_SERVICE_HOST'],
  ['NUL in host', { DB_SERVICE_HOST: 'db\u0001' }, 'DB_SERVICE_HOST'],
  ['space in host', { DB_SERVICE_HOST: 'my db' }, 'DB_SERVICE_HOST'],
  ['underscore host', { DB_SERVICE_HOST: 'my_db' }, 'DB_SERVICE_HOST'],
  ['label too long', { DB_SERVICE_HOST: `${'a'.repeat(64)}.example` }, 'DB_SERVICE_HOST'],
  ['host too long', { DB_SERVICE_HOST: Array(60).fill('abcd').join('.') }, 'DB_SERVICE_HOST'],
  ['leading dash label', { DB_SERVICE_HOST: '-db' }, 'DB_SERVICE_HOST'],
  ['url as host', { DB_SERVICE_HOST: 'mongodb://db' }, 'DB_SERVICE_HOST'],
  ['host with port', { DB_SERVICE_HOST: 'db:27017' }, 'DB_SERVICE_HOST'],
  ['bad IPv6', { MSG_SERVICE_HOST: 'fd00:::1::2' }, 'MSG_SERVICE_HOST'],
  ['port zero', { DB_SERVICE_PORT: '0' }, 'DB_SERVICE_PORT'],
  ['port too big', { DB_SERVICE_PORT: '65536' }, 'DB_SERVICE_PORT'],
  ['negative port', { MSG_SERVICE_PORT: '-1' }, 'MSG_SERVICE_PORT'],
  ['float port', { MSG_SERVICE_PORT: '5672.5' }, 'MSG_SERVICE_PORT'],
  ['hex port', { MSG_SERVICE_PORT: '0x1628' }, 'MSG_SERVICE_PORT'],
  ['port with text', { DB_SERVICE_PORT: '27017; rm -rf /' }, 'DB_SERVICE_PORT'],
  ['named port bad', { DB_SERVICE_HOST: 'db', DB_SERVICE_PORT_MONGODB: 'abc' }, 'DB_SERVICE_PORT_MONGODB'],
  ['link addr not tcp', { DB_PORT: 'db:27017' }, 'DB_PORT'],
  ['link addr bad port', { DB_PORT: 'tcp://10.0.0.1:99999' }, 'DB_PORT'],
  ['link addr bad ip', { DB_PORT_27017_TCP_ADDR: 'not an ip' }, 'DB_PORT_27017_TCP_ADDR'],
  ['SERVICE_HOST newline', { SERVICE_HOST: 'a\nb' }, 'SERVICE_HOST'],
  ['server name injection', { PULP_SERVER_NAME: 'x\nseeds: evil:1' }, 'PULP_SERVER_NAME'],
  ['server name spaces', { PULP_SERVER_NAME: 'pulp example' }, 'PULP_SERVER_NAME'],
  ['password newline', { MSG_SERVICE_PASSWORD: 'sw0rdfish\n[tasks]' }, 'MSG_SERVICE_PASSWORD'],
  ['password tab', { PULP_DB_PASSWORD: 'sw0rd\tfish' }, 'PULP_DB_PASSWORD'],
  ['user control char', { MSG_SERVICE_USER: 'gu\u001best' }, 'MSG_SERVICE_USER'],
  ['over-long user', { MSG_SERVICE_USER: long }, 'MSG_SERVICE_USER'],
  ['db name slash', { PULP_DB_NAME: 'pulp/db' }, 'PULP_DB_NAME'],
  ['db name dot', { PULP_DB_NAME: 'pulp.db' }, 'PULP_DB_NAME'],
  ['db name too long', { PULP_DB_NAME: 'd'.repeat(64) }, 'PULP_DB_NAME'],
  ['replica set newline', { PULP_DB_REPLICA_SET: 'rs0\nssl: true' }, 'PULP_DB_REPLICA_SET'],
  ['generic key newline', { PULP_CONF__DATABASE__WRITE_CONCERN: 'majority\n[x]' }, 'PULP_CONF__DATABASE__WRITE_CONCERN'],
  ['generic key over-long', { PULP_CONF__SERVER__DEBUGGING_MODE: long }, 'PULP_CONF__SERVER__DEBUGGING_MODE'],
  ['generic name malformed', { PULP_CONF__DATABASE: 'x' }, 'PULP_CONF__DATABASE'],
  ['generic name with brackets', { 'PULP_CONF__DATA]BASE__KEY': 'x' }, 'PULP_CONF__DATA]BASE__KEY'],
  ['generic name three parts', { PULP_CONF__A__B__C: 'x' }, 'PULP_CONF__A__B__C'],
  ['trailing space value', { PULP_CONF__SERVER__SERVER_NAME: 'pulp ' }, 'PULP_CONF__SERVER__SERVER_NAME'],
  ['both var and _FILE', { PULP_DB_PASSWORD: 'a', PULP_DB_PASSWORD_FILE: secretFile }, 'PULP_DB_PASSWORD'],
  ['_FILE missing', { PULP_DB_PASSWORD_FILE: join(dir, 'nope') }, 'PULP_DB_PASSWORD_FILE'],
  ['_FILE is a directory', { MSG_SERVICE_PASSWORD_FILE: dir }, 'MSG_SERVICE_PASSWORD_FILE'],
  ['_FILE with two lines', { MSG_SERVICE_PASSWORD_FILE: secretFile }, 'MSG_SERVICE_PASSWORD'],
  ['scheme unknown', { PULP_BROKER_SCHEME: 'http' }, 'PULP_BROKER_SCHEME'],
  ['timeout not a number', { PULP_WAIT_TIMEOUT: 'soon' }, 'PULP_WAIT_TIMEOUT'],
  ['timeout zero', { PULP_WAIT_TIMEOUT: '0' }, 'PULP_WAIT_TIMEOUT'],
  ['worker id negative', { PULP_WORKER_ID: '-3' }, 'PULP_WORKER_ID'],
  ['run as weird', { PULP_RUN_AS: 'apache;id' }, 'PULP_RUN_AS'],
  ['log format', { PULP_ENTRYPOINT_LOG: 'xml' }, 'PULP_ENTRYPOINT_LOG'],
  ['trace flag', { PULP_ENTRYPOINT_TRACE: 'maybe' }, 'PULP_ENTRYPOINT_TRACE'],
  ['service name', { PULP_DB_SERVICE: 'my service' }, 'PULP_DB_SERVICE'],
  ['service name with a dot (no Service has one)', { PULP_DB_SERVICE: 'mongo.v2' }, 'PULP_DB_SERVICE'],
  ['service name with a leading digit (no Service has one)', { PULP_MSG_SERVICE: '3scale' }, 'PULP_MSG_SERVICE'],
  ['conf path relative', { PULP_SERVER_CONF: 'server.conf' }, 'PULP_SERVER_CONF'],
  ['signal rewrite', { PULP_SIGNAL_REWRITE: 'TERM' }, 'PULP_SIGNAL_REWRITE'],
  ['lease ttl too short', { PULP_INIT_LEASE_TTL: '0.1' }, 'PULP_INIT_LEASE_TTL'],
  ['exec mode unknown', { PULP_EXEC_MODE: 'fork' }, 'PULP_EXEC_MODE'],
];

t.ok(cases.length >= 40, `at least 40 hostile inputs (${cases.length})`);

for (const [name, env, variable, code = 65] of cases) {
  t.test(name, async (t) => {
    const r = cli(['configure'], { PULP_SERVER_CONF: conf, ...env });
    t.equal(r.status, code, `exit ${code}`);
    const lines = r.stderr.trimEnd().split('\n');
    t.equal(lines.length, 1, 'one line on stderr');
    t.match(lines[0], variable, 'names the variable');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.notMatch(r.stderr, /sw0rd/, 'no secret');
    t.equal(r.stdout, '', 'nothing on stdout');
    t.ok(readFileSync(conf).equals(original), 'file bytes unchanged');
    t.equal(statSync(conf).mtimeMs, past.getTime(), 'file not rewritten');
  });
}

t.test('files at fault', async (t) => {
  const garbage = join(dir, 'garbage.conf');
  writeFileSync(garbage, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe, 10]));
  let r = cli(['configure'], { PULP_SERVER_CONF: garbage, DB_SERVICE_HOST: 'db' });
  t.equal(r.status, 65, 'binary garbage is 65');
  t.match(r.stderr, garbage);
  t.equal(r.stderr.trimEnd().split('\n').length, 1);

  r = cli(['configure'], { PULP_SERVER_CONF: join(dir, 'missing.conf'), DB_SERVICE_HOST: 'db' });
  t.equal(r.status, 73, 'missing file is 73');
  t.match(r.stderr, /missing\.conf does not exist/);

  r = cli(['configure'], { PULP_SERVER_CONF: join(dir, 'x.conf'), PULP_SERVER_CONF_TEMPLATE: join(dir, 'no-template.conf') });
  t.equal(r.status, 73, 'missing template is 73');
  t.match(r.stderr, /PULP_SERVER_CONF_TEMPLATE/);

  r = cli(['configure'], { PULP_SERVER_CONF: join(dir, 'nodir', 'server.conf'), PULP_SERVER_CONF_TEMPLATE: conf, DB_SERVICE_HOST: 'db' });
  t.equal(r.status, 73, 'unwritable target directory is 73');
  t.match(r.stderr, /nodir/);
});
