// `linkdoctor probe URL --tenant`: the receiver's chain judged against the tenant's own keystore,
// downloaded with the service key from the loopback tenant FIXTURE (test/tenant-fixture.ts), whose
// keystore holds the lab root (alias "linkdoctor lab root") but not the Example Corp private root.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { unwrap } from './helpers.js';
import {
  assertNoSecret,
  runAgainst as run,
  startTenantFixture,
  type TenantFixture,
} from './tenant-fixture.js';

async function httpsServer(key: string, cert: string): Promise<{ server: Server; url: string }> {
  const server = createServer({ key, cert }, (_q, r) => r.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `https://127.0.0.1:${(server.address() as { port: number }).port}/` };
}

describe('probe --tenant', () => {
  let f: TenantFixture;
  let privateCa: { server: Server; url: string };
  let selfSigned: { server: Server; url: string };
  before(async () => {
    f = await startTenantFixture({ messages: 10 });
    // A chain of leaf and issuing CA whose root (Example Corp Private Root CA) the tenant lacks.
    privateCa = await httpsServer(
      f.pki.unknownLeaf.keyPem,
      f.pki.unknownLeaf.certPem + f.pki.unknownIssuing.certPem,
    );
    // A certificate that is its own root: the one to add is the server's, fingerprint known.
    selfSigned = await httpsServer(f.pki.clientCa.keyPem, f.pki.clientCa.certPem);
  });
  after(async () => {
    privateCa.server.close();
    selfSigned.server.close();
    await f.close();
  });

  test('a chain the tenant trusts names the keystore entry that anchors it', async () => {
    // The fixture's own chain: localhost <- lab Issuing CA <- lab Root CA (entry "linkdoctor lab root").
    const r = await run(f, ['probe', `${f.url}/`, '--tenant', '--service-key', f.keyFile]);
    assert.match(
      unwrap(r.stdout),
      /✔ tls .*chain trusted by the keystore of tenant 127\.0\.0\.1:\d+ \(4 certificates\), through its entry linkdoctor lab root/,
    );
    const j = JSON.parse(
      (await run(f, ['probe', `${f.url}/`, '--tenant', '--service-key', f.keyFile, '--json'])).stdout,
    );
    assert.equal(j.tls.trusted, true);
    assert.equal(j.tls.anchor.alias, 'linkdoctor lab root');
    assert.equal(j.tls.anchor.sha256, new X509Certificate(f.pki.root.certPem).fingerprint256);
    // The certificates came from the API: the list, then one download per certificate entry.
    const downloads = f.requests.filter((q) => /\/Certificate\/\$value$/.test(new URL(q.url).pathname));
    assert.ok(downloads.length >= 4, String(downloads.length));
    assertNoSecret(f, r);
  });

  test('a chain from a root the tenant lacks: untrusted, says which certificate to add and where', async () => {
    const r = await run(f, ['probe', privateCa.url, '--tenant', '--service-key', f.keyFile]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      unwrap(r.stdout),
      /✖ tls .*Your tenant would not trust this chain: add CN=Example Corp Private Root CA, O=Example Corp to the tenant's keystore \(Monitor > Manage Security > Keystore > Add > Certificate\); CN=Example Corp Issuing CA 1, O=Example Corp was issued by it, and neither the server sent it nor the keystore of tenant 127\.0\.0\.1:\d+ \(4 certificates\) holds it\./,
    );
    assert.match(unwrap(r.stdout), /missing: CN=Example Corp Private Root CA/);
    assert.match(r.stdout, /out-cert-path/);
    const j = JSON.parse(
      (await run(f, ['probe', privateCa.url, '--tenant', '--service-key', f.keyFile, '--json'])).stdout,
    );
    assert.equal(j.tls.trusted, false);
    assert.equal(j.tls.anchor, undefined);
    assert.equal(j.tls.missing.subject, 'CN=Example Corp Private Root CA, O=Example Corp');
    assertNoSecret(f, r);
  });

  test('a self-signed server: the certificate to add named with its issuer and SHA-256 fingerprint', async () => {
    const r = await run(f, ['probe', selfSigned.url, '--tenant', '--service-key', f.keyFile, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    const sha256 = new X509Certificate(f.pki.clientCa.certPem).fingerprint256;
    assert.deepEqual(j.tls.missing, {
      subject: 'CN=linkdoctor lab Client CA, O=linkdoctor lab',
      neededBy: 'CN=linkdoctor lab Client CA, O=linkdoctor lab',
      issuer: 'CN=linkdoctor lab Client CA, O=linkdoctor lab',
      sha256,
    });
    // --full: the fingerprint whole (at 100 columns text output cuts a word too long for its line).
    const text = await run(f, ['probe', selfSigned.url, '--tenant', '--service-key', f.keyFile, '--full']);
    assert.match(unwrap(text.stdout), /✖ tls .*is self-signed/);
    assert.ok(
      unwrap(text.stdout).includes(
        `missing: CN=linkdoctor lab Client CA, O=linkdoctor lab SHA-256 ${sha256}`,
      ),
    );
  });

  test('the key from $LINKDOCTOR_SERVICE_KEY; usage errors before any request; a missing role named', async () => {
    const viaEnv = await run(f, ['probe', `${f.url}/`, '--tenant', '--json'], {
      LINKDOCTOR_SERVICE_KEY: f.keyJson,
    });
    assert.equal(JSON.parse(viaEnv.stdout).tls.anchor.alias, 'linkdoctor lab root');
    const before = f.requests.length;
    const both = await run(f, [
      'probe',
      `${f.url}/`,
      '--tenant',
      '--service-key',
      f.keyFile,
      '--trust',
      f.caFile,
    ]);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /choose one of --tenant .* and --trust FILE/);
    const alone = await run(f, ['probe', `${f.url}/`, '--service-key', f.keyFile]);
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /--service-key goes with --tenant/);
    const noKey = await run(f, ['probe', `${f.url}/`, '--tenant'], { LINKDOCTOR_SERVICE_KEY: '' });
    assert.equal(noKey.status, 2);
    assert.doesNotMatch(noKey.stderr, /\n\s+at /);
    assert.equal(f.requests.length, before, 'a usage error sent requests');

    // The keystore is read with the tenant commands' 30 s bound, not the probe's --timeout.
    const slow = await startTenantFixture({ messages: 1, faults: { delayMs: 2500 } });
    try {
      const r = await run(slow, [
        'probe',
        `${slow.url}/`,
        '--tenant',
        '--service-key',
        slow.keyFile,
        '--timeout',
        '2',
      ]);
      assert.match(
        unwrap(r.stdout),
        /chain trusted by the keystore of tenant .*through its entry linkdoctor lab root/,
        r.stderr,
      );
    } finally {
      await slow.close();
    }

    const g = await startTenantFixture({ messages: 1, roles: [] });
    try {
      const r = await run(g, ['probe', `${g.url}/`, '--tenant', '--service-key', g.keyFile]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /lacks the role MonitoringDataRead for KeystoreEntries \(403\)/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assertNoSecret(g, r);
    } finally {
      await g.close();
    }
  });
});
