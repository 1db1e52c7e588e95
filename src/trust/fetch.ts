// The chain exactly as a server sends it. Node's getPeerCertificate(true) completes the chain with
// issuers from the client's own CA store, which would hide a missing intermediate; so we connect
// with a store holding only a throwaway certificate, accept whatever comes, and judge it afterwards.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { describeError, hostPort, NOT_TLS, UserError } from '../errors.js';

/**
 * A self-signed certificate whose private key was discarded when it was made (openssl, once), so
 * nothing can ever chain to it: the only CA of the isolated store. A constant, because generating
 * one at run time (an RSA key and a signature) cost every probe ~150 ms.
 */
const THROWAWAY_CA = `-----BEGIN CERTIFICATE-----
MIIBzjCCAXOgAwIBAgIUB+/KjF3vJD/fjFQ3FYDWgRsrQfwwCgYIKoZIzj0EAwIw
OzE5MDcGA1UEAwwwbGlua2RvY3RvciBpc29sYXRlZCB0cnVzdCBzdG9yZSAodHJ1
c3RzIG5vdGhpbmcpMCAXDTI2MTEyNDIwMjg0OVoYDzIxMjYxMDMxMjAyODQ5WjA7
MTkwNwYDVQQDDDBsaW5rZG9jdG9yIGlzb2xhdGVkIHRydXN0IHN0b3JlICh0cnVz
dHMgbm90aGluZykwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQZtChM/9UZNQU8
D2Pn+vPTiOcM4AsFVa38vrciSYG3KHmyEPyMKHdluL5enlC51VNEiZNVaVH7oNVg
+JZKhKSho1MwUTAdBgNVHQ4EFgQUrmpT1F+jjlhh94oDYXaxXwfOHQYwHwYDVR0j
BBgwFoAUrmpT1F+jjlhh94oDYXaxXwfOHQYwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNJADBGAiEAz8ve3VX7D1014FwvgLlZIZbCVszz0TFJUpXfoF9N2wwC
IQCpIomQApMdERmsJRRwd8AYn24Kcou5iAo6kQW9/ilzCQ==
-----END CERTIFICATE-----
`;

/** TLS options under which nothing of the client's own store can be appended to the peer chain. */
export function isolatedTlsOptions(): Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized'> {
  return { ca: [THROWAWAY_CA], rejectUnauthorized: false };
}

/** Certificates parsed from the DER a server sent, by that DER, the most recently seen last. */
const parsed = new Map<string, X509Certificate>();
/** Parsed certificates kept: the chains of a large inventory. */
const PARSED_MAX = 4096;

/**
 * The certificate of `der`, parsed once: a watch or the exporter sees the same chains again and
 * again, and OpenSSL 3 decodes a certificate's public key through its provider machinery, which
 * costs about a tenth of a loopback probe for each certificate. Throws when `der` is no certificate.
 */
function certificateOf(der: Buffer): X509Certificate {
  const key = der.toString('latin1');
  let cert = parsed.get(key);
  if (cert) parsed.delete(key);
  else cert = new X509Certificate(der);
  parsed.set(key, cert);
  if (parsed.size > PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  return cert;
}

/**
 * The certificates of `der` (as a server sent them), each parsed once (see certificateOf), a
 * certificate sent twice once; empty when one of them is no certificate (nothing rather than half a
 * chain). Never throws.
 */
export function parsedCertificates(der: readonly Buffer[] | undefined): X509Certificate[] {
  try {
    const out: X509Certificate[] = [];
    const seen = new Set<string>();
    for (const d of der ?? []) {
      const cert = certificateOf(d);
      if (!seen.has(cert.fingerprint256)) out.push(cert);
      seen.add(cert.fingerprint256);
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * The chain as the server sent it, leaf first (connect with isolatedTlsOptions()): from the leaf, each
 * next certificate is the first of the others the server sent that issued it (by name, OpenSSL's
 * X509_check_issued), as Node's getPeerCertificate(true) orders them, without turning every
 * certificate into a plain object and parsing it again (most of a loopback probe's own work).
 * `sentDer`: the certificates of the server's Certificate message, in the order sent, when the
 * caller read them from the handshake (tls-tap.ts); otherwise they come from the socket, which
 * copies and parses each one again.
 */
export function peerChain(socket: TLSSocket, sentDer?: readonly Buffer[]): X509Certificate[] {
  // The certificates in the order sent: from the socket, each one's issuerCertificate is the next one sent.
  const sent = parsedCertificates(sentDer);
  if (!sent.length) for (let c = socket.getPeerX509Certificate(); c; c = c.issuerCertificate) sent.push(c);
  if (!sent.length) return [];
  const chain = [sent[0]!];
  // A certificate sent twice counts once.
  const seen = new Set([chain[0]!.fingerprint256]);
  const rest = sent.slice(1).filter((c) => !seen.has(c.fingerprint256) && !!seen.add(c.fingerprint256));
  for (;;) {
    const current = chain[chain.length - 1]!;
    const i = rest.findIndex((ca) => current.checkIssued(ca));
    if (i === -1) return chain;
    chain.push(rest.splice(i, 1)[0]!);
  }
}

/** One sentence for each way a connection can fail before the handshake completes. */
function describeFailure(e: NodeJS.ErrnoException, host: string, port: number): string {
  const where = hostPort(host, port);
  if (e.code === 'ECONNRESET') return `${where} closed the connection during the TLS handshake`;
  if (NOT_TLS.test(e.message)) return `${where} does not speak TLS (its answer is not a TLS handshake)`;
  return e.code ? describeError(e, where) : `the TLS handshake with ${where} failed: ${e.message}`;
}

export interface ServerChain {
  /** Leaf first, as sent. */
  chain: X509Certificate[];
  protocol: string;
  cipher: string;
}

/**
 * The name a TLS client sends as SNI for `host`: `servername` when given, else the host unless it is
 * an IP address (RFC 6066 section 3: literal IPv4 and IPv6 addresses are not permitted in HostName).
 * `undefined` means no SNI.
 */
export const sniName = (host: string, servername?: string): string | undefined =>
  servername ?? (isIP(host) ? undefined : host);

/** Connects, takes the chain the server sends, and hangs up; every failure is one UserError within the timeout. */
export function fetchServerChain(
  host: string,
  port: number,
  opts: { servername?: string; timeoutMs: number },
): Promise<ServerChain> {
  const servername = sniName(host, opts.servername);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(servername ? { servername } : {}), ...isolatedTlsOptions() });
    const fail = (message: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new UserError(message));
    };
    const timer = setTimeout(
      () =>
        fail(`${hostPort(host, port)} did not complete a TLS handshake within ${opts.timeoutMs / 1000} s`),
      opts.timeoutMs,
    );
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const result = {
        chain: peerChain(socket),
        protocol: socket.getProtocol() ?? 'unknown',
        cipher: socket.getCipher()?.standardName ?? 'unknown',
      };
      socket.destroy();
      if (result.chain.length) resolve(result);
      else
        reject(
          new UserError(`${hostPort(host, port)} completed the handshake without sending a certificate`),
        );
    });
    socket.once('error', (e: NodeJS.ErrnoException) => fail(describeFailure(e, host, port)));
    socket.once('close', () =>
      fail(`${hostPort(host, port)} closed the connection during the TLS handshake`),
    );
  });
}
