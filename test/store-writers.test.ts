// The commands that write trust stores and known_hosts files, run as users run them, several at once:
// every addition survives (FILE.lock), a lock held by a live process is waited for, a dead one's is
// taken over. Servers (TLS with openssl-made certificates, SSH with ssh2) run in this process on
// 127.0.0.1; the CLI runs from dist/ (build first: node scripts/build.mjs).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ssh2 from 'ssh2';
import { UserError } from '../src/errors.js';
import { withFileLock } from '../src/fs-write.js';
import { loadTrustStore } from '../src/trust/store.js';
import { CLI, runCliAsync } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ld-store-writers-'));
const servers: Server[] = [];
after(() => {
  servers.forEach((s) => s.close());
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the test's own. */
function folder(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A self-signed EC certificate for 127.0.0.1 with its key, made by openssl (`req -x509`). */
function selfSigned(cn: string): { cert: string; key: string } {
  const d = folder(`pki-${cn}`);
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
      '-keyout',
      join(d, 'key.pem'),
      '-out',
      join(d, 'cert.pem'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `openssl req: ${r.stderr}`);
  return { cert: readFileSync(join(d, 'cert.pem'), 'utf8'), key: readFileSync(join(d, 'key.pem'), 'utf8') };
}

/** An SSH server that shows `hostKey` and refuses every login (a known-hosts add only needs the key). */
function sshServer(hostKey: string): Server {
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on('authentication', (ctx) => ctx.reject(['publickey']));
    client.on('error', () => undefined);
  });
  return createNetServer((socket) => server.injectSocket(socket));
}

/** An ed25519 host key ssh2 reads back (its generator now and then writes one its parser refuses). */
function hostKey(): string {
  for (let i = 0; ; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) || i >= 20) return pair.private;
  }
}

/** A process that lives until killed: the holder of a lock in the tests. */
function liveProcess(): { pid: number; stop: () => void } {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  return { pid: p.pid!, stop: () => p.kill('SIGKILL') };
}

/** The pid of a process that has ended (a writer killed with -9 leaves it in FILE.lock). */
function deadPid(): number {
  const p = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(p.stdout);
}

const N = 8;

describe('concurrent writers to one file (FILE.lock)', () => {
  const sites: number[] = [];
  const sshPorts: number[] = [];
  before(async () => {
    for (let i = 0; i < N; i++) {
      const { cert, key } = selfSigned(`site-${i}.test`);
      sites.push(await listen(createHttpsServer({ cert, key }, (_q, s) => s.end('ok')) as unknown as Server));
    }
    const key = hostKey();
    for (let i = 0; i < N; i++) sshPorts.push(await listen(sshServer(key)));
  });

  test(`${N} trust add-from-site at once into one PEM store: all ${N} certificates are in it`, async () => {
    const d = folder('trust-concurrent');
    const store = join(d, 'store.pem');
    const runs = await Promise.all(
      sites.map((port) =>
        runCliAsync(['trust', 'add-from-site', `127.0.0.1:${port}`, '--to', store, '--timeout', '20'], {
          timeout: 90_000,
        }),
      ),
    );
    runs.forEach((r, i) => assert.equal(r.status, 0, `run ${i}: ${r.stdout}${r.stderr}`));
    const aliases = (await loadTrustStore({ file: store })).entries.map((e) => e.alias).sort();
    assert.deepEqual(
      aliases,
      sites.map((_, i) => `site_${i}_test`).sort(),
      'an addition was lost: two writers read the same old file',
    );
    assert.deepEqual(readdirSync(d).sort(), ['store.pem'], 'no lock file or temporary file is left behind');
  });

  test(`${N} known-hosts add at once into one file: all ${N} lines are in it`, async () => {
    const d = folder('kh-concurrent');
    const file = join(d, 'known_hosts');
    writeFileSync(file, '# mine\n', { mode: 0o600 });
    const runs = await Promise.all(
      sshPorts.map((port) =>
        runCliAsync(['known-hosts', 'add', `127.0.0.1:${port}`, '--to', file, '--timeout', '20'], {
          timeout: 90_000,
        }),
      ),
    );
    runs.forEach((r, i) => assert.equal(r.status, 0, `run ${i}: ${r.stdout}${r.stderr}`));
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.equal(lines[0], '# mine');
    for (const port of sshPorts)
      assert.ok(
        lines.some((l) => l.startsWith(`[127.0.0.1]:${port} ssh-ed25519 `)),
        `the line of port ${port} was lost`,
      );
    assert.equal(lines.filter((l) => l.startsWith('[127.0.0.1]:')).length, N);
    assert.deepEqual(readdirSync(d), ['known_hosts']);
  });

  test(`${N} known-hosts add at once through two hard-linked names of one file: all ${N} lines are in it`, async () => {
    const d = folder('kh-linked-concurrent');
    const first = join(d, 'known_hosts');
    const second = join(folder('kh-linked-elsewhere'), 'known_hosts');
    writeFileSync(first, '# mine\n', { mode: 0o600 });
    linkSync(first, second);
    const { dev, ino } = statSync(first);
    const runs = await Promise.all(
      sshPorts.map((port, i) =>
        runCliAsync(
          ['known-hosts', 'add', `127.0.0.1:${port}`, '--to', i % 2 ? second : first, '--timeout', '20'],
          { timeout: 90_000 },
        ),
      ),
    );
    runs.forEach((r, i) => assert.equal(r.status, 0, `run ${i}: ${r.stdout}${r.stderr}`));
    const lines = readFileSync(second, 'utf8').split('\n');
    assert.equal(lines[0], '# mine');
    for (const port of sshPorts)
      assert.ok(
        lines.some((l) => l.startsWith(`[127.0.0.1]:${port} ssh-ed25519 `)),
        `the line of port ${port} was lost: the two names were locked apart`,
      );
    assert.equal(lines.filter((l) => l.startsWith('[127.0.0.1]:')).length, N);
    assert.equal(statSync(first).ino, ino, 'written in place');
    assert.ok(!existsSync(join(tmpdir(), `linkdoctor-${dev}-${ino}.lock`)), 'the lock is removed');
    assert.deepEqual(readdirSync(d).sort(), ['known_hosts', 'known_hosts.bak']);
  });

  test('a lock held by a live process is waited for; a dead process’s lock is taken over', async () => {
    const d = folder('kh-held');
    const file = join(d, 'known_hosts');
    const holder = liveProcess();
    writeFileSync(`${file}.lock`, `${holder.pid}\n`);
    // Released by its holder after 1.5 s: the CLI waits for it and then adds its line.
    const release = setTimeout(() => {
      rmSync(`${file}.lock`);
      holder.stop();
    }, 1500);
    const t0 = Date.now();
    const waited = await runCliAsync([
      'known-hosts',
      'add',
      `127.0.0.1:${sshPorts[0]}`,
      '--to',
      file,
      '--timeout',
      '20',
    ]);
    clearTimeout(release);
    holder.stop();
    assert.equal(waited.status, 0, waited.stderr);
    assert.ok(Date.now() - t0 >= 1400, 'it did not wait for the lock');
    assert.match(readFileSync(file, 'utf8'), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);

    const stale = join(d, 'stale.pem');
    writeFileSync(`${stale}.lock`, `${deadPid()}\n`);
    const taken = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${sites[0]}`, '--to', stale]);
    assert.equal(taken.status, 0, taken.stderr);
    assert.equal((await loadTrustStore({ file: stale })).entries.length, 1);
    assert.ok(!existsSync(`${stale}.lock`));
  });

  test('withFileLock: a lock a live process keeps is one sentence naming it after the wait; fn never runs', async () => {
    const d = folder('lock-unit');
    const file = join(d, 'store.pem');
    writeFileSync(file, 'old\n');
    const holder = liveProcess();
    try {
      writeFileSync(`${file}.lock`, `${holder.pid}\n`);
      let ran = false;
      const t0 = Date.now();
      const err = await withFileLock(file, async () => void (ran = true), { waitMs: 600 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof UserError, String(err));
      assert.equal(
        err.message,
        `${file} is locked by process ${holder.pid} (${file}.lock); wait for it to finish, or remove ${file}.lock if no linkdoctor runs; nothing written`,
      );
      assert.ok(Date.now() - t0 >= 550 && Date.now() - t0 < 5000, `waited ${Date.now() - t0} ms`);
      assert.equal(ran, false);
      assert.equal(readFileSync(`${file}.lock`, 'utf8'), `${holder.pid}\n`, 'the holder keeps its lock');
    } finally {
      holder.stop();
    }
    // Its own lock is removed when fn throws too; the error is fn's.
    rmSync(`${file}.lock`);
    await assert.rejects(
      withFileLock(file, async () => {
        assert.equal(readFileSync(`${file}.lock`, 'utf8'), `${process.pid}\n`);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(!existsSync(`${file}.lock`));
  });
});

describe('a store or known_hosts file with several names', () => {
  let site = 0;
  let site2 = 0;
  let sshPort = 0;
  before(async () => {
    const a = selfSigned('linked-a.test');
    const b = selfSigned('linked-b.test');
    site = await listen(createHttpsServer(a, (_q, s) => s.end('ok')) as unknown as Server);
    site2 = await listen(createHttpsServer(b, (_q, s) => s.end('ok')) as unknown as Server);
    sshPort = await listen(sshServer(hostKey()));
  });

  test('a PEM store with two hard links: written in place, both names hold the new certificate, FILE.bak the old content', async () => {
    const d = folder('hard-pem');
    const first = join(d, 'first.pem');
    const second = join(d, 'second.pem');
    const r0 = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${site}`, '--to', first]);
    assert.equal(r0.status, 0, r0.stderr);
    chmodSync(first, 0o640);
    // Root writes another user's store: the owner is kept too (only root can give a file away).
    const root = process.getuid?.() === 0;
    if (root) chownSync(first, 4321, 4322);
    const before = readFileSync(first);
    linkSync(first, second);
    const ino = statSync(first).ino;
    const r = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${site2}`, '--to', second]);
    assert.equal(r.status, 0, r.stderr);
    for (const name of [first, second]) {
      const aliases = (await loadTrustStore({ file: name })).entries.map((e) => e.alias);
      assert.deepEqual(aliases, ['linked_a_test', 'linked_b_test'], `${name} kept the old content`);
    }
    assert.equal(statSync(first).ino, ino, 'the file was replaced, not written in place');
    assert.equal(statSync(first).nlink, 2);
    assert.equal(statSync(first).mode & 0o777, 0o640);
    assert.ok(readFileSync(`${second}.bak`).equals(before), 'FILE.bak holds the former content');
    assert.equal(statSync(`${second}.bak`).mode & 0o777, 0o640);
    if (root) {
      assert.deepEqual([statSync(first).uid, statSync(first).gid], [4321, 4322]);
      assert.deepEqual([statSync(`${second}.bak`).uid, statSync(`${second}.bak`).gid], [4321, 4322]);
    } else console.log('# owner not checked: only root can give a file to another user');
    assert.deepEqual(readdirSync(d).sort(), ['first.pem', 'second.pem', 'second.pem.bak']);
  });

  test('a failed in-place write (the file size limit, EFBIG) puts the former content back; FILE.bak holds it too', async () => {
    const d = folder('hard-efbig');
    const store = join(d, 'big.pem');
    const r0 = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${site}`, '--to', store]);
    assert.equal(r0.status, 0, r0.stderr);
    // Just under bash's `ulimit -f 64` (64 KiB): the backup fits, the store with one more certificate does not.
    const text = readFileSync(store, 'utf8');
    const original = `${text}${'#'.repeat(65_300 - text.length - 1)}\n`;
    writeFileSync(store, original);
    linkSync(store, join(d, 'other-name.pem'));
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const p = spawn(
        'bash',
        [
          '-c',
          'ulimit -f 64; exec "$0" "$@"',
          process.execPath,
          CLI,
          'trust',
          'add-from-site',
          `127.0.0.1:${site2}`,
          '--to',
          store,
        ],
        { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      p.stderr.on('data', (b: Buffer) => (stderr += b));
      p.once('close', (status) => resolve({ status, stderr }));
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      `linkdoctor: cannot write ${store}: file too large (EFBIG); the file is unchanged (its former content is also in ${store}.bak)\n`,
    );
    assert.equal(readFileSync(store, 'utf8'), original);
    assert.equal(readFileSync(join(d, 'other-name.pem'), 'utf8'), original);
    assert.equal(readFileSync(`${store}.bak`, 'utf8'), original);
  });

  test('a hard-linked file whose backup cannot be made (FILE.bak is a folder) is left alone: one sentence, exit 2', async () => {
    const d = folder('hard-nobak');
    const file = join(d, 'known_hosts');
    writeFileSync(file, '# mine\n');
    linkSync(file, join(d, 'second'));
    mkdirSync(`${file}.bak`);
    const r = await runCliAsync(['known-hosts', 'add', `127.0.0.1:${sshPort}`, '--to', file]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^linkdoctor: cannot write .*known_hosts: it has 2 names \(hard links\), so it is written in place, and backing it up to .*known_hosts\.bak failed: .*\(EISDIR\); nothing written\n$/,
    );
    assert.equal(readFileSync(file, 'utf8'), '# mine\n');
    assert.deepEqual(readdirSync(d).sort(), ['known_hosts', 'known_hosts.bak', 'second']);
  });

  test(
    'a JKS shared by two paths (keytool-made): an addition through one name is seen by keytool through the other',
    { skip: spawnSync('keytool', ['-help']).error ? 'keytool is not installed' : false },
    async () => {
      const d = folder('hard-jks');
      const pem = join(d, 'a.pem');
      const r0 = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${site}`, '--to', pem]);
      assert.equal(r0.status, 0, r0.stderr);
      const jks = join(d, 'tenant.jks');
      const pw = 'changeit-jks';
      const k = spawnSync('keytool', [
        '-importcert',
        '-noprompt',
        '-storetype',
        'JKS',
        '-keystore',
        jks,
        '-storepass',
        pw,
        '-alias',
        'first',
        '-file',
        pem,
      ]);
      assert.equal(k.status, 0, String(k.stderr));
      const shared = join(d, 'shared.jks');
      linkSync(jks, shared);
      const r = await runCliAsync(
        ['trust', 'add-from-site', `127.0.0.1:${site2}`, '--to', jks, '--password-env', 'JKS_PW'],
        { env: { JKS_PW: pw } },
      );
      assert.equal(r.status, 0, r.stderr);
      const listing = spawnSync('keytool', ['-list', '-keystore', shared, '-storepass', pw], {
        encoding: 'utf8',
      });
      assert.equal(listing.status, 0, listing.stderr);
      assert.match(listing.stdout, /linked_b_test, .*trustedCertEntry/);
      assert.match(listing.stdout, /first, .*trustedCertEntry/);
    },
  );

  test('known_hosts: a hard link is written in place; a symlink into ~/.ssh is written through to its target', async () => {
    const d = folder('kh-links');
    const real = join(d, 'known_hosts');
    writeFileSync(real, '# mine\n', { mode: 0o600 });
    const other = join(d, 'known_hosts.shared');
    linkSync(real, other);
    const r = await runCliAsync(['known-hosts', 'add', `127.0.0.1:${sshPort}`, '--to', other]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(real, 'utf8'), /^# mine\n\[127\.0\.0\.1\]:\d+ ssh-ed25519 \S+\n$/);
    assert.equal(readFileSync(`${other}.bak`, 'utf8'), '# mine\n');
    assert.equal(statSync(real).mode & 0o777, 0o600);

    // ~/.ssh/known_hosts -> a file kept elsewhere (dotfiles): the link stays, the target gets the line.
    const ssh = folder('home/.ssh');
    const dotfiles = join(folder('dotfiles'), 'known_hosts');
    writeFileSync(dotfiles, '', { mode: 0o644 });
    symlinkSync(dotfiles, join(ssh, 'known_hosts'));
    const l = await runCliAsync([
      'known-hosts',
      'add',
      `127.0.0.1:${sshPort}`,
      '--to',
      join(ssh, 'known_hosts'),
    ]);
    assert.equal(l.status, 0, l.stderr);
    assert.ok(lstatSync(join(ssh, 'known_hosts')).isSymbolicLink());
    assert.match(readFileSync(dotfiles, 'utf8'), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
    assert.equal(statSync(dotfiles).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(ssh), ['known_hosts'], 'no lock or temporary file beside the link');
  });
});

/** The CLI run as `nobody` (runuser), as a user without rights to root's files runs it. */
function runCliAsNobody(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const asNobody =
  process.getuid?.() !== 0
    ? 'needs root, to make files of root and run the CLI as nobody'
    : spawnSync('runuser', ['--help']).error
      ? 'runuser is not installed'
      : spawnSync('id', ['-u', 'nobody']).status !== 0
        ? 'there is no user nobody'
        : false;
if (asNobody) console.log(`# skipped: a file the caller may not write (${asNobody})`);

describe('a store or known_hosts file the caller may not write', { skip: asNobody }, () => {
  test('read-only, another user’s, or write-protected: one sentence, exit 2, the file unchanged (bytes, mode, owner)', async () => {
    const { cert, key } = selfSigned('not-yours.test');
    const site = await listen(createHttpsServer({ cert, key }, (_q, s) => s.end('ok')) as unknown as Server);
    const sshPort = await listen(sshServer(hostKey()));
    const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout);
    // A shared folder anyone may write (no sticky bit): a rename could replace root's files in it.
    chmodSync(dir, 0o755);
    const d = folder('not-yours');
    chmodSync(d, 0o777);
    const pem = join(d, 'ro.pem');
    // Another certificate than the site's: a store that already trusts the site needs no write.
    writeFileSync(pem, selfSigned('other.test').cert, { mode: 0o444 });
    const kh644 = join(d, 'kh644');
    writeFileSync(kh644, '# root\n', { mode: 0o644 });
    const kh666 = join(d, 'kh666');
    writeFileSync(kh666, '# root, writable by all\n');
    chmodSync(kh666, 0o666);
    const own444 = join(d, 'own444');
    writeFileSync(own444, '# nobody, write-protected\n', { mode: 0o444 });
    chownSync(own444, nobody, 0);
    const root444 = join(d, 'root444');
    writeFileSync(root444, '# root, write-protected\n', { mode: 0o444 });
    const files = [pem, kh644, kh666, own444, root444];
    const before = files.map((f) => ({ bytes: readFileSync(f), st: statSync(f) }));

    const kh = (file: string) => ['known-hosts', 'add', `127.0.0.1:${sshPort}`, '--to', file];
    const runs = await Promise.all([
      runCliAsNobody(['trust', 'add-from-site', `127.0.0.1:${site}`, '--to', pem]),
      runCliAsNobody(kh(kh644)),
      runCliAsNobody(kh(kh666)),
      runCliAsNobody(kh(own444)),
      // Root passes access(); a file without a write bit for its owner is still left alone.
      runCliAsync(kh(root444)),
    ]);
    const said = [
      `${pem} is not writable by you (mode 0444, owner root): nothing written`,
      `${kh644} is not writable by you (mode 0644, owner root): nothing written`,
      `${kh666} belongs to root, not you (mode 0666, owner root): writing it would replace it with a file of yours; nothing written`,
      `${own444} is not writable by you (mode 0444, owner nobody): nothing written`,
      `${root444} is not writable by you (mode 0444, owner root): nothing written`,
    ];
    runs.forEach((r, i) => {
      assert.equal(r.status, 2, `${files[i]}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr, `linkdoctor: ${said[i]}\n`);
    });
    files.forEach((f, i) => {
      const st = statSync(f);
      assert.ok(readFileSync(f).equals(before[i]!.bytes), `${f} was written`);
      assert.deepEqual(
        [st.ino, st.mode, st.uid, st.gid],
        [before[i]!.st.ino, before[i]!.st.mode, before[i]!.st.uid, before[i]!.st.gid],
        `${f} was replaced or changed hands`,
      );
    });
    assert.deepEqual(
      readdirSync(d).sort(),
      ['kh644', 'kh666', 'own444', 'ro.pem', 'root444'],
      'no lock, backup or temporary file',
    );
  });
  test('a stale lock of another user in a sticky temporary folder: one sentence naming it, exit 2, no spinning', async () => {
    const sshPort = await listen(sshServer(hostKey()));
    const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout);
    chmodSync(dir, 0o755);
    const d = folder('nobody-linked');
    chmodSync(d, 0o777);
    const file = join(d, 'known_hosts');
    writeFileSync(file, '# nobody\n', { mode: 0o644 });
    linkSync(file, join(d, 'other'));
    chownSync(file, nobody, 0);
    const tmp = folder('sticky-tmp');
    chmodSync(tmp, 0o1777);
    const { dev, ino } = statSync(file);
    // Left by root's writer killed with -9 (or planted): nobody may not rename it in a sticky folder.
    const lock = join(tmp, `linkdoctor-${dev}-${ino}.lock`);
    writeFileSync(lock, `${deadPid()}\n`);
    const t0 = Date.now();
    const r = await runCliAsNobody(['known-hosts', 'add', `127.0.0.1:${sshPort}`, '--to', file], {
      TMPDIR: tmp,
    });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^linkdoctor: cannot lock .*known_hosts: .*\.lock was left by process \d+, which no longer runs, and you may not remove it \(operation not permitted \(EPERM\)\); remove it and run this again; nothing written\n$/,
    );
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.equal(readFileSync(file, 'utf8'), '# nobody\n');
  });
});
