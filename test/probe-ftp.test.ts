// The ftp probe through the built CLI, against real FTP servers (ftp-srv) started here on 127.0.0.1:
// plain FTP, explicit FTPS (AUTH TLS) and implicit FTPS; login accepted and refused; the listing over a
// passive data connection; --write-test; silent and garbage servers. No password in any output.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FtpSrv } from 'ftp-srv';
import { makePki, type LabPki } from '../src/lab/pki.js';
import { loadKb } from '../src/kb/load.js';
import { buildServer } from '../src/serve/app.js';
import { mountRooms } from '../src/serve/rooms.js';
import { freePort, runCliAsync, rawServer, unwrap } from './helpers.js';

const PASSWORD = 'ftp-secret-for-test-91c2';
let pki: LabPki;
let dir = '';
let root = '';
let trust = '';
const closers: (() => unknown)[] = [];

// ftp-srv answers AUTH TLS with 234 and wraps the control socket in TLS only once that reply's write
// has completed: a fast client's ClientHello can reach its plain command parser in between, which
// answers in clear text ("wrong version number" on our side, a race of the test server, not of the
// probe). Real servers (vsftpd, ProFTPD) switch before reading on. Here the 234 is written and the
// socket wrapped in the same tick, so no byte is read in between.
interface FtpConnection {
  commandSocket: Socket;
  secure: boolean;
  server: { options: { tls?: object | false } };
  reply(code: number): Promise<unknown>;
  emit(event: string, ...args: unknown[]): boolean;
}
const authCommand = createRequire(import.meta.url)('ftp-srv/src/commands/registration/auth.js') as {
  handler: (this: FtpConnection, o: { command: { arg: string } }) => unknown;
};
const ftpSrvAuth = authCommand.handler;
authCommand.handler = function (this: FtpConnection, o) {
  const tls = this.server.options.tls;
  if (o.command.arg.toUpperCase() !== 'TLS' || !tls || this.secure) return ftpSrvAuth.call(this, o);
  const plain = this.commandSocket;
  plain.write('234 Honored\r\n');
  const secure = new TLSSocket(plain, { isServer: true, secureContext: createSecureContext(tls) });
  for (const event of ['data', 'timeout', 'end', 'close', 'drain', 'error'])
    secure.on(event, (...args: unknown[]) => plain.emit(event, ...args));
  this.commandSocket = secure;
  this.secure = true;
  return undefined;
};

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** An FTP server for edi/PASSWORD on `root`; explicit FTPS when `tls`, implicit when `implicit`. */
async function ftp(o: { tls?: boolean; implicit?: boolean } = {}): Promise<number> {
  const port = await freePort();
  const server = new FtpSrv({
    url: `${o.implicit ? 'ftps' : 'ftp'}://127.0.0.1:${port}`,
    // Without it PASV announces a wrong address.
    pasv_url: '127.0.0.1',
    pasv_min: 41000,
    pasv_max: 41999,
    tls:
      o.tls || o.implicit ? { key: pki.local.keyPem, cert: pki.local.certPem + pki.issuing.certPem } : false,
    greeting: 'linkdoctor test FTP',
    log: quiet,
  });
  server.on('login', ({ username, password }, resolve, reject) =>
    username === 'edi' && password === PASSWORD ? resolve({ root }) : reject(new Error('Login incorrect.')),
  );
  server.on('client-error', () => undefined);
  await server.listen();
  closers.push(() => server.close());
  return port;
}

async function raw(onConnection: (socket: Socket) => void): Promise<number> {
  return rawServer(onConnection, closers);
}

interface ProbeJson {
  ok: boolean;
  steps: { name: string; ok: boolean | null; ms: number; detail: string }[];
  tls?: { trusted: boolean; verdicts: string[] };
  ftp?: {
    banner?: string;
    features: string[];
    tls?: string;
    login?: string;
    passive?: string;
    listing?: { name: string; type: string }[];
    entries?: number;
    writeTest?: { ok: boolean; file: string };
  };
  signals: { type: string; value: string }[];
  diagnoses: { id: string }[];
}

async function probe(url: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = await runCliAsync(['probe', url, '--trust', trust, '--timeout', '3', '--json', ...args], {
    env: { FTP_PW: PASSWORD, ...env },
  });
  assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), 'no password in any output');
  const json = JSON.parse(r.stdout) as ProbeJson;
  return { status: r.status, json, steps: JSON.stringify(json.steps) };
}
const step = (j: ProbeJson, name: string) => j.steps.find((s) => s.name === name);
const login = ['-u', 'edi', '--password-env', 'FTP_PW'];

before(async () => {
  pki = await makePki();
  dir = mkdtempSync(join(tmpdir(), 'linkdoctor-ftp-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'outbox'), { recursive: true });
  writeFileSync(join(root, 'outbox', 'order-1.xml'), '<order/>');
  writeFileSync(join(root, 'outbox', 'order-2.xml'), '<order/>');
  trust = join(dir, 'root.pem');
  writeFileSync(trust, pki.root.certPem);
});
after(async () => {
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

test('plain FTP: banner, FEAT, login, passive listing of the path', async () => {
  const port = await ftp();
  const { status, json, steps } = await probe(`ftp://127.0.0.1:${port}/outbox`, login);
  assert.equal(status, 0, steps);
  assert.deepEqual(
    json.steps.map((s) => s.name),
    ['dns', 'tcp', 'ftp', 'tls', 'login', 'list'],
  );
  const f = json.ftp!;
  assert.match(f.banner!, /linkdoctor test FTP/);
  assert.equal(f.tls, 'none');
  assert.equal(f.login, 'accepted');
  assert.match(f.passive!, /^22[79] /);
  assert.deepEqual(f.listing!.map((e) => e.name).sort(), ['order-1.xml', 'order-2.xml']);
});

test('plain FTP is not marked ✔ tls; -v shows the dialogue with PASS masked', async () => {
  const port = await ftp();
  const r = await runCliAsync(['probe', `ftp://127.0.0.1:${port}/outbox`, ...login, '--timeout', '3', '-v'], {
    env: { FTP_PW: PASSWORD },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(!r.stdout.includes(PASSWORD), 'no password in the output');
  // As for http://, the user is told the password may travel in clear text (the login step says it did).
  assert.match(
    r.stderr,
    /^linkdoctor: warning: the password of edi goes to ftp:\/\/127\.0\.0\.1:\d+ in clear text if the server offers no AUTH TLS/m,
  );
  assert.ok(!r.stderr.includes(PASSWORD), 'no password in the warning');
  assert.match(unwrap(r.stdout), /login of edi accepted \(in clear text\)/);
  assert.match(unwrap(r.stdout), /^ {2}! tls .*plain FTP/m, r.stdout);
  assert.doesNotMatch(r.stdout, /✔ tls/);
  // The commands and replies under the step that sent them, as curl -v shows them.
  assert.match(unwrap(r.stdout), /✔ ftp [^\n]*\n {8}< 220[ -][\s\S]*?\n {8}> FEAT\n/);
  assert.match(r.stdout, /> USER edi\n {8}< 331 [^\n]*\n {8}> PASS \(credentials hidden\)\n {8}< 230 /);
  assert.match(r.stdout, /✔ list [\s\S]*> (?:EPSV|PASV)/);
  // Without -v, no dialogue.
  const quiet = await runCliAsync(['probe', `ftp://127.0.0.1:${port}/outbox`, ...login, '--timeout', '3'], {
    env: { FTP_PW: PASSWORD },
  });
  assert.doesNotMatch(quiet.stdout, /> FEAT/);
});

test('explicit FTPS: AUTH TLS, the chain judged like https, then the listing over TLS', async () => {
  const port = await ftp({ tls: true });
  const { status, json, steps } = await probe(`ftp://127.0.0.1:${port}/outbox`, login);
  assert.equal(status, 0, steps);
  assert.ok(json.ftp!.features.some((f) => /AUTH TLS/.test(f)));
  assert.equal(json.ftp!.tls, 'explicit');
  assert.equal(json.tls!.trusted, true);
  assert.equal(json.ftp!.entries, 2);
});

test('implicit FTPS (ftps://): TLS first', async () => {
  const port = await ftp({ implicit: true });
  const { status, json, steps } = await probe(`ftps://127.0.0.1:${port}/outbox`, login);
  assert.equal(status, 0, steps);
  assert.deepEqual(
    json.steps.map((s) => s.name),
    ['dns', 'tcp', 'tls', 'ftp', 'login', 'list'],
  );
  assert.equal(json.ftp!.tls, 'implicit');
});

test('a refused login: 530, ftp-failure', async () => {
  const port = await ftp();
  const { status, json } = await probe(`ftp://127.0.0.1:${port}/`, login, { FTP_PW: 'wrong-password' });
  assert.equal(status, 1);
  assert.equal(json.ftp!.login, 'refused');
  assert.match(step(json, 'login')!.detail, /530/);
  assert.equal(json.diagnoses[0]?.id, 'ftp-failure');
});

test('--write-test: a temporary file is created and removed', async () => {
  const port = await ftp({ tls: true });
  const { status, json, steps } = await probe(`ftp://127.0.0.1:${port}/outbox`, [...login, '--write-test']);
  assert.equal(status, 0, steps);
  assert.equal(json.ftp!.writeTest!.ok, true);
  assert.deepEqual(
    readdirSync(join(root, 'outbox')).sort(),
    ['order-1.xml', 'order-2.xml'],
    'nothing left behind',
  );
});

test('a silent server and a garbage server end in a clear verdict within the timeout', async () => {
  const silent = await raw(() => undefined);
  const garbage = await raw((s) => s.write('SSH-2.0-OpenSSH_9.2\r\n'));
  const started = Date.now();
  const quietRun = await probe(`ftp://127.0.0.1:${silent}/`, ['--timeout', '1']);
  // The probe's own time (its steps) is bounded by the timeout and the scheme check after a
  // silent greeting; the wall bound only catches a hang (Node's start-up under load adds seconds).
  const probeMs = quietRun.json.steps.reduce((sum, s) => sum + s.ms, 0);
  assert.ok(probeMs < 8000, `the probe's steps took ${probeMs} ms`);
  assert.ok(Date.now() - started < 30_000, 'no hang');
  assert.ok(
    quietRun.json.signals.some((s) => s.type === 'net.error' && s.value === 'silent'),
    quietRun.steps,
  );
  assert.equal(quietRun.json.diagnoses[0]?.id, 'network-timeout');
  const noise = await probe(`ftp://127.0.0.1:${garbage}/`, ['--timeout', '1']);
  assert.ok(
    noise.json.signals.some((s) => s.type === 'net.error' && s.value === 'garbage'),
    noise.steps,
  );
  assert.match(step(noise.json, 'ftp')!.detail, /not FTP: "SSH-2\.0/);
});

test('a server that accepts the login and refuses TYPE I: the transfer settings are named, not the login', async () => {
  // A minimal FTP dialogue: no AUTH TLS, USER/PASS accepted, every transfer setting refused.
  const port = await raw((s) => {
    s.write('220 minimal FTP\r\n');
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const cmd = buf.slice(0, i).split(' ')[0]!.toUpperCase();
        buf = buf.slice(i + 2);
        const reply: Record<string, string> = {
          USER: '331 password please',
          PASS: '230 logged in',
          QUIT: '221 bye',
        };
        s.write(
          `${reply[cmd] ?? (cmd === 'TYPE' ? '504 TYPE I not implemented here' : '502 not implemented')}\r\n`,
        );
      }
    });
  });
  const { status, json } = await probe(`ftp://127.0.0.1:${port}/`, login);
  assert.equal(status, 1);
  const detail = step(json, 'login')!.detail;
  assert.match(
    detail,
    /login of edi accepted, but the server refused the transfer settings .*504 TYPE I/,
    detail,
  );
  assert.equal(json.ftp!.login, 'accepted');
});

test('trust add-from-site ftp:// takes the chain after AUTH TLS, as openssl s_client -starttls ftp', async () => {
  const port = await ftp({ tls: true });
  const r = await runCliAsync(['trust', 'add-from-site', `ftp://127.0.0.1:${port}`, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { starts?: string; chain: { pem: string }[] };
  assert.equal(j.starts, 'AUTH TLS');
  assert.equal(j.chain[0]!.pem.trim(), pki.local.certPem.trim());
});

test("plain FTP's tls step carries its warning on the result: `!` in probe's text and end sentence, check's line, and the API's steps the UI reads", async () => {
  const port = await ftp();
  const url = `ftp://127.0.0.1:${port}/outbox`;
  // The probe's text: the mark, and the end sentence of a run with a warning, not "All steps passed".
  const text = await runCliAsync(['probe', url, ...login, '--timeout', '3'], { env: { FTP_PW: PASSWORD } });
  assert.equal(text.status, 0, text.stdout);
  assert.match(text.stdout, /^ {2}! tls /m);
  assert.match(
    unwrap(text.stdout),
    /! No step failed, but one passed with a warning:\n {2}tls: plain FTP: the server (?:offers no|refused) AUTH TLS/,
  );
  assert.doesNotMatch(text.stdout, /All steps passed/);
  // The result: the step's own warning, which check and the UI read.
  const { json } = await probe(url, login);
  assert.match(
    (step(json, 'tls') as { warning?: string }).warning ?? '',
    /^plain FTP: the server (?:offers no|refused) AUTH TLS/,
  );
  // check's line: marked ! with the warning, not ✔.
  const inventory = join(dir, 'plain-ftp.yaml');
  writeFileSync(
    inventory,
    `modules:\n  ftp:\n    user: edi\n    password_env: FTP_PW\n    timeout: 3s\ntargets:\n  - name: plainftp\n    url: ${url}\n    module: ftp\n`,
  );
  const check = await runCliAsync(['check', inventory], { env: { FTP_PW: PASSWORD } });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^! plainftp .*! tls: plain FTP/m, check.stdout);
  assert.ok(!check.stdout.includes(PASSWORD));
  // The API (what the web UI's steps view reads): the same warning on the step.
  process.env.LINKDOCTOR_TEST_FTP_PW = PASSWORD;
  const app = await buildServer({
    host: '127.0.0.1',
    kb: await loadKb(),
    secretTargets: ['LINKDOCTOR_TEST_FTP_PW=127.0.0.1'],
    plainHttpCredentials: true,
  });
  await mountRooms(app);
  try {
    const r = await app.inject({
      method: 'POST',
      url: '/api/probe',
      headers: { host: '127.0.0.1', 'content-type': 'application/json' },
      payload: JSON.stringify({ url, user: 'edi', passwordEnv: 'LINKDOCTOR_TEST_FTP_PW', timeout: 3 }),
    });
    assert.equal(r.statusCode, 200, r.body);
    const api = JSON.parse(r.body) as ProbeJson;
    assert.equal(api.ok, true, r.body);
    assert.match(
      (step(api, 'tls') as { warning?: string }).warning ?? '',
      /^plain FTP: the server (?:offers no|refused) AUTH TLS/,
    );
  } finally {
    await app.close();
    delete process.env.LINKDOCTOR_TEST_FTP_PW;
  }
});
