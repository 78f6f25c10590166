// A TCP forwarder: node test/helpers/forward.mjs LISTEN_HOST LISTEN_PORT TO_HOST TO_PORT
// Prints the port it listens on (LISTEN_PORT 0: a free one), then forwards every connection.
// A process of its own for the tests and benchmarks (test/helpers/kube.ts Forwarder): they block
// their event loop in spawnSync (kubectl exec and friends), and a pod talking to its database
// through a forwarder in that loop would wait for the test that waits for it. Killing it is an
// outage: every connection is cut.
import net from 'node:net';

const [host, port, toHost, toPort] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(toPort), toHost);
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on('error', end);
  upstream.on('error', end);
  client.pipe(upstream).pipe(client);
});
server.listen(Number(port), host, () => console.log(server.address().port));
