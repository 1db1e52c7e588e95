// Issue 9, files: writes that cannot be turned against the user. A symlinked store (a JDK's cacerts)
// is written through; a symlink planted at a guessable temp name is never followed; a failed write
// leaves no temp file; known-hosts add refuses a file that is not known_hosts; lab and demo remove
// their temp folder (client keys) on SIGINT, SIGTERM and SIGHUP. The lab's servers run in this
// process on 127.0.0.1; the CLI runs from dist/ (build first: node scripts/build.mjs).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserError } from '../src/errors.js';
import { writeFileAtomic } from '../src/fs-write.js';
import { loadKb } from '../src/kb/load.js';
import { startLab, type Lab } from '../src/lab/index.js';
import { fetchServerChain } from '../src/trust/fetch.js';
import { loadTrustStore } from '../src/trust/store.js';
import { addTrustedCerts } from '../src/trust/write.js';
import { CLI, ROOT, runCliAsync } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ld-harden-files-'));
let lab: Lab;
/** The lab's healthy TLS server, as host:port, and the certificate add-from-site adds from it. */
let site = '';
let siteTop = '';
/** The lab's SSH server that the lab known_hosts has no line for. */
let sshTarget = '';

before(async () => {
  lab = await startLab();
  const healthy = lab.scenarios.find((s) => s.name === 'healthy')!;
  site = `127.0.0.1:${healthy.port}`;
  const chain = (await fetchServerChain('127.0.0.1', healthy.port, { timeoutMs: 5000 })).chain;
  siteTop = chain[chain.length - 1]!.fingerprint256;
  sshTarget = `127.0.0.1:${lab.scenarios.find((s) => s.name === 'ssh-host-key-unknown')!.port}`;
});
after(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the test's own. */
function folder(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Files in a folder that look like temporary files of a write. */
const tmpFiles = (d: string) => readdirSync(d).filter((n) => /\.tmp$/.test(n));

/** The pid of a process that has ended: the name a kill -9 mid-write leaves in a stale temp file. */
function deadPid(): number {
  const p = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(p.stdout);
}

describe('trust stores behind a symlink are written through', () => {
  test('trust add-from-site --to LINK (PEM): the link stays a link, its target holds the new certificate', async () => {
    const d = folder('pem-link');
    const target = join(d, 'real-bundle.pem');
    // A root that does not anchor the site's chain: add-from-site writes nothing to a store that does.
    writeFileSync(target, `${rootCertificates[0]!}\n`, { mode: 0o640 });
    const link = join(d, 'bundle.pem');
    symlinkSync('real-bundle.pem', link);
    const r = await runCliAsync(['trust', 'add-from-site', site, '--to', link, '--timeout', '5']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\+ added /);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced by a regular file');
    assert.equal(readlinkSync(link), 'real-bundle.pem');
    const store = await loadTrustStore({ file: target });
    assert.ok(
      store.entries.some((e) => e.cert.fingerprint256 === siteTop),
      'the target lacks the certificate',
    );
    assert.equal(store.entries.length, 2);
    assert.equal(statSync(target).mode & 0o777, 0o640, 'the mode of the original');
    assert.deepEqual(tmpFiles(d), []);
  });

  const cacerts = '/etc/ssl/certs/java/cacerts';
  test(
    "a JDK's cacerts: lib/security/cacerts -> /etc/ssl/certs/java/cacerts (a copy), written through",
    { skip: !existsSync(cacerts) && `${cacerts} is not on this machine` },
    async () => {
      const d = folder('jdk');
      mkdirSync(join(d, 'etc'));
      mkdirSync(join(d, 'jdk', 'lib', 'security'), { recursive: true });
      const target = join(d, 'etc', 'cacerts');
      copyFileSync(cacerts, target);
      const link = join(d, 'jdk', 'lib', 'security', 'cacerts');
      symlinkSync(target, link);
      const before = (await loadTrustStore({ file: target, password: 'changeit' })).entries.length;
      const r = await runCliAsync(
        ['trust', 'add-from-site', site, '--to', link, '--password-env', 'STORE_PW', '--timeout', '5'],
        { env: { STORE_PW: 'changeit' } },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.ok(lstatSync(link).isSymbolicLink());
      const after = await loadTrustStore({ file: target, password: 'changeit' });
      assert.equal(after.entries.length, before + 1);
      assert.ok(after.entries.some((e) => e.cert.fingerprint256 === siteTop));
      assert.deepEqual([...tmpFiles(join(d, 'etc')), ...tmpFiles(join(d, 'jdk', 'lib', 'security'))], []);
    },
  );

  test('a broken link and a path that is no regular file are refused with one sentence', async () => {
    const d = folder('refused');
    const broken = join(d, 'broken.pem');
    symlinkSync(join(d, 'nowhere', 'x.pem'), broken);
    const r = await runCliAsync(['trust', 'add-from-site', site, '--to', broken, '--timeout', '5']);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^linkdoctor: .*broken\.pem is a symbolic link to a file that does not exist .*; nothing written\n$/,
    );
    assert.ok(!existsSync(join(d, 'nowhere')));
    const fifo = spawnSync('mkfifo', [join(d, 'fifo.pem')]);
    if (fifo.status === 0) {
      const f = await runCliAsync(
        ['trust', 'add-from-site', site, '--to', join(d, 'fifo.pem'), '--timeout', '5'],
        {
          timeout: 20_000,
        },
      );
      assert.equal(f.status, 2);
      assert.match(f.stderr, /^linkdoctor: .*fifo\.pem is a FIFO \(named pipe\), not a trust store\n$/);
    }
  });
});

describe('the temporary file', () => {
  test('a symlink planted at the old guessable temp name (FILE.linkdoctor-PID.tmp) is not followed', async () => {
    const d = folder('planted');
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'another user owns this\n');
    const store = join(d, 'store.pem');
    writeFileSync(store, readFileSync(lab.trustFile));
    symlinkSync(victim, `${store}.linkdoctor-${process.pid}.tmp`);
    const { chain } = await fetchServerChain('127.0.0.1', Number(site.split(':')[1]), { timeoutMs: 5000 });
    const r = await addTrustedCerts(store, [chain[chain.length - 1]!]);
    assert.equal(r.results[0]!.status, 'added');
    assert.equal(readFileSync(victim, 'utf8'), 'another user owns this\n');
    assert.equal((await loadTrustStore({ file: store })).entries.length, 2);
    assert.ok(lstatSync(store).isFile());
  });

  test('the knowledge-base cache write does not follow a symlink planted at CACHE.PID.tmp', async () => {
    const d = folder('kb-cache');
    const kbDir = join(d, 'kb');
    mkdirSync(kbDir);
    copyFileSync(join(ROOT, 'kb', 'connection-reset.yaml'), join(kbDir, 'connection-reset.yaml'));
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'keep me\n');
    const cacheHome = join(d, 'cache');
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = cacheHome;
    try {
      // The cache file's name as src/kb/load.ts derives it from the folder.
      const key = kbDir
        .replace(/[^\w.-]+/g, '_')
        .replace(/^_/, '')
        .slice(-120);
      const cache = join(cacheHome, 'linkdoctor', `kb-${key}.json`);
      mkdirSync(join(cacheHome, 'linkdoctor'), { recursive: true });
      symlinkSync(victim, `${cache}.${process.pid}.tmp`);
      const kb = await loadKb({ dirs: [kbDir], builtin: false });
      assert.equal(kb.entries.length, 1);
      assert.equal(readFileSync(victim, 'utf8'), 'keep me\n');
      assert.match(readFileSync(cache, 'utf8'), /"fingerprint"/);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });

  test('a failed write (the file size limit, EFBIG) leaves no temp file and the store unchanged', async () => {
    const d = folder('efbig');
    const store = join(d, 'big.pem');
    // 100 KB, above the 64 KB limit below: reading is fine, writing the new copy fails.
    // A root that does not anchor the site's chain, so that there is something to write.
    const original = `${rootCertificates[0]!}\n${'# padding\n'.repeat(10_000)}`;
    writeFileSync(store, original);
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
          site,
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
    assert.match(r.stderr, /^linkdoctor: cannot write .*big\.pem: .*\(EFBIG\); the file is unchanged\n$/);
    assert.equal(readFileSync(store, 'utf8'), original);
    assert.deepEqual(tmpFiles(d), []);
  });

  test('a temp file left by a killed run is removed by the next write; a planted symlink of that name is not', async () => {
    const d = folder('stale');
    const file = join(d, 'store.pem');
    writeFileSync(file, 'old\n');
    const pid = deadPid();
    const stale = join(d, `.store.pem.linkdoctor-${pid}-0123456789abcdef.tmp`);
    writeFileSync(stale, 'half a keystore');
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'keep me\n');
    const planted = join(d, `.store.pem.linkdoctor-${pid}-fedcba9876543210.tmp`);
    symlinkSync(victim, planted);
    await writeFileAtomic(file, 'new\n');
    assert.equal(readFileSync(file, 'utf8'), 'new\n');
    assert.ok(!existsSync(stale), 'the stale temp file is still there');
    assert.ok(lstatSync(planted).isSymbolicLink());
    assert.equal(readFileSync(victim, 'utf8'), 'keep me\n');
  });

  test('writeFileAtomic: a new file gets the mode asked for; an error is one sentence and no temp file', async () => {
    const d = folder('unit');
    const file = join(d, 'new.pem');
    await writeFileAtomic(file, 'x\n', { mode: 0o600 });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // A folder is refused before any temp file is made.
    const target = join(d, 'sub');
    mkdirSync(target);
    await assert.rejects(
      writeFileAtomic(target, 'x'),
      (e: unknown) => e instanceof UserError && /not a regular file/.test(e.message),
    );
    assert.deepEqual(tmpFiles(d), []);
  });
});

describe('known-hosts add --to', () => {
  const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

  test('refuses a PEM private key and leaves it unchanged (PKCS#8, and OpenSSH when ssh-keygen is here)', async () => {
    const d = folder('kh-key');
    const keys: string[] = [join(d, 'id_pkcs8')];
    writeFileSync(keys[0]!, pkcs8, { mode: 0o600 });
    const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id_ed25519')]);
    if (keygen.status === 0) keys.push(join(d, 'id_ed25519'));
    for (const key of keys) {
      const before = readFileSync(key);
      const r = await runCliAsync(['known-hosts', 'add', sshTarget, '--to', key, '--timeout', '5']);
      assert.equal(r.status, 2, `${key}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^linkdoctor: .* is not a known_hosts file \(line 1: .*\); nothing written\n$/);
      // The sentence names the line, never its content: it is a secret.
      assert.doesNotMatch(r.stderr, /BEGIN|PRIVATE/);
      assert.ok(readFileSync(key).equals(before), `${key} changed`);
    }
    assert.deepEqual(tmpFiles(d), []);
  });

  test('refuses a file with one stray line among good ones; adds to an empty file and through a link', async () => {
    const d = folder('kh-mixed');
    const good = await runCliAsync([
      'known-hosts',
      'add',
      sshTarget,
      '--to',
      join(d, 'empty'),
      '--timeout',
      '5',
    ]);
    assert.equal(good.status, 0, good.stderr);
    const line = readFileSync(join(d, 'empty'), 'utf8');
    assert.match(line, /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 [A-Za-z0-9+/=]+\n$/);

    const mixed = join(d, 'mixed');
    const text = `# a comment\n\nother.example.com ${line.split(' ').slice(1).join(' ')}Host *\n  User x\n`;
    writeFileSync(mixed, text);
    const r = await runCliAsync(['known-hosts', 'add', sshTarget, '--to', mixed, '--timeout', '5']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /is not a known_hosts file \(line 4: .*, and 1 more\); nothing written/);
    assert.equal(readFileSync(mixed, 'utf8'), text);

    const real = join(d, 'real_known_hosts');
    writeFileSync(real, '# mine\n', { mode: 0o600 });
    symlinkSync(real, join(d, 'known_hosts'));
    const linked = await runCliAsync([
      'known-hosts',
      'add',
      sshTarget,
      '--to',
      join(d, 'known_hosts'),
      '--timeout',
      '5',
    ]);
    assert.equal(linked.status, 0, linked.stderr);
    assert.ok(lstatSync(join(d, 'known_hosts')).isSymbolicLink());
    assert.equal(readFileSync(real, 'utf8'), `# mine\n${line}`);
    assert.equal(statSync(real).mode & 0o777, 0o600);
    assert.deepEqual(tmpFiles(d), []);
  });
});

/**
 * Starts `linkdoctor ARGS` and, once `folderOf` finds the lab's folder in its output, sends `signal`;
 * returns the exit code and the folder.
 */
function signalled(
  args: string[],
  signal: NodeJS.Signals,
  folderOf: (stdout: string) => string | undefined,
): Promise<{ status: number | null; termSignal: NodeJS.Signals | null; folder: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let found = '';
    // Generous: the lab starts in about a second; a loaded CI may take far longer.
    const guard = setTimeout(
      () => (p.kill('SIGKILL'), reject(new Error(`no lab folder in: ${stdout}${stderr}`))),
      60_000,
    );
    p.stdout.on('data', (b: Buffer) => {
      stdout += b;
      if (found) return;
      found = folderOf(stdout) ?? '';
      if (found) {
        assert.ok(existsSync(found), `${found} does not exist while the lab runs`);
        p.kill(signal);
      }
    });
    p.stderr.on('data', (b: Buffer) => (stderr += b));
    p.once('close', (status, termSignal) => {
      clearTimeout(guard);
      resolve({ status, termSignal, folder: found, stderr });
    });
  });
}

describe('lab and demo remove their temp folder on every catchable signal', () => {
  for (const signal of ['SIGHUP', 'SIGINT', 'SIGTERM'] as const) {
    test(`linkdoctor lab, ${signal}: folder removed, exit ${128 + constants.signals[signal]}`, async () => {
      const r = await signalled(['lab', '--json'], signal, (out) => {
        try {
          return (JSON.parse(out) as { dir: string }).dir;
        } catch {
          return undefined; // not all of the JSON yet
        }
      });
      assert.equal(r.termSignal, null, `ended by ${r.termSignal}, not by its handler`);
      assert.equal(r.status, 128 + constants.signals[signal], r.stderr);
      assert.ok(!existsSync(r.folder), `${r.folder} is left behind`);
      assert.match(r.stderr, /stopped, files removed/);
    });

    test(`linkdoctor demo, ${signal} while it probes: folder removed, exit ${128 + constants.signals[signal]}`, async () => {
      const r = await signalled(
        ['demo'],
        signal,
        (out) => /\(lab trust store: (.+)[/\\]lab-root-ca\.pem\)/.exec(out)?.[1],
      );
      assert.equal(r.termSignal, null, `ended by ${r.termSignal}, not by its handler`);
      assert.equal(r.status, 128 + constants.signals[signal], r.stderr);
      assert.ok(!existsSync(r.folder), `${r.folder} is left behind`);
    });
  }
});
