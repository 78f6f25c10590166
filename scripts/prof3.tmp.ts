const mods = ['net', 'tls', 'crypto', 'dns', 'http', 'https', 'zlib', 'url', 'stream', 'util', 'os', 'events', 'timers', 'buffer', 'child_process', 'fs', 'string_decoder', 'process', 'fs/promises', 'stream/web', 'v8', 'timers/promises'];
const out: string[] = [];
const c00 = process.cpuUsage();
for (const m of mods) {
  const c0 = process.cpuUsage();
  require(m);
  const c = process.cpuUsage(c0);
  out.push(`${m}=${((c.user + c.system) / 1000).toFixed(1)}`);
}
const c = process.cpuUsage(c00);
process.stderr.write(out.join(' ') + ` total=${((c.user + c.system) / 1000).toFixed(1)}\n`);
