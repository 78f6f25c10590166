// A manifest file for dependencies outside the cluster, as docs/kubernetes.md ("MongoDB and RabbitMQ
// elsewhere") says to adapt it: each Service named in `ports` loses its selector and gets an
// EndpointSlice naming `ip` and that port (under the Service's first port name); documents of
// the kinds in `drop` go (the database's own StatefulSet, say); the rest stays as it is.
// Used by test/k8s/*-pods.test.ts and scripts/bench/k8s.mjs.

/**
 * @param {string} doc the manifest file's text
 * @param {string} ip
 * @param {Record<string, number>} ports Service name -> port
 * @param {string[]} [drop] kinds to leave out
 * @returns {string}
 */
export function outsideServices(doc, ip, ports, drop = []) {
  return doc.split(/^---$/m).flatMap((d) => {
    const kind = /^kind: *(\S+)/m.exec(d)?.[1];
    const name = /^metadata:\n(?:[ \t]+.*\n)*?[ \t]+name: *(\S+)/m.exec(d)?.[1];
    if (kind && drop.includes(kind)) return [];
    if (kind !== 'Service' || !name || ports[name] === undefined) return [d];
    const portName = /^ {4}- name: (\S+)$/m.exec(d)?.[1];
    return [`${d.replace(/^ {2}selector:\n(?: {4}.*\n)+/m, '')}---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-outside
  labels:
    kubernetes.io/service-name: ${name}
addressType: IPv4
ports:
  - ${portName ? `name: ${portName}\n    ` : ''}port: ${ports[name]}
    protocol: TCP
endpoints:
  - addresses: ["${ip}"]
`];
  }).join('---');
}
