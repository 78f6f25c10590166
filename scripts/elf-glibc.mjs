// The highest GLIBC_x.y symbol version an ELF executable needs, read from its version-needs
// section (SHT_GNU_verneed, what `readelf -V` prints under .gnu.version_r): the dynamic
// loader refuses to start a program whose needs the C library does not provide. ELF64
// little-endian only (x86-64 and aarch64 Linux). Used by scripts/build-binary.mjs and the
// tests; no binutils needed.
const SHT_GNU_VERNEED = 0x6ffffffe;

/** Every GLIBC_ version named in the version needs, e.g. ['2.2.5', '2.17']. */
export function glibcVersionsNeeded(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('not a little-endian ELF64 file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const section = (i) => {
    const at = shoff + i * shentsize;
    return { type: buf.readUInt32LE(at + 4), offset: Number(buf.readBigUInt64LE(at + 0x18)), link: buf.readUInt32LE(at + 0x28), info: buf.readUInt32LE(at + 0x2c) };
  };
  const cstring = (at) => buf.toString('latin1', at, buf.indexOf(0, at));
  const found = new Set();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_GNU_VERNEED) continue;
    const strtab = section(s.link).offset;
    let need = s.offset;
    for (let n = 0; n < s.info; n++) {
      const cnt = buf.readUInt16LE(need + 2);
      let aux = need + buf.readUInt32LE(need + 8);
      for (let a = 0; a < cnt; a++) {
        const name = cstring(strtab + buf.readUInt32LE(aux + 8));
        const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(name);
        if (m) found.add(m[1]);
        aux += buf.readUInt32LE(aux + 12);
      }
      const next = buf.readUInt32LE(need + 12);
      if (next === 0) break;
      need += next;
    }
  }
  return [...found].sort(compareVersions);
}

/** The highest of glibcVersionsNeeded, or undefined when the file needs no glibc version. */
export function highestGlibc(buf) {
  return glibcVersionsNeeded(buf).at(-1);
}

export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
