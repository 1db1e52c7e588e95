// Reading the client-certificate request from the probe's own handshake bytes (src/probe/tls-tap.ts):
// whatever a server sends, the answer is a finding or a reason, never an exception. The real
// handshakes (TLS 1.2 in the clear, TLS 1.3 encrypted) are in test/probe-nginx.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { certificateRequestOf, certificatesSentOf } from '../src/probe/tls-tap.js';

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
    assert.deepEqual(certificatesSentOf(record(22, message(11, bytes))), []);
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
