// The system users the services run as (apache for Pulp, keystone for Keystone), made by the
// test that needs one, as the services' packages make them, and left in place like theirs.
import { execFileSync } from 'node:child_process';

/** Makes system user `name` (and its group) unless it exists; parallel test files may race. */
export function ensureServiceUser(name: string, home: string): void {
  for (let i = 0; ; i++) {
    try {
      execFileSync('id', [name], { stdio: 'ignore' });
      return;
    } catch {
      // not there yet
    }
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', '--user-group', name], { stdio: 'pipe' });
    } catch (err) {
      // Another test file's useradd holds the lock on /etc/passwd, or made the user first.
      if (i >= 20) throw err;
      execFileSync('sleep', ['0.2']);
    }
  }
}
