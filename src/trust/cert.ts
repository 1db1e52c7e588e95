// One certificate as linkdoctor shows it: node:crypto parses and verifies, @peculiar/x509 reads what
// node:crypto does not expose on Node 20 (signature algorithm, structured SANs and AIA, DN parts).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, type X509Certificate } from 'node:crypto';
import type { CertInfo } from '../types.js';

x509.cryptoProvider.set(webcrypto as Crypto);

const DAY_MS = 86_400_000;

/** Algorithms @peculiar/x509 does not name (it then returns the OID as the name). */
const SIGNATURE_OIDS: Record<string, string> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
};

/** The OpenSSL name of a signature algorithm (sha256WithRSAEncryption, ecdsa-with-SHA384, ...). */
function signatureName(alg: { name: string; hash?: { name: string } }): string {
  const hash = alg.hash?.name ?? '';
  switch (alg.name) {
    case 'RSASSA-PKCS1-v1_5':
      return `${hash.replace('-', '').toLowerCase()}WithRSAEncryption`;
    case 'ECDSA':
      return `ecdsa-with-${hash.replace('-', '')}`;
    case 'RSA-PSS':
      return `rsassaPss-${hash.replace('-', '')}`;
    case 'Ed25519':
    case 'Ed448':
      return alg.name.toUpperCase();
    default:
      return SIGNATURE_OIDS[alg.name] ?? alg.name;
  }
}

/** A DN in one line, most specific part first ("CN=..., O=..., C=..."), as Java and the Keystore Monitor show it. */
/** A DN on one line, CN first, as keytool and the Keystore Monitor show it (RFC 4514 order). */
export function oneLineDn(name: x509.Name): string {
  return new x509.Name(name.toJSON().reverse()).toString();
}

/** X509Certificate.validTo is a string on Node 20 ("Nov 25 20:17:18 2026 GMT"), which Date parses. */
export const notAfter = (cert: X509Certificate): Date => new Date(cert.validTo);
export const notBefore = (cert: X509Certificate): Date => new Date(cert.validFrom);

/**
 * Whole days from `now` until `untilMs` (epoch ms): the one day count of every report (probe, check,
 * history, trust expiring, tenant keystore). Ahead: the days completely left (29.9 → 29). Past: minus
 * the whole days elapsed (35.01 days ago → -35, so "expired 35 days ago"), at least -1, so that a
 * negative count always means expired.
 */
export function dayCount(untilMs: number, now = Date.now()): number {
  const days = (untilMs - now) / DAY_MS;
  return days >= 0 ? Math.floor(days) : -Math.max(1, Math.floor(-days));
}

/** Whole days the certificate has left (dayCount): negative once it expired. */
export const daysLeft = (cert: X509Certificate, now = new Date()): number =>
  dayCount(notAfter(cert).getTime(), now.getTime());

export function isSelfSigned(cert: X509Certificate): boolean {
  return issued(cert, cert);
}

/** Signatures already checked, by "certificate fingerprint > issuer fingerprint": the answer never changes. */
const verified = new Map<string, boolean>();
const VERIFIED_MAX = 20_000;

/**
 * Did `issuer` issue `cert`: names match and the signature verifies. The verification is kept by the
 * pair's fingerprints (a watch judges the same chains again and again).
 */
export function issued(issuer: X509Certificate, cert: X509Certificate): boolean {
  if (!cert.checkIssued(issuer)) return false;
  const key = `${cert.fingerprint256}>${issuer.fingerprint256}`;
  let ok = verified.get(key);
  if (ok === undefined) {
    ok = cert.verify(issuer.publicKey);
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.set(key, ok);
  }
  return ok;
}

export const subjectDn = (cert: X509Certificate): string => certInfoAt(cert, new Date()).subject;

/** The CN of a certificate, else its whole subject: the short name used in sentences. */
export function shortName(cert: X509Certificate): string {
  const parsed = new x509.X509Certificate(cert.raw);
  return parsed.subjectName.getField('CN')[0] ?? oneLineDn(parsed.subjectName);
}

/** keytool-style alias from the CN: "DigiCert Global Root G2" → "digicert_global_root_g2". */
export function aliasFor(cert: X509Certificate): string {
  const alias = shortName(cert)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return alias || cert.fingerprint256.replace(/:/g, '').slice(0, 16).toLowerCase();
}

/** Key size in bits: RSA modulus length; for EC the curve's size, which its name carries (prime256v1, secp384r1). */
function keyShape(cert: X509Certificate): Pick<CertInfo, 'keyType' | 'keyBits' | 'curve'> {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const keyType = key.asymmetricKeyType ?? 'unknown';
  if (details.modulusLength) return { keyType, keyBits: details.modulusLength };
  if (details.namedCurve) {
    const bits = /\d{3}/.exec(details.namedCurve)?.[0];
    return { keyType, curve: details.namedCurve, ...(bits ? { keyBits: Number(bits) } : {}) };
  }
  if (keyType === 'ed25519') return { keyType, keyBits: 256 };
  if (keyType === 'ed448') return { keyType, keyBits: 448 };
  return { keyType };
}

/** A certificate as of now. One parameter, so that `chain.map(certInfo)` works. */
export const certInfo = (cert: X509Certificate): CertInfo => certInfoAt(cert, new Date());

/** What a certificate says that does not change with time, by SHA-256 fingerprint. */
const described = new Map<string, Omit<CertInfo, 'daysLeft'>>();
/** Certificates whose description is kept: far more than the chains of a large inventory. */
const DESCRIBED_MAX = 20_000;

/**
 * The certificate as linkdoctor shows it, with the days left counted at `now`. The parsed part is kept
 * by fingerprint (a watch probes the same chains again and again, and parsing DER in JavaScript costs
 * more than the rest of a loopback probe); the cache is emptied when it holds DESCRIBED_MAX.
 */
export function certInfoAt(cert: X509Certificate, now: Date): CertInfo {
  let info = described.get(cert.fingerprint256);
  if (!info) {
    info = describe(cert);
    if (described.size >= DESCRIBED_MAX) described.clear();
    described.set(cert.fingerprint256, info);
  }
  return { ...info, sans: [...info.sans], daysLeft: daysLeft(cert, now) };
}

function describe(cert: X509Certificate): Omit<CertInfo, 'daysLeft'> {
  const parsed = new x509.X509Certificate(cert.raw);
  const sans = (parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [])
    .filter((n) => n.type === 'dns' || n.type === 'ip')
    .map((n) => n.value);
  const issuerUrl = parsed
    .getExtension(x509.AuthorityInfoAccessExtension)
    ?.caIssuers.find((n) => n.type === 'url')?.value;
  return {
    subject: oneLineDn(parsed.subjectName),
    issuer: oneLineDn(parsed.issuerName),
    serial: cert.serialNumber,
    notBefore: notBefore(cert).toISOString(),
    notAfter: notAfter(cert).toISOString(),
    sans,
    ...keyShape(cert),
    signatureAlgorithm: signatureName(parsed.signatureAlgorithm),
    sha256: cert.fingerprint256,
    sha1: cert.fingerprint,
    selfSigned: isSelfSigned(cert),
    ca: cert.ca,
    ...(issuerUrl ? { issuerUrl } : {}),
  };
}
