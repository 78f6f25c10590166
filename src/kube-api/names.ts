// What Kubernetes takes as a Secret's name (metadata.name): its IsDNS1123Subdomain. Pure; read
// by the settings that name a Secret and by the command that prints Secrets.

const DNS_1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** The rule, for messages. */
export const SECRET_NAME_RULE = "lower-case letters, digits, '-' and '.', at most 253 characters";

export function isSecretName(name: string): boolean {
  return name.length <= 253 && DNS_1123_SUBDOMAIN.test(name);
}
