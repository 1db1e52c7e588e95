// Credentials never reach a report: by their shape in what people paste and scan, by their value in
// what a peer echoes back to a probe.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { redact, withoutSecrets } from '../src/redact.js';
import { runCli, runCliAsync } from './helpers.js';

const PASSWORD = 'hunter2pass-echoed';
const BASIC = Buffer.from(`bob:${PASSWORD}`).toString('base64');

test('redact: a password in a URL, header fields written as JSON, tokens; protocol keywords stay', () => {
  assert.equal(
    redact('invoking https://bob:Sup3rS3cret@erp.example.com/api failed'),
    'invoking https://bob:<redacted>@erp.example.com/api failed',
  );
  assert.equal(redact('sftp://user@host/outbox'), 'sftp://user@host/outbox', 'a user name is no secret');
  assert.equal(redact(`{"authorization": "Basic ${BASIC}"}`), '{"authorization": "<redacted>"}');
  assert.equal(redact('"x-csrf-token": "4fG7hJk9LmNoPq"'), '"x-csrf-token": "<redacted>"');
  assert.equal(redact('response header x-csrf-token: Required'), 'response header x-csrf-token: Required');
  assert.equal(redact('X-CSRF-Token: Fetch'), 'X-CSRF-Token: Fetch');
  assert.equal(redact('password=hunter2 token: expired'), 'password=<redacted> token: expired');
  assert.equal(withoutSecrets(`echo ${PASSWORD}!`, [PASSWORD, undefined, 'ab']), 'echo (secret)!');
});

test('redact is linear: a 2 MB word before "://" and 50,000 "a://b:" costs no backtracking', () => {
  // Not a timing assertion: both inputs would take minutes with a backtracking pattern.
  assert.equal(redact(`${'a'.repeat(2_000_000)}://x`).length, 2_000_004);
  const many = 'a://b:'.repeat(50_000);
  assert.equal(redact(many), many);
});

test('diagnose: a password in a pasted URL is not shown, in text or JSON', () => {
  const text =
    'HTTP operation failed invoking https://bob:Sup3rS3cret@erp.example.com/api with statusCode: 401';
  for (const json of [[], ['--json']]) {
    const r = runCli(['diagnose', ...json, text]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes('Sup3rS3cret'), r.stdout);
    assert.match(r.stdout, /out-http-401/);
  }
});

let server: ReturnType<typeof createServer>;
let port = 0;
before(async () => {
  // httpbin's /headers: the request's headers as a JSON body, and the password once more in plain.
  server = createServer((req, res) => {
    res.writeHead(req.headers.authorization ? 500 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ headers: req.headers, note: `you sent ${PASSWORD}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

test('probe: a body that echoes the request shows neither the password nor the Basic credentials', async () => {
  const r = await runCliAsync(
    ['probe', `http://127.0.0.1:${port}/headers`, '-u', 'bob', '--password-env', 'RD_PW', '--json', '-v'],
    { env: { RD_PW: PASSWORD } },
  );
  const out = r.stdout + r.stderr;
  assert.ok(out.includes('"http"'), out);
  assert.ok(out.includes('you sent (secret)'), 'the body is shown, scrubbed');
  assert.ok(!out.includes(PASSWORD), 'no password');
  assert.ok(!out.includes(BASIC), 'no Basic credentials');
});
