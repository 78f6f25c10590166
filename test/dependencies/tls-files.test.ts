// src/dependencies/tls-files.ts: the TLS files a probe presents: read once, named by their setting
// when missing.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTlsFiles } from '../../src/dependencies/tls-files.ts';
import { tempDir } from '../helpers/temp.ts';

const dir = tempDir(t, 'pe-tls-');
const pem = join(dir, 'client.pem');
writeFileSync(pem, 'CERT AND KEY');

t.test('without a key file the key comes from the certificate file', async (t) => {
  const f = await readTlsFiles({ cert: { file: pem, setting: 's cert' }, key: { file: undefined, setting: 's key' } });
  t.equal(f.cert?.toString(), 'CERT AND KEY');
  t.equal(f.key?.toString(), 'CERT AND KEY');
  t.equal(f.ca, undefined);
});

t.test('a missing file is a TLS failure naming the setting and the path', async (t) => {
  await t.rejects(readTlsFiles({ ca: { file: join(dir, 'nope.crt'), setting: 'server.conf [tasks] cacert' } }), {
    reason: 'tls',
    message: new RegExp(`cannot read server\\.conf \\[tasks\\] cacert ${dir}/nope\\.crt`),
  });
});
