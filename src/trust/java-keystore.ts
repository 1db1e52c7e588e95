// Java's own keystore formats, JKS and JCEKS: read their certificates, and append trusted entries.
// Both share one layout (magic, version, entries, then a keyed SHA-1 over the whole body), so one
// reader serves both; jks-js reads only JKS. Private keys are never decrypted: only their chains are read.
import { createHash, X509Certificate } from 'node:crypto';
import { UserError } from '../errors.js';

export const JKS_MAGIC = 0xfeedfeed;
export const JCEKS_MAGIC = 0xcececece;

const PRIVATE_KEY_TAG = 1;
const TRUSTED_CERT_TAG = 2;
const SECRET_KEY_TAG = 3;
const DIGEST_LENGTH = 20;

export interface JavaEntry {
  alias: string;
  cert: X509Certificate;
}

/** Thrown past the end of the data: the file was cut short. */
class Truncated extends Error {}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}
  private take(n: number): Buffer {
    if (this.offset + n > this.buf.length) throw new Truncated();
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  u32 = (): number => this.take(4).readUInt32BE(0);
  skip = (n: number): void => void this.take(n);
  /** Java's DataOutput.writeUTF: a 2-byte length, then (modified) UTF-8. */
  utf = (): string => this.take(this.take(2).readUInt16BE(0)).toString('utf8');
  bytes = (): Buffer => this.take(this.u32());
}

/** The keyed digest that closes the file: SHA-1 over the password (UTF-16BE), "Mighty Aphrodite", the body. */
function integrityDigest(password: string, body: Buffer): Buffer {
  return createHash('sha1')
    .update(Buffer.from(password, 'utf16le').swap16())
    .update('Mighty Aphrodite', 'utf8')
    .update(body)
    .digest();
}

function parseCert(der: Buffer, alias: string, name: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new UserError(`the certificate of entry "${alias}" in ${name} is corrupt`);
  }
}

/**
 * Reads the certificates of a JKS or JCEKS file: trusted entries, and the chains of key entries.
 * Without a password the entries are read but the integrity check is skipped, as Java's
 * KeyStore.load(stream, null) does.
 */
export function readJavaKeystore(buf: Buffer, password: string | undefined, name: string): JavaEntry[] {
  return parseJavaKeystore(buf, password, name).entries;
}

function parseJavaKeystore(
  buf: Buffer,
  password: string | undefined,
  name: string,
): { entries: JavaEntry[]; bodyLength: number } {
  const r = new Reader(buf);
  const entries: JavaEntry[] = [];
  try {
    r.u32(); // magic, checked by the caller
    const version = r.u32();
    if (version !== 1 && version !== 2)
      throw new UserError(`${name} is a Java keystore of unknown version ${version}`);
    const readCert = (alias: string) => {
      if (version === 2) r.utf(); // certificate type, "X.509"
      return parseCert(r.bytes(), alias, name);
    };
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const tag = r.u32();
      const alias = r.utf();
      r.skip(8); // creation date
      if (tag === TRUSTED_CERT_TAG) entries.push({ alias, cert: readCert(alias) });
      else if (tag === PRIVATE_KEY_TAG) {
        r.bytes(); // the protected private key: not needed to judge trust
        const chainLength = r.u32();
        for (let j = 0; j < chainLength; j++)
          entries.push({ alias: j === 0 ? alias : `${alias} [chain ${j}]`, cert: readCert(alias) });
      } else if (tag === SECRET_KEY_TAG)
        // A serialized Java object with no length prefix: nothing after it can be found.
        throw new UserError(
          `${name} holds a secret-key entry ("${alias}"), which linkdoctor cannot read; export its certificates with keytool -exportcert`,
        );
      else throw new UserError(`${name} is corrupt (unknown entry type ${tag})`);
    }
    const body = buf.subarray(0, r.offset);
    const stored = buf.subarray(r.offset, r.offset + DIGEST_LENGTH);
    if (stored.length < DIGEST_LENGTH) throw new Truncated();
    if (password !== undefined && !integrityDigest(password, body).equals(stored))
      throw new UserError(
        `the password for ${name} is wrong (its integrity check failed), or the file was altered`,
      );
  } catch (e) {
    if (e instanceof Truncated)
      throw new UserError(`${name} is truncated or corrupt: it ends in the middle of an entry`);
    throw e;
  }
  return { entries, bodyLength: r.offset };
}

/** Appends trusted-certificate entries and reseals the file with the password. */
export function appendJavaTrustedCerts(
  buf: Buffer,
  password: string,
  add: { alias: string; cert: X509Certificate }[],
  name: string,
): Buffer {
  // Parsing with the password checks it before we reseal.
  const { bodyLength } = parseJavaKeystore(buf, password, name);
  const version = buf.readUInt32BE(4);
  const body = Buffer.from(buf.subarray(0, bodyLength));
  body.writeUInt32BE(body.readUInt32BE(8) + add.length, 8);
  const utf = (s: string) => {
    const bytes = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(bytes.length);
    return [len, bytes];
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const parts: Buffer[] = [body];
  for (const { alias, cert } of add) {
    const date = Buffer.alloc(8);
    date.writeBigUInt64BE(BigInt(Date.now()));
    parts.push(u32(TRUSTED_CERT_TAG), ...utf(alias), date);
    if (version === 2) parts.push(...utf('X.509'));
    parts.push(u32(cert.raw.length), cert.raw);
  }
  const newBody = Buffer.concat(parts);
  return Buffer.concat([newBody, integrityDigest(password, newBody)]);
}
