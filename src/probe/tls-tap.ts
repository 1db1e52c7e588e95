// Whether the server asked for a client certificate, and which CA names it accepts, read from the
// probe's own handshake: no second connection. Node exposes neither (OpenSSL's SSL_get_client_CA_list
// is not bound), so the bytes the server sends during the handshake are kept as they pass (a tap
// between the TCP socket and the TLS one) and read afterwards. In TLS 1.2 the CertificateRequest
// travels in the clear; in TLS 1.3 it is encrypted with the server's handshake traffic key, which
// this process derives from the secret Node hands to its own `keylog` listener (RFC 8446 §7.1, §7.3,
// §5.2). The secret never leaves this module: it is used once, in memory, and dropped.
import { createDecipheriv, createHmac } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { caNamesOf, namesAt, type CertificateRequestInfo } from './tls-hello.js';

/** The server's handshake bytes kept at most: a real flight (certificates included) takes a few KB. */
const FLIGHT_MAX = 256 * 1024;

/**
 * A Duplex over a connected TCP socket that passes every byte both ways and keeps what the server
 * sends until `stop()` (or FLIGHT_MAX): hand it to `tls.connect({ socket })`.
 */
export class HandshakeTap extends Duplex {
  private kept: Buffer[] = [];
  private size = 0;
  private keeping = true;

  constructor(readonly raw: Socket) {
    super({ allowHalfOpen: false });
    raw.on('data', (chunk: Buffer) => {
      if (this.keeping) {
        if (this.size + chunk.length > FLIGHT_MAX) this.stop();
        else {
          this.kept.push(chunk);
          this.size += chunk.length;
        }
      }
      if (!this.push(chunk)) raw.pause();
    });
    raw.once('end', () => this.push(null));
    raw.once('error', (e) => this.destroy(e));
    raw.once('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  /** The server's bytes so far (undefined when the flight was larger than FLIGHT_MAX). */
  get received(): Buffer | undefined {
    return this.keeping ? Buffer.concat(this.kept, this.size) : undefined;
  }

  /** Keep nothing more. */
  stop(): void {
    this.keeping = false;
    this.kept = [];
    this.size = 0;
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.raw.write(chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.raw.end();
    cb();
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.raw.destroy();
    cb(e);
  }
}

/** Listens for the server's TLS 1.3 handshake traffic secret; call before the server's flight arrives. */
export function keepServerSecret(socket: TLSSocket): { secret?: Buffer } {
  const out: { secret?: Buffer } = {};
  socket.on('keylog', (line: Buffer) => {
    // "SERVER_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>", NSS's key log format.
    const text = line.toString('latin1');
    if (text.startsWith('SERVER_HANDSHAKE_TRAFFIC_SECRET '))
      out.secret = Buffer.from(text.trim().split(' ')[2] ?? '', 'hex');
  });
  return out;
}

interface TlsRecord {
  type: number;
  header: Buffer;
  fragment: Buffer;
}

function records(bytes: Buffer): TlsRecord[] {
  const out: TlsRecord[] = [];
  for (let p = 0; p + 5 <= bytes.length;) {
    const len = bytes.readUInt16BE(p + 3);
    if (p + 5 + len > bytes.length) break;
    out.push({
      type: bytes[p]!,
      header: bytes.subarray(p, p + 5),
      fragment: bytes.subarray(p + 5, p + 5 + len),
    });
    p += 5 + len;
  }
  return out;
}

/** Handshake messages (type, body) in a byte stream of them; stops at an incomplete one. */
function* messages(stream: Buffer): Generator<[number, Buffer]> {
  for (let p = 0; p + 4 <= stream.length;) {
    const len = stream.readUIntBE(p + 1, 3);
    if (p + 4 + len > stream.length) return;
    yield [stream[p]!, stream.subarray(p + 4, p + 4 + len)];
    p += 4 + len;
  }
}

/** The server's handshake messages in the clear (TLS 1.2 and older: up to its ChangeCipherSpec). */
function clearHandshake(all: TlsRecord[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of all) {
    if (r.type !== 22) break;
    parts.push(r.fragment);
  }
  return Buffer.concat(parts);
}

/** The AEAD of a TLS 1.3 cipher suite: OpenSSL's cipher name, key length, and the hash of its HKDF. */
const SUITES: Record<string, { cipher: string; keyLength: number; hash: string }> = {
  TLS_AES_128_GCM_SHA256: { cipher: 'aes-128-gcm', keyLength: 16, hash: 'sha256' },
  TLS_AES_256_GCM_SHA384: { cipher: 'aes-256-gcm', keyLength: 32, hash: 'sha384' },
  TLS_CHACHA20_POLY1305_SHA256: { cipher: 'chacha20-poly1305', keyLength: 32, hash: 'sha256' },
};

/** HKDF-Expand-Label(secret, label, "", length) of RFC 8446 §7.1, for a length within one hash block. */
function expandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff, full.length]),
    full,
    Buffer.from([0, 1]),
  ]);
  return createHmac(hash, secret).update(info).digest().subarray(0, length);
}

/** The server's encrypted handshake messages of TLS 1.3, decrypted; throws when a record does not open. */
function decryptedHandshake(all: TlsRecord[], suite: string, secret: Buffer): Buffer {
  const s = SUITES[suite];
  if (!s) throw new Error(`the cipher suite ${suite} is not one this probe can read`);
  const key = expandLabel(s.hash, secret, 'key', s.keyLength);
  const iv = expandLabel(s.hash, secret, 'iv', 12);
  const parts: Buffer[] = [];
  let seq = 0;
  for (const r of all) {
    if (r.type !== 23) continue;
    const nonce = Buffer.from(iv);
    // The 64-bit record sequence number, XORed into the IV's last bytes (RFC 8446 §5.3).
    for (let i = 0, n = seq++; i < 8; i++, n = Math.floor(n / 256)) nonce[11 - i]! ^= n & 0xff;
    const decipher = createDecipheriv(s.cipher as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
    decipher.setAAD(r.header);
    decipher.setAuthTag(r.fragment.subarray(r.fragment.length - 16));
    const plain = Buffer.concat([
      decipher.update(r.fragment.subarray(0, r.fragment.length - 16)),
      decipher.final(),
    ]);
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--;
    const type = plain[end - 1];
    if (type === 22) parts.push(plain.subarray(0, end - 1));
    // Finished ends the server's handshake flight: later records use other keys.
    const stream = Buffer.concat(parts);
    for (const [t] of messages(stream)) if (t === 20) return stream;
  }
  return Buffer.concat(parts);
}

/** The CA names in a TLS 1.3 CertificateRequest's certificate_authorities extension (47). */
function caNames13(body: Buffer): string[] {
  let p = 1 + body[0]!; // certificate_request_context
  const end = p + 2 + body.readUInt16BE(p);
  p += 2;
  while (p + 4 <= end) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    if (type === 47) return namesAt(body, p + 4);
    p += 4 + len;
  }
  return [];
}

/** What the server's handshake flight says: the client-certificate question, and the certificates sent. */
export interface ServerFlight {
  request: CertificateRequestInfo;
  /** The DER of each certificate in the server's Certificate message, in the order sent; absent when unread. */
  certificates?: Buffer[];
}

/** The certificates (DER) of a Certificate message's body, in order (RFC 5246 §7.4.2, RFC 8446 §4.4.2). */
function certificatesOf(body: Buffer, tls13: boolean): Buffer[] {
  let p = tls13 ? 1 + body[0]! : 0; // TLS 1.3: certificate_request_context
  const end = p + 3 + body.readUIntBE(p, 3);
  if (end > body.length) throw new Error('a truncated Certificate message');
  p += 3;
  const out: Buffer[] = [];
  while (p < end) {
    const len = body.readUIntBE(p, 3);
    p += 3;
    if (p + len > end) throw new Error('a truncated certificate');
    out.push(body.subarray(p, p + len));
    p += len;
    if (tls13) p += 2 + body.readUInt16BE(p); // the entry's extensions
  }
  return out;
}

/**
 * The server's handshake flight, read: `received` are the bytes the server sent (HandshakeTap),
 * `protocol` and `suite` what the handshake agreed, `secret` the TLS 1.3 server handshake traffic
 * secret. Never throws: what it cannot read of the client-certificate question is told in
 * `request.unknownBecause`, certificates it cannot read are left out.
 */
export function readFlight(
  received: Buffer | undefined,
  protocol: string | undefined,
  suite: string | undefined,
  secret: Buffer | undefined,
): ServerFlight {
  if (!received)
    return { request: { caNames: [], unknownBecause: 'the server sent more than 256 KB in its handshake' } };
  try {
    const all = records(received);
    let stream: Buffer;
    const tls13 = protocol === 'TLSv1.3';
    if (tls13) {
      if (!secret || !suite)
        return { request: { caNames: [], unknownBecause: 'the TLS 1.3 handshake keys were not available' } };
      stream = decryptedHandshake(all, suite, secret);
    } else {
      // TLS 1.2 and older: the server's flight is in the clear up to its ChangeCipherSpec.
      stream = clearHandshake(all);
    }
    let certificates: Buffer[] | undefined;
    let request: CertificateRequestInfo | undefined;
    const flight = (r: CertificateRequestInfo): ServerFlight => ({
      request: r,
      ...(certificates?.length ? { certificates } : {}),
    });
    for (const [type, body] of messages(stream)) {
      if (type === 11) {
        try {
          certificates = certificatesOf(body, tls13);
        } catch {
          certificates = undefined;
        }
      } else if (type === 13)
        request ??= { requested: true, caNames: tls13 ? caNames13(body) : caNamesOf(body) };
      else if (type === 14 || type === 20) return flight(request ?? { requested: false, caNames: [] });
    }
    return flight(request ?? { caNames: [], unknownBecause: "the server's handshake flight was incomplete" });
  } catch (e) {
    return {
      request: {
        caNames: [],
        unknownBecause: `the server's handshake could not be read (${(e as Error).message})`,
      },
    };
  }
}

/** What the server's handshake flight says of client certificates (readFlight's `request`). */
export function certificateRequestOf(
  received: Buffer | undefined,
  protocol: string | undefined,
  suite: string | undefined,
  secret: Buffer | undefined,
): CertificateRequestInfo {
  return readFlight(received, protocol, suite, secret).request;
}
