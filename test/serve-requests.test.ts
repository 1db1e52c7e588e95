// linkdoctor serve: how the API answers a request it cannot take as sent (session 9's attack findings
// A1, A2, A3, A6, A7): a mistyped field, a wrong method, the problems of a scanned upload, a form
// of several files (on a real port), a mistyped entry id, a room the server does not run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/serve/app.js';
import { mountRooms } from '../src/serve/rooms.js';
import { loadKb } from '../src/kb/load.js';
import { runCli, tempDirs } from './helpers.js';
import { basename, join } from 'node:path';
import { writeFileSync } from 'node:fs';

let app: FastifyInstance;
/** The same server on a real port of 127.0.0.1 (fetch goes through Node's HTTP parser and busboy's). */
let base: string;
before(async () => {
  app = await buildServer({ host: '127.0.0.1', kb: await loadKb() });
  await mountRooms(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
after(() => app.close());

const post = (url: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url,
    headers: { host: '127.0.0.1', 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });

describe('A1: a field the request does not know', () => {
  test('/api/probe: 400 naming the field and the closest known one, nothing probed', async () => {
    const r = await post('/api/probe', { url: 'https://127.0.0.1:9/', trsut: '/tmp/ca.pem', timout: 2 });
    assert.equal(r.statusCode, 400);
    const p = r.json();
    assert.match(p.detail, /body\/trsut: is not a field of this request; did you mean trust\?/);
    assert.match(p.detail, /body\/timout: is not a field of this request; did you mean timeout\?/);
    assert.deepEqual(
      p['invalid-params'].map((x: { name: string }) => x.name),
      ['body/trsut', 'body/timout'],
    );
  });

  test('/api/diagnose: a mistyped direction is refused, not ignored', async () => {
    const r = await post('/api/diagnose', { text: 'Auth fail', directon: 'inbound' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().detail, /body\/directon: .*did you mean direction\?/);
  });

  test('a field far from every known one lists the fields', async () => {
    const r = await post('/api/diagnose', { text: 'Auth fail', zzzzzzzz: 1 });
    assert.equal(r.statusCode, 400);
    assert.match(
      r.json().detail,
      /body\/zzzzzzzz: is not a field of this request \(the fields: text, direction\)/,
    );
  });

  test('a query parameter: /api/tenant-free scan with ?nmae= names name', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/scan?nmae=a.log',
      headers: { host: '127.0.0.1', 'content-type': 'application/octet-stream' },
      payload: 'x\n',
    });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().detail, /querystring\/nmae: .*did you mean name\?/);
  });
});

describe('A2: a known path with another method, and the advertised /api/', () => {
  test('GET /api/diagnose: 405 with Allow: POST, saying which method it takes', async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const r = await app.inject({ method, url: '/api/diagnose', headers: { host: '127.0.0.1' } });
      assert.equal(r.statusCode, 405, method);
      assert.equal(r.headers.allow, 'POST');
      assert.equal(r.json().detail, `/api/diagnose takes POST, not ${method}`);
    }
  });

  test('a route with a parameter: DELETE /api/kb/out-sftp is 405 with Allow: GET, HEAD', async () => {
    const r = await app.inject({ method: 'DELETE', url: '/api/kb/out-sftp', headers: { host: '127.0.0.1' } });
    assert.equal(r.statusCode, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
  });

  test('OPTIONS answers the Allow header; a path that is no route stays 404', async () => {
    const o = await app.inject({ method: 'OPTIONS', url: '/api/scan', headers: { host: '127.0.0.1' } });
    assert.equal(o.statusCode, 204);
    assert.equal(o.headers.allow, 'POST');
    const n = await app.inject({ method: 'GET', url: '/api/nothing', headers: { host: '127.0.0.1' } });
    assert.equal(n.statusCode, 404);
  });

  test('GET /api/ and /api answer an index pointing to the OpenAPI document', async () => {
    for (const url of ['/api/', '/api']) {
      const r = await app.inject({ method: 'GET', url, headers: { host: '127.0.0.1' } });
      assert.equal(r.statusCode, 200, url);
      const body = r.json();
      assert.equal(body.openapi, '/api/openapi.json');
      assert.ok(body.routes.includes('POST /api/diagnose'));
      assert.ok(body.routes.includes('GET /api/kb/{id}'));
    }
  });
});

describe('A3: the problems with the input are listed in the JSON, not only counted', () => {
  // A binary line in a text log: skipped and reported, the scan goes on.
  const log = Buffer.concat([
    Buffer.from('2024-01-01 10:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n'),
    Buffer.from([0, 1, 2, 3, 0, 0, 0x62, 0, 0, 0x0a]),
    Buffer.from('2024-01-01 10:01:00 INFO ok\n'),
  ]);
  // The sentence is the reader's (another helper may reword it): its place and its gist are checked.
  const check = (problems: { message: string }[], file: string) => {
    assert.equal(problems.length, 1);
    const { message, ...place } = problems[0]!;
    assert.deepEqual(place, { file, line: 2, byte: 67 });
    assert.match(message, /binary/);
  };

  test('POST /api/scan: problems [{file, line, byte, message}]', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/scan?name=bin.log',
      headers: { host: '127.0.0.1', 'content-type': 'application/octet-stream' },
      payload: log,
    });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.summary.problems, 1);
    check(body.problems, 'bin.log');
  });

  test('scan --json: the same list (stderr still has the sentence)', () => {
    const file = join(tempDirs()('ld-a3-'), 'bin.log');
    writeFileSync(file, log);
    const r = runCli(['scan', '--json', file]);
    assert.equal(r.status, 1);
    check(JSON.parse(r.stdout).problems, file);
    assert.match(r.stderr, /bin\.log:2 \(byte 67\): binary data/);
  });
});

describe('A7: a form of several files, each scanned as `scan a b` scans its files', () => {
  const dir = tempDirs()('ld-a7-');
  const app1 =
    '2024-01-01 10:00:00 ERROR javax.net.ssl.SSLHandshakeException: PKIX path building failed\n' +
    '2024-01-01 10:05:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n';
  const mix =
    '2024-01-02 11:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n' +
    '2024-01-02 11:01:00 ERROR HTTP operation failed invoking https://api.example.com/x with statusCode: 411\n' +
    '2024-01-02 11:02:00 ERROR HTTP operation failed invoking https://api.example.com/x with statusCode: 411\n';
  const form = (...files: [string, string | Uint8Array<ArrayBuffer>][]) => {
    const f = new FormData();
    f.append('note', 'from the ticket');
    for (const [name, body] of files) f.append('file', new Blob([body]), name);
    return f;
  };
  const send = (body: FormData, query = '', headers: Record<string, string> = {}) =>
    fetch(`${base}/api/scan${query}`, { method: 'POST', body, headers, signal: AbortSignal.timeout(30_000) });
  type Scan = {
    summary: { files: number; incidents: number };
    groups: { id: string; count: number; example: { file: string } }[];
  };
  const counts = (s: Scan) => s.groups.map((g) => [g.id, g.count]);

  test('two files: one summary, the incidents of both, each with its file name; as `scan --json a b`', async () => {
    const r = await send(form(['app.log', app1], ['mix.log', mix]));
    assert.equal(r.status, 200);
    const api = (await r.json()) as Scan;
    // On the old code only app.log was read: files 1, 2 incidents.
    assert.equal(api.summary.files, 2);
    assert.equal(api.summary.incidents, 5);
    writeFileSync(join(dir, 'app.log'), app1);
    writeFileSync(join(dir, 'mix.log'), mix);
    const cli = JSON.parse(
      runCli(['scan', '--json', join(dir, 'app.log'), join(dir, 'mix.log')]).stdout,
    ) as Scan;
    assert.equal(cli.summary.files, 2);
    assert.deepEqual(counts(api), counts(cli));
    assert.deepEqual(
      api.groups.map((g) => g.example.file),
      cli.groups.map((g) => basename(g.example.file)),
    );
    assert.ok(api.groups.some((g) => g.example.file === 'mix.log'));
  });

  test('streamed (NDJSON): each incident with its file, progress names the file, one result', async () => {
    const r = await send(form(['app.log', app1], ['mix.log', mix]), '?incidents=true', {
      accept: 'application/x-ndjson',
    });
    const lines = (await r.text())
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { incident?: { file: string }; progress?: { file: string }; result?: Scan },
      );
    assert.equal(lines[0]!.progress?.file, 'app.log');
    assert.deepEqual(
      lines.filter((l) => l.incident).map((l) => l.incident!.file),
      ['app.log', 'app.log', 'mix.log', 'mix.log', 'mix.log'],
    );
    assert.equal(lines.at(-1)!.result!.summary.files, 2);
  });

  test("a file refused at its first bytes does not stall the next; the answer names it (scan exits 2 for it): a 422 with the others' result", async () => {
    const binary = new Uint8Array(Buffer.alloc(1024 * 1024, 0x01));
    const r = await send(form(['app.log', app1], ['blob.bin', binary], ['mix.log', mix]));
    assert.equal(r.status, 422);
    const p = (await r.json()) as {
      detail: string;
      summary: { files: number; unreadable: number };
      groups: object[];
    };
    assert.match(p.detail, /^blob\.bin: is neither a text log/);
    assert.deepEqual([p.summary.files, p.summary.unreadable], [3, 1]);
    assert.ok(p.groups.length > 0, 'the groups of app.log and mix.log, as scan prints them');
  });

  test('name= with several files: 400 in one sentence; more files than the server takes: 413', async () => {
    let r = await send(form(['app.log', app1], ['mix.log', mix]), '?name=ticket.log');
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { detail: string }).detail, /name= renames the one file of a form/);
    // One file and name=: renamed, as before.
    r = await send(form(['app.log', app1]), '?name=ticket.log');
    assert.equal(((await r.json()) as Scan).groups[0]!.example.file, 'ticket.log');
    const many = Array.from({ length: 33 }, (_, i) => [`f${i}.log`, app1] as [string, string]);
    r = await send(form(...many));
    assert.equal(r.status, 413);
    assert.match(((await r.json()) as { detail: string }).detail, /more than 32 files/);
  });
});

describe('A6: a mistyped entry id, and rooms this server does not run', () => {
  const get = async (path: string, method = 'GET') => {
    const r = await fetch(`${base}${path}`, { method });
    return { status: r.status, detail: ((await r.json()) as { detail: string }).detail };
  };

  test('GET /api/kb/out-cert-pat: did you mean out-cert-path?, as `kb show` says it', async () => {
    assert.deepEqual(await get('/api/kb/out-cert-pat'), {
      status: 404,
      detail: 'no entry "out-cert-pat"; did you mean out-cert-path?',
    });
    // A typo inside the id: the closest one (kb show said only "see linkdoctor kb list").
    const typo = await get('/api/kb/out-cert-pth');
    assert.equal(typo.detail, 'no entry "out-cert-pth"; did you mean out-cert-path?');
    const cli = runCli(['kb', 'show', 'out-cert-pth']);
    assert.equal(cli.status, 2);
    assert.equal(cli.stderr.trim(), `linkdoctor: ${typo.detail}`);
    assert.deepEqual(await get('/api/kb/zzzz'), { status: 404, detail: 'no entry "zzzz" (see GET /api/kb)' });
  });

  test('without --lab or --service-key: the sentence that says how to start it, not "no route"', async () => {
    for (const [path, method] of [
      ['/api/lab', 'GET'],
      ['/api/lab/ok/probe', 'POST'],
    ])
      assert.deepEqual(await get(path!, method), {
        status: 404,
        detail: 'this server runs no lab (serve --lab)',
      });
    assert.deepEqual(await get('/api/tenant/failures?since=1d'), {
      status: 404,
      detail: 'this server has no tenant (serve --service-key FILE, or $LINKDOCTOR_SERVICE_KEY)',
    });
    // A path that is no route of any room stays "no route".
    assert.match((await get('/api/labs')).detail, /^no route GET \/api\/labs/);
  });
});
