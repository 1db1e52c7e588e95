// The smtp probe through the built CLI, against real SMTP servers (smtp-server) started here on
// 127.0.0.1: STARTTLS offered, required, missing or stripped; AUTH accepted and refused; implicit TLS;
// an untrusted chain; the port advice; silent and garbage servers. No password in any output.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { closedPort } from '../src/lab/index.js';
import { makePki, type LabPki } from '../src/lab/pki.js';
import { rawServer, runCliAsync, unwrap } from './helpers.js';

const PASSWORD = 'smtp-secret-for-test-7f3a';
let pki: LabPki;
let dir = '';
let trust = '';
const closers: (() => void)[] = [];

/** An SMTP server with the lab's chain: STARTTLS on, AUTH PLAIN/LOGIN for mailer/PASSWORD. */
async function smtp(options: SMTPServerOptions = {}): Promise<number> {
  const server = new SMTPServer({
    key: pki.local.keyPem,
    cert: pki.local.certPem + pki.issuing.certPem,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'mailer' && auth.password === PASSWORD) return cb(null, { user: 'mailer' });
      cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => cb(new Error('the probe must never send a message')));
    },
    ...options,
  });
  // The tls step's second connection (the CA-name hello) hangs up mid-handshake on purpose.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return (server.server.address() as AddressInfo).port;
}

async function raw(onConnection: (socket: import('node:net').Socket) => void): Promise<number> {
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

interface ProbeJson {
  ok: boolean;
  steps: { name: string; ok: boolean | null; detail: string }[];
  tls?: { verdicts: string[]; trusted: boolean };
  smtp?: {
    banner?: string;
    ehlo: string[];
    ehloAfterTls?: string[];
    starttls?: string;
    starttlsRequired?: boolean;
    authMechanisms: string[];
    login?: string;
    envelope?: string[];
    alternatives?: { port: number; answered: boolean }[];
  };
  signals: { type: string; value: string }[];
  diagnoses: { id: string }[];
}

async function probe(url: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = await runCliAsync(['probe', url, '--trust', trust, '--timeout', '2', '--json', ...args], {
    env: { SMTP_PW: PASSWORD, ...env },
  });
  assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), 'no password in any output');
  const json = JSON.parse(r.stdout) as ProbeJson;
  return { status: r.status, json, steps: JSON.stringify(json.steps) };
}
const step = (j: ProbeJson, name: string) => j.steps.find((s) => s.name === name);
const login = ['-u', 'mailer', '--password-env', 'SMTP_PW'];

before(async () => {
  pki = await makePki();
  dir = mkdtempSync(join(tmpdir(), 'linkdoctor-smtp-'));
  trust = join(dir, 'root.pem');
  writeFileSync(trust, pki.root.certPem);
});
after(() => {
  for (const close of closers) close();
  rmSync(dir, { recursive: true, force: true });
});

test('STARTTLS and AUTH: banner, EHLO as listed, trusted chain, login accepted, envelope without a message', async () => {
  const port = await smtp();
  const { status, json, steps } = await probe(`smtp://127.0.0.1:${port}`, [
    ...login,
    '--from',
    'a@example.com',
    '--to',
    'b@example.com',
  ]);
  assert.equal(status, 0, steps);
  assert.deepEqual(
    json.steps.map((s) => s.name),
    ['dns', 'tcp', 'smtp', 'tls', 'auth', 'mail'],
  );
  const s = json.smtp!;
  assert.match(s.banner!, /^220 /);
  assert.ok(s.ehlo.includes('STARTTLS') && s.ehlo.includes('AUTH PLAIN LOGIN'), JSON.stringify(s.ehlo));
  assert.equal(s.starttls, 'offered');
  assert.equal(s.starttlsRequired, false);
  assert.ok(!s.ehloAfterTls!.includes('STARTTLS'));
  assert.deepEqual(s.authMechanisms, ['PLAIN', 'LOGIN']);
  assert.equal(s.login, 'accepted');
  assert.deepEqual(
    s.envelope!.map((r) => r.slice(0, 3)),
    ['250', '250'],
  );
  assert.equal(json.tls!.trusted, true);
});

test('a wrong password: 535, smtp-auth-failed', async () => {
  const port = await smtp();
  const { status, json } = await probe(`smtp://127.0.0.1:${port}`, login, { SMTP_PW: 'not-the-password' });
  assert.equal(status, 1);
  assert.equal(json.smtp!.login, 'refused');
  assert.match(step(json, 'auth')!.detail, /535/);
  assert.equal(json.diagnoses[0]?.id, 'smtp-auth-failed');
});

test('no STARTTLS and no AUTH: passes unencrypted without credentials; with them, no password in clear text', async () => {
  const port = await smtp({ disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true });
  const plain = await probe(`smtp://127.0.0.1:${port}`);
  assert.equal(plain.status, 0, plain.steps);
  assert.equal(plain.json.smtp!.starttls, 'not-offered');
  assert.deepEqual(plain.json.smtp!.authMechanisms, []);
  const withLogin = await probe(`smtp://127.0.0.1:${port}`, login);
  assert.equal(withLogin.status, 1);
  assert.ok(withLogin.json.signals.some((s) => s.type === 'smtp.starttls' && s.value === 'missing'));
  assert.equal(withLogin.json.diagnoses[0]?.id, 'smtp-starttls-required');
});

/** Refuses MAIL FROM before STARTTLS, as Postfix does with smtpd_tls_security_level=encrypt. */
const tlsOnly: SMTPServerOptions['onMailFrom'] = (_address, session, cb) =>
  session.secure
    ? cb()
    : cb(Object.assign(new Error('5.7.0 Must issue a STARTTLS command first'), { responseCode: 530 }));

test('STARTTLS required: seen before the upgrade, and the probe passes through STARTTLS', async () => {
  const port = await smtp({ authOptional: true, onMailFrom: tlsOnly });
  const { status, json, steps } = await probe(`smtp://127.0.0.1:${port}`, ['--from', 'a@example.com']);
  assert.equal(status, 0, steps);
  assert.equal(json.smtp!.starttlsRequired, true);
  assert.match(step(json, 'smtp')!.detail, /STARTTLS offered and required/);
});

test('STARTTLS required but not offered (stripped): smtp-starttls-required', async () => {
  const port = await smtp({ authOptional: true, hideSTARTTLS: true, onMailFrom: tlsOnly });
  const { status, json } = await probe(`smtp://127.0.0.1:${port}`);
  assert.equal(status, 1);
  assert.ok(json.signals.some((s) => s.type === 'smtp.starttls' && s.value === 'required'));
  assert.equal(json.diagnoses[0]?.id, 'smtp-starttls-required');
});

test('an untrusted STARTTLS chain: out-cert-path, in the same tls object as https', async () => {
  const port = await smtp({
    key: pki.unknownLeaf.keyPem,
    cert: pki.unknownLeaf.certPem + pki.unknownIssuing.certPem,
  });
  const { status, json } = await probe(`smtp://127.0.0.1:${port}`, login);
  assert.equal(status, 1);
  assert.equal(step(json, 'tls')!.ok, false);
  assert.equal(step(json, 'auth')!.ok, null, 'no login over an untrusted connection');
  assert.ok(json.tls!.verdicts.includes('untrusted'));
  assert.equal(json.diagnoses[0]?.id, 'out-cert-path');
});

test('smtps: implicit TLS first, then the session, and a login', async () => {
  const port = await smtp({ secure: true });
  const { status, json, steps } = await probe(`smtps://127.0.0.1:${port}`, login);
  assert.equal(status, 0, steps);
  assert.deepEqual(
    json.steps.map((s) => s.name),
    ['dns', 'tcp', 'tls', 'smtp', 'auth'],
  );
  assert.equal(json.smtp!.starttls, 'implicit');
  assert.equal(json.smtp!.login, 'accepted');
  assert.equal(json.tls!.trusted, true);
});

test('port advice: the port refused, the "587" stand-in answers: out-fsm-sequential-smtp with the port to use', async () => {
  const open = await smtp();
  const [closed, closedImplicit] = [await closedPort(), await closedPort()];
  const { status, json } = await probe(`smtp://127.0.0.1:${closed}`, [], {
    LINKDOCTOR_SMTP_ALT_PORTS: `${open},${closedImplicit}`,
  });
  assert.equal(status, 1);
  assert.equal(step(json, 'tcp')!.ok, false);
  assert.match(step(json, 'tcp')!.detail, new RegExp(`refused.*but ${open} does.*STARTTLS Mandatory`));
  assert.deepEqual(
    json.smtp!.alternatives!.map((a) => [a.port, a.answered]),
    [
      [open, true],
      [closedImplicit, false],
    ],
  );
  assert.equal(json.diagnoses[0]?.id, 'out-fsm-sequential-smtp');
});

test('a port that stays closed with no alternative answering: the refusal, and no port advice', async () => {
  const closed = await closedPort();
  const { json } = await probe(`smtp://127.0.0.1:${closed}`, [], {
    LINKDOCTOR_SMTP_ALT_PORTS: `${await closedPort()},${await closedPort()}`,
  });
  assert.match(step(json, 'tcp')!.detail, /do not answer either/);
  assert.equal(json.diagnoses[0]?.id, 'tcp-connection-refused');
});

test('-v shows the SMTP dialogue (AUTH masked); the EHLO list is printed once', async () => {
  const port = await smtp();
  const args = ['probe', `smtp://127.0.0.1:${port}`, '--trust', trust, '--timeout', '3', ...login];
  const r = await runCliAsync([...args, '-v'], { env: { SMTP_PW: PASSWORD } });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const b64 = Buffer.from(`\0mailer\0${PASSWORD}`).toString('base64');
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stdout.includes(b64), 'no password, plain or base64');
  assert.match(unwrap(r.stdout), /✔ smtp [^\n]*\n {8}< 220 [^\n]*\n {8}> EHLO /);
  // The probe's own commands are shown as sent, not as nodemailer masks them.
  assert.match(r.stdout, / {8}> MAIL FROM:<>\n {8}< 5\d\d [^\n]*\n {8}> RSET\n/);
  assert.match(r.stdout, / {8}> STARTTLS\n {8}< 220 /);
  assert.match(unwrap(r.stdout), /✔ auth [^\n]*\n {8}> AUTH PLAIN \(credentials hidden\)\n {8}< 235 /);
  const plain = await runCliAsync(args, { env: { SMTP_PW: PASSWORD } });
  assert.equal(plain.stdout.match(/\bEHLO: /g)?.length, 1, `the EHLO list once:\n${plain.stdout}`);
  assert.doesNotMatch(plain.stdout, /> EHLO/);
});

test('a server that trickles part of a greeting: the bytes it sent, then nothing more (slow, not silent)', async () => {
  const port = await rawServer((s) => s.write('220 mail.exa'), closers);
  const started = Date.now();
  const { json } = await probe(`smtp://127.0.0.1:${port}`, ['--timeout', '2']);
  assert.ok(Date.now() - started < 15_000, 'bounded by the timeout');
  const detail = step(json, 'smtp')!.detail;
  assert.match(detail, /the server sent 12 bytes, then nothing more within 1\.8 s/, detail);
  assert.ok(
    json.signals.some((s) => s.type === 'net.error' && s.value === 'slow'),
    JSON.stringify(json.signals),
  );
  assert.equal(json.diagnoses[0]?.id, 'network-timeout');
});

test('a silent server and a garbage server end in a clear verdict within the timeout', async () => {
  const silent = await raw(() => undefined);
  const garbage = await raw((s) => s.end('HELLO this is not SMTP\r\n'));
  const started = Date.now();
  const quiet = await probe(`smtp://127.0.0.1:${silent}`, ['--timeout', '1']);
  assert.ok(
    Date.now() - started < 8000,
    'bounded by the timeout (and the scheme check after a silent greeting)',
  );
  assert.ok(
    quiet.json.signals.some((s) => s.type === 'net.error' && s.value === 'silent'),
    quiet.steps,
  );
  assert.equal(quiet.json.diagnoses[0]?.id, 'network-timeout');
  const noise = await probe(`smtp://127.0.0.1:${garbage}`, ['--timeout', '1']);
  assert.ok(
    noise.json.signals.some((s) => s.type === 'net.error' && s.value === 'garbage'),
    noise.steps,
  );
  assert.match(step(noise.json, 'smtp')!.detail, /not SMTP/);
});

test('trust add-from-site smtp:// takes the chain after STARTTLS, as openssl s_client -starttls smtp', async () => {
  const port = await smtp();
  const r = await runCliAsync(['trust', 'add-from-site', `smtp://127.0.0.1:${port}`, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { starts?: string; chain: { subject: string; pem: string }[] };
  assert.equal(j.starts, 'STARTTLS');
  assert.equal(j.chain.length, 2);
  assert.equal(j.chain[0]!.pem.trim(), pki.local.certPem.trim());
  // Without smtp:// the port's plain SMTP greeting is no TLS: one sentence that names the way.
  const plain = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${port}`, '--timeout', '3']);
  assert.equal(plain.status, 2);
  assert.match(plain.stderr, /^linkdoctor: .*does not speak TLS.*smtp:\/\//);
  assert.equal(plain.stderr.trim().split('\n').length, 1);
});

test('trust add-from-site to a port that accepts and stays silent: out of time, not "closed the connection" (attack14 C18)', async () => {
  const port = await raw(() => undefined);
  const r = await runCliAsync(['trust', 'add-from-site', `127.0.0.1:${port}`, '--timeout', '1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /did not complete a TLS handshake within 1 s/);
  assert.doesNotMatch(r.stderr, /closed the connection/);
});

test('STARTTLS offered, then refused with 454 4.7.0: the server cannot do TLS, as diagnose says of the same reply (A3)', async () => {
  // Postfix answers so when it cannot load its certificate or key.
  const port = await raw((s) => {
    s.write('220 mail.corp.test ESMTP Postfix\r\n');
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim().toUpperCase();
        buf = buf.slice(i + 1);
        if (line.startsWith('EHLO')) s.write('250-mail.corp.test\r\n250-STARTTLS\r\n250 SIZE 10240000\r\n');
        else if (line.startsWith('STARTTLS')) s.write('454 4.7.0 TLS not available due to local problem\r\n');
        else if (line.startsWith('MAIL')) s.write('530 5.7.0 Must issue a STARTTLS command first\r\n');
        else if (line.startsWith('QUIT')) s.end('221 2.0.0 Bye\r\n');
        else s.write('502 5.5.2 Error: command not recognized\r\n');
      }
    });
  });
  const { status, json, steps } = await probe(`smtp://127.0.0.1:${port}`);
  assert.equal(status, 1, steps);
  assert.ok(
    json.signals.some((s) => s.type === 'smtp.starttls' && s.value === 'broken'),
    steps,
  );
  const top = json.diagnoses[0] as { id: string; cause?: { id: string } };
  assert.equal(`${top.id}/${top.cause?.id}`, 'smtp-starttls-required/server-tls-broken');
  // add-from-site says the same of the same server (attack14 C18; before: "does not offer STARTTLS
  // (its EHLO answer does not list it)", which lists it).
  const site = await runCliAsync(['trust', 'add-from-site', `smtp://127.0.0.1:${port}`, '--timeout', '3']);
  assert.equal(site.status, 2);
  assert.match(site.stderr, /refused STARTTLS: 454 4\.7\.0 TLS not available/);
  assert.doesNotMatch(site.stderr, /does not offer STARTTLS/);
  const d = await runCliAsync([
    'diagnose',
    '--json',
    'javax.mail.MessagingException: 454 4.7.0 TLS not available due to local problem',
  ]);
  const dj = JSON.parse(d.stdout) as { diagnoses: { id: string; cause?: { id: string } }[] };
  assert.equal(
    `${dj.diagnoses[0]?.id}/${dj.diagnoses[0]?.cause?.id}`,
    'smtp-starttls-required/server-tls-broken',
  );
});
