// src/conf-file/write.ts, link-target.ts, in-place.ts and xattrs.ts on hard targets, through
// `pulp-entrypoint configure`.
// Writing server.conf in the odd places real containers put it, through `pulp-entrypoint
// configure`: behind a symlink (kept, its target edited, as augtool does), with an ACL and
// other extended attributes (kept), and bind-mounted as a single file from a full disk (the
// in-place write leaves the old bytes whole). Mount tests run in `unshare --mount` on small tmpfs.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, cli } from '../helpers/cli.ts';
import { DEFAULT_CONF, confCopy, tempDir } from '../helpers/temp.ts';
import { requireRoot, unavailable } from '../helpers/unavailable.ts';

/** `count` new keys [server] pad1.. of `value` (a value may be 1024 characters at most). */
function padding(count: number, value: string): NodeJS.ProcessEnv {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`PULP_CONF__SERVER__PAD${i + 1}`, value]));
}

t.test('a symlinked server.conf: the target is edited, the link stays (chains and relative links too)', async (t) => {
  const dir = tempDir(t, 'pe-hard-');
  mkdirSync(join(dir, 'real'));
  mkdirSync(join(dir, 'etc'));
  const real = join(dir, 'real', 'server.conf');
  copyFileSync(DEFAULT_CONF, real);
  symlinkSync('../real/server.conf', join(dir, 'etc', 'middle.conf'));
  symlinkSync('middle.conf', join(dir, 'etc', 'server.conf'));
  const link = join(dir, 'etc', 'server.conf');
  const r = cli(['configure'], { PULP_SERVER_CONF: link, DB_SERVICE_HOST: 'linked' });
  t.equal(r.status, 0, r.stderr);
  t.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
  t.equal(readlinkSync(link), 'middle.conf', 'pointing where it did');
  t.ok(lstatSync(join(dir, 'etc', 'middle.conf')).isSymbolicLink());
  t.match(readFileSync(real, 'utf8'), /\nseeds: linked:27017\n/, 'the target got the edit');
  t.match(r.stdout, new RegExp(`a link to ${real.replace(/[.]/g, '\\.')}, kept\\): written`));
  t.same(readdirSync(join(dir, 'etc')).sort(), ['middle.conf', 'server.conf'], 'no file beside the link');
  t.same(readdirSync(join(dir, 'real')), ['server.conf'], 'no temporary file left');

  // The same with the real augtool (the original's tool), when installed: it keeps the link too.
  if (spawnSync('augtool', ['--version']).status === 0) {
    const root = join(dir, 'aug');
    mkdirSync(join(root, 'etc', 'pulp'), { recursive: true });
    mkdirSync(join(root, 'real'));
    copyFileSync(DEFAULT_CONF, join(root, 'real', 'server.conf'));
    symlinkSync('../../real/server.conf', join(root, 'etc', 'pulp', 'server.conf'));
    const script = ['set /augeas/load/Pulp/lens Pulp.lns', 'set /augeas/load/Pulp/incl /etc/pulp/*.conf', 'load', "set /files/etc/pulp/server.conf/target[. = 'database']/seeds aug:27017", 'save', ''].join('\n');
    const aug = spawnSync('augtool', ['-r', root, '-I', join(ROOT, 'test', 'ini', 'augtool'), '-A'], { input: script, encoding: 'utf8' });
    t.match(aug.stdout, /Saved 1 file/, aug.stderr);
    t.ok(lstatSync(join(root, 'etc', 'pulp', 'server.conf')).isSymbolicLink(), 'augtool keeps the link as well');
    t.match(readFileSync(join(root, 'real', 'server.conf'), 'utf8'), /\nseeds=aug:27017\n/, 'and edits its target');
  } else unavailable(t, 'augtool is missing (augeas-tools, installed by test/setup-machine.sh)');

  // A dangling link with a template: the file is created where the link points.
  const dangling = join(dir, 'etc', 'new.conf');
  symlinkSync('../real/created.conf', dangling);
  const c = cli(['configure'], { PULP_SERVER_CONF: dangling, PULP_SERVER_CONF_TEMPLATE: DEFAULT_CONF, DB_SERVICE_HOST: 'fresh' });
  t.equal(c.status, 0, c.stderr);
  t.ok(lstatSync(dangling).isSymbolicLink());
  t.match(readFileSync(join(dir, 'real', 'created.conf'), 'utf8'), /\nseeds: fresh:27017\n/);

  // A loop is one line and 73, not a hang.
  symlinkSync('loop-b', join(dir, 'etc', 'loop-a'));
  symlinkSync('loop-a', join(dir, 'etc', 'loop-b'));
  const loop = cli(['configure'], { PULP_SERVER_CONF: join(dir, 'etc', 'loop-a'), DB_SERVICE_HOST: 'x' });
  t.equal(loop.status, 73, loop.stderr);
  t.equal(loop.stderr.trim().split('\n').length, 1, loop.stderr);
});

function getfattr(file: string): string | undefined {
  const r = spawnSync('getfattr', ['--absolute-names', '--dump', '--match=-', '--encoding=hex', '--', file], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter((l) => !l.startsWith('#') && l !== '').sort().join('\n') : undefined;
}

t.test('an ACL and user attributes survive the write (attr installed), which still goes by rename', async (t) => {
  if (getfattr(DEFAULT_CONF) === undefined) return unavailable(t, 'getfattr is missing (Debian package attr, installed by test/setup-machine.sh)');
  const dir = tempDir(t, 'pe-hard-');
  const conf = confCopy(dir);
  // An access ACL that lets uid 48 (apache) read the file, with mode 0640 (mask r--), and a user attribute.
  const script = [
    'import os, struct, sys',
    'ANY = 0xffffffff',
    'ents = [(1, 6, ANY), (2, 4, 48), (4, 4, ANY), (0x10, 4, ANY), (0x20, 0, ANY)]',
    "os.setxattr(sys.argv[1], 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in ents))",
    "os.setxattr(sys.argv[1], 'user.origin', b'configmap v3')",
  ].join('\n');
  const py = spawnSync('python3', ['-c', script, conf], { encoding: 'utf8' });
  if (py.status !== 0) return unavailable(t, `an ACL cannot be set with python3 here (${py.stderr.trim()})`);
  const before = getfattr(conf);
  t.match(before, /system\.posix_acl_access=0x/);
  const inode = lstatSync(conf).ino;
  const r = cli(['configure'], { PULP_SERVER_CONF: conf, DB_SERVICE_HOST: 'acl' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /server\.conf: written \(/, 'by rename, not in place');
  t.not(lstatSync(conf).ino, inode, 'a new inode (the rename)');
  t.match(readFileSync(conf, 'utf8'), /\nseeds: acl:27017\n/);
  t.equal(getfattr(conf), before, 'the same attributes, the ACL included');
  t.equal(lstatSync(conf).mode & 0o777, 0o640, 'mode as it was');
});

t.test('attributes that cannot be copied to a new file: written in place, which keeps them, and a warning says so', async (t) => {
  if (getfattr(DEFAULT_CONF) === undefined) return unavailable(t, 'getfattr is missing (Debian package attr, installed by test/setup-machine.sh)');
  if (!requireRoot(t, 'unshare --mount')) return;
  const dir = tempDir(t, 'pe-hard-');
  const conf = confCopy(dir);
  const py = spawnSync('python3', ['-c', "import os, sys; os.setxattr(sys.argv[1], 'user.origin', b'configmap v3')", conf], { encoding: 'utf8' });
  if (py.status !== 0) return unavailable(t, `user xattrs cannot be set here (${py.stderr.trim()})`);
  const before = getfattr(conf);
  const inode = lstatSync(conf).ino;
  // setfattr hidden behind /dev/null (not a regular file, so not a trusted helper): getfattr sees the attribute, nothing can copy it.
  const script = ['set -e', 'for f in /usr/bin/setfattr /bin/setfattr; do [ -e "$f" ] && mount --bind /dev/null "$f" || true; done', `exec "${process.execPath}" "${BIN}" configure`].join('\n');
  const r = inMountNs(script, dir, { PULP_SERVER_CONF: conf, DB_SERVICE_HOST: 'noset' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /warn: .*server\.conf: written in place \(its extended attributes \(user\.origin\) could not be copied to a new file \(setfattr \(attr\) not found at \/usr\/bin\/setfattr or \/bin\/setfattr\); not crash-safe\)/);
  t.equal(lstatSync(conf).ino, inode, 'the same inode');
  t.equal(getfattr(conf), before, 'the attribute kept');
  t.match(readFileSync(conf, 'utf8'), /\nseeds: noset:27017\n/);
});


/** Runs `script` (sh) in a new mount namespace with $0 = the scratch dir; null when unshare cannot. */
function inMountNs(script: string, dir: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('unshare', ['--mount', 'sh', '-c', script, dir], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
}

t.test('a bind-mounted single file on a full disk: 73, and the old bytes stay whole', async (t) => {
  if (!requireRoot(t, 'unshare --mount with a tmpfs')) return;
  const dir = tempDir(t, 'pe-hard-');
  const original = join(dir, 'original.conf');
  copyFileSync(DEFAULT_CONF, original);
  const before = readFileSync(original);
  // The file lives on a 256 KiB tmpfs that is then filled; it is bind-mounted over
  // etc/server.conf, whose directory has room for the temporary file, so the rename is what
  // fails (EBUSY) and the in-place write meets the full disk when the text grows by 16 KiB.
  const script = [
    'set -e',
    'D=$0',
    'mkdir -p "$D/full" "$D/etc"',
    'mount -t tmpfs -o size=256k tmpfs "$D/full"',
    'cp "$D/original.conf" "$D/full/server.conf"',
    'touch "$D/etc/server.conf"',
    'mount --bind "$D/full/server.conf" "$D/etc/server.conf"',
    'dd if=/dev/zero of="$D/full/filler" bs=4096 2>/dev/null || true',
    'set +e',
    `"${process.execPath}" "${BIN}" configure`,
    'echo "exit=$?"',
    'cp "$D/full/server.conf" "$D/after.conf"',
  ].join('\n');
  const r = inMountNs(script, dir, { PULP_SERVER_CONF: join(dir, 'etc', 'server.conf'), DB_SERVICE_HOST: 'bigger', ...padding(16, 'x'.repeat(1000)) });
  if (!/exit=/.test(r.stdout)) return unavailable(t, `unshare --mount with a tmpfs does not work here (${r.stderr.trim()})`);
  t.match(r.stdout, /exit=73/, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => /error:/.test(l));
  t.equal(errors.length, 1, r.stderr);
  t.match(errors[0], /cannot write in place: .*(no space|ENOSPC).*the file is unchanged/i);
  t.ok(readFileSync(join(dir, 'after.conf')).equals(before), 'the old bytes, whole and unchanged');
});

t.test('in place on a disk with room: the new text, longer or shorter, and nothing else', async (t) => {
  if (!requireRoot(t, 'unshare --mount')) return;
  const dir = tempDir(t, 'pe-hard-');
  copyFileSync(DEFAULT_CONF, join(dir, 'original.conf'));
  const script = [
    'set -e',
    'D=$0',
    'mkdir -p "$D/etc"',
    'touch "$D/etc/server.conf"',
    'mount --bind "$D/original.conf" "$D/etc/server.conf"',
    'set +e',
    `"${process.execPath}" "${BIN}" configure >/dev/null; echo "grow=$?"`,
  ].join('\n');
  const env = { PULP_SERVER_CONF: join(dir, 'etc', 'server.conf'), DB_SERVICE_HOST: 'inplace' };
  const r = inMountNs(script, dir, { ...env, ...padding(9, 'y'.repeat(1000)) });
  if (!/grow=/.test(r.stdout)) return unavailable(t, `unshare --mount (${r.stderr.trim()})`);
  t.match(r.stdout, /grow=0/, r.stderr);
  t.match(r.stderr, /written in place/);
  const grown = readFileSync(join(dir, 'original.conf'), 'utf8');
  t.match(grown, /\npad9: y{1000}\n/);
  // Shrinking back: the keys stay, with short values.
  const s2 = inMountNs(script, dir, { ...env, ...padding(9, 'short') });
  t.match(s2.stdout, /grow=0/, s2.stderr);
  const shrunk = readFileSync(join(dir, 'original.conf'), 'utf8');
  t.equal(shrunk, grown.replace(/y{1000}/g, 'short'), 'exactly the new text: no old tail left behind');
});
