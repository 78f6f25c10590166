void (async () => {
const t0 = performance.now();
const lap = (what: string) => process.stderr.write(`${(performance.now() - t0).toFixed(1)} ms ${what}\n`);
lap('start (since process start: ' + (performance.now()).toFixed(1) + ')');
const [host, port] = process.argv[2]!.split(':');
const mongodb = await import('mongodb');
lap('mongodb evaluated');
const rhea = await import('rhea');
lap('rhea evaluated');
const mode = process.argv[3] ?? 'default';
const c = new mongodb.MongoClient(`mongodb://${host}:${port}/`, { directConnection: true, serverSelectionTimeoutMS: 5000, maxPoolSize: 1, appName: 'x' , ...(mode === 'nomon' ? { serverMonitoringMode: 'poll', heartbeatFrequencyMS: 600000 } : {}) });
c.on('serverHeartbeatSucceeded', () => lap('heartbeat ok'));
c.on('connectionCreated', () => lap('pool connection created'));
c.on('connectionReady', () => lap('pool connection ready'));
c.on('topologyDescriptionChanged', () => lap('topology changed'));
if (mode !== 'noconnect') { await c.connect(); lap('connected'); }
await c.db('admin').command({ ping: 1 });
lap('pinged');
await c.close(true);
lap('closed');

})();