// The history: outcomes and their changes in SQLite (a certificate rotated, a new issuer, a failure, a
// recovery, expiry thresholds), webhooks against a loopback receiver (retries, no duplicates), the
// `history` command, and a check killed with SIGKILL that loses nothing committed.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { makePki, type LabPki } from '../src/lab/pki.js';
import { type CheckOutcome } from '../src/watch/check.js';
import { changesBetween, openHistory } from '../src/watch/history.js';
import type { InventoryTarget } from '../src/watch/inventory.js';
import { Deliverer, parseWebhook } from '../src/watch/webhook.js';
import { CLI, freePort, runCliAsync, unwrap } from './helpers.js';

let dir = '';
let pki: LabPki;
let server: Server;
let port = 0;
const closers: (() => unknown)[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ld-history-'));
  pki = await makePki();
  writeFileSync(join(dir, 'trust.pem'), pki.root.certPem);
  port = await freePort();
  server = createHttpsServer(
    { cert: `${pki.local.certPem}\n${pki.issuing.certPem}`, key: pki.local.keyPem },
    (_req, res) => res.end('ok\n'),
  );
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  writeFileSync(
    join(dir, 'inventory.yaml'),
    [
      'modules:',
      '  tls:',
      '    trust: trust.pem',
      '    timeout: 2s',
      'targets:',
      `  - { url: "https://localhost:${port}/", name: orders, module: tls, labels: { owner: team-a } }`,
    ].join('\n'),
  );
});

after(() => {
  server?.close();
  for (const c of closers) c();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const target: InventoryTarget = {
  name: 't',
  url: 'https://t.example/',
  requestUrl: 'https://t.example/',
  module: { name: 'm' },
  labels: {},
  line: 1,
};
const outcome = (ok: boolean, summary: CheckOutcome['summary']): CheckOutcome => ({
  target,
  at: new Date().toISOString(),
  ok,
  summary,
  ms: 1,
});

test('changes: rotation, new issuer, host key, failure, recovery, and each expiry threshold once', () => {
  const kinds = (prev: CheckOutcome | undefined, next: CheckOutcome) =>
    changesBetween(prev, next).map((c) => c.kind);
  const a = outcome(true, { certSha256: 'AA', certIssuer: 'CN=One', certDaysLeft: 90 });
  assert.deepEqual(kinds(undefined, a), [], 'a first healthy result is no change');
  assert.deepEqual(kinds(a, outcome(true, { certSha256: 'BB', certIssuer: 'CN=Two', certDaysLeft: 90 })), [
    'cert-rotated',
    'new-issuer',
  ]);
  assert.deepEqual(kinds(outcome(true, { hostKey: 'SHA256:a' }), outcome(true, { hostKey: 'SHA256:b' })), [
    'host-key-changed',
  ]);
  const failing = outcome(false, {
    failedStep: 'tls',
    diagnosis: { id: 'out-cert-path', title: 'x', confidence: 0.9 },
  });
  assert.deepEqual(kinds(a, failing), ['failure']);
  assert.deepEqual(kinds(failing, failing), [], 'the same failure again is no change');
  assert.deepEqual(kinds(failing, a), ['recovery']);
  // 31 → 29 crosses 30; 29 → 28 nothing; 28 → 6 crosses 14 and 7: one change, the 7-day one.
  const days = (d: number) => outcome(true, { certSha256: 'AA', certDaysLeft: d });
  assert.deepEqual(
    changesBetween(days(31), days(29)).map((c) => c.to),
    ['30'],
  );
  assert.deepEqual(kinds(days(29), days(28)), []);
  assert.deepEqual(
    changesBetween(days(28), days(6)).map((c) => c.to),
    ['7'],
  );
  assert.deepEqual(
    changesBetween(days(6), days(0)).map((c) => c.to),
    ['1'],
  );
  assert.deepEqual(kinds(days(0), days(-1)), [], 'past the last threshold: said once');
  assert.deepEqual(
    kinds(days(5), outcome(true, { certSha256: 'CC', certDaysLeft: 5 })),
    ['cert-rotated', 'expiry'],
    'a new certificate that is also close to expiry: its threshold again',
  );
});

test('a certificate seen before: no rotation, no new issuer, one alternating notice; each expiry threshold once per certificate', () => {
  const kinds = (c: ReturnType<typeof changesBetween>) =>
    c.map((x) => (x.kind === 'cert-alternating' || x.kind === 'expiry' ? `${x.kind} ${x.to}` : x.kind));
  const a = outcome(true, { certSha256: 'AA', certIssuer: 'CN=One', certDaysLeft: 29 });
  const b = outcome(true, { certSha256: 'BB', certIssuer: 'CN=Two', certDaysLeft: 4 });
  const seen = (alternatingSaid?: number) => ({
    certs: new Map([
      ['AA', { issuer: 'CN=One', daysLeft: 29, recent: true }],
      ['BB', { issuer: 'CN=Two', daysLeft: 4, recent: true }],
    ]),
    ...(alternatingSaid ? { alternatingSaid } : {}),
  });
  assert.deepEqual(kinds(changesBetween(b, a, seen())), ['cert-alternating 2']);
  assert.deepEqual(kinds(changesBetween(a, b, seen(2))), [], 'told once: further swaps are quiet');
  // A third certificate, never seen: a rotation; back to a known one: alternating between 3.
  const c = outcome(true, { certSha256: 'CC', certIssuer: 'CN=Two', certDaysLeft: 90 });
  assert.deepEqual(kinds(changesBetween(b, c, seen(2))), ['cert-rotated']);
  const all = seen(2);
  all.certs.set('CC', { issuer: 'CN=Two', daysLeft: 90, recent: true });
  assert.deepEqual(kinds(changesBetween(c, a, all)), ['cert-alternating 3']);
  // Seen, but longer ago than the memory: a rotation and a new issuer again; its thresholds stay told.
  const old = { certs: new Map([['AA', { issuer: 'CN=One', daysLeft: 29, recent: false }]]) };
  assert.deepEqual(kinds(changesBetween(b, a, old)), ['cert-rotated', 'new-issuer']);
  assert.deepEqual(
    kinds(
      changesBetween(b, outcome(true, { certSha256: 'AA', certIssuer: 'CN=One', certDaysLeft: 13 }), old),
    ),
    ['cert-rotated', 'new-issuer', 'expiry 14'],
    'only the thresholds this certificate had not reached yet',
  );
});

test('check --db records outcomes and changes against a server whose certificate rotates; history prints them', async () => {
  const db = join(dir, 'rotate.db');
  const inv = join(dir, 'inventory.yaml');
  const first = await runCliAsync(['check', inv, '--db', db]);
  assert.equal(first.status, 0, first.stdout + first.stderr);
  assert.doesNotMatch(first.stdout, /↳/, 'no change on the first healthy result');
  // A new certificate from a CA the trust store does not hold.
  server.setSecureContext({
    cert: `${pki.unknownLeaf.certPem}\n${pki.unknownIssuing.certPem}`,
    key: pki.unknownLeaf.keyPem,
  });
  // Read as one line per sentence: a target's result and a change wrap within 100 columns.
  const second = await runCliAsync(['check', inv, '--db', db]);
  assert.equal(second.status, 1);
  assert.match(unwrap(second.stdout), /^✖ orders .*out-cert-path/m);
  assert.match(unwrap(second.stdout), /^ {2}↳ cert-rotated: the server's certificate changed \(SHA-256 /m);
  assert.match(
    unwrap(second.stdout),
    /^ {2}↳ new-issuer: the certificate has a new issuer: CN=Example Corp Issuing CA 1, O=Example Corp \(was CN=linkdoctor lab Issuing CA/m,
  );
  assert.match(
    unwrap(second.stdout),
    /^ {2}↳ failure: fails at tls: out-cert-path \(Root CA not in the keystore\)/m,
  );
  server.setSecureContext({ cert: `${pki.local.certPem}\n${pki.issuing.certPem}`, key: pki.local.keyPem });
  const third = await runCliAsync(['check', inv, '--db', db]);
  assert.equal(third.status, 0);
  assert.match(unwrap(third.stdout), /^ {2}↳ recovery: works again/m);
  assert.match(
    unwrap(third.stdout),
    /^ {2}↳ cert-alternating: the server alternates between 2 certificates/m,
  );
  assert.doesNotMatch(
    third.stdout,
    /cert-rotated|new-issuer/,
    'a certificate seen an hour ago is no rotation',
  );

  const h = await runCliAsync(['history', 'orders', '--db', db, '--since', '1h']);
  assert.equal(h.status, 0, h.stderr);
  const lines = h.stdout.trim().split('\n');
  assert.match(lines.at(-1)!, /^3 results, 5 changes since .* UTC for orders$/);
  assert.match(
    lines[0]!,
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}✔ orders {2}HTTP 200 · certificate expires in \d+ days$/,
  );
  assert.deepEqual(
    lines.filter((l) => l.includes('↳')).map((l) => l.split(/\s+/)[4]),
    ['cert-rotated:', 'new-issuer:', 'failure:', 'cert-alternating:', 'recovery:'],
  );
  const j = JSON.parse((await runCliAsync(['history', '--db', db, '--json', '--changes'])).stdout) as {
    changes: { kind: string; target: string; labels: Record<string, string> }[];
  };
  assert.deepEqual(
    j.changes.map((c) => c.kind),
    ['cert-rotated', 'new-issuer', 'failure', 'cert-alternating', 'recovery'],
  );
  assert.deepEqual(j.changes[0]!.labels, { owner: 'team-a' });
  const none = await runCliAsync(['history', '--db', join(dir, 'none.db')]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /there is no history at .*none\.db/);
  const since = await runCliAsync(['history', '--db', db, '--since', 'a week']);
  assert.match(since.stderr, /--since takes a duration such as 7d or 12h, not "a week"/);
  // A target the history never held: one sentence, exit 2, not "0 results".
  const nope = await runCliAsync(['history', 'nope', '--db', db]);
  assert.equal(nope.status, 2);
  assert.equal(nope.stdout, '');
  assert.match(nope.stderr, /^linkdoctor: no target is named nope in the history at .*\n$/);
});

test('webhooks: every change once to each receiver, retried after failures, never twice', async () => {
  const received: { key: string; body: unknown }[] = [];
  let failuresLeft = 2;
  const receiver = createHttpServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      if (req.url === '/flaky' && failuresLeft-- > 0) {
        res.statusCode = 500;
        return res.end();
      }
      received.push({ key: `${req.url} ${String(req.headers['idempotency-key'])}`, body: JSON.parse(body) });
      res.end();
    });
  });
  const rport = await freePort();
  await new Promise<void>((r) => receiver.listen(rport, '127.0.0.1', r));
  closers.push(() => receiver.close());
  const hooks = [
    parseWebhook(`http://127.0.0.1:${rport}/flaky`),
    parseWebhook(`slack=http://127.0.0.1:${rport}/slack`),
  ];
  const history = await openHistory(
    join(dir, 'hooks.db'),
    hooks.map((h) => h.key),
  );
  const given: string[] = [];
  const deliverer = new Deliverer(history, hooks, { attempts: 5, backoffMs: 20, timeoutMs: 2000 }, (s) =>
    given.push(s),
  );
  const ok = outcome(true, { certSha256: 'AA', certDaysLeft: 90 });
  history.record(ok);
  const [failure] = history.record(outcome(false, { failedStep: 'tcp' }));
  const [recovery] = history.record(outcome(true, { certSha256: 'AA', certDaysLeft: 90 }));
  // Deliver until nothing is due (retries wait 20, 40 ms ...), with a generous bound.
  for (let i = 0; i < 200 && history.due(Date.now() + 10_000).length; i++) {
    await deliverer.deliverDue();
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all([deliverer.deliverDue(), deliverer.deliverDue()]);
  assert.deepEqual(received.map((r) => r.key).sort(), [
    `/flaky linkdoctor-change-${failure!.id}`,
    `/flaky linkdoctor-change-${recovery!.id}`,
    `/slack linkdoctor-change-${failure!.id}`,
    `/slack linkdoctor-change-${recovery!.id}`,
  ]);
  // The flaky receiver answered 500 to the first two requests: one attempt of each change.
  for (const c of [failure!, recovery!]) {
    const states = Object.fromEntries(
      history.deliveries(c.id).map((d) => [d.webhook, [d.state, d.attempts]]),
    );
    assert.deepEqual(states, { [hooks[0]!.key]: ['sent', 2], [hooks[1]!.key]: ['sent', 1] });
  }
  const slack = received.find((r) => r.key.startsWith('/slack'))!.body as { text: string };
  assert.match(slack.text, /^🔴 linkdoctor: t: fails at tcp/);
  const generic = received.find((r) => r.key.startsWith('/flaky'))!.body as {
    event: string;
    change: { kind: string };
  };
  assert.equal(generic.event, 'linkdoctor.change');
  // Each failed attempt said in one sentence naming the webhook by its host only.
  assert.deepEqual(
    given.map((g) => g.replace(/:\d+:/, ':PORT:')),
    [
      'json webhook 127.0.0.1:PORT: HTTP 500 (attempt 1 of 5; again in 20 ms)',
      'json webhook 127.0.0.1:PORT: HTTP 500 (attempt 1 of 5; again in 20 ms)',
    ],
  );
  given.length = 0;
  // A receiver that never answers 2xx: given up after the attempts, said in one sentence without its URL.
  const dead = parseWebhook(`http://127.0.0.1:${await freePort()}/secret-token-path`);
  const h2 = await openHistory(join(dir, 'dead.db'), [dead.key]);
  const d2 = new Deliverer(h2, [dead], { attempts: 2, backoffMs: 10, timeoutMs: 1000 }, (s) => given.push(s));
  h2.record(outcome(false, { failedStep: 'dns' }));
  for (let i = 0; i < 100 && h2.due(Date.now() + 10_000).length; i++) {
    await d2.deliverDue();
    await new Promise((r) => setTimeout(r, 15));
  }
  assert.equal(given.length, 2);
  assert.match(given[0]!, /^json webhook 127\.0\.0\.1:\d+: ECONNREFUSED \(attempt 1 of 2; again in 10 ms\)$/);
  assert.match(
    given[1]!,
    /^json webhook 127\.0\.0\.1:\d+: ECONNREFUSED, 2 attempts: change 1 \(t\) not delivered, given up$/,
  );
  assert.doesNotMatch(given.join('\n'), /secret-token-path/);
  history.close();
  h2.close();
});

/** A self-signed certificate for 127.0.0.1 made by openssl: its PEM and key, valid `days` days. */
function opensslCert(name: string, subject: string, days: number): { cert: string; key: string } {
  const [cert, key] = [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      String(days),
      '-subj',
      subject,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

test('a server alternating between two certificates (load balancer nodes): each threshold once per certificate, one alternating notice, no rotation on every swap; Slack and Teams get foreign text escaped by their own rules', async () => {
  const c1 = opensslCert('c1', '/O=Good Corp/CN=node-a', 29);
  const c2 = opensslCert('c2', '/O=Other Corp/CN=node-b', 4);
  const evil = opensslCert(
    'c3',
    '/O=Evil & Co/CN=<https:\\/\\/evil.example\\/r|Renew keystore> <!channel> &',
    90,
  );
  writeFileSync(join(dir, 'flap-trust.pem'), c1.cert + c2.cert + evil.cert);
  const received: { path: string; body: unknown }[] = [];
  const receiver = createHttpServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(body) });
      res.end();
    });
  });
  const [rport, sport] = [await freePort(), await freePort()];
  await new Promise<void>((r) => receiver.listen(rport, '127.0.0.1', r));
  closers.push(() => receiver.close());
  const tls = createHttpsServer(c1, (_req, res) => res.end('ok\n'));
  await new Promise<void>((r) => tls.listen(sport, '127.0.0.1', r));
  closers.push(() => tls.close());
  const inv = join(dir, 'flap.yaml');
  writeFileSync(
    inv,
    `modules:\n  tls: { trust: flap-trust.pem, timeout: 3s }\ntargets:\n  - { url: "https://127.0.0.1:${sport}/", name: lb, module: tls }\n`,
  );
  const db = join(dir, 'flap.db');
  const hooks = ['json', 'slack', 'teams'].flatMap((f) => [
    '--webhook',
    `${f}=http://127.0.0.1:${rport}/${f}`,
  ]);
  const run = async (c: { cert: string; key: string }) => {
    tls.setSecureContext(c);
    const r = await runCliAsync(['check', inv, '--db', db, ...hooks]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // A URL on the command line is in ps and the shell's history: said once, the URL not repeated.
    assert.equal(
      r.stderr,
      "linkdoctor: warning: --webhook puts the webhook's URL, a secret for Slack and Teams, in the process list and the shell's history: give it with --webhook-env VAR\n",
    );
    return r.stdout
      .split('\n')
      .filter((l) => l.includes('↳'))
      .map((l) => l.trim().split(':')[0]!.slice(2));
  };
  assert.deepEqual(await run(c1), ['expiry'], 'node-a: 29 days, the 30-day threshold');
  assert.deepEqual(
    await run(c2),
    ['cert-rotated', 'new-issuer', 'expiry'],
    'node-b: new, 4 days: the 7-day one',
  );
  assert.deepEqual(await run(c1), ['cert-alternating'], 'back to node-a: said once, no threshold again');
  assert.deepEqual(await run(c2), []);
  assert.deepEqual(await run(c1), []);
  const json = received
    .filter((r) => r.path === '/json')
    .map((r) => (r.body as { change: { kind: string; to?: string } }).change);
  assert.deepEqual(
    json.map((c) => c.kind),
    ['expiry', 'cert-rotated', 'new-issuer', 'expiry', 'cert-alternating'],
    '5 webhook changes for 5 checks (14 before)',
  );
  assert.deepEqual(
    json.filter((c) => c.kind === 'expiry').map((c) => c.to),
    ['30', '7'],
  );
  const h = await runCliAsync(['history', 'lb', '--db', db, '--changes']);
  assert.match(h.stdout, /cert-alternating: the server alternates between 2 certificates/);

  // A third certificate whose subject (and so issuer: self-signed) is a Slack link and a mention.
  received.length = 0;
  assert.deepEqual(await run(evil), ['cert-rotated', 'new-issuer']);
  const issuerChange = (path: string) =>
    received.filter((r) => r.path === path)[1]!.body as Record<string, string>;
  const slack = issuerChange('/slack').text!;
  assert.match(slack, /new issuer: .*&lt;https:\/\/evil\.example\/r\|Renew keystore\\?&gt;/);
  assert.match(slack, /&lt;!channel\\?&gt;/);
  assert.match(slack, /O=Evil &amp; Co/);
  assert.doesNotMatch(slack, /[<>]|& /, 'no raw < > or & from the certificate');
  assert.doesNotMatch(slack, /\\</, 'no backslash escape, which Slack does not honour');
  const teams = issuerChange('/teams');
  assert.doesNotMatch(teams.text!, /[<>]|& |(?<!\\)\|/);
  assert.match(teams.text!, /&lt;https:\/\/evil\.example\/r\\\|Renew keystore/);
  assert.match(teams.text!, /Evil &amp; Co/);
});

test('check --every, killed with SIGKILL: every printed outcome is in the database, and it opens clean', async () => {
  const db = join(dir, 'killed.db');
  const child = spawn(
    process.execPath,
    [CLI, 'check', join(dir, 'inventory.yaml'), '--db', db, '--every', '1s'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  // Wait for three outcomes (one a second), with a generous bound.
  for (let i = 0; i < 300 && (out.match(/^✔ orders/gm)?.length ?? 0) < 3; i++)
    await new Promise((r) => setTimeout(r, 100));
  const printed = out.match(/^✔ orders/gm)?.length ?? 0;
  assert.ok(printed >= 3, out);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const sqlite = new Database(db, { readonly: true });
  assert.equal(sqlite.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(sqlite.pragma('integrity_check', { simple: true }), 'ok');
  const rows = (sqlite.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n;
  sqlite.close();
  assert.ok(rows >= printed, `${rows} results stored, ${printed} printed`);
});
