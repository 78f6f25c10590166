// The manifests in fixtures/k8s (Pulp) and fixtures/k8s/keystone (Keystone) against a real
// Kubernetes v1.34.4 control plane (etcd, kube-apiserver, controller-manager, scheduler; built by
// test/k8s/build.sh, started by test/k8s/cluster.sh): server-side dry run through the real
// admission chain, a real apply in a namespace of its own each (Service IPs from the real
// allocator, the workloads created; the namespace's node selector matches no node, so pods stay
// Pending and nothing waits for Ready: test/k8s/pulp-pods.test.ts runs them), strict field validation, and the kubelet's own Service variable names
// (pkg/kubelet/envvars, via kubelet-envvars) against test/helpers/kubelet-env.ts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { kube } from '../helpers/kube.ts';
import { serviceEnv, type KubeObject } from '../helpers/kubelet-env.ts';
import { unavailable } from '../helpers/unavailable.ts';

// Run alone on a fresh machine, cluster.sh builds the binaries first (~10 min on two cores).
t.setTimeout(45 * 60_000);

const VERSION = 'v1.34.4';
const PULP_DIR = join(ROOT, 'fixtures', 'k8s');
const KEYSTONE_DIR = join(PULP_DIR, 'keystone');

const k = kube(t);
if (k) {
  const { env, kubectl, json } = k;
  const objectsIn = (dir: string): { kind: string; name: string; doc: string }[] =>
    readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().flatMap((f) =>
      readFileSync(join(dir, f), 'utf8').split(/^---$/m).filter((d) => /^kind:/m.test(d)).map((d) => ({
        kind: /^kind: *(\S+)/m.exec(d)![1]!,
        name: /^metadata:\n(?:[ \t]+.*\n)*?[ \t]+name: *(\S+)/m.exec(d)![1]!,
        doc: d,
      })));

  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const namespaces = { pulp: `pulp-e2e-${suffix}`, keystone: `keystone-e2e-${suffix}` };
  const folders = { pulp: PULP_DIR, keystone: KEYSTONE_DIR } as const;

  t.teardown(() => {
    for (const ns of Object.values(namespaces)) kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  });

  t.test(`the server is Kubernetes ${VERSION}`, async (t) => {
    const v = json<{ clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string; major: string; minor: string } }>(['version']);
    t.equal(v.serverVersion.gitVersion, VERSION, 'server gitVersion');
    t.equal(`${v.serverVersion.major}.${v.serverVersion.minor}`, VERSION.slice(1).split('.').slice(0, 2).join('.'), 'server major.minor');
    t.equal(v.clientVersion.gitVersion, VERSION, 'kubectl gitVersion');
    t.equal(kubectl(['get', '--raw', '/readyz']).stdout.trim(), 'ok', '/readyz');
  });

  t.test('the namespaces are created', async (t) => {
    for (const ns of Object.values(namespaces)) {
      const r = kubectl(['create', 'namespace', ns]);
      t.equal(r.status, 0, r.status === 0 ? `namespace ${ns}` : r.out);
      // Its pods go to no node (PodNodeSelector, in cluster.sh's admission chain): a node of
      // test/k8s/node.sh may be in the cluster, and these pods are for the scheduler only.
      const a = kubectl(['annotate', 'namespace', ns, 'scheduler.alpha.kubernetes.io/node-selector=pulp-test/no-node=true']);
      t.equal(a.status, 0, a.out);
    }
  });

  for (const [app, dir] of Object.entries(folders) as [keyof typeof folders, string][]) {
    const ns = namespaces[app];
    const objects = objectsIn(dir);
    const rel = dir.slice(ROOT.length).replace(/^\//, '');

    t.test(`kubectl apply --dry-run=server -f ${rel}/: every object passes the admission chain`, async (t) => {
      const r = kubectl(['apply', '-n', ns, '--dry-run=server', '--validate=strict', '-f', dir]);
      t.equal(r.status, 0, r.status === 0 ? 'exit 0' : r.out);
      t.notMatch(r.stderr, /warning/i, 'no warning from the apiserver');
      for (const o of objects) {
        t.match(r.stdout, new RegExp(`^${o.kind.toLowerCase()}(\\.[\\w.]+)?/${o.name} created \\(server dry run\\)$`, 'm'), `${o.kind} ${o.name}`);
      }
      t.equal(json<{ items: unknown[] }>(['get', 'all', '-n', ns]).items.length, 0, 'a dry run stores nothing');
    });

    t.test(`kubectl apply -f ${rel}/ in a namespace of its own`, async (t) => {
      const r = kubectl(['apply', '-n', ns, '--validate=strict', '-f', dir]);
      t.equal(r.status, 0, r.status === 0 ? 'exit 0' : r.out);
      t.notMatch(r.stderr, /warning/i, 'no warning from the apiserver');

      const cidr = env.PULP_TEST_K8S_SERVICE_CIDR ?? '10.96.0.0/16';
      const prefix = cidr.replace(/\.0\.0\/16$/, '.');
      const services = json<{ items: KubeObject[] }>(['get', 'services', '-n', ns]).items;
      for (const o of objects.filter((o) => o.kind === 'Service')) {
        const svc = services.find((s) => s.metadata.name === o.name);
        t.ok(svc, `Service ${o.name} exists`);
        const ip = svc?.spec?.clusterIP as string | undefined;
        if (/^ +clusterIP: *None\b/m.test(o.doc)) t.equal(ip, 'None', `Service ${o.name} is headless`);
        else t.ok(ip?.startsWith(prefix) && ip !== `${prefix}0.1`, `Service ${o.name} got ${ip} from ${cidr}`);
      }
      for (const kind of ['Deployment', 'StatefulSet']) {
        const have = json<{ items: KubeObject[] }>(['get', kind.toLowerCase(), '-n', ns]).items.map((o) => o.metadata.name).sort();
        t.same(have, objects.filter((o) => o.kind === kind).map((o) => o.name).sort(), `the ${kind}s`);
      }
      for (const kind of ['ConfigMap', 'Secret']) {
        for (const o of objects.filter((o) => o.kind === kind)) {
          t.equal(kubectl(['get', kind.toLowerCase(), o.name, '-n', ns]).status, 0, `${kind} ${o.name}`);
        }
      }
      // The controller-manager makes the pods; the namespace's node selector matches no node,
      // so they stay Pending, unscheduled, and nothing here waits for Ready (pulp-pods.test.ts
      // runs them on a node).
      let pods: { status: { phase: string } }[] = [];
      for (let i = 0; i < 100 && pods.length === 0; i++) {
        pods = json<{ items: { status: { phase: string } }[] }>(['get', 'pods', '-n', ns]).items;
        if (pods.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      t.ok(pods.length > 0, `the controllers created ${pods.length} pods`);
      t.ok(pods.every((p) => p.status.phase === 'Pending'), 'all Pending (no node matches the namespace\'s selector)');
    });

    t.test(`the kubelet's Service variables for ${rel}/ match test/helpers/kubelet-env.ts`, async (t) => {
      const helper = join(dirname(env.PULP_TEST_KUBECTL!), 'kubelet-envvars');
      if (!existsSync(helper)) {
        unavailable(t, `${helper} is missing (bash test/k8s/build.sh builds it)`);
        return;
      }
      const all = kubectl(['get', 'services', '-A', '-o', 'json']);
      t.equal(all.status, 0, 'the Services, from the apiserver');
      const r = spawnSync(helper, [ns, 'true'], { input: all.stdout, encoding: 'utf8' });
      t.equal(r.status, 0, r.stderr || 'kubelet-envvars');
      const kubelet = JSON.parse(r.stdout) as Record<string, string>;
      const items = (JSON.parse(all.stdout) as { items: KubeObject[] }).items;
      const chosen = items.filter((s) => s.metadata.namespace === ns || (s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'));
      const ours = Object.fromEntries(serviceEnv(chosen));
      t.same(ours, kubelet, 'the same names and values as the real kubelet code');
      t.ok(Object.keys(kubelet).some((k) => k.startsWith('KUBERNETES_SERVICE_HOST')), 'kubernetes is among them');
    });
  }

  t.test('Service names: what the real apiserver lets a kubelet see', async (t) => {
    // A Service name is a DNS-1035 label: the real apiserver refuses a dot and a leading digit
    // before any kubelet could see them, which is why PULP_DB_SERVICE refuses them too.
    for (const name of ['db.primary', '9db']) {
      const svc = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }] } });
      const r = kubectl(['apply', '-n', namespaces.pulp, '--dry-run=server', '-f', '-'], svc);
      t.not(r.status, 0, `Service ${name} refused`);
      t.match(r.out, /DNS-1035 label/, r.out.trim());
    }
  });

  t.test('a misspelt field is rejected by --validate=strict (server side)', async (t) => {
    const doc = readFileSync(join(PULP_DIR, 'beat.yaml'), 'utf8');
    t.match(doc, /^ {2}replicas: /m, 'beat.yaml has spec.replicas');
    // Under another name, so that it is a create, not a patch of the pulp-beat applied above.
    const bad = doc.replace(/^ {2}replicas: /m, '  replicaz: ').replace(/^ {2}name: pulp-beat$/m, '  name: pulp-beat-misspelt');
    t.not(bad, doc, 'the misspelt copy');
    const r = kubectl(['apply', '-n', namespaces.pulp, '--dry-run=server', '--validate=strict', '-f', '-'], bad);
    t.not(r.status, 0, 'refused');
    t.match(r.out, /unknown field "spec\.replicaz"/, r.out.trim().slice(0, 300));
  });

  t.test('the namespaces are deleted', async (t) => {
    for (const ns of Object.values(namespaces)) {
      const r = kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=90s']);
      t.equal(r.status, 0, r.status === 0 ? `namespace ${ns} deleted` : r.out);
      t.match(kubectl(['get', 'namespace', ns]).out, /NotFound/, `${ns} is gone`);
    }
  });
}
