// What the keys sidecar costs: `keystone-entrypoint sync-keys` stays running beside Keystone
// for the pod's whole life, checking the mounted fernet and credential key Secrets every 2 s
// and installing a rotation in two steps (5 s grace between). Measured for the standalone
// binary (dist/pulp-entrypoint, Bun, started through a link named keystone-entrypoint: the
// name picks the system) and for bin/keystone-entrypoint on this Node, each in a pod of its
// own made in a temp dir: keystone.conf (a copy of src/keystone/default-keystone.conf) naming
// two repositories, and two Secret volumes laid out and updated as the kubelet's atomic writer
// does (test/helpers/secret-volume.mjs). Realistic sizes: fernet 5 keys, credential 3.
//   - start -> both repositories installed;
//   - VmRSS and VmHWM (/proc/PID/status) after 10 s idle, Secrets unchanged;
//   - CPU (utime + stime, /proc/PID/stat, all threads) over BENCH_IDLE_SEC idle seconds, as ms
//     per minute: the price of polling;
//   - BENCH_ROTATIONS fernet rotations (keystone-manage fernet_rotate's arithmetic,
//     max_active_keys 5), each written as the kubelet does; time from the update to the
//     repository equal to the new set (>= the 5 s grace, plus up to one 2 s interval), VmRSS
//     after the first and the last (growth per rotation would show there), VmHWM, CPU;
//   - the same with a 100-key fernet Secret (BENCH_BIG_ROTATIONS rotations): memory bounded?
//   - SIGTERM: exit code (must be 0) and the time to exit.
//
//   node scripts/bench/sync-keys.mjs      # about 5 min per program with the defaults
//   BENCH_IDLE_SEC=20 BENCH_ROTATIONS=5 node scripts/bench/sync-keys.mjs
//
// A program that cannot run here prints "n/a (why)"; the script exits 0. Run as root it does
// as in the pod (keys owned by user keystone, made if missing); otherwise KEYSTONE_RUN_AS is
// this uid.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { keysPod } from '../../test/helpers/keys-pod.mjs';
import { updateSecretVolume } from '../../test/helpers/secret-volume.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const idleSec = Math.max(1, Number(process.env.BENCH_IDLE_SEC ?? 60));
const rotations = Math.max(1, Number(process.env.BENCH_ROTATIONS ?? 20));
const bigRotations = Math.max(1, Number(process.env.BENCH_BIG_ROTATIONS ?? 5));
const tickMs = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);
const isRoot = process.getuid?.() === 0;

// Everything made is undone on any exit, Ctrl-C included.
const work = mkdtempSync(join(tmpdir(), 'pe-bench-sync-keys-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

const key = () => `${randomBytes(32).toString('base64url')}=`;
const keySet = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), key()]));
// keystone-manage fernet_rotate with max_active_keys = the set's size: 0 becomes highest + 1,
// a fresh 0, the lowest others dropped.
function rotate(keys) {
  const size = Object.keys(keys).length;
  const nums = Object.keys(keys).map(Number).filter((n) => n !== 0).sort((a, b) => a - b);
  const next = { 0: key(), [(nums.at(-1) ?? 0) + 1]: keys['0'] };
  for (const n of nums.slice(Math.max(0, nums.length - (size - 2)))) next[n] = keys[n];
  return next;
}

function repoEquals(dir, keys) {
  try {
    const names = readdirSync(dir).filter((n) => /^\d+$/.test(n));
    return names.length === Object.keys(keys).length && names.every((n) => readFileSync(join(dir, n), 'latin1').replace(/\r?\n$/, '') === keys[n]);
  } catch {
    return false;
  }
}

function mem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const [rss, hwm] = ['VmRSS', 'VmHWM'].map((k) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))?.[1]));
  return { rss, hwm };
}
function cpuMs(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * tickMs;
}

let pods = 0;
function pod(fernetSize) {
  const base = join(work, `pod-${++pods}`);
  mkdirSync(base, { mode: 0o755 });
  const fernet = keySet(fernetSize);
  const credential = keySet(3);
  return { fernet, credential, ...keysPod(base, fernet, credential) };
}

async function until(ms, child, check) {
  const end = Date.now() + ms;
  while (Date.now() < end && child.exitCode === null && child.signalCode === null) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

// One sidecar over its life: install, idle, rotations, SIGTERM.
async function life(argv, fernetSize, nRotations) {
  const p = pod(fernetSize);
  const t0 = performance.now();
  const child = spawn(argv[0], [...argv.slice(1), 'sync-keys'], { env: p.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let tail = '';
  for (const s of [child.stdout, child.stderr]) s.on('data', (d) => (tail = (tail + d).slice(-4000)));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
  const why = (what) => new Error(`${what}: ${child.exitCode !== null ? `exited ${child.exitCode}, ` : ''}${tail.trim().split('\n').pop() ?? ''}`);
  if (!(await until(20_000, child, () => repoEquals(p.fernetRepo, p.fernet) && repoEquals(p.credentialRepo, p.credential)))) throw why('keys not installed in 20 s');
  const r = { startMs: performance.now() - t0 };
  await sleep(10_000);
  r.settled = mem(child.pid);
  const c0 = cpuMs(child.pid);
  await sleep(idleSec * 1000);
  r.idleCpuPerMin = ((cpuMs(child.pid) - c0) * 60) / idleSec;
  r.idle = mem(child.pid);
  const c1 = cpuMs(child.pid);
  Object.assign(r, { times: [], rss: [] });
  for (let i = 0; i < nRotations; i++) {
    // At any instant of the 2 s interval, as the kubelet's refresh would, not just after a pass.
    await sleep(Math.random() * 2000);
    p.fernet = rotate(p.fernet);
    updateSecretVolume(p.fernetSecret, p.fernet);
    const t = performance.now();
    if (!(await until(30_000, child, () => repoEquals(p.fernetRepo, p.fernet)))) throw why(`rotation ${i + 1} not installed in 30 s`);
    r.times.push(performance.now() - t);
    r.rss.push(mem(child.pid).rss);
  }
  r.rotCpu = cpuMs(child.pid) - c1;
  r.after = mem(child.pid);
  if (!repoEquals(p.credentialRepo, p.credential)) throw why('the credential repository changed without a rotation');
  const t2 = performance.now();
  child.kill('SIGTERM');
  const end = await Promise.race([exited, sleep(10_000, undefined, { ref: false }).then(() => ({ code: null, signal: 'still running 10 s after SIGTERM', at: NaN }))]);
  r.stop = { ...end, ms: end.at - t2 };
  return r;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const mib = (kb) => `${(kb / 1024).toFixed(1)} MiB`;
const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;

function rows(label, r, n) {
  const stop = r.stop.code === 0 && r.stop.signal === null ? `exit 0 in ${r.stop.ms.toFixed(0)} ms` : `FAILED: exit ${r.stop.code ?? r.stop.signal}`;
  return [
    `| ${label}: start -> both repositories installed | | | | ${r.startMs.toFixed(0)} ms |`,
    `| ${label}: 10 s idle after install | ${mib(r.settled.rss)} | ${mib(r.settled.hwm)} | | |`,
    `| ${label}: ${idleSec} s idle, Secrets unchanged | ${mib(r.idle.rss)} | ${mib(r.idle.hwm)} | ${r.idleCpuPerMin.toFixed(0)} ms per minute | |`,
    `| ${label}: ${n} fernet rotations, update -> installed | after 1st ${mib(r.rss[0])}, last ${mib(r.after.rss)}, max ${mib(Math.max(...r.rss))} | ${mib(r.after.hwm)} | ${r.rotCpu.toFixed(0)} ms (${(r.rotCpu / n).toFixed(1)} per rotation) | median ${sec(median(r.times))}, min ${sec(Math.min(...r.times))}, max ${sec(Math.max(...r.times))} |`,
    `| ${label}: SIGTERM | | | | ${stop} |`,
  ];
}

async function main() {
  if (isRoot && spawnSync('id', ['keystone'], { stdio: 'ignore' }).status !== 0) {
    spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/var/lib/keystone', '--shell', '/usr/sbin/nologin', '--user-group', 'keystone'], { stdio: 'inherit' });
  }
  const binary = join(root, 'dist', 'pulp-entrypoint');
  const link = join(work, 'bin', 'keystone-entrypoint');
  mkdirSync(join(work, 'bin'));
  symlinkSync(binary, link);
  chmodSync(work, 0o755);
  const programs = [
    { name: 'dist/pulp-entrypoint (Bun) as keystone-entrypoint', argv: [link], missing: existsSync(binary) ? null : 'dist/pulp-entrypoint not built: npm run build:binary' },
    { name: `bin/keystone-entrypoint (Node ${process.version})`, argv: [process.execPath, join(root, 'bin', 'keystone-entrypoint')], missing: existsSync(join(root, 'dist', 'main.mjs')) ? null : 'dist/main.mjs not built: npm run build' },
  ];
  console.log(`keystone-entrypoint sync-keys, the keys sidecar: checks every 2 s, a rotation in two steps 5 s apart; credential Secret 3 keys; ${isRoot ? 'as root, keys owned by keystone' : `as uid ${process.getuid?.()}`}`);
  for (const prog of programs) {
    console.log(`\n${prog.name}\n`);
    console.log('| phase | VmRSS | VmHWM | CPU | time |');
    console.log('|---|---|---|---|---|');
    if (prog.missing) {
      console.log(`| all | n/a (${prog.missing}) | | | |`);
      continue;
    }
    for (const [size, n] of [[5, rotations], [100, bigRotations]]) {
      const label = `fernet ${size} keys`;
      try {
        for (const line of rows(label, await life(prog.argv, size, n), n)) console.log(line);
      } catch (err) {
        console.log(`| ${label} | n/a (${err.message.slice(0, 200)}) | | | |`);
      } finally {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    }
  }
}

await main();
