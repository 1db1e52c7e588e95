// A URL's secret query parameters (?access_token=, &sig=, X-Amz-Signature=: the names src/redact.ts
// knows) are masked wherever linkdoctor shows or stores a probe's or an inventory target's URL: probe's
// text, -v and --json, check's line and --json, the history database, webhook payloads, /metrics
// labels and the API. The request itself uses the URL as given: the loopback server sees the token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { redact, redactUrls } from '../src/redact.js';
import { CLI, freePort, runCliAsync, tempDirs, until, waitListening } from './helpers.js';

const TOKEN = 'TOKsecret4242';
const SIG = 'SIGsecret9191';
const LOCATION_TOKEN = 'LOCsecret7373';
// Azure Functions' function key (`?code=`) and Azure API Management's `?subscription-key=`.
const CODE = 'AZFUNCkey5151';
const SUBKEY = 'APIMkey6262';
const SECRETS = new RegExp(`${TOKEN}|${SIG}|${LOCATION_TOKEN}|${CODE}|${SUBKEY}`);
const tmp = tempDirs();

let server: Server;
let base = '';
/** The request URLs the server saw: the probe must send the secrets it does not show. */
const seen: string[] = [];
before(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url?.startsWith('/moved'))
      return res.writeHead(302, { location: `/ok?access_token=${LOCATION_TOKEN}` }).end();
    res.writeHead(req.url?.startsWith('/down') ? 503 : 200, { 'content-type': 'text/plain' });
    res.end('hello\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test('redactUrls: the secret parameters by the names redact knows, the rest of the URL as it was', () => {
  assert.equal(
    redactUrls(`GET https://h.example/x?sig=${SIG}&sv=2024-01-01&access_token=${TOKEN} → 200`),
    'GET https://h.example/x?sig=<redacted>&sv=2024-01-01&access_token=<redacted> → 200',
  );
  assert.equal(
    redactUrls('https://b.example/o?X-Amz-Signature=abc123&X-Amz-Date=20260101&apikey=k1;page=2#top'),
    'https://b.example/o?X-Amz-Signature=<redacted>&X-Amz-Date=20260101&apikey=<redacted>;page=2#top',
  );
  assert.equal(redactUrls('sftp://bob:pw123@h/x'), 'sftp://bob:<redacted>@h/x');
  assert.equal(redactUrls('https://h/?tokenized=1&q=a'), 'https://h/?tokenized=1&q=a', 'not a secret name');
});

test('redactUrls, redact: the secret query parameters of Azure, Google, GitLab, SAML, AWS; `code` and `key` only as a whole query name', () => {
  const names = [
    'code',
    'subscription-key',
    'key',
    'private_token',
    'pass',
    'auth',
    'SAMLResponse',
    'X-Amz-Credential',
    'X-Goog-Credential',
    'ticket',
    'otp',
    'session',
    'jwt',
    'client_assertion',
  ];
  for (const name of names) {
    const url = `https://api.partner.com/x?page=2&${name}=VALUE123456&lang=de`;
    const masked = `https://api.partner.com/x?page=2&${name}=<redacted>&lang=de`;
    assert.equal(redactUrls(url), masked, name);
    assert.equal(redact(`invoking ${url} failed`), `invoking ${masked} failed`, name);
  }
  const ordinary = 'https://h/x?country_code=DE&sort_key=id&postal-code=1010&keys=3';
  assert.equal(redactUrls(ordinary), ordinary, 'a longer name ending in code or key is no secret');
  assert.equal(redact(ordinary), ordinary);
  const words = 'error code=500: the key=customer_id is missing; auth=basic';
  assert.equal(redact(words), words, 'code, key and auth in a text are words, not secrets');
});

test('diagnose: a pasted URL’s code, subscription-key, key, private_token, pass, auth, SAMLResponse are not shown, in text, --full or --json', async () => {
  const query = ['code', 'subscription-key', 'key', 'private_token', 'pass', 'auth', 'SAMLResponse']
    .map((n, i) => `${n}=VAL${i}secret`)
    .join('&');
  const text = `HTTP operation failed invoking https://api.partner.com/x?${query} with statusCode: 503`;
  for (const flags of [[], ['--full'], ['--json']]) {
    const r = await runCliAsync(['diagnose', ...flags, text]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /VAL\dsecret/, r.stdout);
    assert.match(r.stdout, /code=<redacted>/);
  }
});

test('probe: text, -v and --json mask the token and the signature, a redirect Location too; the server got them', async () => {
  const url = `${base}/ok?sig=${SIG}&access_token=${TOKEN}&code=${CODE}&subscription-key=${SUBKEY}`;
  seen.length = 0;
  for (const flags of [[], ['-v'], ['--json']]) {
    const r = await runCliAsync(['probe', url, ...flags]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, SECRETS, r.stdout);
    assert.match(r.stdout, /sig=<redacted>&access_token=<redacted>&code=<redacted>/);
  }
  assert.deepEqual(
    seen,
    Array(3).fill(`/ok?sig=${SIG}&access_token=${TOKEN}&code=${CODE}&subscription-key=${SUBKEY}`),
    'the request used the URL as given',
  );
  const moved = await runCliAsync([
    'probe',
    `${base}/moved?apikey=${TOKEN}`,
    '--max-redirs',
    '1',
    '-v',
    '--json',
  ]);
  assert.equal(moved.status, 0, moved.stderr);
  assert.doesNotMatch(moved.stdout, SECRETS, moved.stdout);
  assert.match(moved.stdout, /access_token=<redacted>/);
  assert.ok(seen.includes(`/ok?access_token=${LOCATION_TOKEN}`), 'the redirect was followed as given');
});

test('check: the line, --json, the history database and the webhook payload hold no token', async () => {
  const dir = tmp('ld-urlsecret-');
  const inv = join(dir, 'inv.yaml');
  writeFileSync(
    inv,
    [
      'targets:',
      `  - { name: blob, url: "${base}/down?sv=1&sig=${SIG}&subscription-key=${SUBKEY}" }`,
      `  - url: "${base}/ok?access_token=${TOKEN}&code=${CODE}"`,
    ].join('\n'),
  );
  const bodies: string[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      bodies.push(body);
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  try {
    const db = join(dir, 'h.db');
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/x`;
    seen.length = 0;
    const r = await runCliAsync(['check', inv, '--db', db, '--webhook-env', 'LD_URLSECRET_HOOK'], {
      env: { LD_URLSECRET_HOOK: hookUrl, COLUMNS: '300' },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, SECRETS, r.stdout);
    assert.match(r.stdout, /ok\?access_token=<redacted>/);
    assert.ok(
      seen.includes(`/ok?access_token=${TOKEN}&code=${CODE}`) &&
        seen.includes(`/down?sv=1&sig=${SIG}&subscription-key=${SUBKEY}`),
      seen.join(' '),
    );
    assert.ok(bodies.length >= 1, 'the failure was delivered');
    for (const b of bodies) assert.doesNotMatch(b, SECRETS, b);
    assert.match(bodies.join('\n'), /sig=<redacted>&subscription-key=<redacted>/);
    const h = new Database(db, { readonly: true });
    const tables = h.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    const dump = tables.map((t) => JSON.stringify(h.prepare(`SELECT * FROM "${t.name}"`).all())).join('\n');
    h.close();
    assert.doesNotMatch(dump, SECRETS, 'no secret in the history database');
    assert.match(dump, /sig=<redacted>/);
    const json = await runCliAsync(['check', inv, '--json']);
    assert.doesNotMatch(json.stdout, SECRETS, json.stdout);
    assert.equal(
      JSON.parse(json.stdout).results[1].name,
      `${base}/ok?access_token=<redacted>&code=<redacted>`,
    );
    const history = await runCliAsync(['history', '--db', db, '--json']);
    assert.equal(history.status, 0, history.stderr);
    assert.doesNotMatch(history.stdout, SECRETS);
  } finally {
    hook.close();
  }
});

test('serve --inventory: /metrics labels and the API (JSON and its stream) hold no token', async () => {
  const dir = tmp('ld-urlsecret-serve-');
  const inv = join(dir, 'inv.yaml');
  writeFileSync(
    inv,
    `targets:\n  - { name: blob, url: "${base}/ok?sig=${SIG}&access_token=${TOKEN}&code=${CODE}" }\n`,
  );
  const port = await freePort();
  const p = spawn(
    process.execPath,
    [CLI, 'serve', '--port', String(port), '--inventory', inv, '--probe-workers', '0'],
    {
      env: { ...process.env, NO_COLOR: '1', LINKDOCTOR_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d));
  p.stderr.on('data', (d: Buffer) => (out += d));
  try {
    assert.ok(await waitListening(port), out);
    const api = `http://127.0.0.1:${port}`;
    let metrics = '';
    assert.ok(
      await until(async () => {
        metrics = await (await fetch(`${api}/metrics`)).text();
        return /^linkdoctor_target_success\{/m.test(metrics);
      }, 20_000),
      metrics,
    );
    assert.doesNotMatch(metrics, SECRETS);
    assert.match(
      metrics,
      /url="http:\/\/127\.0\.0\.1:\d+\/ok\?sig=<redacted>&access_token=<redacted>&code=<redacted>"/,
    );
    const body = JSON.stringify({ url: `${base}/moved?access_token=${TOKEN}`, maxRedirs: 1 });
    for (const accept of ['application/json', 'application/x-ndjson']) {
      const r = await fetch(`${api}/api/probe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept },
        body,
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      assert.doesNotMatch(text, SECRETS, text);
      assert.match(text, /moved\?access_token=<redacted>/);
    }
    assert.doesNotMatch(out, SECRETS, out);
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});
