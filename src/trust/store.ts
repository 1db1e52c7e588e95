// Trust stores: a PEM bundle, a DER certificate, PKCS#12, JKS or JCEKS, recognised by content (not by
// extension, since tenant exports are often misnamed), or a default that judges like a Java client.
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { X509Certificates } from '@peculiar/x509';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { UserError } from '../errors.js';
import { readRegularFile } from '../fs-read.js';
import { aliasFor } from './cert.js';
import { JCEKS_MAGIC, JKS_MAGIC, readJavaKeystore } from './java-keystore.js';
import { readPkcs12 } from './pkcs12.js';
import { plural } from '../report/width.js';

export type StoreKind = 'pem' | 'pkcs12' | 'jks' | 'jceks' | 'java-default' | 'node-default';
export type FileFormat = 'pem' | 'der' | 'pkcs7' | 'pkcs12' | 'jks' | 'jceks';

export interface TrustEntry {
  alias: string;
  cert: X509Certificate;
}

export interface TrustStore {
  /** What judged the chain, for people: "tenant.jks (JKS, 42 certificates)", "Java cacerts (...)". */
  label: string;
  kind: StoreKind;
  /** The file it was read from, when there is one. */
  file?: string;
  entries: TrustEntry[];
  /**
   * Where a missing certificate is added, for the sentence that says so ("the tenant's keystore
   * (Monitor > ...)"); "the trust store" when unset.
   */
  addTo?: string;
  /**
   * The aliases are the owner's own names (a tenant keystore's), so a probe names the entry that
   * anchors a chain; file stores' aliases are often made up (PEM), and are left out of the line.
   */
  namesAnchor?: boolean;
  /**
   * Whose verdict an untrusted chain is, when the store speaks for someone: "your tenant would not
   * trust this chain" heads the sentence, followed by the certificate to add (issue 12's words).
   */
  refusal?: string;
}

const FORMAT_NAMES: Record<FileFormat, string> = {
  pem: 'PEM',
  der: 'DER certificate',
  pkcs7: 'PKCS#7',
  pkcs12: 'PKCS#12',
  jks: 'JKS',
  jceks: 'JCEKS',
};

/** Java's default password of cacerts; public knowledge, not a secret. */
const CACERTS_PASSWORD = 'changeit';

/** The format of a store's bytes, or undefined when it is none linkdoctor reads. */
export function detectFormat(buf: Buffer): FileFormat | undefined {
  if (buf.length >= 4 && buf.readUInt32BE(0) === JKS_MAGIC) return 'jks';
  if (buf.length >= 4 && buf.readUInt32BE(0) === JCEKS_MAGIC) return 'jceks';
  if (buf[0] === 0x30 && buf.length > 2) {
    // A DER SEQUENCE: a PKCS#12 PFX starts with its version (INTEGER), a certificate with its TBS (SEQUENCE).
    const lengthBytes = buf[1]! & 0x80 ? buf[1]! & 0x7f : 0;
    const inner = buf[2 + lengthBytes];
    if (inner === 0x02) return 'pkcs12';
    if (inner === 0x30) return 'der';
    // A PKCS#7 (CMS) SignedData: its content type's OID first (a .p7b certificate bundle).
    if (buf.subarray(2 + lengthBytes, 2 + lengthBytes + PKCS7_SIGNED_DATA.length).equals(PKCS7_SIGNED_DATA))
      return 'pkcs7';
  }
  if (buf.includes('-----BEGIN ')) return 'pem';
  return undefined;
}

// DER of OBJECT IDENTIFIER 1.2.840.113549.1.7.2 (pkcs7-signedData).
const PKCS7_SIGNED_DATA = Buffer.from('06092a864886f70d010702', 'hex');

/**
 * The certificates of a PKCS#7 (CMS) SignedData in DER, as a .p7b holds a chain (Windows' certificate
 * export, many CAs): read with @peculiar/x509. Throws a UserError naming `name` when it does not
 * parse or holds no certificate.
 */
function readPkcs7(der: Buffer, name: string): X509Certificate[] {
  let raws: ArrayBuffer[];
  try {
    raws = Array.from(new X509Certificates(new Uint8Array(der)), (c) => c.rawData);
  } catch {
    throw new UserError(`${name} is a PKCS#7 file that is corrupt (its certificates cannot be read)`);
  }
  if (!raws.length) throw new UserError(`${name} is a PKCS#7 bundle that holds no certificate`);
  return raws.map((raw, i) => parseDer(Buffer.from(raw), `certificate ${i + 1} of ${name}`));
}

function parseDer(der: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new UserError(`${what} is corrupt (it is not a readable X.509 certificate)`);
  }
}

/**
 * The certificates of a PEM text (CERTIFICATE blocks, and PKCS#7 bundles of them), in order. Throws a
 * UserError naming `name` when a block is truncated or corrupt, or the text holds none.
 */
export function readPem(text: string, name: string): X509Certificate[] {
  const certs: X509Certificate[] = [];
  // Certificates, and PKCS#7 bundles (`-----BEGIN PKCS7-----`, a .p7b in PEM) of certificates.
  for (const m of text.matchAll(
    /-----BEGIN (CERTIFICATE|PKCS7)-----([\s\S]*?)(-----END (?:CERTIFICATE|PKCS7)-----|$)/g,
  )) {
    if (!m[3]) throw new UserError(`${name} is truncated: a ${m[1]} block has no END ${m[1]} line`);
    const der = Buffer.from(m[2]!, 'base64');
    if (m[1] === 'PKCS7') certs.push(...readPkcs7(der, name));
    else certs.push(parseDer(der, `certificate ${certs.length + 1} of ${name}`));
  }
  if (!certs.length)
    throw new UserError(`${name} holds no certificate (no BEGIN CERTIFICATE or BEGIN PKCS7 block)`);
  return certs;
}

/** Makes aliases unique the way a keystore needs them: a second "x" becomes "x_2". */
function uniqueAliases(entries: { alias?: string; cert: X509Certificate }[]): TrustEntry[] {
  const seen = new Set<string>();
  return entries.map(({ alias, cert }) => {
    const base = alias ?? aliasFor(cert);
    let unique = base;
    for (let n = 2; seen.has(unique); n++) unique = `${base}_${n}`;
    seen.add(unique);
    return { alias: unique, cert };
  });
}

/** The entries of a store file of a known format. `name` is how messages call the file. */
export function readStoreEntries(
  buf: Buffer,
  format: FileFormat,
  password: string | undefined,
  name: string,
): TrustEntry[] {
  switch (format) {
    case 'jks':
    case 'jceks':
      return uniqueAliases(readJavaKeystore(buf, password, name));
    case 'pkcs12':
      return uniqueAliases(readPkcs12(buf, password, name));
    case 'der':
      return uniqueAliases([{ cert: parseDer(buf, name) }]);
    case 'pkcs7':
      return uniqueAliases(readPkcs7(buf, name).map((cert) => ({ cert })));
    case 'pem':
      return uniqueAliases(readPem(buf.toString('utf8'), name).map((cert) => ({ cert })));
  }
}

/** Far above any real store (the JDK's cacerts, ~150 certificates, is ~200 KB): a bound on what is read. */
export const MAX_STORE_BYTES = 16 << 20;

/**
 * Reads a store file through the one reader (src/fs-read.ts): a missing file, a folder, a FIFO or a
 * device, a file over MAX_STORE_BYTES, each is one sentence that names the file (FileReadError).
 */
export async function readStoreFile(file: string): Promise<Buffer> {
  return readRegularFile(file, { what: 'trust store', maxBytes: MAX_STORE_BYTES });
}

export function formatOf(buf: Buffer, file: string): FileFormat {
  if (!buf.length) throw new UserError(`${file} is empty`);
  const format = detectFormat(buf);
  if (!format)
    throw new UserError(
      `${file} is not a trust store linkdoctor can read (PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS)`,
    );
  return format;
}

/** The JDK's cacerts, where a Java runtime keeps it: what a Java client trusts by default. */
export function javaCacertsPath(): string | undefined {
  const candidates: string[] = [];
  const javaHome = process.env.JAVA_HOME;
  if (javaHome)
    candidates.push(join(javaHome, 'lib/security/cacerts'), join(javaHome, 'jre/lib/security/cacerts'));
  candidates.push('/etc/ssl/certs/java/cacerts');
  const jvms = '/usr/lib/jvm';
  if (existsSync(jvms))
    for (const jdk of readdirSync(jvms).sort()) candidates.push(join(jvms, jdk, 'lib/security/cacerts'));
  return candidates.find((p) => existsSync(p));
}

async function defaultStore(): Promise<TrustStore> {
  const cacerts = javaCacertsPath();
  if (cacerts) {
    const buf = await readStoreFile(cacerts);
    const entries = readStoreEntries(buf, formatOf(buf, cacerts), CACERTS_PASSWORD, cacerts);
    return {
      label: `Java cacerts (${cacerts}, ${entries.length} certificates)`,
      kind: 'java-default',
      file: cacerts,
      entries,
    };
  }
  const entries = uniqueAliases(rootCertificates.map((pem) => ({ cert: new X509Certificate(pem) })));
  return {
    label: `Node's built-in Mozilla CA list (${entries.length} certificates; no Java cacerts found)`,
    kind: 'node-default',
    entries,
  };
}

/**
 * A trust store from a file, or without one the default: the JDK's cacerts when a JDK is installed
 * (the platform is a Java runtime), else Node's copy of Mozilla's list. The password is never echoed.
 */
export async function loadTrustStore(opts: { file?: string; password?: string } = {}): Promise<TrustStore> {
  if (!opts.file) return defaultStore();
  const buf = await readStoreFile(opts.file);
  const format = formatOf(buf, opts.file);
  const entries = readStoreEntries(buf, format, opts.password, opts.file);
  const unchecked =
    (format === 'jks' || format === 'jceks') && opts.password === undefined
      ? ', integrity not checked without a password'
      : '';
  return {
    label: `${opts.file} (${FORMAT_NAMES[format]}, ${plural(entries.length, 'certificate')}${unchecked})`,
    kind: format === 'der' || format === 'pkcs7' ? 'pem' : format,
    file: opts.file,
    entries,
  };
}
