// Every lab server probed through the CLI, as a user would: the verdict and the knowledge-base entry.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Lab, startLab } from '../src/lab/index.js';
import { loadKb } from '../src/kb/load.js';
import { runCliAsync } from './helpers.js';

const kb = await loadKb();
let lab: Lab;
before(async () => {
  lab = await startLab();
});
after(() => lab?.stop());

interface ProbeJson {
  ok: boolean;
  steps: { name: string; ok: boolean | null; detail: string }[];
  tls?: { verdicts: string[]; trusted: boolean; clientCertAccepted?: boolean; missing?: { subject: string } };
  http?: { notes: string[]; redirects: string[] };
  diagnoses: { id: string; confidence: number; cause?: { id: string }; fixes: string[] }[];
}

async function probe(
  url: string,
  ...args: string[]
): Promise<{ status: number | null; json: ProbeJson; stderr: string }> {
  const r = await runCliAsync(['probe', url, '--trust', lab.trustFile, '--timeout', '2', '--json', ...args], {
    env: { LAB_PASSWORD: lab.clientCert.password, ...lab.scenarios.find((s) => s.url === url)?.env },
  });
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(lab.clientCert.password), 'no secret in any output');
  return { status: r.status, json: JSON.parse(r.stdout) as ProbeJson, stderr: r.stderr };
}

const scenario = (name: string) => lab.scenarios.find((s) => s.name === name)!;

test('every lab scenario: the probe reports the entry the lab says it reproduces', async (t) => {
  for (const s of lab.scenarios) {
    await t.test(s.name, async () => {
      const { status, json } = await probe(s.url, ...s.probeArgs);
      if (!s.expect) {
        assert.equal(status, 0, JSON.stringify(json.steps));
        assert.equal(json.ok, true);
        assert.deepEqual(json.diagnoses, []);
        return;
      }
      assert.equal(status, 1, JSON.stringify(json.steps));
      assert.equal(json.ok, false);
      assert.equal(
        json.diagnoses[0]?.id,
        s.expect,
        `${s.name}: ${JSON.stringify(json.steps)} → ${JSON.stringify(json.diagnoses.map((d) => [d.id, d.confidence]))}`,
      );
      // Where the probe can tell the cause, it names it, and that cause's own fix comes first.
      if (s.cause) {
        assert.equal(json.diagnoses[0]?.cause?.id, s.cause, `${s.name}: the cause named`);
        const entry = kb.byId.get(s.expect)!;
        const own = entry.fixes.find((f) => f.for?.includes(s.cause!));
        if (own)
          assert.equal(json.diagnoses[0]!.fixes[0], own.text, `${s.name}: the first fix is the cause's own`);
      }
      // A failing step ends the run: the steps after it did not run.
      const failed = json.steps.findIndex((x) => x.ok === false);
      assert.ok(json.steps.slice(failed + 1).every((x) => x.ok === null && x.detail.startsWith('not run')));
    });
  }
});

test('tls verdicts: unknown CA names the missing root, the missing intermediate is an incomplete chain', async () => {
  const unknown = (await probe(scenario('unknown-ca').url)).json;
  assert.ok(unknown.tls!.verdicts.includes('untrusted'));
  assert.match(unknown.tls!.missing!.subject, /Example Corp Private Root CA/);
  assert.ok(
    (await probe(scenario('missing-intermediate').url)).json.tls!.verdicts.includes('incomplete-chain'),
  );
  assert.ok((await probe(scenario('expired').url)).json.tls!.verdicts.includes('expired'));
  assert.ok((await probe(scenario('wrong-host').url)).json.tls!.verdicts.includes('hostname-mismatch'));
});

test('client certificate: accepted from the right CA, refused from another', async () => {
  const url = scenario('client-cert').url;
  const good = await probe(
    url,
    '--client-cert',
    lab.clientCert.good,
    '--client-cert-password-env',
    'LAB_PASSWORD',
  );
  assert.equal(good.status, 0, JSON.stringify(good.json.steps));
  assert.equal(good.json.tls!.clientCertAccepted, true);
  const wrong = await probe(
    url,
    '--client-cert',
    lab.clientCert.wrongCa,
    '--client-cert-password-env',
    'LAB_PASSWORD',
  );
  assert.equal(wrong.status, 1);
  assert.equal(wrong.json.tls!.clientCertAccepted, false);
  assert.equal(wrong.json.diagnoses[0]?.id, 'out-client-cert-rejected');
});

test('basic auth: the right credentials pass, from an environment variable', async () => {
  const r = await probe(
    scenario('basic-auth').url,
    '-u',
    lab.basicAuth.user,
    '--password-env',
    'LAB_PASSWORD',
  );
  assert.equal(r.status, 0, JSON.stringify(r.json.steps));
});

test('CSRF: without the flow it fails and the probe shows what works; with --csrf it passes', async () => {
  const url = scenario('csrf').url;
  const plain = await probe(url, '-X', 'POST', '-d', '{}');
  const notes = plain.json.http!.notes.join(' ');
  assert.match(notes, /With a fetched token and the session cookies the request works/);
  assert.match(notes, /without the cookies it fails \(403\)/);
  const flow = await probe(url, '--csrf', '-X', 'POST', '-d', '{}');
  assert.equal(flow.status, 0, JSON.stringify(flow.json.steps));
});

test('411: an empty POST goes chunked like the platform sends it; the retry with Content-Length: 0 works', async () => {
  const r = await probe(scenario('length-required').url, '-X', 'POST');
  const http = r.json.steps.find((s) => s.name === 'http')!;
  assert.match(http.detail, /411 Length Required; with Content-Length: 0 it works/);
});

test('a silent server ends within the step timeout, not in a hang', async () => {
  const started = Date.now();
  const r = await probe(scenario('silent').url, '--timeout', '1');
  assert.ok(Date.now() - started < 8000, 'bounded by the timeouts');
  assert.equal(r.json.diagnoses[0]?.id, 'network-timeout');
});

test('404: the probe finds the path in the other case and says so', async () => {
  const r = await probe(scenario('case-404').url);
  const http = r.json.steps.find((s) => s.name === 'http')!;
  assert.match(http.detail, /404 Not Found; \/Orders exists \(200\)/);
  assert.equal(r.json.diagnoses[0]?.id, 'out-http-404');
  // A status the probe received itself is a fact, not a reading of text: the confidence says so.
  assert.ok(r.json.diagnoses[0]!.confidence >= 0.9, String(r.json.diagnoses[0]?.confidence));
});
