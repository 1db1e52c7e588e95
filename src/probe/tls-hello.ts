// Whether a server asks for a client certificate, and which CA names it will accept: what `openssl
// s_client` prints as "Acceptable client certificate CA names"; a sender's administrator needs it to
// pick the certificate the load balancer takes. The handshake's bytes are read in tls-tap.ts.
import 'reflect-metadata';
import { Name } from '@peculiar/x509';
import { oneLineDn } from '../trust/cert.js';

export interface CertificateRequestInfo {
  /** true: the server asked for a client certificate; false: it did not; undefined: could not tell. */
  requested?: boolean;
  caNames: string[];
  /** Why it could not tell (TLS 1.3 only, not TLS, no answer). */
  unknownBecause?: string;
}

/** Parses the CA names of a TLS 1.2 CertificateRequest body. */
export function caNamesOf(body: Buffer): string[] {
  let p = 1 + body[0]!; // certificate_types
  p += 2 + body.readUInt16BE(p); // supported_signature_algorithms
  return namesAt(body, p);
}

/** The distinguished names of a TLS `DistinguishedName certificate_authorities<3..2^16-1>` list at `p`. */
export function namesAt(body: Buffer, p: number): string[] {
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
