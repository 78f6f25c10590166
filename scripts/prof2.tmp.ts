void (async () => {
const c0 = process.cpuUsage(); const t0 = performance.now();
const which = process.argv[2];
if (which === 'full') await import('mongodb');
else if (which === 'connect') await import('mongodb/lib/cmap/connect.js');
else if (which === 'rhea') await import('rhea');
else if (which === 'bson') await import('bson');
else if (which === 'curl') await import('mongodb-connection-string-url');
const c = process.cpuUsage(c0); process.stderr.write(`${which} ${((c.user + c.system) / 1000).toFixed(1)}\n`);
})();
