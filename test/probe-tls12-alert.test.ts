// A TLS 1.2 server that ends its handshake with an alert after sending its certificates and a
// CertificateRequest: `openssl s_server -tls1_2 -Verify 1` on 127.0.0.1, started here. The probe
// must tell the client certificate (as it does for TLS 1.3's certificate_required), and
// `trust add-from-site` must still get the chain the server sent (attack report items 4 and 11).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, opensslSelfSigned, runCliAsync, waitListening } from './helpers.js';

const openssl = spawnSync('openssl', ['version']).status === 0;

describe(
  'TLS 1.2 server that requires a client certificate',
  { skip: !openssl && 'openssl is not installed' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-tls12-'));
    const cert = join(dir, 'ss.crt');
    const key = join(dir, 'ss.key');
    let server: ChildProcess | undefined;
    let port = 0;

    before(async () => {
      opensslSelfSigned(cert, key);
      port = await freePort();
      server = spawn(
        'openssl',
        [
          's_server',
          '-accept',
          `127.0.0.1:${port}`,
          '-cert',
          cert,
          '-key',
          key,
          '-www',
          '-quiet',
          '-tls1_2',
          '-Verify',
          '1',
          '-CAfile',
          cert,
        ],
        { stdio: 'ignore' },
      );
      assert.ok(await waitListening(port), 'openssl s_server did not listen');
    });
    after(() => {
      server?.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    test('probe: the alert after the CertificateRequest is the missing client certificate', async () => {
      const r = await runCliAsync(['probe', `https://localhost:${port}/`, '--trust', cert, '--json']);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout) as {
        tls: { verdicts: string[]; clientCertRequested?: boolean; chain: { subject: string }[] };
        diagnoses: { id: string }[];
      };
      assert.equal(report.tls.clientCertRequested, true);
      assert.deepEqual(report.tls.verdicts, ['client-cert-required']);
      // The certificate the server sent before its alert is judged as with TLS 1.3.
      assert.equal(report.tls.chain[0]?.subject, 'CN=localhost');
      assert.equal(report.diagnoses[0]?.id, 'out-client-cert-rejected');
      const text = await runCliAsync(['probe', `https://localhost:${port}/`, '--trust', cert]);
      assert.match(text.stdout, /requires a client certificate and none was presented/);
      assert.doesNotMatch(text.stdout, /✖ tls +[0-9]+ ms +the server ended the handshake with the alert/);
    });

    test('trust add-from-site: the certificates sent before the alert, the alert in one sentence', async () => {
      const r = await runCliAsync(['trust', 'add-from-site', `localhost:${port}`]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /sent 1 certificate/);
      assert.match(
        r.stdout,
        /^ {2}It then ended the handshake with the alert handshake_failure: it wants a client certificate\.$/m,
      );
      assert.ok(r.stdout.includes(readFileSync(cert, 'utf8').trim()), r.stdout);
      assert.doesNotMatch(r.stdout + r.stderr, /SSL routines|rec_layer/);
    });
  },
);
