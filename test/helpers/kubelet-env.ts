// Builds a container's environment the way the kubelet does, from the manifests in a folder,
// so tests can run the agent with exactly what a pod would see:
// - service variables (pkg/kubelet/envvars): for every Service with a cluster IP,
//   NAME_SERVICE_HOST, NAME_SERVICE_PORT (first port), NAME_SERVICE_PORT_<PORTNAME> per named
//   port, and the Docker-link forms NAME_PORT, NAME_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR];
//   headless Services give none; enableServiceLinks: false leaves only `kubernetes`;
// - then the container's envFrom and env in order (value with $(VAR) expansion, configMapKeyRef,
//   secretKeyRef, fieldRef for the pod's name and namespace); container values win;
// - HOSTNAME: the pod's host name (the runtime sets it; a StatefulSet pod is NAME-ORDINAL).
// Volumes are materialised under a temporary "container root": Secret and ConfigMap volumes
// become files, emptyDir an empty directory, and every variable whose value is an absolute
// path is re-rooted there, so NAME_FILE and PULP_SERVER_CONF_TEMPLATE point at real files.
//
// The manifests are read with the `yaml` package, which tap brings along (not a dependency of
// this project yet; see the ship report).
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, posix } from 'node:path';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: KeyRef;
    secretKeyRef?: KeyRef;
    fieldRef?: { fieldPath: string };
  };
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string }; prefix?: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  readinessProbe?: { exec?: { command: string[] } };
  livenessProbe?: { exec?: { command: string[] } };
  startupProbe?: { exec?: { command: string[] } };
}

export interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  emptyDir?: Record<string, unknown>;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  hostname?: string;
  enableServiceLinks?: boolean;
  securityContext?: { fsGroup?: number; runAsUser?: number; runAsGroup?: number };
}

/** The master service every pod sees (default namespace); the agent must ignore it. */
export const KUBERNETES_SERVICE: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'kubernetes', namespace: 'default' },
  spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
};

/**
 * The objects of every manifest in `dir`, in the order `kubectl apply -f dir` creates them
 * (file names sorted, documents in file order). YAML 1.1, as Kubernetes reads it: `0440` is
 * octal there (and decimal 440 in YAML 1.2).
 */
export async function loadManifests(dir: string): Promise<KubeObject[]> {
  const YAML = await import('yaml');
  const out: KubeObject[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of YAML.parseAllDocuments(readFileSync(join(dir, file), 'utf8'), { version: '1.1' })) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as KubeObject | null;
      if (obj) out.push(obj);
    }
  }
  return out;
}

/** The kubelet's name rule (makeEnvVariableName): upper case, "-" to "_", nothing else. */
export function envVarName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

function clusterIP(svc: KubeObject): string | undefined {
  const ip = svc.spec?.clusterIP;
  return typeof ip === 'string' && ip !== '' && ip !== 'None' ? ip : undefined;
}

function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The service variables of pkg/kubelet/envvars FromServices, in its order. */
export function serviceEnv(services: KubeObject[]): [string, string][] {
  const out: [string, string][] = [];
  for (const svc of services) {
    const ip = clusterIP(svc);
    if (ip === undefined) continue;
    const ports = (svc.spec?.ports ?? []) as ServicePort[];
    if (ports.length === 0) continue;
    const prefix = envVarName(svc.metadata.name);
    out.push([`${prefix}_SERVICE_HOST`, ip]);
    out.push([`${prefix}_SERVICE_PORT`, String(ports[0]?.port)]);
    for (const p of ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${envVarName(p.name)}`, String(p.port)]);
    ports.forEach((p, i) => {
      const proto = p.protocol ?? 'TCP';
      const url = `${proto.toLowerCase()}://${joinHostPort(ip, p.port)}`;
      if (i === 0) out.push([`${prefix}_PORT`, url]);
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.push([pp, url], [`${pp}_PROTO`, proto.toLowerCase()], [`${pp}_PORT`, String(p.port)], [`${pp}_ADDR`, ip]);
    });
  }
  return out;
}

/** $(VAR) from what is defined so far; $$(VAR) stays literal; unknown references stay as written. */
export function expand(value: string, defined: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (name === undefined) return '$';
    return defined[name] ?? m;
  });
}

function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} named ${name} in the manifests`);
  return o;
}

function objectData(obj: KubeObject): Record<string, string> {
  const data: Record<string, string> = {};
  // Secret .data is base64; .stringData is plain and wins, as the API server merges it.
  for (const [k, v] of Object.entries(obj.data ?? {})) data[k] = obj.kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
  for (const [k, v] of Object.entries(obj.stringData ?? {})) data[k] = v;
  return data;
}

function keyRef(objects: KubeObject[], kind: 'ConfigMap' | 'Secret', ref: KeyRef): string | undefined {
  const value = objectData(find(objects, kind, ref.name))[ref.key];
  if (value === undefined && !ref.optional) throw new Error(`${kind} ${ref.name} has no key ${ref.key}`);
  return value;
}

export interface Pod {
  name: string;
  namespace: string;
  spec: PodSpec;
}

/** The pod a Deployment or StatefulSet would start (a StatefulSet's ordinal goes into the name). */
export function podOf(workload: KubeObject, ordinal = 0): Pod {
  const template = workload.spec?.template as { spec: PodSpec } | undefined;
  if (!template) throw new Error(`${workload.kind} ${workload.metadata.name} has no pod template`);
  const name = workload.kind === 'StatefulSet' ? `${workload.metadata.name}-${ordinal}` : `${workload.metadata.name}-5d8f7c9b6d-x2x7q`;
  return { name, namespace: workload.metadata.namespace ?? 'default', spec: template.spec };
}

function materialise(objects: KubeObject[], pod: Pod, container: Container, root: string): void {
  for (const m of container.volumeMounts ?? []) {
    if (m.subPath) throw new Error(`${container.name}: subPath mounts are not simulated`);
    const vol = pod.spec.volumes?.find((v) => v.name === m.name);
    if (!vol) throw new Error(`${container.name}: volumeMount ${m.name} names no volume`);
    const dir = join(root, m.mountPath);
    mkdirSync(dir, { recursive: true });
    const source = vol.secret ? { kind: 'Secret' as const, name: vol.secret.secretName, items: vol.secret.items } : vol.configMap ? { kind: 'ConfigMap' as const, ...vol.configMap } : undefined;
    if (!source) {
      if (!vol.emptyDir) throw new Error(`volume ${vol.name}: only secret, configMap and emptyDir are simulated`);
      continue;
    }
    const data = objectData(find(objects, source.kind, source.name));
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path } of items) {
      const value = data[key];
      if (value === undefined) throw new Error(`${source.kind} ${source.name} has no key ${key}`);
      mkdirSync(join(dir, posix.dirname(path)), { recursive: true });
      writeFileSync(join(dir, path), value, { mode: vol.secret ? (vol.secret.defaultMode ?? 0o644) : 0o644 });
    }
  }
}

/**
 * The environment of `containerName` in `pod`, as the kubelet would give it, with its
 * volumes materialised under `root` and absolute-path values re-rooted there.
 * `services` are the Services that exist when the pod starts (plus the master service).
 */
export function containerEnv(objects: KubeObject[], pod: Pod, containerName: string, root: string, services = objects.filter((o) => o.kind === 'Service')): Record<string, string> {
  const container = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === containerName);
  if (!container) throw new Error(`pod ${pod.name} has no container ${containerName}`);
  const links = pod.spec.enableServiceLinks ?? true;
  const svcEnv = Object.fromEntries(serviceEnv([KUBERNETES_SERVICE, ...(links ? services : [])]));
  const env: Record<string, string> = { HOSTNAME: pod.spec.hostname ?? pod.name };
  for (const from of container.envFrom ?? []) {
    const data = from.configMapRef ? objectData(find(objects, 'ConfigMap', from.configMapRef.name)) : from.secretRef ? objectData(find(objects, 'Secret', from.secretRef.name)) : {};
    for (const [k, v] of Object.entries(data)) env[(from.prefix ?? '') + k] = v;
  }
  for (const e of container.env ?? []) {
    let value: string | undefined;
    if (e.value !== undefined) value = expand(e.value, { ...svcEnv, ...env });
    else if (e.valueFrom?.configMapKeyRef) value = keyRef(objects, 'ConfigMap', e.valueFrom.configMapKeyRef);
    else if (e.valueFrom?.secretKeyRef) value = keyRef(objects, 'Secret', e.valueFrom.secretKeyRef);
    else if (e.valueFrom?.fieldRef) {
      const f = e.valueFrom.fieldRef.fieldPath;
      if (f === 'metadata.name') value = pod.name;
      else if (f === 'metadata.namespace') value = pod.namespace;
      else throw new Error(`fieldRef ${f} is not simulated`);
    } else value = '';
    if (value !== undefined) env[e.name] = value;
  }
  materialise(objects, pod, container, root);
  const result: Record<string, string> = { ...svcEnv, ...env };
  for (const [k, v] of Object.entries(result)) if (v.startsWith('/')) result[k] = join(root, v);
  return result;
}
