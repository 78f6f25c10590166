// The CA, certificate and key files a TLS probe presents, read the same way for MongoDB and
// the broker. A missing file is a TLS failure of the probe, named by the setting that gave it.
import { readFile } from 'node:fs/promises';
import { ProbeError } from './classify.ts';

export interface TlsFileSettings {
  ca?: { file: string | undefined; setting: string };
  cert?: { file: string | undefined; setting: string };
  /** Without a key file, the key is read from the certificate file (a combined PEM). */
  key?: { file: string | undefined; setting: string };
}

export async function readTlsFiles(s: TlsFileSettings): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  const read = async (f: { file: string | undefined; setting: string } | undefined): Promise<Buffer | undefined> => {
    if (f?.file === undefined) return undefined;
    try {
      return await readFile(f.file);
    } catch (err) {
      throw new ProbeError('tls', `cannot read ${f.setting} ${f.file}: ${(err as Error).message}`);
    }
  };
  const keyFrom = s.key?.file !== undefined ? s.key : s.cert;
  const [ca, cert, key] = await Promise.all([read(s.ca), read(s.cert), read(keyFrom)]);
  return { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
}
