// src/ini/augeas-path.ts: edits named by the augtool paths the original image used.
import t from 'tap';
import { formatAugeasPath } from '../../src/ini/augeas-path.ts';

// That augtool reads these paths back as the intended key is tested against the real
// augtool in test/ini/augtool.test.ts.
t.test('formatAugeasPath names a key as augtool does', async (t) => {
  const file = '/etc/pulp/server.conf';
  t.equal(formatAugeasPath(file, 'database', 'seeds'), "/files/etc/pulp/server.conf/target[. = 'database']/seeds");
  t.equal(formatAugeasPath(file, 'a b', 'x.y-z_1'), "/files/etc/pulp/server.conf/target[. = 'a b']/x.y-z_1");
  t.equal(formatAugeasPath(file, "it's", 'k'), '/files/etc/pulp/server.conf/target[. = "it\'s"]/k', 'a quote in the name: the other quotes');
  t.equal(formatAugeasPath('/srv/target/server.conf', 'tasks', 'broker_url'), "/files/srv/target/server.conf/target[. = 'tasks']/broker_url");
});
