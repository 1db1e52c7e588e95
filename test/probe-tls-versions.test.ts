// After a handshake the server ends with handshake_failure or protocol_version, the probe offers each
// version the platform speaks (TLS 1.2, 1.3) alone and says which the server accepts: two real
// `openssl s_server`s on 127.0.0.1, started here (attack report 12).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { versionsSentence } from '../src/probe/tls-versions.js';
import { freePort, opensslSelfSigned, runCliAsync, waitListening } from './helpers.js';

const openssl = spawnSync('openssl', ['version']).status === 0;

interface ProbeJson {
  steps: { name: string; ok: boolean | null; detail: string }[];
  tls?: { versions?: { version: string; accepted: boolean; detail?: string }[] };
  signals: { type: string; value: string }[];
  diagnoses: { id: string }[];
}

describe(
  'TLS versions offered alone after an agreement alert',
  { skip: !openssl && 'openssl is not installed' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-tlsv-'));
    const cert = join(dir, 'c.crt');
    const key = join(dir, 'c.key');
    const servers: ChildProcess[] = [];
    /** TLS 1.3 only with a suite Node does not offer by default, TLS 1.2 as usual. */
    let broken13 = 0;
    /** TLS 1.2 only, with a suite Node does not offer. */
    let camellia = 0;

    async function sServer(args: string[]): Promise<number> {
      const port = await freePort();
      const s = spawn(
        'openssl',
        ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', cert, '-key', key, '-www', '-quiet', ...args],
        { stdio: 'ignore' },
      );
      servers.push(s);
      assert.ok(await waitListening(port), `openssl s_server ${args.join(' ')} did not listen`);
      return port;
    }

    before(async () => {
      opensslSelfSigned(cert, key, ['rsa:2048']);
      broken13 = await sServer(['-ciphersuites', 'TLS_AES_128_CCM_SHA256']);
      camellia = await sServer(['-tls1_2', '-cipher', 'CAMELLIA128-SHA']);
    });
    after(() => {
      for (const s of servers) s.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    const probe = async (port: number) => {
      const r = await runCliAsync([
        'probe',
        `https://localhost:${port}/`,
        '--trust',
        cert,
        '--timeout',
        '3',
        '--json',
      ]);
      assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
      return JSON.parse(r.stdout) as ProbeJson;
    };

    test('TLS 1.3 broken, TLS 1.2 fine: the server accepts TLS 1.2 alone, and the probe says so', async () => {
      const json = await probe(broken13);
      const tls = json.steps.find((s) => s.name === 'tls')!;
      assert.equal(tls.ok, false);
      assert.match(tls.detail, /alert handshake_failure/);
      assert.match(
        tls.detail,
        /offered alone, the server accepts TLS 1\.2 \(TLS_ECDHE_RSA_WITH_AES_\w+\), not TLS 1\.3 \(alert handshake_failure\)/,
      );
      assert.deepEqual(
        json.tls?.versions?.map((v) => [v.version, v.accepted]),
        [
          ['TLSv1.2', true],
          ['TLSv1.3', false],
        ],
      );
      assert.ok(json.signals.some((s) => s.type === 'tls.versions' && s.value === 'TLSv1.2'));
      assert.equal(json.diagnoses[0]?.id, 'tls-handshake-failure');
      assert.equal(json.steps.length, 4, 'the follow-up is no step of its own: dns, tcp, tls, http');
    });

    test('TLS 1.2 only, with a suite the client does not offer: neither version, said with each refusal', async () => {
      const json = await probe(camellia);
      const tls = json.steps.find((s) => s.name === 'tls')!;
      assert.match(
        tls.detail,
        /offered alone, neither TLS 1\.2 \(alert handshake_failure\) nor TLS 1\.3 \(alert protocol_version\): the server accepts neither version the platform speaks/,
      );
      assert.ok(json.signals.some((s) => s.type === 'tls.versions' && s.value === 'none'));
    });
  },
);

test('the sentence of the tries', () => {
  assert.equal(
    versionsSentence([
      { version: 'TLSv1.2', accepted: true, detail: 'TLS_X' },
      { version: 'TLSv1.3', accepted: true, detail: 'TLS_Y' },
    ]),
    'offered alone, the server accepts TLS 1.2 (TLS_X) and TLS 1.3 (TLS_Y): each alone works, the two offered together did not',
  );
});
