// src/exec/users.ts: /etc/passwd and /etc/group read as PULP_RUN_AS needs them.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGroup, parsePasswd, resolveUser, resolveUserFrom } from '../../src/exec/users.ts';
import { tempDir } from '../helpers/temp.ts';

const PASSWD = `root:x:0:0:root:/root:/bin/bash
# a comment
apache:x:48:48:Apache:/usr/share/httpd:/sbin/nologin
broken line
bad:x:notanumber:1::/:/bin/sh
apache:x:999:999:shadowed duplicate:/nowhere:/bin/sh
`;
const GROUP = `root:x:0:
apache:x:48:
pulp:x:500:apache,other
wheel:x:10:other
certs:x:501: apache
`;

t.test('parsers skip comments and malformed lines', async (t) => {
  const p = parsePasswd(PASSWD);
  t.same(p.map((e) => e.name), ['root', 'apache', 'apache']);
  const g = parseGroup(GROUP);
  t.same(g.find((e) => e.name === 'pulp')?.members, ['apache', 'other']);
});

t.test('resolves a name with its groups, primary first, first entry wins', async (t) => {
  const u = resolveUserFrom('apache', parsePasswd(PASSWD), parseGroup(GROUP));
  t.same(u, { name: 'apache', uid: 48, gid: 48, groups: [48, 500, 501], home: '/usr/share/httpd', shell: '/sbin/nologin' });
});

t.test('resolves a numeric uid', async (t) => {
  const u = resolveUserFrom('0', parsePasswd(PASSWD), parseGroup(GROUP));
  t.equal(u.name, 'root');
  t.same(u.groups, [0]);
});

t.test('unknown user is an InputError naming PULP_RUN_AS', async (t) => {
  t.throws(() => resolveUserFrom('nobody-here', parsePasswd(PASSWD), []), { name: 'InputError', message: /PULP_RUN_AS=nobody-here/ });
  t.throws(() => resolveUserFrom('4242', parsePasswd(PASSWD), []), { name: 'InputError', exitCode: 65 });
  t.throws(() => resolveUserFrom(' ', parsePasswd(PASSWD), []), /PULP_RUN_AS is empty/);
});

t.test('reads the files', async (t) => {
  const dir = tempDir(t, 'users-');
  writeFileSync(join(dir, 'passwd'), PASSWD);
  writeFileSync(join(dir, 'group'), GROUP);
  t.equal(resolveUser('apache', { passwd: join(dir, 'passwd'), group: join(dir, 'group') }).uid, 48);
  // Missing /etc/group: primary group only.
  t.same(resolveUser('apache', { passwd: join(dir, 'passwd'), group: join(dir, 'nope') }).groups, [48]);
  t.throws(() => resolveUser('apache', { passwd: join(dir, 'nope') }), /cannot read .*nope/);
  // The real files of this machine.
  t.equal(resolveUser('root').uid, 0);
});
