// Trust stores, chain judgement, fetching a server's chain and add-from-site, on a PKI made here:
// a root, an EC intermediate, leaves good and bad; stores in PEM, DER, PKCS#12 (forge and keytool),
// JKS and JCEKS (keytool, when installed); servers only on 127.0.0.1.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import {
  connect as connectTcp,
  createServer as createNetServer,
  type AddressInfo,
  type Server,
} from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import forge from 'node-forge';
import { tempDirs, unwrap } from './helpers.js';
import { trustAddFromSite } from '../src/cli/trust.js';
import { UserError } from '../src/errors.js';
import { certInfo, dayCount } from '../src/trust/cert.js';
import { daysUntil } from '../src/tenant/keystore.js';
import { judgeChain } from '../src/trust/chain.js';
import { fetchServerChain, isolatedTlsOptions, peerChain } from '../src/trust/fetch.js';
import { javaCacertsPath, loadTrustStore, type TrustStore } from '../src/trust/store.js';
import { addTrustedCerts } from '../src/trust/write.js';

x509.cryptoProvider.set(webcrypto as Crypto);

const PASSWORD = 'Tr0ub4dor-linkdoctor-secret';
const DAY = 86_400_000;
const RSA = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const dir = tempDirs()('ld-trust-');
const path = (name: string) => join(dir, name);
const MAIN = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

const keytool = spawnSync('keytool', ['-help'], { encoding: 'utf8' });
const noKeytool = keytool.error ? `keytool is not installed (${keytool.error.message})` : false;
if (noKeytool) console.log(`# skipping the JKS/JCEKS/keytool tests: ${noKeytool}`);

function runKeytool(...args: string[]): string {
  const r = spawnSync('keytool', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `keytool ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

interface Issued {
  cert: X509Certificate;
  pem: string;
  keys: CryptoKeyPair;
  keyPem: string;
  /** The subject as encoded (C first), to name it as an issuer. */
  name: string;
  /** The subject as linkdoctor shows it (CN first). */
  dn: string;
}

/** A certificate with its key; issued by `issuer`, or self-signed without one. */
async function issue(o: {
  cn: string;
  issuer?: Issued;
  alg?: typeof RSA | typeof EC;
  hash?: string;
  ca?: boolean;
  sans?: x509.JsonGeneralName[];
  aia?: string;
  notBefore?: Date;
  notAfter?: Date;
}): Promise<Issued> {
  const alg = o.alg ?? RSA;
  const keys = (await webcrypto.subtle.generateKey({ ...alg, hash: 'SHA-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  // The encoded order is the real-world one (C first); linkdoctor shows it CN first.
  const name = `C=DE, O=linkdoctor test, CN=${o.cn}`;
  const signer = o.issuer?.keys ?? keys;
  const signerAlg = o.issuer ? (o.issuer.keys.privateKey.algorithm as { name: string }) : alg;
  // A WebCrypto RSA key is bound to one hash: to sign with another, import the key again with it.
  const signingKey = o.hash
    ? await webcrypto.subtle.importKey(
        'pkcs8',
        await webcrypto.subtle.exportKey('pkcs8', signer.privateKey),
        { ...signerAlg, hash: o.hash },
        false,
        ['sign'],
      )
    : signer.privateKey;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(!!o.ca, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (o.sans) extensions.push(new x509.SubjectAlternativeNameExtension(o.sans));
  if (o.aia)
    extensions.push(new x509.AuthorityInfoAccessExtension({ caIssuers: new x509.GeneralName('url', o.aia) }));
  const generated = await x509.X509CertificateGenerator.create({
    serialNumber: Math.floor(Math.random() * 1e12).toString(16),
    subject: name,
    issuer: o.issuer?.name ?? name,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: { name: signerAlg.name, hash: o.hash ?? 'SHA-256' },
    extensions,
  });
  const pem = generated.toString('pem');
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return {
    cert: new X509Certificate(pem),
    pem,
    keys,
    keyPem,
    name,
    dn: `CN=${o.cn}, O=linkdoctor test, C=DE`,
  };
}

const localhost: x509.JsonGeneralName[] = [
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
];
const AIA = 'http://pki.example/inter.crt';
let root: Issued, inter: Issued, leaf: Issued, other: Issued;
let expired: Issued,
  future: Issued,
  wrongHost: Issued,
  selfSigned: Issued,
  weakRsa: Issued,
  sha1: Issued,
  ecLeaf: Issued;
let soon: Issued;

const storeOf = (...certs: Issued[]): TrustStore => ({
  label: 'the test store',
  kind: 'pem',
  entries: certs.map((c, i) => ({ alias: `c${i}`, cert: c.cert })),
});

before(async () => {
  root = await issue({ cn: 'Test Root CA', ca: true });
  inter = await issue({ cn: 'Test Intermediate CA', issuer: root, alg: EC, ca: true });
  leaf = await issue({ cn: 'localhost', issuer: inter, sans: localhost, aia: AIA });
  other = await issue({ cn: 'Other Root CA', ca: true });
  expired = await issue({
    cn: 'expired.localhost',
    issuer: inter,
    sans: localhost,
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 10 * DAY),
  });
  future = await issue({
    cn: 'future',
    issuer: inter,
    sans: localhost,
    notBefore: new Date(Date.now() + 10 * DAY),
  });
  soon = await issue({
    cn: 'soon',
    issuer: root,
    sans: localhost,
    notAfter: new Date(Date.now() + 10.5 * DAY),
  });
  wrongHost = await issue({
    cn: 'wrong.example',
    issuer: inter,
    sans: [{ type: 'dns', value: 'wrong.example' }],
  });
  selfSigned = await issue({ cn: 'self.localhost', sans: localhost });
  weakRsa = await issue({ cn: 'weak', issuer: inter, alg: { ...RSA, modulusLength: 1024 }, sans: localhost });
  sha1 = await issue({ cn: 'sha1', issuer: root, hash: 'SHA-1', sans: localhost });
  ecLeaf = await issue({ cn: 'ec.localhost', issuer: inter, alg: EC, sans: localhost });
});

describe('certInfo', () => {
  test('a leaf: names CN first, SANs, key, signature, fingerprints, AIA', () => {
    const i = certInfo(leaf.cert);
    assert.equal(i.subject, 'CN=localhost, O=linkdoctor test, C=DE');
    assert.equal(i.issuer, 'CN=Test Intermediate CA, O=linkdoctor test, C=DE');
    assert.deepEqual(i.sans, ['localhost', '127.0.0.1']);
    assert.equal(i.keyType, 'rsa');
    assert.equal(i.keyBits, 2048);
    assert.equal(i.signatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(i.sha256, leaf.cert.fingerprint256);
    assert.match(i.sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.match(i.sha1, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    assert.equal(i.selfSigned, false);
    assert.equal(i.ca, false);
    assert.equal(i.issuerUrl, AIA);
    assert.ok(i.daysLeft >= 363 && i.daysLeft <= 365, String(i.daysLeft));
    assert.ok(Date.parse(i.notBefore) < Date.parse(i.notAfter));
  });

  test('an EC intermediate and an RSA root', () => {
    const i = certInfo(inter.cert);
    assert.deepEqual([i.keyType, i.keyBits, i.curve, i.ca], ['ec', 256, 'prime256v1', true]);
    assert.equal(i.signatureAlgorithm, 'sha256WithRSAEncryption');
    const r = certInfo(root.cert);
    assert.deepEqual([r.selfSigned, r.ca, r.issuerUrl], [true, true, undefined]);
    assert.equal(certInfo(sha1.cert).signatureAlgorithm, 'sha1WithRSAEncryption');
    assert.ok(certInfo(expired.cert).daysLeft < 0);
  });
});

describe('judgeChain', () => {
  const judge = (sent: Issued[], store: TrustStore, host = 'localhost', now?: Date) =>
    judgeChain({ sent: sent.map((c) => c.cert), store, host, ...(now ? { now } : {}) });

  test('leaf and intermediate sent, root in the store: trusted, nothing wrong', () => {
    const j = judge([leaf, inter], storeOf(root));
    assert.equal(j.trusted, true);
    assert.deepEqual(j.verdicts, []);
    assert.deepEqual(j.sentences, []);
    // The store entry the path ends in, by its alias: what `probe --tenant` names.
    assert.deepEqual(j.anchor, {
      alias: storeOf(root).entries[0]!.alias,
      subject: root.dn,
      sha256: root.cert.fingerprint256,
      notAfter: new Date(root.cert.validTo).toISOString(),
    });
    assert.deepEqual(
      j.path.map((p) => p.subject),
      [leaf.dn, inter.dn, root.dn],
    );
    assert.equal(j.missing, undefined);
  });

  test('the chain sent out of order, or with its root, still builds; an IP host is checked against IP SANs', () => {
    assert.equal(judge([leaf, root, inter], storeOf(root)).trusted, true);
    assert.deepEqual(judge([leaf, inter, root], storeOf(root), '127.0.0.1').verdicts, []);
  });

  test('only the leaf sent: untrusted and incomplete-chain, the missing intermediate named with its URL', () => {
    const j = judge([leaf], storeOf(root));
    assert.equal(j.trusted, false);
    assert.deepEqual(j.verdicts, ['incomplete-chain', 'untrusted']);
    assert.deepEqual(j.missing, { subject: inter.dn, neededBy: leaf.dn, url: AIA });
    assert.equal(j.sentences.length, 2);
    assert.match(j.sentences[0]!, /sends only its own certificate/);
    assert.match(j.sentences[1]!, /Test Intermediate CA.*download it from http:\/\/pki\.example\/inter\.crt/);
  });

  test('only the leaf sent, but the intermediate in the store (a CPI keystore): trusted, incomplete-chain', () => {
    const j = judge([leaf], storeOf(inter));
    assert.equal(j.trusted, true);
    assert.deepEqual(j.verdicts, ['incomplete-chain']);
    assert.match(
      j.sentences[0]!,
      /does not send its intermediate CN=Test Intermediate CA.*holds that intermediate/,
    );
  });

  test('a full chain from a root the store lacks: untrusted, the root missing, not incomplete', () => {
    const j = judge([leaf, inter], storeOf(other));
    assert.deepEqual(j.verdicts, ['untrusted']);
    assert.deepEqual(j.missing, { subject: root.dn, neededBy: inter.dn });
    assert.match(j.sentences[0]!, /^No path to a certificate of the test store: .*issued by CN=Test Root CA/);
  });

  test('self-signed: untrusted and self-signed; trusted once the certificate itself is in the store', () => {
    const j = judge([selfSigned], storeOf(root));
    assert.deepEqual(j.verdicts, ['self-signed', 'untrusted']);
    assert.deepEqual(j.missing, {
      subject: selfSigned.dn,
      neededBy: selfSigned.dn,
      issuer: selfSigned.dn,
      sha256: selfSigned.cert.fingerprint256,
    });
    assert.match(
      j.sentences[1]!,
      new RegExp(`SHA-256 ${selfSigned.cert.fingerprint256}.*add it to the trust store`),
    );
    assert.match(j.sentences[0]!, /self-signed/);
    const pinned = judge([selfSigned], storeOf(selfSigned));
    assert.deepEqual([pinned.trusted, pinned.verdicts], [true, []]);
  });

  test('expired and not yet valid, naming the certificate; `now` moves the clock', () => {
    const e = judge([expired, inter], storeOf(root));
    assert.deepEqual([e.trusted, e.verdicts], [true, ['expired']]);
    assert.match(e.sentences[0]!, /^CN=expired\.localhost, .* expired on \d{4}-\d\d-\d\d\.$/);
    const f = judge([future, inter], storeOf(root));
    assert.deepEqual(f.verdicts, ['not-yet-valid']);
    assert.match(f.sentences[0]!, /CN=future.*not valid before/);
    const later = judge([leaf, inter], storeOf(root), 'localhost', new Date(Date.now() + 400 * DAY));
    assert.deepEqual(later.verdicts, ['expired']);
    assert.match(later.sentences[0]!, /CN=localhost.*expired.*CN=Test Intermediate CA.*expired/);
  });

  test('hostname mismatch lists the names the certificate covers', () => {
    const j = judge([wrongHost, inter], storeOf(root), 'api.example.com');
    assert.deepEqual(j.verdicts, ['hostname-mismatch']);
    assert.equal(
      j.sentences[0],
      'The certificate is not valid for api.example.com: it covers wrong.example.',
    );
    assert.deepEqual(judge([leaf, inter], storeOf(root), '10.0.0.1').verdicts, ['hostname-mismatch']);
  });

  test('weak key: RSA 1024, and a SHA-1 signature below the root', () => {
    const w = judge([weakRsa, inter], storeOf(root));
    assert.deepEqual(w.verdicts, ['weak-key']);
    assert.match(w.sentences[0]!, /weak 1024-bit RSA key/);
    const s = judge([sha1], storeOf(root));
    assert.deepEqual(s.verdicts, ['weak-key']);
    assert.match(s.sentences[0]!, /CN=sha1.*sha1WithRSAEncryption/);
    assert.deepEqual(judge([ecLeaf, inter], storeOf(root)).verdicts, [], 'P-256 is not weak');
  });

  test('all that apply, the most specific first, one sentence each', () => {
    const j = judge([selfSigned], storeOf(root), 'other.example', new Date(Date.now() + 400 * DAY));
    assert.deepEqual(j.verdicts, ['self-signed', 'untrusted', 'expired', 'hostname-mismatch']);
    assert.equal(j.sentences.length, 4);
    assert.equal(j.path.length, 1);
  });

  test('nothing sent: untrusted, one sentence', () => {
    const j = judgeChain({ sent: [], store: storeOf(root), host: 'localhost' });
    assert.deepEqual([j.trusted, j.verdicts, j.sentences.length], [false, ['untrusted'], 1]);
  });
});

/** The message of the UserError `fn` rejects with; fails when it resolves or throws anything else. */
async function userError(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${(e as Error)?.stack}`);
    assert.doesNotMatch(e.message, /\n/, 'one sentence, one line');
    assert.ok(!e.message.includes(PASSWORD), 'the password never appears');
    return e.message;
  }
  assert.fail('expected a UserError');
}

function forgePkcs12(file: string, certs: Issued[], key?: Issued): void {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    key ? (forge.pki.privateKeyFromPem(key.keyPem) as forge.pki.rsa.PrivateKey) : null,
    certs.map((c) => forge.pki.certificateFromPem(c.pem)),
    PASSWORD,
    { algorithm: '3des', friendlyName: 'server' },
  );
  writeFileSync(file, Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
}

describe('loadTrustStore', () => {
  test('a PEM bundle, aliases from the CN', async () => {
    writeFileSync(path('bundle.pem'), `${root.pem}\n${inter.pem}\n`);
    const s = await loadTrustStore({ file: path('bundle.pem') });
    assert.equal(s.kind, 'pem');
    assert.match(s.label, /bundle\.pem \(PEM, 2 certificates\)/);
    assert.deepEqual(
      s.entries.map((e) => e.alias),
      ['test_root_ca', 'test_intermediate_ca'],
    );
  });

  test('a single DER certificate, whatever its extension', async () => {
    writeFileSync(path('root.pem'), root.cert.raw);
    const s = await loadTrustStore({ file: path('root.pem') });
    assert.match(s.label, /DER certificate, 1 certificate/);
    assert.equal(s.entries[0]!.cert.fingerprint256, root.cert.fingerprint256);
  });

  test('PKCS#12 from node-forge: a key entry with its chain, and trusted certificates', async () => {
    const f = path('forge.p12');
    forgePkcs12(f, [soon, root], soon);
    const s = await loadTrustStore({ file: f, password: PASSWORD });
    assert.equal(s.kind, 'pkcs12');
    assert.deepEqual(
      s.entries.map((e) => e.cert.fingerprint256),
      [soon.cert.fingerprint256, root.cert.fingerprint256],
    );
    assert.equal(s.entries[0]!.alias, 'server');
  });

  test('a PKCS#7 bundle (.p7b), PEM or DER, as openssl crl2pkcs7 and Windows export it: its certificates; not written to (attack S13 B20)', async () => {
    writeFileSync(path('chain-in.pem'), `${root.pem}\n${inter.pem}\n`);
    for (const [name, form] of [
      ['chain.p7b', 'PEM'],
      ['chain-der.p7b', 'DER'],
    ] as const) {
      const made = spawnSync(
        'openssl',
        ['crl2pkcs7', '-nocrl', '-certfile', path('chain-in.pem'), '-outform', form, '-out', path(name)],
        { encoding: 'utf8' },
      );
      assert.equal(made.status, 0, made.stderr);
      const s = await loadTrustStore({ file: path(name) });
      assert.match(s.label, form === 'PEM' ? /\(PEM, 2 certificates\)/ : /\(PKCS#7, 2 certificates\)/);
      assert.deepEqual(
        s.entries.map((e) => e.cert.fingerprint256),
        [root.cert.fingerprint256, inter.cert.fingerprint256],
      );
    }
    assert.match(
      await userError(() => addTrustedCerts(path('chain-der.p7b'), [soon.cert])),
      /chain-der\.p7b is a PKCS#7 bundle \(\.p7b\), which linkdoctor reads but does not write; .*openssl pkcs7 -print_certs/,
    );
    const der = readFileSync(path('chain-der.p7b'));
    writeFileSync(path('cut.p7b'), der.subarray(0, der.length / 2));
    assert.match(await userError(() => loadTrustStore({ file: path('cut.p7b') })), /PKCS#7 .*corrupt/);
  });

  test('the default store judges like Java: the JDK cacerts when there is one, else Node’s list', async () => {
    const s = await loadTrustStore();
    if (javaCacertsPath()) {
      assert.equal(s.kind, 'java-default');
      assert.match(s.label, /^Java cacerts \(.*cacerts, \d+ certificates\)$/);
    } else assert.equal(s.kind, 'node-default');
    assert.ok(s.entries.length > 50);
  });

  test('missing, empty, a folder, unknown, truncated and corrupt files: one sentence each', async () => {
    assert.match(
      await userError(() => loadTrustStore({ file: path('nope.jks') })),
      /^cannot read the trust store .*nope\.jks: no such file or directory \(ENOENT\)$/,
    );
    writeFileSync(path('empty.pem'), '');
    assert.match(await userError(() => loadTrustStore({ file: path('empty.pem') })), /is empty$/);
    mkdirSync(path('folder'));
    assert.match(await userError(() => loadTrustStore({ file: path('folder') })), /is a folder/);
    writeFileSync(path('notes.txt'), 'hello, I am not a keystore\n');
    assert.match(
      await userError(() => loadTrustStore({ file: path('notes.txt') })),
      /is not a trust store linkdoctor can read \(PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS\)$/,
    );
    writeFileSync(path('cut.pem'), root.pem.slice(0, 300));
    assert.match(await userError(() => loadTrustStore({ file: path('cut.pem') })), /truncated/);
    const cut = root.cert.raw.subarray(0, 200).toString('base64');
    writeFileSync(path('bad.pem'), `-----BEGIN CERTIFICATE-----\n${cut}\n-----END CERTIFICATE-----\n`);
    assert.match(
      await userError(() => loadTrustStore({ file: path('bad.pem') })),
      /certificate 1 of .* is corrupt/,
    );
    writeFileSync(path('key.pem'), leaf.keyPem);
    assert.match(await userError(() => loadTrustStore({ file: path('key.pem') })), /holds no certificate/);
    forgePkcs12(path('whole.p12'), [root]);
    const p12 = readFileSync(path('whole.p12'));
    writeFileSync(path('cut.p12'), p12.subarray(0, p12.length / 2));
    assert.match(
      await userError(() => loadTrustStore({ file: path('cut.p12'), password: PASSWORD })),
      /cut\.p12 is truncated or corrupt/,
    );
  });

  test('PKCS#12: a wrong password and a missing one are one sentence, without the password', async () => {
    const f = path('pw.p12');
    forgePkcs12(f, [root]);
    assert.match(
      await userError(() => loadTrustStore({ file: f, password: `${PASSWORD}x` })),
      /^the password for .*pw\.p12 is wrong/,
    );
    assert.match(
      await userError(() => loadTrustStore({ file: f })),
      /protected by a password, and none was given$/,
    );
  });

  describe('made by keytool', { skip: noKeytool }, () => {
    const kt = (file: string, type: string, ...args: string[]) =>
      runKeytool(...args, '-keystore', file, '-storetype', type, '-storepass', PASSWORD);

    before(() => {
      writeFileSync(path('root.crt'), root.pem);
      writeFileSync(path('inter.crt'), inter.pem);
      for (const [file, type] of [
        ['k.jks', 'JKS'],
        ['k.jceks', 'JCEKS'],
        ['k.p12', 'PKCS12'],
      ] as const) {
        const f = path(file);
        kt(f, type, '-importcert', '-noprompt', '-alias', 'rootca', '-file', path('root.crt'));
        kt(f, type, '-importcert', '-noprompt', '-alias', 'interca', '-file', path('inter.crt'));
        kt(
          f,
          type,
          '-genkeypair',
          '-alias',
          'eckey',
          '-keyalg',
          'EC',
          '-groupname',
          'secp256r1',
          '-dname',
          'CN=EC Key',
          '-keypass',
          PASSWORD,
        );
        kt(
          f,
          type,
          '-genkeypair',
          '-alias',
          'rsakey',
          '-keyalg',
          'RSA',
          '-keysize',
          '2048',
          '-dname',
          'CN=RSA Key',
          '-keypass',
          PASSWORD,
        );
      }
    });

    for (const [file, kind] of [
      ['k.jks', 'jks'],
      ['k.jceks', 'jceks'],
      ['k.p12', 'pkcs12'],
    ] as const)
      test(`${kind}: trusted entries and key entries (RSA and EC), by content`, async () => {
        const s = await loadTrustStore({ file: path(file), password: PASSWORD });
        assert.equal(s.kind, kind);
        const aliases = s.entries.map((e) => e.alias).sort();
        assert.deepEqual(aliases, ['eckey', 'interca', 'rootca', 'rsakey']);
        const byAlias = new Map(s.entries.map((e) => [e.alias, e.cert]));
        assert.equal(byAlias.get('interca')!.fingerprint256, inter.cert.fingerprint256);
        assert.equal(certInfo(byAlias.get('eckey')!).keyType, 'ec');
        const misnamed = path(`${kind}-store.pem`);
        writeFileSync(misnamed, readFileSync(path(file)));
        assert.equal((await loadTrustStore({ file: misnamed, password: PASSWORD })).kind, kind);
        assert.match(
          await userError(() => loadTrustStore({ file: path(file), password: 'wrong-password' })),
          /the password for .* is wrong/,
        );
      });

    test('JKS without a password: read, with the integrity check said to be skipped', async () => {
      const s = await loadTrustStore({ file: path('k.jks') });
      assert.match(s.label, /JKS, 4 certificates, integrity not checked without a password/);
    });

    test('a truncated JKS, and a JCEKS with a secret key: one sentence each', async () => {
      const jks = readFileSync(path('k.jks'));
      writeFileSync(path('cut.jks'), jks.subarray(0, jks.length - 300));
      assert.match(
        await userError(() => loadTrustStore({ file: path('cut.jks'), password: PASSWORD })),
        /cut\.jks is truncated or corrupt/,
      );
      const f = path('secret.jceks');
      kt(
        f,
        'JCEKS',
        '-genseckey',
        '-alias',
        'aeskey',
        '-keyalg',
        'AES',
        '-keysize',
        '128',
        '-keypass',
        PASSWORD,
      );
      assert.match(
        await userError(() => loadTrustStore({ file: f, password: PASSWORD })),
        /holds a secret-key entry \("aeskey"\)/,
      );
    });

    test('appending to JKS and PKCS#12 keeps the key entries, keytool lists the trusted entries', async () => {
      for (const [file, type] of [
        ['k.jks', 'JKS'],
        ['k.p12', 'PKCS12'],
      ] as const) {
        const f = path(file);
        const r = await addTrustedCerts(f, [other.cert, root.cert], PASSWORD);
        assert.deepEqual(
          r.results.map((x) => [x.alias, x.status]),
          [
            ['other_root_ca', 'added'],
            ['rootca', 'present'],
          ],
        );
        const listing = kt(f, type, '-list');
        assert.match(listing, /Your keystore contains 5 entries/);
        assert.match(listing, /other_root_ca, .*trustedCertEntry/);
        assert.match(listing, /eckey, .*PrivateKeyEntry/);
        assert.match(listing, /rsakey, .*PrivateKeyEntry/);
        const reread = await loadTrustStore({ file: f, password: PASSWORD });
        assert.equal(reread.entries.length, 5);
      }
    });

    test('a new PKCS#12 made by linkdoctor: keytool lists its certificates as trustedCertEntry', async () => {
      const f = path('new.p12');
      await addTrustedCerts(f, [root.cert, inter.cert], PASSWORD);
      const listing = kt(f, 'PKCS12', '-list');
      assert.match(listing, /test_root_ca, .*trustedCertEntry/);
      assert.match(listing, /test_intermediate_ca, .*trustedCertEntry/);
      assert.match(listing, new RegExp(root.cert.fingerprint256));
    });
  });
});

describe('addTrustedCerts', () => {
  test('PEM: created, appended, never duplicated; a taken alias gets a suffix', async () => {
    const f = path('add.pem');
    const first = await addTrustedCerts(f, [root.cert]);
    assert.deepEqual([first.created, first.format, first.results[0]!.status], [true, 'pem', 'added']);
    const again = await addTrustedCerts(f, [root.cert, inter.cert]);
    assert.deepEqual(
      again.results.map((r) => [r.alias, r.status]),
      [
        ['test_root_ca', 'present'],
        ['test_intermediate_ca', 'added'],
      ],
    );
    const twin = await issue({ cn: 'Test Root CA', ca: true });
    const third = await addTrustedCerts(f, [twin.cert]);
    assert.deepEqual(
      [third.results[0]!.alias, third.results[0]!.aliasTaken],
      ['test_root_ca_2', 'test_root_ca'],
    );
    const text = readFileSync(f, 'utf8');
    assert.equal(text.match(/BEGIN CERTIFICATE/g)!.length, 3);
    assert.match(text, /^# CN=Test Root CA, O=linkdoctor test, C=DE\n-----BEGIN CERTIFICATE-----/);
  });

  test('PKCS#12 needs its password; a new store reads back; a wrong password leaves the file alone', async () => {
    const f = path('add.p12');
    assert.match(await userError(() => addTrustedCerts(f, [root.cert])), /needs its password/);
    await addTrustedCerts(f, [root.cert, ecLeaf.cert], PASSWORD);
    const before = readFileSync(f);
    assert.match(await userError(() => addTrustedCerts(f, [other.cert], 'wrong')), /password .* is wrong/);
    assert.ok(readFileSync(f).equals(before));
    const s = await loadTrustStore({ file: f, password: PASSWORD });
    assert.deepEqual(
      s.entries.map((e) => e.alias),
      ['test_root_ca', 'ec_localhost'],
    );
    assert.match(
      await userError(() => addTrustedCerts(path('x.jks'), [root.cert])),
      /name it \.pem or \.p12$/,
    );
  });
});

/** Listens on 127.0.0.1 (any free port) and returns the port. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function tlsServer(certs: Issued[], key: Issued): Server {
  // A chain is sent only as one PEM string; @peculiar/x509's PEM has no trailing newline.
  const server = createHttpsServer(
    { cert: certs.map((c) => c.pem).join('\n'), key: key.keyPem },
    (_req, res) => res.end('ok'),
  );
  return server as unknown as Server;
}

describe('fetching the chain a server sends', () => {
  const servers: Server[] = [];
  const start = async (server: Server) => {
    servers.push(server);
    return listen(server);
  };
  after(() => servers.forEach((s) => s.close()));

  test('fetchServerChain: leaf and intermediate, in the order sent, with protocol and cipher', async () => {
    const port = await start(tlsServer([leaf, inter], leaf));
    const got = await fetchServerChain('127.0.0.1', port, { servername: 'localhost', timeoutMs: 5000 });
    assert.deepEqual(
      got.chain.map((c) => c.fingerprint256),
      [leaf.cert.fingerprint256, inter.cert.fingerprint256],
    );
    assert.match(got.protocol, /^TLSv1\.[23]$/);
    assert.ok(got.cipher.length > 3);
  });

  test('peerChain and isolatedTlsOptions: nothing of the client’s store is appended to the chain', async () => {
    const port = await start(tlsServer([leaf], leaf));
    const chainWith = (ca: string[] | undefined) =>
      new Promise<X509Certificate[]>((resolve, reject) => {
        const options = ca ? { ca: [...ca], rejectUnauthorized: false } : isolatedTlsOptions();
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
          resolve(peerChain(s));
          s.destroy();
        });
        s.on('error', reject);
      });
    // The pitfall: with the root and intermediate in the client's store, Node's getPeerCertificate(true)
    // completes the chain itself; peerChain reads what the server sent, whatever the store holds.
    const completed = await new Promise<number>((resolve, reject) => {
      const s = connect(
        {
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca: [root.pem, inter.pem],
          rejectUnauthorized: false,
        },
        () => {
          let n = 0;
          for (
            let c = s.getPeerCertificate(true), seen = new Set<string>();
            c?.raw && !seen.has(c.fingerprint256);
            c = c.issuerCertificate
          ) {
            seen.add(c.fingerprint256);
            n++;
          }
          resolve(n);
          s.destroy();
        },
      );
      s.on('error', reject);
    });
    assert.equal(completed, 3, "Node's own walk completes the chain from the client's store");
    assert.equal((await chainWith([root.pem, inter.pem])).length, 1);
    assert.equal((await chainWith(undefined)).length, 1);
  });

  test('refused, silent and non-TLS servers: one sentence each, within the timeout', async () => {
    const closed = createNetServer();
    const refusedPort = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    assert.match(
      await userError(() => fetchServerChain('127.0.0.1', refusedPort, { timeoutMs: 2000 })),
      /refused the connection/,
    );

    const silent = createNetServer(() => undefined);
    const silentPort = await start(silent);
    const t0 = Date.now();
    assert.match(
      await userError(() => fetchServerChain('127.0.0.1', silentPort, { timeoutMs: 500 })),
      /did not complete a TLS handshake within 0\.5 s$/,
    );
    assert.ok(Date.now() - t0 < 2000, 'bounded by the timeout');

    const http = createNetServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const httpPort = await start(http);
    assert.match(
      await userError(() => fetchServerChain('127.0.0.1', httpPort, { timeoutMs: 2000 })),
      /does not speak TLS/,
    );
  });
});

/** Runs `linkdoctor ARGS` from the sources as a user would (not blocking: the test's servers must answer). */
function linkdoctor(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return linkdoctorIn({}, ...args);
}

/** linkdoctor(...args) with `extra` in its environment (COLUMNS: the terminal's width). */
function linkdoctorIn(
  extra: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number | null; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', LD_TEST_STORE_PASSWORD: PASSWORD };
  delete env.FORCE_COLOR;
  delete env.COLUMNS;
  Object.assign(env, extra);
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env, timeout: 30_000 },
      (error, out, err) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        assert.ok(!`${out}${err}`.includes(PASSWORD), 'the password never appears in any output');
        assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
        resolve({ code, out, err });
      },
    ),
  );
}

describe('linkdoctor trust (the commands)', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const site = async (certs: Issued[], key: Issued) => {
    const server = tlsServer(certs, key);
    servers.push(server);
    return listen(server);
  };
  const pw = ['--password-env', 'LD_TEST_STORE_PASSWORD'];

  test('show: a table of alias, validity, days left, subject, issuer and SHA-256; --json', async () => {
    const f = path('show.p12');
    forgePkcs12(f, [soon, root], soon);
    const { out, code, err } = await linkdoctor('trust', 'show', f, ...pw);
    assert.equal(code, 0, err);
    assert.match(out, /show\.p12 \(PKCS#12, 2 certificates\)/);
    assert.match(out, /ALIAS\s+VALID UNTIL\s+DAYS LEFT\s+SUBJECT\s+ISSUER/);
    assert.match(out, /server\s+\d{4}-\d\d-\d\d\s+10d\s+soon\s+Test Root CA/);
    assert.match(unwrap(out), new RegExp(`SHA-256 ${root.cert.fingerprint256}`));
    const json = JSON.parse((await linkdoctor('trust', 'show', f, ...pw, '--json')).out);
    assert.equal(json.length, 2);
    assert.equal(json[1].alias, 'test_root_ca');
    assert.equal(json[1].sha256, root.cert.fingerprint256);
    assert.equal(json[1].subject, root.dn);
    const unset = await linkdoctor('trust', 'show', f, '--password-env', 'LD_TEST_UNSET_VAR');
    assert.equal(unset.code, 2);
    assert.match(unset.err, /^linkdoctor: the environment variable LD_TEST_UNSET_VAR .* is not set\n$/);
  });

  test('show: a subject and issuer too long for the line wrap within their columns; --json has them whole (attack S13 B21)', async () => {
    const cn = 'Partner Root Certification Authority for Business to Business Integration Services G2';
    const long = await issue({ cn, ca: true });
    const f = path('long-dn.pem');
    writeFileSync(f, long.pem);
    const { out, code, err } = await linkdoctor('trust', 'show', f);
    assert.equal(code, 0, err);
    const lines = out.trimEnd().split('\n');
    const subjectAt = lines[1]!.indexOf('SUBJECT');
    const issuerAt = lines[1]!.indexOf('ISSUER');
    assert.ok(subjectAt > 0 && issuerAt > subjectAt, out);
    for (const l of lines) assert.ok(l.length <= 100, `wider than 100: ${l}`);
    // The row's lines (each cell within its column), then the SHA-256; no text at column 0 but the
    // alias's. Words cut within a column (a long alias) are compared without the spaces.
    const row = lines.slice(
      2,
      lines.findIndex((l) => /^ {2}SHA-256/.test(l)),
    );
    assert.ok(row.length >= 2, out);
    const column = (at: number, end?: number) =>
      row
        .map((l) => l.slice(at, end).trim())
        .filter(Boolean)
        .join('');
    const squeezed = (t: string) => t.replace(/ /g, '');
    assert.equal(squeezed(column(subjectAt, issuerAt)), squeezed(cn));
    assert.equal(squeezed(column(issuerAt)), squeezed(cn));
    const json = JSON.parse((await linkdoctor('trust', 'show', f, '--json')).out);
    assert.equal(json[0].subject, long.dn);
    assert.equal(column(0, lines[1]!.indexOf('VALID UNTIL')), json[0].alias);
    assert.match(unwrap(out), new RegExp(`SHA-256 ${long.cert.fingerprint256}`));
  });

  test('add-from-site to a server that accepts and then says nothing: it did not complete the handshake in time, not "closed the connection"', async () => {
    const silent = createNetServer(() => undefined);
    servers.push(silent);
    const port = await listen(silent);
    const t0 = Date.now();
    const r = await linkdoctor('trust', 'add-from-site', `127.0.0.1:${port}`, '--timeout', '1');
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.err, `linkdoctor: 127.0.0.1:${port} did not complete a TLS handshake within 1 s\n`);
    assert.ok(Date.now() - t0 < 15_000, 'bounded by the timeout');
    // STARTTLS and AUTH TLS alike: no greeting at all (not basic-ftp's "Timeout (control socket)").
    for (const scheme of ['smtp', 'ftp']) {
      const s = await linkdoctor('trust', 'add-from-site', `${scheme}://127.0.0.1:${port}`, '--timeout', '1');
      assert.equal(s.code, 2, s.out + s.err);
      assert.equal(s.err, `linkdoctor: 127.0.0.1:${port} did not answer in time\n`, scheme);
    }
  });

  test('show at 60 columns: the SHA-256 wraps after a colon within the columns, never cut with "…" (it is copied by people)', async () => {
    const f = path('show-narrow.pem');
    writeFileSync(f, root.pem);
    const { out, code, err } = await linkdoctorIn({ COLUMNS: '60' }, 'trust', 'show', f);
    assert.equal(code, 0, err);
    const lines = out.trimEnd().split('\n');
    for (const l of lines) assert.ok(l.length <= 60, `wider than 60: ${l}`);
    assert.ok(!out.includes('…'), out);
    // The label, then the fingerprint's lines: joined, the whole fingerprint.
    const at = lines.findIndex((l) => /^ {2}SHA-256/.test(l));
    assert.ok(at > 0, out);
    const fp = lines
      .slice(at)
      .join('')
      .replace(/^ *SHA-256/, '')
      .replace(/ /g, '');
    assert.equal(fp, root.cert.fingerprint256);
    assert.ok(lines.length - at > 2, 'broken over lines at 60 columns');
  });

  test('show: a wrong password and a corrupt file are one sentence on stderr, exit 2', async () => {
    const f = path('show-pw.p12');
    forgePkcs12(f, [root]);
    const wrong = await linkdoctor('trust', 'show', f, '--password-env', 'HOME');
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /^linkdoctor: the password for .*show-pw\.p12 is wrong .*\n$/);
    writeFileSync(path('show-cut.p12'), readFileSync(f).subarray(0, 500));
    const corrupt = await linkdoctor('trust', 'show', path('show-cut.p12'), ...pw);
    assert.equal(corrupt.code, 2);
    assert.match(corrupt.err, /^linkdoctor: .*cut\.p12 is truncated or corrupt .*\n$/);
  });

  test('expiring: what expires within N days, exit 1 if anything does, else 0', async () => {
    const f = path('expiring.pem');
    writeFileSync(f, [root, soon, expired].map((c) => c.pem).join('\n'));
    const within30 = await linkdoctor('trust', 'expiring', f, '--days', '30');
    assert.equal(within30.code, 1, within30.err);
    assert.match(unwrap(within30.out), /2 of 3 certificates .* expire within 30 days/);
    assert.match(within30.out, /expired_localhost +\d{4}-\d\d-\d\d +expired +expired\.localhost/);
    assert.match(within30.out, /soon +\d{4}-\d\d-\d\d +10d +soon +Test Root CA/);
    assert.doesNotMatch(within30.out, /test_root_ca/);
    const json = JSON.parse((await linkdoctor('trust', 'expiring', f, '--days', '30', '--json')).out);
    assert.deepEqual(
      json.map((e: { alias: string }) => e.alias),
      ['expired_localhost', 'soon'],
    );
    const rootOnly = path('root-only.pem');
    writeFileSync(rootOnly, root.pem);
    const none = await linkdoctor('trust', 'expiring', rootOnly, '--days', '30');
    assert.equal(none.code, 0, none.err);
    assert.match(
      unwrap(none.out),
      /No certificate of .* expires within 30 days \(the first to expire: test_root_ca/,
    );
    const bad = await linkdoctor('trust', 'expiring', rootOnly, '--days', 'soon');
    assert.deepEqual([bad.code, bad.err], [2, 'linkdoctor: --days takes a number of days, 0 or more\n']);
  });

  test('add-from-site: adds the top certificate the server sends, then finds it already present', async () => {
    const port = await site([leaf, inter], leaf);
    const to = path('site.pem');
    const first = await linkdoctor(
      'trust',
      'add-from-site',
      `127.0.0.1:${port}`,
      '--to',
      to,
      '--timeout',
      '5',
    );
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /sent 2 certificates/);
    assert.match(first.out, /\+ added test_intermediate_ca to .*site\.pem \(new file\)/);
    assert.match(unwrap(first.out), new RegExp(`SHA-256 ${inter.cert.fingerprint256}`));
    assert.match(first.out, /now trusts the chain/);
    const second = await linkdoctor('trust', 'add-from-site', `127.0.0.1:${port}`, '--to', to);
    assert.equal(second.code, 0, second.err);
    assert.match(
      unwrap(second.out),
      /✔ .*site\.pem already trusts the chain of 127\.0\.0\.1:\d+ through test_intermediate_ca \(CN=Test Intermediate CA.*\); nothing written\./,
    );
    assert.equal((await loadTrustStore({ file: to })).entries.length, 1);
  });

  test('add-from-site writes nothing to a store that already trusts the chain, and says through which entry; a host-name failure neither (attack S12 A5)', async () => {
    const to = path('has-root.pem');
    writeFileSync(to, root.pem);
    const before = readFileSync(to, 'utf8');
    // The server sends only its own certificate; the store holds the root that issued its CA.
    const leafOnly = await linkdoctor(
      'trust',
      'add-from-site',
      `127.0.0.1:${await site([leaf, inter], leaf)}`,
      '--to',
      to,
    );
    assert.equal(leafOnly.code, 0, leafOnly.err);
    assert.match(
      unwrap(leafOnly.out),
      /already trusts the chain of 127\.0\.0\.1:\d+ through test_root_ca \(CN=Test Root CA/,
    );
    assert.doesNotMatch(leafOnly.out, /added|its own certificate is added/);
    assert.equal(readFileSync(to, 'utf8'), before, 'the store is unchanged');
    // A certificate for another name, from a CA the store trusts: no certificate added mends it.
    const named = await linkdoctor(
      'trust',
      'add-from-site',
      `127.0.0.1:${await site([wrongHost, inter], wrongHost)}`,
      '--to',
      to,
    );
    assert.equal(named.code, 1, named.err);
    assert.match(
      unwrap(named.out),
      /✖ .*already trusts the chain of 127\.0\.0\.1:\d+ through test_root_ca .*so nothing was written; a client still refuses it: The certificate is not valid for 127\.0\.0\.1: it covers wrong\.example\./,
    );
    assert.equal(readFileSync(to, 'utf8'), before, 'the store is unchanged');
    const json = JSON.parse(
      (
        await linkdoctor(
          'trust',
          'add-from-site',
          `127.0.0.1:${await site([wrongHost, inter], wrongHost)}`,
          '--to',
          to,
          '--json',
        )
      ).out,
    );
    assert.deepEqual([json.alreadyTrustedBy.alias, json.trusted, json.results], ['test_root_ca', false, []]);
  });

  test('add-from-site: the root when the server sends it; a self-signed server certificate; PKCS#12, --json', async () => {
    const to = path('site.p12');
    const add = async (target: string) => {
      const r = await linkdoctor(
        'trust',
        'add-from-site',
        target,
        '--to',
        to,
        ...pw,
        '--servername',
        'localhost',
        '--json',
      );
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out);
    };
    const withRoot = await add(`https://127.0.0.1:${await site([leaf, inter, root], leaf)}/`);
    assert.deepEqual(
      withRoot.results.map((x: { alias: string; status: string }) => [x.alias, x.status]),
      [['test_root_ca', 'added']],
    );
    assert.equal(withRoot.chain.length, 3);
    assert.equal(withRoot.trusted, true);
    const self = await add(`localhost:${await site([selfSigned], selfSigned)}`);
    assert.deepEqual(self.results[0].alias, 'self_localhost');
    assert.equal(self.trusted, true);
    const s = await loadTrustStore({ file: to, password: PASSWORD });
    assert.deepEqual(
      s.entries.map((e) => e.alias),
      ['test_root_ca', 'self_localhost'],
    );
  });

  test('add-from-site checks the site again on a new connection: what still fails is one sentence, exit 1 (stillFails)', async () => {
    const run = async (certs: Issued[], key: Issued, store: string, ...more: string[]) =>
      linkdoctor(
        'trust',
        'add-from-site',
        `127.0.0.1:${await site(certs, key)}`,
        '--to',
        path(store),
        ...more,
      );

    // The issuing CA added is the anchor, but the server's certificate expired: still refused.
    const exp = await run([expired, inter], expired, 'expired-site.pem');
    assert.equal(exp.code, 1, exp.err);
    assert.match(exp.out, /\+ added test_intermediate_ca /);
    assert.match(
      unwrap(exp.out),
      /✖ .*expired-site\.pem now holds the chain's anchor, but a client still refuses 127\.0\.0\.1:\d+: CN=expired\.localhost, .* expired on \d{4}-\d\d-\d\d\.\n$/,
    );
    assert.doesNotMatch(exp.out, /now trusts/);

    // A certificate for another name: the store cannot mend that, so nothing is written (attack S12 A5).
    const named = JSON.parse((await run([wrongHost, inter], wrongHost, 'wrong-host.pem', '--json')).out);
    assert.equal(named.trusted, false);
    assert.deepEqual(named.stillFails, [
      'The certificate is not valid for 127.0.0.1: it covers wrong.example.',
    ]);
    assert.deepEqual(named.results, []);
    assert.match(named.wouldAnchor.subject, /^CN=Test Intermediate CA,/);
    assert.ok(!existsSync(path('wrong-host.pem')), 'no store created');
  });

  test('add-from-site to a store that does not anchor the chain, when only the host name fails: nothing written, the name said to be the fix, exit 1 (attack S12 A5)', async () => {
    const to = path('unrelated.pem');
    writeFileSync(to, other.pem);
    const before = readFileSync(to, 'utf8');
    const r = await linkdoctor(
      'trust',
      'add-from-site',
      `127.0.0.1:${await site([wrongHost, inter], wrongHost)}`,
      '--to',
      to,
    );
    assert.equal(r.code, 1, r.err);
    assert.match(
      unwrap(r.out),
      /✖ The certificate is not valid for 127\.0\.0\.1: it covers wrong\.example\. With Test Intermediate CA added, .*unrelated\.pem would trust the chain, but a client would still refuse 127\.0\.0\.1:\d+: no trust store mends a name the certificate does not cover\. The fix is the server's certificate \(one that names 127\.0\.0\.1\) or the address the channel calls \(a name the certificate covers\)\. Nothing written to .*unrelated\.pem\./,
    );
    assert.doesNotMatch(r.out, /\+ added|now holds/);
    assert.equal(readFileSync(to, 'utf8'), before, 'the store is unchanged');
    // The same chain for the right name is added as before.
    const good = await linkdoctor(
      'trust',
      'add-from-site',
      `127.0.0.1:${await site([leaf, inter], leaf)}`,
      '--to',
      to,
    );
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /\+ added test_intermediate_ca /);
  });

  test('add-from-site: a site that answers with another chain the second time is judged on the second; the issuer it lacks is named', async () => {
    // A load balancer in front of two servers whose certificates come from different CAs: the
    // first connection's top certificate is added, the second connection's chain does not reach it.
    const otherLeaf = await issue({
      cn: 'localhost',
      issuer: other,
      sans: localhost,
      aia: 'http://pki.example/other.crt',
    });
    const first = await site([leaf, inter], leaf);
    const second = await site([otherLeaf], otherLeaf);
    let n = 0;
    const balancer = createNetServer((client) => {
      const upstream = connectTcp(n++ % 2 === 0 ? first : second, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    servers.push(balancer);
    const port = await listen(balancer);
    const r = await linkdoctor('trust', 'add-from-site', `127.0.0.1:${port}`, '--to', path('balanced.pem'));
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /\+ added test_intermediate_ca /);
    assert.match(
      unwrap(r.out),
      /On a second connection 127\.0\.0\.1:\d+ sent another certificate \(localhost\): it has more than one \(a load balancer\?\); judged on the second\./,
    );
    assert.match(
      unwrap(r.out),
      /✖ .*balanced\.pem still does not trust the chain of 127\.0\.0\.1:\d+: No path to a certificate of .*: CN=localhost, .* was issued by CN=Other Root CA, .* add CN=Other Root CA, .* \(download it from http:\/\/pki\.example\/other\.crt\)\.\n$/,
    );
    n = 0;
    const json = JSON.parse(
      (
        await linkdoctor(
          'trust',
          'add-from-site',
          `127.0.0.1:${port}`,
          '--to',
          path('balanced.pem'),
          '--json',
        )
      ).out,
    );
    assert.equal(json.trusted, false);
    assert.equal(json.stillFails.length, 1);
    assert.match(json.missing.subject, /^CN=Other Root CA/);
    assert.equal(json.missing.url, 'http://pki.example/other.crt');
    assert.match(json.checkedAgain, /sent another certificate/);
  });

  test('add-from-site: when the second connection fails, the chain sent first is judged, and the note says so', async () => {
    const upstreamPort = await site([leaf, inter], leaf);
    let n = 0;
    const once = createNetServer((client) => {
      if (n++ > 0) return void client.destroy();
      const upstream = connectTcp(upstreamPort, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    servers.push(once);
    const port = await listen(once);
    const r = await linkdoctor('trust', 'add-from-site', `127.0.0.1:${port}`, '--to', path('once.pem'));
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(
      unwrap(r.out),
      /Connecting to 127\.0\.0\.1:\d+ again failed \(127\.0\.0\.1:\d+ closed the connection during the TLS handshake\): judged on the chain it sent before\./,
    );
    assert.match(r.out, /now trusts the chain of 127\.0\.0\.1:\d+\.\n$/);
  });

  test('add-from-site: a bad target, a refused port, a missing password are one sentence each', async () => {
    assert.match(
      await userError(() => trustAddFromSite('bad host!', { to: path('x.pem'), timeout: 1 })),
      /not a host name/,
    );
    const closed = createNetServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const refused = await linkdoctor('trust', 'add-from-site', `127.0.0.1:${port}`, '--to', path('x.pem'));
    assert.equal(refused.code, 2);
    assert.match(refused.err, /^linkdoctor: 127\.0\.0\.1:\d+ refused the connection .*\n$/);
    const ok = await site([leaf, inter], leaf);
    assert.match(
      await userError(() => trustAddFromSite(`127.0.0.1:${ok}`, { to: path('nopw.p12'), timeout: 5 })),
      /needs its password/,
    );
  });
});

test('dayCount: whole days left, whole days since expiry (35.01 days ago is "expired 35 days ago")', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const day = 86_400_000;
  assert.equal(dayCount(now + 29.9 * day, now), 29);
  assert.equal(dayCount(now + 0.5 * day, now), 0);
  assert.equal(dayCount(now - 35.01 * day, now), -35);
  // Expired an hour ago: still negative, so every report says expired.
  assert.equal(dayCount(now - 3_600_000, now), -1);
  assert.equal(daysUntil(now - 35.01 * day, now), -35);
});

test('an existing empty file is an empty store: the certificate is added, no "is empty" refusal (attack W2)', async () => {
  const { addTrustedCerts } = await import('../src/trust/write.js');
  const file = join(dir, 'touched.pem');
  writeFileSync(file, '');
  const { results } = await addTrustedCerts(file, [root.cert]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['added'],
  );
  assert.match(readFileSync(file, 'utf8'), /^-----BEGIN CERTIFICATE-----/m);
});

test('a secret variable set to the empty string is said to be empty, not unset (attack T1)', async () => {
  const { secretFromEnv } = await import('../src/cli/secrets.js');
  process.env.LD_T1_EMPTY = '';
  try {
    assert.throws(
      () => secretFromEnv('LD_T1_EMPTY', 'password'),
      /LD_T1_EMPTY \(the password\) is set but empty/,
    );
    assert.throws(
      () => secretFromEnv('LD_T1_NEVER_SET', 'password'),
      /LD_T1_NEVER_SET \(the password\) is not set/,
    );
  } finally {
    delete process.env.LD_T1_EMPTY;
  }
});
