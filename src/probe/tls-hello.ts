// Whether a server asks for a client certificate, and which CA names it will accept.
// Node exposes neither (OpenSSL's SSL_get_client_CA_list is not bound), so this sends a TLS 1.2
// ClientHello and reads the server's first flight, where CertificateRequest travels in the clear
// (in TLS 1.3 it is encrypted). This is what `openssl s_client` prints as "Acceptable client
// certificate CA names"; a sender's administrator needs it to pick the certificate the load balancer takes.
import 'reflect-metadata';
import { Name } from '@peculiar/x509';
import { oneLineDn } from '../trust/cert.js';
import { randomBytes } from 'node:crypto';
import { isIP, Socket } from 'node:net';

export interface CertificateRequestInfo {
  /** true: the server asked for a client certificate; false: it did not; undefined: could not tell. */
  requested?: boolean;
  caNames: string[];
  /** Why it could not tell (TLS 1.3 only, not TLS, no answer). */
  unknownBecause?: string;
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);
const ext = (type: number, body: Buffer) => Buffer.concat([u16(type), vec16(body)]);

// TLS 1.2 suites a load balancer or a Java/ABAP server offers; broad so that old servers answer too.
const SUITES = [
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009e, 0x009f, 0x009c,
  0x009d, 0x002f, 0x0035, 0xc023, 0xc027, 0xc024, 0xc028, 0x003c, 0x003d,
];
const SIGALGS = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201];
const GROUPS = [0x001d, 0x0017, 0x0018, 0x0019];

export function clientHello(servername?: string): Buffer {
  const exts = [
    ext(0x000a, vec16(Buffer.concat(GROUPS.map(u16)))),
    ext(0x000b, Buffer.from([1, 0])),
    ext(0x000d, vec16(Buffer.concat(SIGALGS.map(u16)))),
    ext(0x0017, Buffer.alloc(0)),
    ext(0xff01, Buffer.from([0])),
  ];
  if (servername && !isIP(servername)) {
    const name = Buffer.from(servername, 'ascii');
    exts.unshift(ext(0x0000, vec16(Buffer.concat([Buffer.from([0]), vec16(name)]))));
  }
  const body = Buffer.concat([
    u16(0x0303),
    randomBytes(32),
    Buffer.from([0]),
    vec16(Buffer.concat(SUITES.map(u16))),
    Buffer.from([1, 0]),
    vec16(Buffer.concat(exts)),
  ]);
  const handshake = Buffer.concat([Buffer.from([1]), u24(body.length), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

/** Parses the CA names of a TLS 1.2 CertificateRequest body. */
export function caNamesOf(body: Buffer): string[] {
  let p = 1 + body[0]!; // certificate_types
  p += 2 + body.readUInt16BE(p); // supported_signature_algorithms
  const end = p + 2 + body.readUInt16BE(p);
  p += 2;
  const names: string[] = [];
  while (p + 2 <= end) {
    const len = body.readUInt16BE(p);
    const der = body.subarray(p + 2, p + 2 + len);
    try {
      names.push(oneLineDn(new Name(new Uint8Array(der))));
    } catch {
      names.push(`(undecodable name, ${len} bytes)`);
    }
    p += 2 + len;
  }
  return names;
}

/** A first flight larger than this is not read: a real one (certificates included) takes a few KB. */
const FLIGHT_MAX = 256 * 1024;

const ALERTS: Record<number, string> = {
  40: 'handshake_failure',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  112: 'unrecognized_name',
};

/** Reads the server's first flight; resolves within `timeoutMs`, never rejects. */
export function inspectCertificateRequest(
  host: string,
  port: number,
  opts: { servername?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<CertificateRequestInfo> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let records = Buffer.alloc(0);
    let handshake = Buffer.alloc(0);
    let done = false;
    const finish = (info: CertificateRequestInfo) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(info);
    };
    const timer = setTimeout(
      () => finish({ caNames: [], unknownBecause: 'the server did not finish its TLS 1.2 hello in time' }),
      opts.timeoutMs,
    );
    opts.signal?.addEventListener(
      'abort',
      () => finish({ caNames: [], unknownBecause: 'the step ran out of time' }),
      { once: true },
    );
    if (opts.signal?.aborted) return finish({ caNames: [], unknownBecause: 'the step ran out of time' });
    socket.on('error', (e: NodeJS.ErrnoException) =>
      finish({ caNames: [], unknownBecause: `connection failed (${e.code ?? e.message})` }),
    );
    socket.on('close', () =>
      finish({ caNames: [], unknownBecause: 'the server closed the connection during the TLS 1.2 hello' }),
    );
    let read = 0;
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > FLIGHT_MAX)
        return finish({
          caNames: [],
          unknownBecause: `the server sent more than ${FLIGHT_MAX / 1024} KB without finishing its TLS 1.2 hello`,
        });
      records = Buffer.concat([records, chunk]);
      while (records.length >= 5) {
        const type = records[0]!;
        const len = records.readUInt16BE(3);
        if (records.length < 5 + len) break;
        const frag = records.subarray(5, 5 + len);
        records = records.subarray(5 + len);
        if (type === 21) {
          const name = ALERTS[frag[1]!] ?? `alert ${frag[1]}`;
          return finish({
            caNames: [],
            unknownBecause: `the server refused a TLS 1.2 hello (${name}); it may speak TLS 1.3 only, where the request is encrypted`,
          });
        }
        if (type !== 22) return finish({ caNames: [], unknownBecause: 'the server does not speak TLS' });
        handshake = Buffer.concat([handshake, frag]);
        while (handshake.length >= 4) {
          const htype = handshake[0]!;
          const hlen = handshake.readUIntBE(1, 3);
          if (handshake.length < 4 + hlen) break;
          const body = handshake.subarray(4, 4 + hlen);
          handshake = handshake.subarray(4 + hlen);
          try {
            if (htype === 13) return finish({ requested: true, caNames: caNamesOf(body) });
          } catch {
            return finish({
              requested: true,
              caNames: [],
              unknownBecause: 'the CertificateRequest could not be parsed',
            });
          }
          if (htype === 14) return finish({ requested: false, caNames: [] });
        }
      }
      if (records.length && records[0] !== 21 && records[0] !== 22)
        finish({ caNames: [], unknownBecause: 'the server does not speak TLS' });
    });
    socket.connect({ host, port }, () => socket.write(clientHello(opts.servername ?? host)));
  });
}
