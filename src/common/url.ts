// One reading of scheme://user:password@host:port/path for every module that looks inside a
// URL (waits, edits, redaction), so they cannot disagree on where a password ends. The
// userinfo ends at the LAST "@" of the authority: a raw "@", "?" or "#" inside a password
// (which should have been percent-encoded) stays inside the password rather than leaking
// out as the host or the path.
export interface UrlParts {
  scheme: string;
  /** Raw (still percent-encoded) user and password, undefined when absent. */
  user: string | undefined;
  password: string | undefined;
  /** host[:port] as written, "[v6]" kept. */
  hostPort: string;
  /** "/..." as written, or "". */
  path: string;
}

export function splitUrl(url: string): UrlParts | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(url);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const rest = m[2];
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : undefined;
  const afterUserinfo = at >= 0 ? rest.slice(at + 1) : rest;
  const end = afterUserinfo.search(/[/?#]/);
  const hostPort = end >= 0 ? afterUserinfo.slice(0, end) : afterUserinfo;
  const tail = end >= 0 ? afterUserinfo.slice(end) : '';
  const colon = userinfo?.indexOf(':') ?? -1;
  return {
    scheme: m[1].toLowerCase(),
    user: userinfo === undefined ? undefined : colon >= 0 ? userinfo.slice(0, colon) : userinfo,
    password: userinfo !== undefined && colon >= 0 ? userinfo.slice(colon + 1) : undefined,
    hostPort,
    path: tail.startsWith('/') ? tail.replace(/[?#].*$/s, '') : '',
  };
}

/** The URL with its password replaced by `mask`; other text unchanged. */
export function maskUrlPassword(url: string, mask: string): string {
  const p = splitUrl(url);
  if (!p || p.password === undefined) return url;
  const prefix = url.slice(0, url.indexOf('://') + 3);
  return `${prefix}${p.user ?? ''}:${mask}@${url.slice(url.lastIndexOf('@') + 1)}`;
}

/**
 * Every `user:password@` shape in free text with its password replaced by `mask`, whether or
 * not the text around it is a well-formed URL: a value refused for a missing slash
 * ("qpid:/bob:pw@h"), no slash at all ("bob:pw@h"), or a URL inside a longer message. A token
 * is a quoted string or a run without white space; its userinfo ends at its last "@" (as in
 * splitUrl). After "scheme://" the password starts at the userinfo's first ":" (none: no
 * password, nothing to mask). Otherwise at the first ":" after "scheme:/", else at the
 * token's first ":", which masks more than the password in a few shapes
 * ("qpid:bob@h" -> "qpid:********@h"), never less.
 */
export function maskUserinfo(text: string, mask: string): string {
  return text.replace(/"[^"\n]*"|'[^'\n]*'|[^\s"']+/g, (token) => {
    const at = token.lastIndexOf('@');
    if (at < 0) return token;
    const head = token.slice(0, at);
    const scheme = /^[^:]*?[a-z][a-z0-9+.-]*:(\/\/?)/is.exec(head);
    let colon = scheme ? head.indexOf(':', scheme[0].length) : head.indexOf(':');
    if (colon < 0 && scheme?.[1] === '/') colon = head.indexOf(':');
    // No password, or an empty one: nothing to hide.
    if (colon < 0 || colon === head.length - 1) return token;
    return `${token.slice(0, colon + 1)}${mask}${token.slice(at)}`;
  });
}
