// A server's SSH host key as the wire carries it, and the fingerprints users compare: SHA256 in
// OpenSSH's form (what ssh-keygen -lf and ssh print) and the MD5 hex older JSch prints.
import { createHash } from 'node:crypto';

export interface HostKey {
  /** The key type as known_hosts names it: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ... */
  type: string;
  /** The public key blob (RFC 4253 6.6): what known_hosts holds in base64. */
  blob: Buffer;
}

/** The key type is the first string of the blob; an rsa-sha2-512 signature still has an ssh-rsa key. */
export function hostKeyOf(blob: Buffer): HostKey {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = len > 0 && len <= blob.length - 4 ? blob.toString('latin1', 4, 4 + len) : 'unknown';
  return { type, blob };
}

/** The key type a host-key algorithm uses: rsa-sha2-256 and rsa-sha2-512 sign with an ssh-rsa key. */
export function keyTypeOfAlgorithm(algorithm: string): string {
  return algorithm.startsWith('rsa-sha2-') ? 'ssh-rsa' : algorithm;
}

export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function md5Fingerprint(blob: Buffer): string {
  return createHash('md5')
    .update(blob)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}
