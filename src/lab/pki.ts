// The lab's throwaway PKI, made fresh at every start: a trusted root with an issuing CA, an unknown
// private CA, and client CAs. Server-side keys are EC P-256 (fast to make). The client side is RSA:
// node-forge, which writes the PKCS#12 files a tenant's keystore exports, handles only RSA keys, and
// re-encodes the certificates it stores, which breaks ECDSA signatures (it adds NULL parameters).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import forge from 'node-forge';
import { KeyObject, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC: EcKeyGenParams & EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const RSA: RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};

const DAY = 86_400_000;

/** A certificate with its key pair, and both as PEM. */
export interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  certPem: string;
  keyPem: string;
}

interface IssueOptions {
  subject: string;
  /** Omitted: self-signed (a root). */
  issuer?: Issued;
  /** A CA may sign certificates; pathLength 0 makes an issuing CA that signs only leaves. */
  ca?: { pathLength?: number };
  /** For leaves: what the certificate may be used for. */
  usage?: 'server' | 'client';
  dns?: string[];
  ips?: string[];
  notBefore?: Date;
  notAfter?: Date;
  rsa?: boolean;
}

async function issue(o: IssueOptions): Promise<Issued> {
  const alg = o.rsa ? RSA : EC;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const issuerKeys = o.issuer?.keys ?? keys;
  const usages = o.ca
    ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
    : // RSA key exchange (TLS 1.2) needs keyEncipherment; EC needs only digitalSignature.
      x509.KeyUsageFlags.digitalSignature | (o.rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(!!o.ca, o.ca?.pathLength, true),
    new x509.KeyUsagesExtension(usages, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuerKeys.publicKey),
  ];
  if (o.usage) {
    const eku = o.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
    extensions.push(new x509.ExtendedKeyUsageExtension([eku]));
  }
  const names = [
    ...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const now = Date.now();
  // Written CN first, as Java and the Keystore Monitor show a DN; encoded O first, as CAs do.
  const subject = o.subject
    .split(/,(?=\s*[A-Za-z]+=)/)
    .reverse()
    .join(',');
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: o.issuer?.cert.subject ?? subject,
    // An hour back, so that a probe whose clock is a little behind still sees a valid certificate.
    notBefore: o.notBefore ?? new Date(now - 3_600_000),
    notAfter: o.notAfter ?? new Date(now + (o.ca ? 3650 : 90) * DAY),
    publicKey: keys.publicKey,
    signingKey: issuerKeys.privateKey,
    signingAlgorithm: o.issuer?.keys.privateKey.algorithm ?? alg,
    extensions,
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { cert, keys, certPem: `${cert.toString('pem')}\n`, keyPem };
}

const LOCAL = { dns: ['localhost'], ips: ['127.0.0.1'] };

/** Every certificate the lab's servers and clients use. */
export interface LabPki {
  /** The root a probe trusts (written to the lab's trust file). */
  root: Issued;
  /** The issuing CA below the root: servers that send a full chain send it after their leaf. */
  issuing: Issued;
  /** localhost / 127.0.0.1, from the issuing CA. */
  local: Issued;
  expired: Issued;
  /** Valid, but for erp.example.com only. */
  otherHost: Issued;
  /** A private CA's issuing CA and its localhost leaf: a chain that ends in a root nobody trusts. */
  unknownIssuing: Issued;
  unknownLeaf: Issued;
  /** The CA whose client certificates the client-cert server accepts, and one it does not know. */
  clientCa: Issued;
  goodClient: Issued;
  /** From the accepted client CA, expired 10 days ago. */
  expiredClient: Issued;
  strangerCa: Issued;
  strangerClient: Issued;
}

export async function makePki(): Promise<LabPki> {
  const O = 'O=linkdoctor lab';
  // Independent chains are made side by side: the RSA keys take the longest.
  const clientSide = async (ca: string, client: string) => {
    const caCert = await issue({ subject: ca, ca: {}, rsa: true });
    return [caCert, await issue({ subject: client, issuer: caCert, usage: 'client', rsa: true })] as const;
  };
  const expiredSide = async (ca: Issued) =>
    issue({
      subject: `CN=lab-client-expired,${O}`,
      issuer: ca,
      usage: 'client',
      rsa: true,
      notBefore: new Date(Date.now() - 375 * DAY),
      notAfter: new Date(Date.now() - 10 * DAY),
    });
  const unknownSide = async () => {
    const root = await issue({ subject: 'CN=Example Corp Private Root CA,O=Example Corp', ca: {} });
    const issuing = await issue({
      subject: 'CN=Example Corp Issuing CA 1,O=Example Corp',
      issuer: root,
      ca: { pathLength: 0 },
    });
    return [
      issuing,
      await issue({ subject: 'CN=localhost', issuer: issuing, usage: 'server', ...LOCAL }),
    ] as const;
  };
  const labSide = async () => {
    const root = await issue({ subject: `CN=linkdoctor lab Root CA,${O}`, ca: {} });
    const issuing = await issue({
      subject: `CN=linkdoctor lab Issuing CA,${O}`,
      issuer: root,
      ca: { pathLength: 0 },
    });
    const now = Date.now();
    const [local, expired, otherHost] = await Promise.all([
      issue({ subject: `CN=localhost,${O}`, issuer: issuing, usage: 'server', ...LOCAL }),
      issue({
        subject: `CN=localhost,OU=expired,${O}`,
        issuer: issuing,
        usage: 'server',
        ...LOCAL,
        notBefore: new Date(now - 400 * DAY),
        notAfter: new Date(now - 35 * DAY),
      }),
      issue({
        subject: 'CN=erp.example.com,O=Example Corp',
        issuer: issuing,
        usage: 'server',
        dns: ['erp.example.com'],
      }),
    ]);
    return { root, issuing, local, expired, otherHost };
  };
  const [lab, [unknownIssuing, unknownLeaf], [clientCa, goodClient], [strangerCa, strangerClient]] =
    await Promise.all([
      labSide(),
      unknownSide(),
      clientSide(`CN=linkdoctor lab Client CA,${O}`, `CN=lab-client,${O}`),
      clientSide('CN=Other Client CA,O=Somewhere Else', 'CN=lab-client,O=Somewhere Else'),
    ]);
  const expiredClient = await expiredSide(clientCa);
  return {
    ...lab,
    unknownIssuing,
    unknownLeaf,
    clientCa,
    goodClient,
    expiredClient,
    strangerCa,
    strangerClient,
  };
}

/** A PKCS#12 file (AES-256, as OpenSSL 3 and Java read it): the client's key, certificate and CA. */
export function toPkcs12(client: Issued, ca: Issued, password: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(client.keyPem),
    [client, ca].map((c) => forge.pki.certificateFromPem(c.certPem)),
    password,
    { algorithm: 'aes256', friendlyName: 'lab-client' },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
