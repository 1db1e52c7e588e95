// linkdoctor serve, its core: the binding rule, the token, problem bodies, security headers, the
// OpenAPI document, /api/health and /api/diagnose (the same object as `diagnose --json`), and the
// command itself on a real port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer, checkBinding, isLoopback } from '../src/serve/app.js';
import { mountRooms } from '../src/serve/rooms.js';
import { loadKb, type Kb } from '../src/kb/load.js';
import { UserError } from '../src/errors.js';
import { CLI, freePort, runCli } from './helpers.js';

const TOKEN = 'a-test-token-of-32-characters-xx';
const SFTP = 'com.jcraft.jsch.JSchException: Auth fail';
let kb: Kb;

async function server(opts: { host?: string; token?: string } = {}): Promise<FastifyInstance> {
  const app = await buildServer({
    host: opts.host ?? '127.0.0.1',
    kb,
    ...(opts.token ? { token: opts.token } : {}),
  });
  await mountRooms(app);
  return app;
}

const json = (body: unknown) => ({
  headers: { 'content-type': 'application/json', host: '127.0.0.1' },
  payload: JSON.stringify(body),
});

before(async () => {
  kb = await loadKb();
});

describe('binding rule', () => {
  test('loopback names and addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1'])
      assert.equal(isLoopback(h), false, h);
  });

  test('any other address needs a token of 16 characters or more', () => {
    assert.doesNotThrow(() => checkBinding('127.0.0.1', undefined));
    assert.throws(
      () => checkBinding('0.0.0.0', undefined),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /refusing to listen on 0\.0\.0\.0 without a token.*LINKDOCTOR_TOKEN/);
        return true;
      },
    );
    assert.throws(() => checkBinding('0.0.0.0', 'short'), /at least 16 characters/);
    assert.doesNotThrow(() => checkBinding('0.0.0.0', TOKEN));
  });

  test('buildServer refuses too', async () => {
    await assert.rejects(() => buildServer({ host: '0.0.0.0', kb }), /without a token/);
  });
});

describe('core routes', () => {
  let app: FastifyInstance;
  before(async () => (app = await server()));
  after(() => app.close());

  test('GET /api/health', async () => {
    const r = await app.inject({ url: '/api/health', headers: { host: 'localhost:8080' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().status, 'ok');
    assert.equal(r.json().entries, kb.entries.length);
  });

  test('security headers: CSP without inline script, no framing, nosniff, no CORS', async () => {
    const r = await app.inject({
      url: '/api/health',
      headers: { host: '127.0.0.1', origin: 'https://evil.example' },
    });
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  test('a loopback server without a token refuses a foreign Host (DNS rebinding)', async () => {
    const r = await app.inject({ url: '/api/health', headers: { host: 'evil.example:8080' } });
    assert.equal(r.statusCode, 403);
    assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(r.json().detail, /loopback Host/);
  });

  test('OpenAPI document from the same schemas', async () => {
    const r = await app.inject({ url: '/api/openapi.json', headers: { host: '127.0.0.1' } });
    assert.equal(r.statusCode, 200);
    const doc = r.json();
    assert.equal(doc.openapi, '3.1.0');
    const body = doc.paths['/api/diagnose'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['text']);
    assert.deepEqual(body.properties.direction.enum, ['inbound', 'outbound']);
    assert.ok(doc.paths['/api/health'].get);
  });

  test('POST /api/diagnose returns what `diagnose --json` prints', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/diagnose', ...json({ text: SFTP }) });
    assert.equal(r.statusCode, 200);
    const cli = runCli(['diagnose', '--json', SFTP]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual(r.json(), JSON.parse(cli.stdout));
    assert.equal(r.json().diagnoses[0].id, 'out-sftp');
  });

  test('direction is passed on', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/diagnose',
      ...json({ text: 'Request failed with status 401 Unauthorized', direction: 'outbound' }),
    });
    assert.equal(r.json().diagnoses[0].id, 'out-http-401');
  });

  test('nothing matched: 200 with no diagnoses, as the CLI', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/diagnose',
      ...json({ text: 'the nightly job finished late' }),
    });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().diagnoses, []);
  });

  test('bad requests: 400 problem bodies naming the field', async () => {
    const cases: [unknown, RegExp, string[]][] = [
      [{}, /body\/text/, ['body/text']],
      [{ text: 42 }, /body\/text: .*expected string/, ['body/text']],
      [{ text: SFTP, direction: 'sideways' }, /body\/direction/, ['body/direction']],
      [{ text: '' }, /body\/text/, ['body/text']],
    ];
    for (const [body, detail, fields] of cases) {
      const r = await app.inject({ method: 'POST', url: '/api/diagnose', ...json(body) });
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
      const p = r.json();
      assert.equal(p.type, 'about:blank');
      assert.equal(p.title, 'Bad Request');
      assert.equal(p.status, 400);
      assert.match(p.detail, detail);
      assert.deepEqual(
        p['invalid-params'].map((x: { name: string }) => x.name),
        fields,
      );
    }
  });

  test('the CLI refusals hold (blank, binary), malformed JSON and other media types', async () => {
    let r = await app.inject({ method: 'POST', url: '/api/diagnose', ...json({ text: '   \n ' }) });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().detail, /body\/text is empty/);
    r = await app.inject({ method: 'POST', url: '/api/diagnose', ...json({ text: 'a\u0000b'.repeat(20) }) });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().detail, /looks binary/);
    r = await app.inject({
      method: 'POST',
      url: '/api/diagnose',
      headers: { 'content-type': 'application/json', host: '127.0.0.1' },
      payload: '{"text": ',
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().status, 400);
    // A web page may POST text/plain without a preflight: not a way in.
    r = await app.inject({
      method: 'POST',
      url: '/api/diagnose',
      headers: { 'content-type': 'text/plain', host: '127.0.0.1' },
      payload: '{"text":"x"}',
    });
    assert.equal(r.statusCode, 415);
    assert.match(r.json().detail, /text\/plain is not accepted/);
  });

  test('an unknown API path is a 404 problem', async () => {
    const r = await app.inject({ url: '/api/nothing?x=1', headers: { host: '127.0.0.1' } });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().detail, 'no route GET /api/nothing (the API: GET /api/)');
  });

  test('50 concurrent diagnose requests all answer', async () => {
    const texts = [SFTP, 'javax.net.ssl.SSLHandshakeException: PKIX path building failed', 'HTTP 503'];
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        app.inject({ method: 'POST', url: '/api/diagnose', ...json({ text: texts[i % 3] }) }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      Array(50).fill(200),
    );
    assert.equal(answers[0]!.json().diagnoses[0].id, 'out-sftp');
    assert.deepEqual(answers[3]!.json(), answers[0]!.json());
  });
});

describe('token', () => {
  let app: FastifyInstance;
  before(async () => (app = await server({ host: '0.0.0.0', token: TOKEN })));
  after(() => app.close());

  test('every API call needs the bearer token', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`, TOKEN]) {
      const r = await app.inject({
        url: '/api/health',
        headers: { host: 'linkdoctor.example', ...(authorization ? { authorization } : {}) },
      });
      assert.equal(r.statusCode, 401, String(authorization));
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="linkdoctor"');
      assert.equal(r.json().title, 'Unauthorized');
      assert.ok(!r.body.includes(TOKEN));
    }
    const r = await app.inject({
      method: 'POST',
      url: '/api/diagnose',
      headers: {
        host: 'linkdoctor.example',
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
      },
      payload: JSON.stringify({ text: SFTP }),
    });
    assert.equal(r.statusCode, 200);
  });

  test('the OpenAPI document needs it too, and says so', async () => {
    assert.equal((await app.inject({ url: '/api/openapi.json' })).statusCode, 401);
    const r = await app.inject({ url: '/api/openapi.json', headers: { authorization: `bearer ${TOKEN}` } });
    assert.deepEqual(r.json().security, [{ bearer: [] }]);
  });
});

describe('linkdoctor serve', () => {
  test('refuses a non-loopback address without a token, in one sentence', () => {
    const r = runCli(['serve', '--host', '0.0.0.0'], { env: { LINKDOCTOR_TOKEN: '' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^linkdoctor: refusing to listen on 0\.0\.0\.0 without a token/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  test('bad flags are usage errors', () => {
    for (const [args, msg] of [
      [['--port', '70000'], /--port takes a port/],
      [['--max-upload', 'lots'], /--max-upload takes a size/],
    ] as const) {
      const r = runCli(['serve', ...args]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, msg);
    }
  });

  test('starts, prints its URL, answers, closes on SIGTERM and exits 0', async () => {
    const port = await freePort();
    const env = { ...process.env, LINKDOCTOR_TOKEN: '' };
    const p = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], { env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no URL printed in 20 s: ${out}`)), 20_000);
        p.stdout.on('data', () => out.includes('Ctrl-C') && (clearTimeout(t), resolve()));
      });
      assert.match(out, new RegExp(`linkdoctor serves http://127\\.0\\.0\\.1:${port}/`));
      const r = await fetch(`http://127.0.0.1:${port}/api/diagnose`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: SFTP }),
      });
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { diagnoses: { id: string }[] }).diagnoses[0]!.id, 'out-sftp');
    } finally {
      p.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });

  test('SIGTERM closes the rooms: the watch schedule stops and its SQLite history is closed cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-serve-close-'));
    const db = join(dir, 'history.db');
    // A target that refuses at once: one check is recorded within the first second.
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `targets:\n  - { url: "https://127.0.0.1:1/", name: refused }\n`,
    );
    const port = await freePort();
    const p = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        String(port),
        '--inventory',
        join(dir, 'inventory.yaml'),
        '--db',
        db,
        '--every',
        '1s',
      ],
      { env: { ...process.env, LINKDOCTOR_TOKEN: '' } },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 300 && !out.includes('Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /Ctrl-C/);
      // The history is open and written (WAL mode: its -wal file exists while it is open).
      for (let i = 0; i < 300 && !existsSync(`${db}-wal`); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(existsSync(`${db}-wal`), out);
    } finally {
      p.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /linkdoctor serve: stopped/);
    // Closed cleanly: SQLite checkpoints the log into the database and removes it on its last close.
    assert.equal(existsSync(`${db}-wal`), false, 'the -wal file is left: the database was not closed');
    const sqlite = new Database(db, { readonly: true });
    try {
      assert.equal(sqlite.pragma('integrity_check', { simple: true }), 'ok');
      const n = (sqlite.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n;
      assert.ok(n >= 1, `${n} results stored`);
    } finally {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a port in use is one sentence', async () => {
    const { createServer } = await import('node:net');
    const s = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const port = (s.address() as { port: number }).port;
    try {
      const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'serve', '--port', String(port)]);
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('exit', (code) => resolve({ code, err }));
      });
      assert.equal(r.code, 2);
      assert.match(r.err, new RegExp(`^linkdoctor: port ${port} on 127\\.0\\.0\\.1 is in use`));
    } finally {
      s.close();
    }
  });
});
