// The original image edited server.conf with augtool paths; naming each edit by the same
// path keeps its documentation and habits valid (previews show it). Only formatted, never
// parsed: the agent's edits come from the environment, not from paths.

/** The augtool path of one key: /files<file>/target[. = '<section>']/<key>. */
export function formatAugeasPath(file: string, section: string, key: string): string {
  const quoted = section.includes("'") ? `"${section}"` : `'${section}'`;
  return `/files${file}/target[. = ${quoted}]/${key}`;
}
