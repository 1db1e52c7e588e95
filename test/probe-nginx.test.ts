// The probe against a real third-party server: nginx from Debian, requiring a client certificate
// (ssl_verify_client on), started by the test on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makePki, toPkcs12 } from '../src/lab/pki.js';
import { certInfo } from '../src/trust/cert.js';
import { X509Certificate } from 'node:crypto';
import { runCli, freePort, startNginx } from './helpers.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const skip = !NGINX && 'nginx is not installed (apt-get install nginx-light); .ci/run installs it';
const PASSWORD = 'p12-secret-for-test';

let dir = '';
let port = 0;
let nginx: ChildProcess | undefined;
let nginx13: ChildProcess | undefined;
let port13 = 0;
let nginxWrong: ChildProcess | undefined;
let portWrong = 0;
let wrongCaName = '';
let nginxWeak: ChildProcess | undefined;
let portWeak = 0;
let clientCaName = '';
const pkiCerts = { stranger: '' };

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ld-nginx-'));
  const pki = await makePki();
  clientCaName = certInfo(new X509Certificate(pki.clientCa.certPem)).subject;
  pkiCerts.stranger = pki.strangerClient.certPem;
  writeFileSync(join(dir, 'chain.pem'), `${pki.local.certPem}\n${pki.issuing.certPem}\n`);
  writeFileSync(join(dir, 'key.pem'), pki.local.keyPem);
  writeFileSync(join(dir, 'client-ca.pem'), pki.clientCa.certPem);
  writeFileSync(join(dir, 'trust.pem'), pki.root.certPem);
  writeFileSync(join(dir, 'good.p12'), toPkcs12(pki.goodClient, pki.clientCa, PASSWORD));
  writeFileSync(join(dir, 'stranger.p12'), toPkcs12(pki.strangerClient, pki.strangerCa, PASSWORD));
  writeFileSync(join(dir, 'expired.p12'), toPkcs12(pki.expiredClient, pki.clientCa, PASSWORD));
  port = await freePort();
  nginx = await startNginx(
    NGINX!,
    dir,
    port,
    `    ssl_client_certificate ${dir}/client-ca.pem;
    ssl_verify_client on;
    location / { return 200 "hello from nginx\\n"; }`,
  );
  // A server whose chain file holds the wrong intermediate: its certificate, then another CA's.
  const dirWrong = join(dir, 'wrong-intermediate');
  mkdirSync(dirWrong);
  writeFileSync(join(dirWrong, 'chain.pem'), `${pki.local.certPem}\n${pki.clientCa.certPem}\n`);
  copyFileSync(join(dir, 'key.pem'), join(dirWrong, 'key.pem'));
  wrongCaName = clientCaName;
  portWrong = await freePort();
  nginxWrong = await startNginx(NGINX!, dirWrong, portWrong, '    location / { return 200 "ok\\n"; }');
  // A server whose certificate has a 1024-bit RSA key and a SHA-1 signature (openssl signs it with
  // the issuing CA's key; nginx needs security level 0 to load such a key).
  const dirWeak = join(dir, 'weak');
  mkdirSync(dirWeak);
  writeFileSync(join(dirWeak, 'ca.pem'), pki.issuing.certPem);
  writeFileSync(join(dirWeak, 'ca.key'), pki.issuing.keyPem);
  writeFileSync(join(dirWeak, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dirWeak, stdio: 'ignore' });
  ssl(
    'req',
    '-newkey',
    'rsa:1024',
    '-nodes',
    '-keyout',
    'key.pem',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=localhost',
  );
  ssl(
    'x509',
    '-req',
    '-sha1',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    'ext',
    '-out',
    'leaf.pem',
  );
  writeFileSync(
    join(dirWeak, 'chain.pem'),
    `${readFileSync(join(dirWeak, 'leaf.pem'), 'utf8')}${pki.issuing.certPem}\n`,
  );
  portWeak = await freePort();
  nginxWeak = await startNginx(
    NGINX!,
    dirWeak,
    portWeak,
    '    ssl_ciphers DEFAULT:@SECLEVEL=0;\n    location / { return 200 "ok\\n"; }',
  );
  // The same server speaking TLS 1.3 only: its CertificateRequest travels encrypted.
  const dir13 = join(dir, 'tls13');
  mkdirSync(dir13);
  for (const f of ['chain.pem', 'key.pem']) copyFileSync(join(dir, f), join(dir13, f));
  port13 = await freePort();
  nginx13 = await startNginx(
    NGINX!,
    dir13,
    port13,
    `    ssl_protocols TLSv1.3;
    ssl_client_certificate ${dir}/client-ca.pem;
    ssl_verify_client on;
    location / { return 200 "hello from nginx\\n"; }`,
  );
});

after(() => {
  nginx?.kill();
  nginx13?.kill();
  nginxWrong?.kill();
  nginxWeak?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const probe = (...args: string[]) => probeAt(port, ...args);
const probeAt = (at: number, ...args: string[]) => {
  const r = runCli(
    ['probe', `https://localhost:${at}/`, '--trust', join(dir, 'trust.pem'), '--json', ...args],
    {
      env: { P12_PASSWORD: PASSWORD },
    },
  );
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(PASSWORD), 'the password never appears');
  return { ...r, json: JSON.parse(r.stdout) };
};

test(
  'nginx without a client certificate: it asks for one from the CA it names, and refuses the call',
  { skip },
  () => {
    const r = probe();
    assert.equal(r.status, 1, r.stderr);
    const tls = r.json.tls;
    assert.equal(
      r.json.steps.find((s: { name: string }) => s.name === 'tls').ok,
      true,
      'the chain is trusted',
    );
    assert.equal(tls.clientCertRequested, true);
    assert.deepEqual(tls.acceptableCAs, [clientCaName]);
    const http = r.json.steps.find((s: { name: string }) => s.name === 'http');
    assert.equal(http.ok, false);
    assert.match(http.detail, /400 Bad Request: the server requires a client certificate/);
    assert.equal(r.json.diagnoses[0].id, 'out-client-cert-rejected');
  },
);

test(
  'nginx on TLS 1.3: the request for a client certificate and its CA names, read from the one handshake (encrypted there)',
  { skip },
  () => {
    const r = probeAt(port13);
    assert.equal(r.json.tls.protocol, 'TLSv1.3');
    assert.equal(r.json.tls.clientCertRequested, true);
    assert.deepEqual(r.json.tls.acceptableCAs, [clientCaName]);
    assert.equal(r.json.diagnoses[0].id, 'out-client-cert-rejected');
    const good = probeAt(
      port13,
      '--client-cert',
      join(dir, 'good.p12'),
      '--client-cert-password-env',
      'P12_PASSWORD',
    );
    assert.equal(good.json.ok, true, good.stdout);
    assert.equal(good.json.tls.clientCertAccepted, true);
  },
);

test('nginx with a client certificate from the CA it accepts: every step passes', { skip }, () => {
  const r = probe('--client-cert', join(dir, 'good.p12'), '--client-cert-password-env', 'P12_PASSWORD');
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.tls.clientCertAccepted, true);
  assert.deepEqual(r.json.diagnoses, []);
});

test('nginx with a client certificate from another CA: refused, and said so', { skip }, () => {
  const r = probe('--client-cert', join(dir, 'stranger.p12'), '--client-cert-password-env', 'P12_PASSWORD');
  assert.equal(r.status, 1);
  assert.equal(r.json.tls.clientCertAccepted, false);
  assert.equal(r.json.diagnoses[0].id, 'out-client-cert-rejected');
});

test(
  'a refused client certificate: the tls line does not say accepted, and the cause the probe knows is named (attack14 C1, C12)',
  { skip },
  () => {
    const stranger = probe(
      '--client-cert',
      join(dir, 'stranger.p12'),
      '--client-cert-password-env',
      'P12_PASSWORD',
    );
    const tls = stranger.json.steps.find((s: { name: string }) => s.name === 'tls');
    // Before: "..., client certificate accepted" on the tls line while the verdict said refused.
    assert.doesNotMatch(tls.detail, /client certificate accepted/);
    assert.match(tls.detail, /client certificate sent \(then refused in the HTTP answer\)/);
    // The certificate presented, described; its issuer is not a CA nginx names: that cause, not "not told".
    assert.equal(
      stranger.json.tls.clientCert.subject,
      certInfo(new X509Certificate(pkiCerts.stranger)).subject,
    );
    assert.match(stranger.json.tls.clientCertProblems[0], /does not trust the client certificate's CA/);
    assert.equal(stranger.json.diagnoses[0].cause?.id, 'untrusted-ca');

    const expired = probe(
      '--client-cert',
      join(dir, 'expired.p12'),
      '--client-cert-password-env',
      'P12_PASSWORD',
    );
    assert.equal(expired.status, 1);
    assert.equal(expired.json.tls.clientCertAccepted, false);
    assert.ok(expired.json.tls.clientCert.daysLeft < 0);
    assert.match(
      expired.json.tls.clientCertProblems[0],
      /^the client certificate expired on \d{4}-\d\d-\d\d/,
    );
    assert.equal(expired.json.diagnoses[0].cause?.id, 'renewed-or-expired');
    const text = runCli(
      [
        'probe',
        `https://localhost:${port}/`,
        '--trust',
        join(dir, 'trust.pem'),
        '--client-cert',
        join(dir, 'expired.p12'),
        '--client-cert-password-env',
        'P12_PASSWORD',
      ],
      { env: { P12_PASSWORD: PASSWORD } },
    );
    assert.match(
      text.stdout.replace(/\s+/g, ' '),
      /presented: .*until \d{4}-\d\d-\d\d \(expired \d+ days ago\)/,
    );
  },
);

test(
  'a server that sends the wrong intermediate is told so, not "sends only its own certificate" (attack14 C22)',
  { skip },
  () => {
    const r = probeAt(portWrong);
    assert.equal(r.status, 1);
    const tls = r.json.steps.find((s: { name: string }) => s.name === 'tls');
    // Before: "The server sends only its own certificate, not the intermediate ..." and no trace of the one it sent.
    assert.doesNotMatch(tls.detail, /sends only its own certificate/);
    assert.match(tls.detail, /its chain file holds the wrong intermediate/);
    assert.ok(tls.detail.includes(wrongCaName), tls.detail);
    assert.deepEqual(
      r.json.tls.offPath.map((c: { subject: string }) => c.subject),
      [wrongCaName],
    );
    assert.equal(r.json.diagnoses[0].id, 'out-cert-path');
  },
);

test(
  "a weak key or signature in a trusted chain is the tls step's warning, not 'All steps passed' (attack14 C15)",
  { skip },
  () => {
    const r = probeAt(portWeak);
    assert.equal(r.status, 0, r.stdout);
    const tls = r.json.steps.find((s: { name: string }) => s.name === 'tls');
    assert.equal(tls.ok, true);
    // Before: the warning only inside the detail, no `warning`, and the run ended "All steps passed".
    assert.match(tls.warning ?? '', /weak 1024-bit RSA key.*signed with \S*sha1/i);
    const text = runCli(['probe', `https://localhost:${portWeak}/`, '--trust', join(dir, 'trust.pem')]);
    assert.match(text.stdout, /! No step failed, but one passed with a warning:/);
    assert.doesNotMatch(text.stdout, /All steps passed/);
  },
);

test('the same refusal seen from a sender (inbound) is the request not reaching the tenant', { skip }, () => {
  const r = probe('--direction', 'inbound');
  assert.equal(r.json.diagnoses[0].id, 'in-request-not-reaching');
});

test('a wrong PKCS#12 password is one sentence, exit 2', { skip }, () => {
  const r = runCli(
    [
      'probe',
      `https://localhost:${port}/`,
      '--client-cert',
      join(dir, 'good.p12'),
      '--client-cert-password-env',
      'WRONG',
    ],
    {
      env: { WRONG: 'not-the-password' },
    },
  );
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot open the client certificate good\.p12: wrong password/);
  assert.doesNotMatch(r.stderr, /not-the-password/);
});
