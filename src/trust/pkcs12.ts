// PKCS#12 stores: read their certificates with node-forge, and append trusted certificates.
// Appending keeps every existing ContentInfo (encrypted key bags included) byte for byte and adds
// one more, so key entries survive without ever being decrypted; only the MAC is computed anew.
import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { UserError } from '../errors.js';

const { asn1 } = forge;
const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  sha256: '2.16.840.1.101.3.4.2.1',
  // Java marks trusted-certificate entries with this attribute; without it keytool does not list them.
  javaTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
};
const MAC_ITERATIONS = 10_000;

export interface Pkcs12Entry {
  /** The bag's friendlyName, when it has one. */
  alias?: string;
  cert: X509Certificate;
}

const toForgeBytes = (buf: Buffer) => forge.util.createBuffer(buf.toString('binary'));
const fromForgeBytes = (bytes: string) => Buffer.from(bytes, 'binary');

function parseAsn1(buf: Buffer, name: string): forge.asn1.Asn1 {
  try {
    return asn1.fromDer(toForgeBytes(buf), true);
  } catch {
    throw new UserError(`${name} is truncated or corrupt (its PKCS#12 structure cannot be read)`);
  }
}

function openPfx(buf: Buffer, password: string | undefined, name: string): forge.pkcs12.Pkcs12Pfx {
  const pfx = parseAsn1(buf, name);
  try {
    return forge.pkcs12.pkcs12FromAsn1(pfx, true, password ?? '');
  } catch (e) {
    const message = (e as Error).message ?? '';
    if (/Invalid password|wrong password/i.test(message))
      throw new UserError(
        password === undefined
          ? `${name} is protected by a password, and none was given`
          : `the password for ${name} is wrong (its integrity check failed), or the file was altered`,
      );
    if (/Unsupported|not supported/i.test(message))
      throw new UserError(
        `${name} uses a PKCS#12 feature linkdoctor cannot read (${message.replace(/\.$/, '')})`,
      );
    throw new UserError(`${name} is truncated or corrupt (its PKCS#12 content cannot be read)`);
  }
}

/** Every certificate bag: trusted certificates and the certificates of key entries' chains. */
export function readPkcs12(buf: Buffer, password: string | undefined, name: string): Pkcs12Entry[] {
  const pfx = openPfx(buf, password, name);
  const entries: Pkcs12Entry[] = [];
  for (const bag of pfx.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? []) {
    // forge keeps the raw ASN.1 of certificates it cannot model (EC keys), and parses the others.
    const certAsn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
    const alias: unknown = bag.attributes?.friendlyName?.[0];
    try {
      const cert = new X509Certificate(fromForgeBytes(asn1.toDer(certAsn1).getBytes()));
      entries.push({ ...(typeof alias === 'string' ? { alias } : {}), cert });
    } catch {
      throw new UserError(`a certificate in ${name} is corrupt`);
    }
  }
  return entries;
}

const seq = (value: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, value);
const set = (value: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, value);
const oid = (id: string) =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const octets = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
const explicit0 = (value: forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [value]);
const der = (a: forge.asn1.Asn1) => asn1.toDer(a).getBytes();

/** A certBag with its alias (friendlyName) and Java's trusted-certificate mark. */
function trustedCertBag(alias: string, cert: X509Certificate): forge.asn1.Asn1 {
  // forge writes a BMPString's characters as UTF-16 itself.
  const bmpAlias = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, alias);
  return seq([
    oid(OID.certBag),
    explicit0(seq([oid(OID.x509Certificate), explicit0(octets(cert.raw.toString('binary')))])),
    set([
      seq([oid(OID.friendlyName), set([bmpAlias])]),
      seq([oid(OID.javaTrustedKeyUsage), set([oid(OID.anyExtendedKeyUsage)])]),
    ]),
  ]);
}

/** The ContentInfos of an existing store's AuthenticatedSafe, as they are. */
function existingContentInfos(buf: Buffer, name: string): forge.asn1.Asn1[] {
  const pfx = parseAsn1(buf, name);
  const content = (pfx.value as forge.asn1.Asn1[])[1]?.value as forge.asn1.Asn1[] | undefined;
  const data = content?.[1]?.value as forge.asn1.Asn1[] | undefined;
  const octet = data?.[0];
  if (!octet) throw new UserError(`${name} is truncated or corrupt (its PKCS#12 structure cannot be read)`);
  // BER allows the octet string in chunks; join them.
  const bytes = Array.isArray(octet.value)
    ? octet.value.map((chunk) => chunk.value as string).join('')
    : (octet.value as string);
  return parseAsn1(fromForgeBytes(bytes), name).value as forge.asn1.Asn1[];
}

/**
 * Returns the store with the certificates added as trusted entries (a new store when `existing` is
 * undefined). The certificates go in unencrypted, as `openssl pkcs12 -certpbe NONE` writes them:
 * they are public; the password protects the store's integrity (the MAC).
 */
export function appendPkcs12TrustedCerts(
  existing: Buffer | undefined,
  password: string,
  add: { alias: string; cert: X509Certificate }[],
  name: string,
): Buffer {
  const contentInfos = existing
    ? (openPfx(existing, password, name), existingContentInfos(existing, name))
    : [];
  const safeContents = seq(add.map(({ alias, cert }) => trustedCertBag(alias, cert)));
  contentInfos.push(seq([oid(OID.data), explicit0(octets(der(safeContents)))]));
  const authSafe = der(seq(contentInfos));

  const salt = randomBytes(20).toString('binary');
  const md = forge.md.sha256.create();
  const key = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, MAC_ITERATIONS, 32, md);
  const hmac = forge.hmac.create();
  hmac.start(md, key);
  hmac.update(authSafe);
  const macData = seq([
    seq([
      seq([oid(OID.sha256), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
      octets(hmac.digest().getBytes()),
    ]),
    octets(salt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(MAC_ITERATIONS).getBytes()),
  ]);
  const version = asn1.create(
    asn1.Class.UNIVERSAL,
    asn1.Type.INTEGER,
    false,
    asn1.integerToDer(3).getBytes(),
  );
  return fromForgeBytes(der(seq([version, seq([oid(OID.data), explicit0(octets(authSafe))]), macData])));
}
