// The lab's servers, checked with plain node:https/net/tls clients: each must reproduce its failure
// exactly, since the probe's tests and the demo take them as ground truth.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { connect as netConnect, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, createSecureContext, type PeerCertificate, type TLSSocket } from 'node:tls';
import { startLab, type Lab, type LabScenario } from '../src/lab/index.js';
import { UserError } from '../src/errors.js';

let lab: Lab;
let ca: string;

before(async () => {
  lab = await startLab();
  ca = readFileSync(lab.trustFile, 'utf8');
});
after(() => lab.stop());

function scenario(name: string): LabScenario {
  const s = lab.scenarios.find((x) => x.name === name);
  assert.ok(s, `no scenario ${name}`);
  return s;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTPS request that trusts the lab root; `path` defaults to the scenario URL's. */
function fetchLab(
  name: string,
  opts: RequestOptions & { path?: string; body?: string } = {},
): Promise<Answer> {
  const url = new URL(scenario(name).url);
  const { body, ...rest } = opts;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, ca, agent: false, ...rest },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The TLS handshake's outcome against the lab root: the chain as Node builds it (the certificates the
 * server sent, leaf first, then the lab root when it completes the path), and the verification error.
 */
function handshake(name: string): Promise<{ chain: string[]; error?: string; leaf: X509Certificate }> {
  return new Promise((resolve, reject) => {
    // Without rejecting, so that the chain can be looked at whatever is wrong with it.
    const socket: TLSSocket = tlsConnect(
      {
        host: '127.0.0.1',
        port: scenario(name).port,
        ca,
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      },
      () => {
        const chain: string[] = [];
        let c: PeerCertificate | undefined = socket.getPeerCertificate(true);
        const seen = new Set<string>();
        while (c?.fingerprint256 && !seen.has(c.fingerprint256)) {
          seen.add(c.fingerprint256);
          chain.push(String(c.subject.CN));
          c = (c as { issuerCertificate?: PeerCertificate }).issuerCertificate;
        }
        const leaf = socket.getPeerX509Certificate() as X509Certificate;
        const error = socket.authorizationError as unknown as string | undefined;
        socket.destroy();
        resolve({ chain, error: error ?? undefined, leaf });
      },
    );
    socket.on('error', reject);
  });
}

/** The error a TLS client gets from the scenario after sending a request. */
function tlsError(name: string): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: scenario(name).port, ca }, () => {
      // TLS 1.3: the server judges the client certificate after the client's handshake is done.
      socket.write('GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', () => undefined);
    socket.on('error', resolve);
    socket.on('close', () => reject(new Error('closed without an error')));
  });
}

describe('certificates', () => {
  test('the trust file holds just the lab root', () => {
    const root = new X509Certificate(ca);
    assert.ok(root.ca);
    assert.ok(root.verify(root.publicKey), 'self-signed');
    assert.match(root.subject, /CN=linkdoctor lab Root CA/);
  });

  test('healthy sends leaf and intermediate, for 127.0.0.1 and localhost, and answers 200', async () => {
    const h = await handshake('healthy');
    assert.equal(h.error, undefined);
    assert.deepEqual(h.chain, ['localhost', 'linkdoctor lab Issuing CA', 'linkdoctor lab Root CA']);
    assert.equal(h.leaf.checkHost('localhost'), 'localhost');
    assert.equal(h.leaf.checkIP('127.0.0.1'), '127.0.0.1');
    const a = await fetchLab('healthy');
    assert.equal(a.status, 200);
  });

  test('unknown-ca sends a chain from a CA the trust file does not hold', async () => {
    const h = await handshake('unknown-ca');
    assert.equal(h.error, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.deepEqual(h.chain, ['localhost', 'Example Corp Issuing CA 1']);
    await assert.rejects(fetchLab('unknown-ca'), { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  });

  test('expired sends a lab certificate whose notAfter has passed', async () => {
    const h = await handshake('expired');
    assert.equal(h.error, 'CERT_HAS_EXPIRED');
    assert.ok(Date.parse(h.leaf.validTo) < Date.now());
    assert.equal(h.chain.length, 3, 'the chain is complete: only the date is wrong');
    await assert.rejects(fetchLab('expired'), { code: 'CERT_HAS_EXPIRED' });
  });

  test('wrong-host sends a trusted certificate for erp.example.com only', async () => {
    const h = await handshake('wrong-host');
    assert.equal(h.error, undefined, 'trusted');
    assert.equal(h.leaf.subjectAltName, 'DNS:erp.example.com');
    assert.equal(h.leaf.checkIP('127.0.0.1'), undefined);
    await assert.rejects(fetchLab('wrong-host'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  test('missing-intermediate sends only its leaf; with the intermediate added the chain holds', async () => {
    const h = await handshake('missing-intermediate');
    assert.equal(h.error, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.deepEqual(h.chain, ['localhost']);
    await assert.rejects(fetchLab('missing-intermediate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    // The intermediate healthy sends is exactly what is missing.
    const intermediate = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: scenario('healthy').port, ca }, () => {
        resolve(s.getPeerCertificate(true).issuerCertificate.raw.toString('base64'));
        s.destroy();
      }).on('error', reject);
    });
    const pem = `-----BEGIN CERTIFICATE-----\n${intermediate}\n-----END CERTIFICATE-----\n`;
    const a = await fetchLab('missing-intermediate', { ca: [ca, pem] });
    assert.equal(a.status, 200);
  });
});

describe('client certificate', () => {
  test('the PKCS#12 files open with the lab password', () => {
    for (const file of [lab.clientCert.good, lab.clientCert.wrongCa])
      createSecureContext({ pfx: readFileSync(file), passphrase: lab.clientCert.password });
  });

  test('without a client certificate the server ends the handshake with certificate_required', async () => {
    const e = await tlsError('client-cert');
    assert.equal(e.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  });

  test('a client certificate from another CA is refused: the server hangs up without answering', async () => {
    // A Node server judges the certificate after the handshake and just closes, where nginx or SAP's
    // ICM send an unknown_ca alert.
    const pfx = readFileSync(lab.clientCert.wrongCa);
    await assert.rejects(fetchLab('client-cert', { pfx, passphrase: lab.clientCert.password }), {
      code: 'ECONNRESET',
    });
  });

  test('the good client certificate is accepted', async () => {
    const a = await fetchLab('client-cert', {
      pfx: readFileSync(lab.clientCert.good),
      passphrase: lab.clientCert.password,
    });
    assert.equal(a.status, 200);
    assert.match(a.body, /hello lab-client/);
  });

  const openssl = spawnSync('openssl', ['version']).status === 0;
  test('the CertificateRequest names the lab client CA', { skip: !openssl && 'no openssl' }, async () => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${scenario('client-cert').port}`], {
      timeout: 10_000,
    });
    child.stdin?.end();
    const out = await new Promise<string>((resolve) => {
      let text = '';
      child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
      child.on('close', () => resolve(text));
    });
    const names =
      /Acceptable client certificate CA names\n([^]*?)\n(?:Requested|Client Certificate Types)/.exec(out);
    assert.ok(names, out);
    assert.equal(names[1]?.trim(), 'O = linkdoctor lab, CN = linkdoctor lab Client CA');
  });
});

describe('HTTP', () => {
  test('basic-auth: 401 with a Basic challenge unless the right user and password', async () => {
    const none = await fetchLab('basic-auth');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Basic realm="lab"');
    const wrong = await fetchLab('basic-auth', { auth: `${lab.basicAuth.user}:wrong` });
    assert.equal(wrong.status, 401);
    const right = await fetchLab('basic-auth', { auth: `${lab.basicAuth.user}:${lab.basicAuth.password}` });
    assert.equal(right.status, 200);
  });

  test('forbidden: 403 for everything', async () => {
    assert.equal((await fetchLab('forbidden')).status, 403);
    assert.equal((await fetchLab('forbidden', { method: 'POST', path: '/any', body: '{}' })).status, 403);
  });

  test('case-404: /orders is 404, /Orders is 200', async () => {
    assert.equal(new URL(scenario('case-404').url).pathname, '/orders');
    assert.equal((await fetchLab('case-404')).status, 404);
    assert.equal((await fetchLab('case-404', { path: '/Orders' })).status, 200);
  });

  test('csrf: the SAP fetch flow, and each way of getting it wrong', async () => {
    const post = (headers: Record<string, string>) =>
      fetchLab('csrf', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: '{}',
      });

    const noToken = await post({});
    assert.equal(noToken.status, 403);
    assert.equal(noToken.headers['x-csrf-token'], 'Required');

    const fetched = await fetchLab('csrf', { headers: { 'X-CSRF-Token': 'Fetch' } });
    assert.equal(fetched.status, 200);
    const token = fetched.headers['x-csrf-token'] as string;
    const cookie = fetched.headers['set-cookie']?.[0]?.split(';')[0] as string;
    assert.ok(token && token !== 'Required');
    assert.match(cookie, /^SAP_SESSIONID_LAB=/);

    const cookieLost = await post({ 'X-CSRF-Token': token });
    assert.equal(cookieLost.status, 403);
    assert.equal(cookieLost.body.trim(), 'CSRF token validation failed');

    const other = await fetchLab('csrf', { headers: { 'X-CSRF-Token': 'Fetch' } });
    const otherCookie = other.headers['set-cookie']?.[0]?.split(';')[0] as string;
    assert.notEqual(otherCookie, cookie);
    const otherSession = await post({ 'X-CSRF-Token': token, Cookie: otherCookie });
    assert.equal(otherSession.status, 403);
    assert.equal(otherSession.body.trim(), 'CSRF token validation failed');

    const again = await fetchLab('csrf', {
      method: 'HEAD',
      headers: { 'X-CSRF-Token': 'Fetch', Cookie: cookie },
    });
    assert.equal(again.headers['x-csrf-token'], token, 'a session keeps its token');

    const ok = await post({ 'X-CSRF-Token': token, Cookie: cookie });
    assert.equal(ok.status, 201);
  });

  test('length-required: 411 for a chunked empty POST, 200 with Content-Length: 0', async () => {
    const chunked = await fetchLab('length-required', {
      method: 'POST',
      headers: { 'Transfer-Encoding': 'chunked' },
    });
    assert.equal(chunked.status, 411);
    const explicit = await fetchLab('length-required', {
      method: 'POST',
      headers: { 'Content-Length': '0' },
    });
    assert.equal(explicit.status, 200);
  });

  test('unavailable: 503 with Retry-After', async () => {
    const a = await fetchLab('unavailable');
    assert.equal(a.status, 503);
    assert.match(String(a.headers['retry-after']), /^\d+$/);
  });

  test('redirect-loop: every answer is a 302 and the Locations go round in a circle', async () => {
    const start = new URL(scenario('redirect-loop').url).pathname;
    const seen: string[] = [];
    let path = start;
    do {
      const a = await fetchLab('redirect-loop', { path });
      assert.equal(a.status, 302);
      seen.push(path);
      path = new URL(a.headers.location as string, scenario('redirect-loop').url).pathname;
      assert.ok(seen.length < 10, `no circle: ${seen.join(' → ')}`);
    } while (path !== start);
    assert.ok(seen.length > 1);
    assert.equal((await fetchLab('redirect-loop', { path: '/elsewhere' })).status, 302);
  });
});

describe('sockets', () => {
  test('silent: the connection stays open and nothing comes for 1 s', async () => {
    const socket = netConnect(scenario('silent').port, '127.0.0.1');
    const events: string[] = [];
    socket.on('data', () => events.push('data'));
    socket.on('close', () => events.push('close'));
    socket.on('error', (e) => events.push(`error ${e.message}`));
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET / HTTP/1.1\r\nHost: lab\r\n\r\n');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(events, []);
    socket.destroy();
  });

  test('closes: the connection is accepted, then closed at once; a TLS client sees a reset', async () => {
    const t0 = Date.now();
    const socket = netConnect(scenario('closes').port, '127.0.0.1');
    const events: string[] = [];
    socket.on('connect', () => events.push('connect'));
    socket.on('error', () => events.push('error'));
    await new Promise((r) => socket.on('close', r));
    assert.equal(events[0], 'connect');
    assert.ok(Date.now() - t0 < 500);
    const e = await tlsError('closes');
    assert.equal(e.code, 'ECONNRESET');
  });
});

describe('lifecycle', () => {
  test('opts.port puts the servers on consecutive ports; a port in use is a clear error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startLab({ port: taken }),
        (e: Error) => e instanceof UserError && /in use/.test(e.message),
      );
    } finally {
      blocker.close();
    }
    // Some 15 consecutive free ports: try a few random places in the high range.
    for (let attempt = 0; ; attempt++) {
      const first = 20000 + Math.floor(Math.random() * 30000);
      try {
        const other = await startLab({ port: first });
        // Each scenario's own server in order, then the fake tenant's API host and runtime host.
        const own = other.scenarios.filter((s) => !s.name.startsWith('tenant-'));
        assert.deepEqual(
          own.map((s) => s.port),
          own.map((_, i) => first + i),
        );
        assert.equal(other.tenant.url, `https://127.0.0.1:${first + own.length}`);
        assert.equal(other.tenant.runtimeUrl, `https://127.0.0.1:${first + own.length + 1}`);
        await other.stop();
        return;
      } catch (e) {
        if (!(e instanceof UserError) || attempt === 4) throw e;
      }
    }
  });

  test('stop() closes every port and removes the temp folder', async () => {
    await lab.stop();
    assert.equal(existsSync(lab.dir), false);
    for (const s of lab.scenarios) {
      const code = await new Promise<string | undefined>((resolve) => {
        const socket = netConnect(s.port, '127.0.0.1');
        socket.on('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
      });
      assert.equal(code, 'ECONNREFUSED', `${s.name} still listens`);
    }
  });
});
