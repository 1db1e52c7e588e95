// Shared by the tests: run the built CLI as a user would, and find the team's shared folder.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { visibleLength } from '../src/report/width.js';
import { isAlive } from '../src/fs-write.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist', 'main.js');
export const SHARED = resolve(ROOT, '..', 'shared');
export const CORPUS = join(SHARED, 'corpus', 'dev.jsonl');
export const hasCorpus = existsSync(CORPUS);

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { input?: string | Buffer; env?: Record<string, string>; timeout?: number } = {},
): Run {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...opts.env };
  if (!opts.env?.FORCE_COLOR) delete env.FORCE_COLOR;
  // Text output at its full 100 columns, whatever the terminal the tests run in (see unwrap()).
  if (!opts.env?.COLUMNS) delete env.COLUMNS;
  const p = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: opts.timeout ?? 30_000,
    maxBuffer: 64 * 1024 * 1024,
    env,
  });
  // EPIPE: the CLI stopped reading an over-long input early, as it should; its answer still counts.
  if (p.error && !((p.error as NodeJS.ErrnoException).code === 'EPIPE' && p.status !== null)) throw p.error;
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

/** The 22 seed issues of ../shared/seed/issue-ids.md, in row order. */
export const SEED_IDS: [string, 'inbound' | 'outbound'][] = [
  ['in-cert-validity', 'inbound'],
  ['in-ssslerr-untrusted', 'inbound'],
  ['in-icm-connection-failed', 'inbound'],
  ['in-http-401', 'inbound'],
  ['in-http-403', 'inbound'],
  ['in-http-404', 'inbound'],
  ['in-request-not-reaching', 'inbound'],
  ['in-authorization-check', 'inbound'],
  ['in-srt-soap-runtime', 'inbound'],
  ['in-date-header', 'inbound'],
  ['in-not-active-subaccount', 'inbound'],
  ['out-cert-path', 'outbound'],
  ['out-http-401', 'outbound'],
  ['out-osci-conversion', 'outbound'],
  ['out-fsm-sequential-smtp', 'outbound'],
  ['out-sftp', 'outbound'],
  ['out-successfactors-adapter', 'outbound'],
  ['out-successfactors-webservice', 'outbound'],
  ['out-http-503', 'outbound'],
  ['out-http-403-cloud-connector', 'outbound'],
  ['out-csrf-403', 'outbound'],
  ['out-411-empty-post', 'outbound'],
];

/** runCli without blocking the event loop: for tests whose servers run in the test process itself. */
export function runCliAsync(
  args: string[],
  opts: { env?: Record<string, string>; timeout?: number; cwd?: string } = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...opts.env };
  if (!opts.env?.FORCE_COLOR) delete env.FORCE_COLOR;
  // Text output at its full 100 columns, whatever the terminal the tests run in (see unwrap()).
  if (!opts.env?.COLUMNS) delete env.COLUMNS;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeout ?? 60_000,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A port that was free on 127.0.0.1 a moment ago, for a server the test starts itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Polls `what` every 100 ms until it holds or `ms` milliseconds pass; then its last answer. */
export async function until(what: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
    if (await what()) return true;
  return what();
}

/** Waits until a server started by the test accepts connections on 127.0.0.1:port (5 s at most). */
export async function waitListening(port: number): Promise<boolean> {
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  for (let i = 0; i < 100; i++) {
    if (await accepts()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * A raw TCP server on 127.0.0.1 that hands each connection to `onConnection` (a hostile or odd peer
 * written by hand); `closers` gets what destroys its sockets and closes it. Resolves to its port.
 */
export async function rawServer(
  onConnection: (socket: Socket) => void,
  closers: (() => unknown)[],
): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Starts a test's own nginx (no daemon, no master, every file under `dir`) with one TLS server on
 * 127.0.0.1:`port` using `dir`/chain.pem and `dir`/key.pem, plus the `server` lines given (client
 * certificates, locations). Resolves once it listens; the caller kills the process.
 * Throws when nginx does not listen.
 */
export async function startNginx(
  nginx: string,
  dir: string,
  port: number,
  server: string,
): Promise<import('node:child_process').ChildProcess> {
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/chain.pem;
    ssl_certificate_key ${dir}/key.pem;
${server}
  }
}
`,
  );
  const child = spawn(nginx, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', join(dir, 'error.log')], {
    stdio: 'ignore',
  });
  if (!(await waitListening(port))) {
    child.kill();
    throw new Error(`nginx did not listen on ${port} (see ${dir}/error.log)`);
  }
  return child;
}

/** Debian's Chromium, which .ci/run installs: playwright-core downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where the browser tests save their screenshots: a temporary folder, or LINKDOCTOR_SCREENSHOTS (docs/screenshots renews the README's). */
export const SCREENSHOTS = process.env.LINKDOCTOR_SCREENSHOTS
  ? join(ROOT, process.env.LINKDOCTOR_SCREENSHOTS)
  : join(tmpdir(), 'linkdoctor-screenshots');

/**
 * Debian's Chromium, headless, with the flags known to work on these machines: no sandbox (tests
 * run as root in CI), no GPU, no QUIC, and nothing fetched in the background (first-run pages,
 * component updates, sync), so that a test can assert no request leaves the machine.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** OpenSSH's server, when installed; the tests that need it skip with this reason otherwise. */
export const SSHD = existsSync('/usr/sbin/sshd') ? '/usr/sbin/sshd' : undefined;
export const SSHD_MISSING = 'sshd is not installed (apt-get install openssh-server); .ci/run installs it';

/**
 * Starts a test's own sshd in the foreground on 127.0.0.1 with the host keys given (files under
 * `dir`) and `extra` config lines, its pid file in `dir`. A port taken between freePort and sshd's
 * bind (another test run on the same machine) is tried again with another port, and "listening"
 * means this sshd is still alive, not merely that something answers the port. Resolves to its
 * port and process; the caller kills it. Throws when it does not listen after 3 tries.
 */
export async function startSshd(
  dir: string,
  hostKeys: string[],
  extra = '',
): Promise<{ port: number; child: import('node:child_process').ChildProcess }> {
  mkdirSync('/run/sshd', { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      `Port ${port}\nListenAddress 127.0.0.1\n${hostKeys.map((k) => `HostKey ${join(dir, k)}\n`).join('')}PidFile ${dir}/sshd.pid\nUsePAM no\n${extra}`,
    );
    const child = spawn(SSHD!, ['-D', '-e', '-f', config], { stdio: 'ignore' });
    let exited = false;
    child.once('exit', () => (exited = true));
    if ((await waitListening(port)) && !exited) {
      // A moment more: an sshd that lost the port to another process exits right after the bind.
      await new Promise((r) => setTimeout(r, 100));
      if (!exited) return { port, child };
    }
    child.kill();
  }
  throw new Error(`sshd did not listen (config ${dir}/sshd_config)`);
}

/** The comment (GECOS field) of a test's system user: the pid of the process that made it. */
const USER_COMMENT = 'linkdoctor test, pid ';

/**
 * Removes the system users that earlier test runs made and could not remove (their process was
 * killed with SIGKILL, or the machine stopped): each names its process in its comment, and a user
 * whose process no longer runs is deleted. Returns the names removed.
 */
export function removeOrphanedTestUsers(passwd = '/etc/passwd'): string[] {
  const removed: string[] = [];
  for (const line of existsSync(passwd) ? readFileSync(passwd, 'utf8').split('\n') : []) {
    const [name, , , , comment = ''] = line.split(':');
    if (!name?.startsWith('ldtest') || !comment.startsWith(USER_COMMENT)) continue;
    const pid = Number(comment.slice(USER_COMMENT.length));
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    if (spawnSync('userdel', [name]).status === 0) removed.push(name);
  }
  return removed;
}

/**
 * A system user of this test run only (a unique name, so that runs on the same machine do not share
 * or delete each other's), with `password`, home `home` and login shell /bin/sh. Only as root with
 * useradd and chpasswd; undefined otherwise. It is removed by `remove()`, and also when the process
 * exits or is interrupted (SIGINT, SIGTERM, SIGHUP) before that. A process killed with SIGKILL
 * cannot remove it: its comment names the process, and the next call removes every such user whose
 * process is gone (removeOrphanedTestUsers).
 */
export function addSystemUser(
  home: string,
  password: string,
): { name: string; remove: () => void } | undefined {
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/useradd') || !existsSync('/usr/sbin/chpasswd'))
    return undefined;
  for (const old of removeOrphanedTestUsers())
    console.log(`removed the system user ${old}, left behind by a test run that was killed`);
  const name = `ldtest${randomBytes(4).toString('hex')}`;
  const made = spawnSync('useradd', [
    '-M',
    '-d',
    home,
    '-s',
    '/bin/sh',
    '-c',
    `${USER_COMMENT}${process.pid}`,
    name,
  ]);
  if (made.status !== 0) return undefined;
  let removed = false;
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const remove = () => {
    if (removed) return;
    removed = true;
    spawnSync('userdel', [name]);
    process.off('exit', remove);
    for (const s of signals) process.off(s, onSignal);
  };
  // Removed, then the signal's own ending (the handler is gone when it is sent again).
  const onSignal = (signal: NodeJS.Signals) => {
    remove();
    process.kill(process.pid, signal);
  };
  process.once('exit', remove);
  for (const s of signals) process.once(s, onSignal);
  spawnSync('chpasswd', { input: `${name}:${password}\n` });
  console.log(`created the system user ${name} for the password-login tests; it is removed at the end`);
  return { name, remove };
}

/**
 * The temporary folders of one test file: call it at the file's top level; each folder it makes
 * (under the system's temporary folder, named `prefix` + random) is removed in the file's after hook.
 */
export function tempDirs(): (prefix: string) => string {
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

/**
 * A self-signed certificate for localhost (SAN DNS:localhost, 30 days) made by `openssl req`, for a
 * test's own `openssl s_server`: the key in `key`, the certificate in `cert`. `newkey` is openssl's
 * -newkey argument and its options (EC P-256 by default). Fails the test when openssl fails.
 */
export function opensslSelfSigned(
  cert: string,
  key: string,
  newkey: string[] = ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
): void {
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    ...newkey,
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
    '-days',
    '30',
  ]);
  assert.equal(made.status, 0, made.stderr?.toString());
}

/** A knowledge-base entry of a folder of one's own (YAML), valid and unsourced; `extra` is appended. */
export const widgetEntry = (id: string, extra = ''): string => `id: ${id}
title: Widget gateway refuses the call
direction: outbound
summary: The widget gateway in front of the receiver refused the call.
symptoms:
  - pattern: 'WIDGET-GW-0042'
    weight: 0.9
    means: the gateway's own refusal code
  - status: 418
    weight: 0.4
causes: [The gateway has no route for the called path.]
checks: [{ text: Call the gateway's health page., probe: http }]
fixes: [Add a route for the path in the gateway.]
references: [{ title: Widget gateway manual, url: 'https://widgets.example.com/manual' }]
examples:
  match:
    - 'WIDGET-GW-0042 no route'
    - 'HTTP/1.1 418 I am a teapot WIDGET-GW-0042'
    - 'error WIDGET-GW-0042 from gateway'
  noMatch:
    - 'HTTP/1.1 200 OK'
    - 'PKIX path building failed'
${extra}`;

/**
 * Text output read as one line per sentence: every line that the text output's wrapping
 * (src/report/width.ts) broke is joined with its continuation lines by one space, and a shell
 * command continued with " \\" is joined too, so that a test finds a sentence at any width. A line
 * counts as broken when the next line's first word would not have fitted after it within `width`
 * columns (the only reason a line is wrapped), and that next line is indented at least as deep as
 * the line's start, as deep as any continuation before it, and not itself cut with "…". A line
 * cut with "…" goes on no further. The CLI runs at 100 columns in tests (runCli drops an
 * inherited COLUMNS).
 */
export function unwrap(text: string, width = 100): string {
  const out: string[] = [];
  let last: string | undefined; // the last physical line of the line being joined
  let start = 0; // the indentation of its first line
  let hang: number | undefined; // its continuations' indentation
  for (const line of text.split('\n')) {
    const [, indent = '', word] = /^( *)(\S+)/.exec(line) ?? [];
    const command = last?.endsWith(' \\');
    const broken =
      last !== undefined &&
      word !== undefined &&
      (command ||
        (indent.length > 0 &&
          indent.length >= start &&
          (hang === undefined || indent.length === hang) &&
          !last.endsWith('…') &&
          !line.endsWith('…') &&
          visibleLength(last) + 1 + visibleLength(word) > width));
    if (broken) {
      out[out.length - 1] = `${command ? out.at(-1)!.slice(0, -2) : out.at(-1)} ${line.trimStart()}`;
      hang = indent.length;
    } else {
      out.push(line);
      start = indent.length;
      hang = undefined;
    }
    last = line;
  }
  return out.join('\n');
}
