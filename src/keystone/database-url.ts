// keystone.conf's [database] connection from its parts: the SQLAlchemy URL Keystone opens,
// mysql+pymysql (the original's bare mysql:// needs MySQLdb, which Keystone's requirements do
// not install), the user and password percent-encoded (the original wrote them raw, so a "@"
// or "/" in a password moved the host), an IPv6 host bracketed, the port always written (the
// original dropped it).

export interface DatabaseParts {
  user: string;
  password: string | undefined;
  host: string;
  port: number;
  database: string;
}

/** The SQLAlchemy URL; SQLAlchemy's make_url unquotes user, password and database. */
export function databaseUrl(p: DatabaseParts): string {
  const userinfo = p.password === undefined ? encode(p.user) : `${encode(p.user)}:${encode(p.password)}`;
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  return `mysql+pymysql://${userinfo}@${host}:${p.port}/${encode(p.database)}`;
}

/** Everything but RFC 3986's unreserved characters, so no URL reader can split on it. */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
