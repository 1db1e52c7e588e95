// Reading the client-certificate request from the probe's own handshake bytes (src/probe/tls-tap.ts):
// whatever a server sends, the answer is a finding or a reason, never an exception. The real
// handshakes (TLS 1.2 in the clear, TLS 1.3 encrypted) are in test/probe-nginx.test.ts.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { certificateRequestOf, readFlight } from '../src/probe/tls-tap.js';
import { parsedCertificates } from '../src/trust/fetch.js';

const record = (type: number, body: Buffer) =>
  Buffer.concat([Buffer.from([type, 3, 3, body.length >> 8, body.length & 0xff]), body]);
const message = (type: number, body: Buffer) =>
  Buffer.concat([Buffer.from([type, 0, (body.length >> 8) & 0xff, body.length & 0xff]), body]);

test('TLS 1.2: a ServerHelloDone without a CertificateRequest is "not requested"', () => {
  const flight = record(22, Buffer.concat([message(2, Buffer.alloc(40)), message(14, Buffer.alloc(0))]));
  assert.deepEqual(certificateRequestOf(flight, 'TLSv1.2', undefined, undefined), {
    requested: false,
    caNames: [],
  });
});

test('TLS 1.2: a CertificateRequest with no CA names is "requested", names empty', () => {
  // certificate_types <1>, signature algorithms <2>, CA names <0>
  const request = Buffer.from([1, 1, 0, 2, 4, 3, 0, 0]);
  const flight = record(22, Buffer.concat([message(13, request), message(14, Buffer.alloc(0))]));
  assert.deepEqual(certificateRequestOf(flight, 'TLSv1.2', undefined, undefined), {
    requested: true,
    caNames: [],
  });
});

test('garbage, truncated flights, a missing secret and an oversized flight: a reason, never an exception', () => {
  for (let i = 0; i < 200; i++) {
    const bytes = randomBytes(1 + (i % 64) * 7);
    for (const protocol of ['TLSv1.2', 'TLSv1.3'])
      assert.doesNotThrow(() =>
        certificateRequestOf(bytes, protocol, 'TLS_AES_128_GCM_SHA256', randomBytes(32)),
      );
    assert.deepEqual(
      parsedCertificates(
        readFlight(record(22, message(11, bytes)), undefined, undefined, undefined).certificates,
      ),
      [],
    );
  }
  const truncated = record(22, message(13, Buffer.from([5, 1, 2])));
  assert.match(
    certificateRequestOf(truncated, 'TLSv1.2', undefined, undefined).unknownBecause ?? '',
    /could not be read/,
  );
  assert.match(
    certificateRequestOf(Buffer.alloc(0), 'TLSv1.3', 'TLS_AES_128_GCM_SHA256', undefined).unknownBecause ??
      '',
    /keys were not available/,
  );
  assert.match(
    certificateRequestOf(undefined, 'TLSv1.3', undefined, undefined).unknownBecause ?? '',
    /256 KB/,
  );
});

test("the server's certificates read from the handshake itself (TLS 1.2 in the clear, TLS 1.3 decrypted) are the chain the socket sees, in the order sent", async () => {
  const { makePki } = await import('../src/lab/pki.js');
  const { HandshakeTap, keepServerSecret } = await import('../src/probe/tls-tap.js');
  const { peerChain } = await import('../src/trust/fetch.js');
  const { connect: tcpConnect } = await import('node:net');
  const { connect, createServer } = await import('node:tls');
  const pki = await makePki();
  // A leaf and its issuing CA, asking for a client certificate (the CertificateRequest is read from the same flight).
  const sentPem = [pki.local.certPem, pki.issuing.certPem];
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const server = createServer({
      key: pki.local.keyPem,
      cert: sentPem.join(''),
      minVersion: version,
      maxVersion: version,
      requestCert: true,
      rejectUnauthorized: false,
      ca: [pki.clientCa.certPem],
    });
    server.on('secureConnection', (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const tcp = tcpConnect({ host: '127.0.0.1', port });
    const tap = new HandshakeTap(tcp);
    const socket = connect({ socket: tap, rejectUnauthorized: false });
    const keys = keepServerSecret(socket);
    await new Promise((r) => socket.once('secureConnect', r));
    const flight = readFlight(
      tap.received,
      socket.getProtocol() ?? undefined,
      socket.getCipher()?.standardName,
      keys.secret,
    );
    assert.equal(socket.getProtocol(), version);
    assert.equal(flight.request.requested, true, version);
    assert.equal(flight.certificates?.length, 2, version);
    const fromSocket = peerChain(socket).map((c) => c.fingerprint256);
    assert.deepEqual(
      peerChain(socket, flight.certificates).map((c) => c.fingerprint256),
      fromSocket,
      version,
    );
    assert.deepEqual(
      fromSocket,
      sentPem.map((pem) => new X509Certificate(pem).fingerprint256),
    );
    socket.destroy();
    await new Promise((r) => server.close(r));
  }
});
