// Continuous Keystone traffic for test/k8s/keystone-rotation.test.ts, in a process of its own
// (the test's kubectl calls block its own event loop): in a loop, a token issued through the
// Service, then validated on every replica the Service currently sends to (their addresses,
// read from a file the test keeps up to date) and through the Service. Each request on a new
// connection, as a client after a reconnect would. Every failure is kept: when, where, what.
// On SIGTERM: one JSON line on stdout ({ requests, failures: [...], validatedOn: { ip: n } }),
// then exit; validatedOn counts each replica's successful validations, so a test can tell that
// every replica was asked (an unreadable or empty endpoints file would leave only the Service).
//
//   node keystone-traffic.mjs SERVICE_URL ENDPOINTS_FILE ADMIN_PASSWORD
import { request } from 'node:http';
import { readFileSync } from 'node:fs';

const [base, endpointsFile, password] = process.argv.slice(2);
let requests = 0;
const failures = [];
const validatedOn = {};
let stopping = false;

function call(url, method, headers, body) {
  return new Promise((resolve) => {
    const req = request(url, { method, headers, agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, token: res.headers['x-subject-token'] }));
      res.on('error', (err) => resolve({ status: 0, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', (err) => resolve({ status: 0, error: `${err.code ?? ''} ${err.message}`.trim() }));
    req.end(body);
  });
}

function fail(target, what, r) {
  failures.push({ at: new Date().toISOString(), target, what, status: r.status, error: r.error });
}

const auth = JSON.stringify({
  auth: {
    identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } },
    scope: { project: { name: 'admin', domain: { id: 'default' } } },
  },
});

async function loop() {
  while (!stopping) {
    requests++;
    const issued = await call(`${base}/auth/tokens`, 'POST', { 'content-type': 'application/json' }, auth);
    if (issued.status !== 201 || !issued.token) {
      fail(base, 'issue', issued);
      continue;
    }
    let pods = [];
    try {
      pods = JSON.parse(readFileSync(endpointsFile, 'utf8'));
    } catch {
      pods = [];
    }
    for (const [ip, target] of [...pods.map((ip) => [ip, `http://${ip}:5000/v3`]), [undefined, base]]) {
      if (stopping) break;
      requests++;
      const r = await call(`${target}/auth/tokens`, 'GET', { 'x-auth-token': issued.token, 'x-subject-token': issued.token });
      if (r.status !== 200) fail(target, 'validate', r);
      else if (ip !== undefined) validatedOn[ip] = (validatedOn[ip] ?? 0) + 1;
    }
  }
}

const loops = [loop(), loop()];
process.on('SIGTERM', async () => {
  stopping = true;
  await Promise.all(loops);
  process.stdout.write(`${JSON.stringify({ requests, failures, validatedOn })}\n`);
  process.exit(0);
});
