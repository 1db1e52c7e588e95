import assert from 'node:assert/strict';
/* eslint-disable no-control-regex -- the tests look for ANSI escapes on purpose */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, type Run, tempDirs } from './helpers.js';

const PKIX =
  'javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target';

/** A clean failure: one readable sentence on stderr, no stack trace. */
function assertCleanError(r: Run, code: number, sentence: RegExp): void {
  assert.equal(r.status, code, r.stderr);
  assert.match(r.stderr, sentence);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stderr, /internal error/);
}

const tempDir = tempDirs();
const tmp = () => tempDir('ld-cli-');

test('diagnose from arguments: a report, exit 0', () => {
  const r = runCli(['diagnose', PKIX]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /out-cert-path/);
  assert.match(r.stdout, /SAP note 2354153/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour when piped');
});

test('diagnose --json from standard input: the documented shape, best first', () => {
  const r = runCli(['diagnose', '--json'], { input: `Caused by: ${PKIX}\n  at x.y(Z.java:1)\n` });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(Array.isArray(out.diagnoses) && Array.isArray(out.signals));
  const d = out.diagnoses[0];
  for (const k of ['id', 'title', 'direction', 'confidence', 'evidence', 'facts', 'fixes', 'references'])
    assert.ok(k in d, `diagnosis has ${k}`);
  assert.equal(d.id, 'out-cert-path');
  assert.ok(d.confidence > 0 && d.confidence <= 1);
  const confidences = out.diagnoses.map((x: { confidence: number }) => x.confidence);
  assert.deepEqual(
    confidences,
    [...confidences].sort((a, b) => b - a),
  );
  const ev = d.evidence.find((e: { kind: string }) => e.kind === 'symptom');
  assert.equal(ev.line, 1);
  assert.equal(`Caused by: ${PKIX}`.slice(ev.start, ev.end), ev.text);
});

test('diagnose --file, and a missing file is one sentence with exit 2', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'err.txt'), PKIX);
  assert.equal(runCli(['diagnose', '--file', join(dir, 'err.txt')]).status, 0);
  assertCleanError(
    runCli(['diagnose', '--file', join(dir, 'nope.txt')]),
    2,
    /cannot read .*nope\.txt: no such file/,
  );
  assertCleanError(runCli(['diagnose', '--file', dir]), 2, /is a folder/);
});

test('nothing matched: says so, shows the facts it found, exit 1, invents nothing', () => {
  const r = runCli(['diagnose', 'the nightly batch to https://reports.example.com:8443/x finished late']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /No known issue matched/);
  assert.match(r.stdout, /host reports\.example\.com/);
  const j = JSON.parse(runCli(['diagnose', '--json', 'all quiet']).stdout);
  assert.deepEqual(j.diagnoses, []);
});

test('bad input: binary, empty, invalid UTF-8, a 50 MB single line', () => {
  assertCleanError(
    runCli(['diagnose'], { input: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0, 0]) }),
    2,
    /looks binary/,
  );
  assertCleanError(runCli(['diagnose'], { input: '  \n\n ' }), 2, /standard input is empty/);
  const latin1 = Buffer.concat([
    Buffer.from('Zertifikat f'),
    Buffer.from([0xfc]),
    Buffer.from(`r Empf\u00e4nger: ${PKIX}`, 'latin1'),
  ]);
  const r = runCli(['diagnose'], { input: latin1 });
  assert.equal(r.status, 0, 'still diagnosed');
  assert.match(r.stderr, /not valid UTF-8/);
  const huge = 'x'.repeat(50 * 1024 * 1024);
  const t = Date.now();
  assertCleanError(
    runCli(['diagnose'], { input: huge, timeout: 20_000 }),
    2,
    /more than 4\.0 MB; diagnose reads one incident/,
  );
  assert.ok(Date.now() - t < 20_000);
});

test('a large single line under the limit ends in a clean answer', () => {
  const line = `${'lorem ipsum dolor sit amet 12345 '.repeat(100_000)} ${PKIX}`;
  const r = runCli(['diagnose', '--json'], { input: line, timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).diagnoses[0].id, 'out-cert-path');
});

test('colour only on request when piped; usage errors exit 2', () => {
  assert.match(runCli(['diagnose', PKIX], { env: { FORCE_COLOR: '1' } }).stdout, /\x1b\[/);
  assertCleanError(runCli(['diagnose', '--bogus']), 2, /unknown option '--bogus'/);
  assertCleanError(runCli(['diagnose', '--direction', 'sideways', PKIX]), 2, /sideways/);
  assertCleanError(
    runCli(['diagnose', 'x', '--kb', '/nonexistent/kb']),
    2,
    /\/nonexistent\/kb: cannot read the folder/,
  );
});

test('a text that starts with "-" (.NET\'s "--->", a PEM block) is said to need -- or standard input; with -- it is diagnosed (attack S13 B15)', () => {
  const dotnet =
    '---> System.Net.Sockets.SocketException (10060): A connection attempt failed because the connected party did not properly respond after a period of time';
  for (const text of [dotnet, '-----BEGIN CERTIFICATE----- MIIBkTCB+wIJAK']) {
    const r = runCli(['diagnose', '--json', text]);
    assertCleanError(
      r,
      2,
      /^linkdoctor: '-{3,5}[^']*' is a text, not an option: to give a text that starts with "-", put -- before it \(linkdoctor diagnose -- "TEXT"\) or give it on standard input \(linkdoctor diagnose -\)\n$/,
    );
  }
  const dashed = runCli(['diagnose', '--', dotnet]);
  assert.equal(dashed.status, 0, dashed.stderr);
  assertCleanError(runCli(['diagnose', '--jsn', 'x']), 2, /unknown option '--jsn'; did you mean --json\?/);
});

test('kb show of an unknown id is one sentence, exit 2', () => {
  assertCleanError(
    runCli(['kb', 'show', 'cert-path']),
    2,
    /no entry "cert-path"; did you mean out-cert-path/,
  );
});

test('kb lint of a broken folder names file and field, exit 1', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'x-y.yaml'), 'id: x-y\ntitle: t\ndirection: sideways\n');
  const r = runCli(['kb', 'lint', dir]);
  assert.equal(r.status, 1);
  // Each at its line, in the project's sentences, not the validation library's (attack K1).
  assert.match(r.stdout, /x-y\.yaml:3: direction: is one of inbound, outbound or any, not "sideways"\n/);
  assert.match(r.stdout, /x-y\.yaml:1: symptoms: is missing\n/);
  assert.doesNotMatch(r.stdout, /Invalid|expected one of/);
});

test('a file that is no client certificate is one sentence, exit 2', () => {
  const file = join(tmp(), 'notes.txt');
  writeFileSync(file, 'not a certificate\n');
  assertCleanError(
    runCli(['probe', 'https://127.0.0.1:1/', '--client-cert', file]),
    2,
    /notes\.txt is neither a PKCS#12 file nor a PEM certificate with its key/,
  );
});
