// A wrong scheme is said as such: the port's own first words (an SSH identification, an SMTP
// greeting) or its answer to a TLS hello name what it speaks, and the step's line gives the URL to
// use; the diagnosis is wrong-scheme, not the failure the wrong protocol produced.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, test } from 'node:test';
import { makePki, type LabPki } from '../src/lab/pki.js';
import { rawServer, runCliAsync } from './helpers.js';

const closers: (() => unknown)[] = [];
let pki: LabPki;
before(async () => {
  pki = await makePki();
});
after(() => {
  for (const close of closers) close();
});

interface Json {
  steps: { name: string; ok: boolean | null; detail: string }[];
  signals: { type: string; value: string; detail?: string }[];
  diagnoses: { id: string }[];
}

async function probe(url: string, timeout = '2'): Promise<Json> {
  const r = await runCliAsync(['probe', url, '--timeout', timeout, '--json']);
  assert.equal(r.status, 1, r.stderr);
  return JSON.parse(r.stdout) as Json;
}

/** A TLS server with the lab's chain that completes handshakes and says nothing. */
async function tlsPort(): Promise<number> {
  const server = createTlsServer({ key: pki.local.keyPem, cert: pki.local.certPem + pki.issuing.certPem });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

function failing(j: Json): { name: string; detail: string } {
  return j.steps.find((s) => s.ok === false)!;
}

test('http:// to an SSH server: "this port speaks SSH", use sftp://', async () => {
  const port = await rawServer((s) => s.write('SSH-2.0-OpenSSH_9.6p1 Debian\r\n'), closers);
  const j = await probe(`http://127.0.0.1:${port}/`);
  const f = failing(j);
  assert.equal(f.name, 'http');
  assert.match(
    f.detail,
    /this port speaks SSH, not what http:\/\/ expects \(it greets with "SSH-2\.0-OpenSSH_9\.6p1 Debian"\): use sftp:\/\/127\.0\.0\.1:\d+\/$/,
  );
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
  assert.ok(j.signals.some((s) => s.type === 'net.protocol' && s.value === 'ssh'));
});

test('https:// to an SSH, an SMTP and a plain HTTP server: the tls step names what it speaks, from its own handshake', async () => {
  // Read from the bytes the server sent the failed handshake: no second connection.
  const ssh = await rawServer((s) => s.write('SSH-2.0-OpenSSH_9.6p1 Debian\r\n'), closers);
  let j = await probe(`https://127.0.0.1:${ssh}/`);
  let f = failing(j);
  assert.equal(f.name, 'tls');
  assert.match(
    f.detail,
    /^this port speaks SSH, not what https:\/\/ expects \(it greets with "SSH-2\.0-OpenSSH_9\.6p1 Debian"\): use sftp:\/\/127\.0\.0\.1:\d+\/$/,
  );
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
  assert.ok(j.signals.some((s) => s.type === 'net.protocol' && s.value === 'ssh'));

  const mail = await rawServer((s) => s.write('220 mail.example.com ESMTP Postfix\r\n'), closers);
  j = await probe(`https://127.0.0.1:${mail}/`);
  assert.match(failing(j).detail, /^this port speaks SMTP, .*: use smtp:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');

  const server = createHttpServer((_req, res) => res.end('hello'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => server.close());
  j = await probe(`https://127.0.0.1:${(server.address() as AddressInfo).port}/orders?x=1`);
  f = failing(j);
  assert.equal(f.name, 'tls');
  assert.match(
    f.detail,
    /^this port speaks plain HTTP, not what https:\/\/ expects \(it answered a TLS ClientHello with "HTTP\/1\.1 400 Bad Request"\): use http:\/\/127\.0\.0\.1:\d+\/orders\?x=1$/,
  );
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
});

test('sftp:// to an SMTP server: use smtp://', async () => {
  const port = await rawServer((s) => s.write('220 mail.example.com ESMTP Postfix\r\n'), closers);
  const j = await probe(`sftp://127.0.0.1:${port}/`);
  assert.match(failing(j).detail, /speaks SMTP, .*: use smtp:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
});

test('http:// to a TLS port: "this port speaks TLS", use https://', async () => {
  const port = await tlsPort();
  const j = await probe(`http://127.0.0.1:${port}/orders?x=1`);
  const f = failing(j);
  assert.equal(f.name, 'http');
  assert.match(
    f.detail,
    /this port speaks TLS, not what http:\/\/ expects .*: use https:\/\/127\.0\.0\.1:\d+\/orders\?x=1$/,
  );
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
});

test('sftp:// to a web server: "this port speaks plain HTTP", use http://', async () => {
  const server = createHttpServer((_req, res) => res.end('hello'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const j = await probe(`sftp://127.0.0.1:${port}/outbox`);
  const f = failing(j);
  assert.equal(f.name, 'ssh');
  assert.match(
    f.detail,
    /this port speaks plain HTTP, not what sftp:\/\/ expects \(it answered a TLS ClientHello with "HTTP\/1\.1 400 Bad Request"\): use http:\/\/127\.0\.0\.1:\d+\/outbox$/,
  );
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
});

test('smtp:// to an implicit-TLS port (it waits for a ClientHello): use smtps://', async () => {
  const port = await tlsPort();
  const j = await probe(`smtp://127.0.0.1:${port}`, '1');
  const f = failing(j);
  assert.equal(f.name, 'smtp');
  assert.match(
    f.detail,
    /(?:sent no SMTP greeting|no answer within).*; this port speaks TLS, not what smtp:\/\/ expects .*: use smtps:\/\/127\.0\.0\.1:\d+$/,
  );
  assert.equal(j.diagnoses[0]?.id, 'wrong-scheme');
});

test('a port that speaks the scheme and fails for another reason is not called a wrong scheme', async () => {
  const closes = await rawServer((s) => s.destroy(), closers);
  const j = await probe(`https://127.0.0.1:${closes}/`);
  assert.doesNotMatch(failing(j).detail, /this port speaks/);
  assert.notEqual(j.diagnoses[0]?.id, 'wrong-scheme');
  const ssh = await rawServer((s) => s.write('SSH-2.0-OpenSSH_9.6\r\n'), closers);
  const k = await probe(`sftp://127.0.0.1:${ssh}/`, '1');
  assert.doesNotMatch(failing(k).detail, /this port speaks/);
});

test('a scheme without its colon (ftp//host) is refused in one sentence naming the URL meant, not probed as https://ftp (attack C4)', async () => {
  for (const [raw, meant] of [
    ['ftp//broken.example', 'ftp://broken.example'],
    ['HTTPS//127.0.0.1:1/x', 'https://127.0.0.1:1/x'],
  ] as const) {
    const r = await runCliAsync(['probe', raw]);
    assert.equal(r.status, 2, r.stdout);
    assert.equal(r.stderr, `linkdoctor: "${raw}" is not a URL: a scheme is followed by "://" (${meant})\n`);
    assert.doesNotMatch(r.stdout, /https:\/\/ftp/);
  }
});
