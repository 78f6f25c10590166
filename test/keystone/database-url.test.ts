// src/keystone/database-url.ts: [database] connection from its parts. SQLAlchemy's own split of
// these URLs is checked in test/keystone/oslo-config-real.test.ts.
import t from 'tap';
import { databaseUrl } from '../../src/keystone/database-url.ts';

const parts = { user: 'keystone', password: 'secret', host: 'db', port: 3306, database: 'keystone' };

t.test('mysql+pymysql, the port always there', async (t) => {
  t.equal(databaseUrl(parts), 'mysql+pymysql://keystone:secret@db:3306/keystone');
  t.equal(databaseUrl({ ...parts, port: 13306 }), 'mysql+pymysql://keystone:secret@db:13306/keystone');
});

t.test('user and password percent-encoded: nothing in them can move the host', async (t) => {
  t.equal(databaseUrl({ ...parts, password: 'ks$pa%ss' }), 'mysql+pymysql://keystone:ks%24pa%25ss@db:3306/keystone');
  t.equal(databaseUrl({ ...parts, user: 'a@b:c', password: "p/w?#@!'()*" }), 'mysql+pymysql://a%40b%3Ac:p%2Fw%3F%23%40%21%27%28%29%2A@db:3306/keystone');
  t.equal(databaseUrl({ ...parts, password: 'é' }), 'mysql+pymysql://keystone:%C3%A9@db:3306/keystone', 'UTF-8');
});

t.test('no password: no colon; IPv6 bracketed', async (t) => {
  t.equal(databaseUrl({ ...parts, password: undefined }), 'mysql+pymysql://keystone@db:3306/keystone');
  t.equal(databaseUrl({ ...parts, host: 'fd00::5' }), 'mysql+pymysql://keystone:secret@[fd00::5]:3306/keystone');
  t.equal(databaseUrl({ ...parts, host: '10.0.0.5' }), 'mysql+pymysql://keystone:secret@10.0.0.5:3306/keystone');
});
