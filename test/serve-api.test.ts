// linkdoctor serve's rooms: probe (against the lab's real servers), its target rules (--allow-targets,
// loopback and link-local when exposed, secrets only by LINKDOCTOR_* names), scan uploads (gzip, the
// cap, streamed progress), kb and lab; every answer compared with the CLI's --json.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServeOptions } from '../src/serve/app.js';
import { mountRooms } from '../src/serve/rooms.js';
import { labRoutes } from '../src/serve/lab.js';
import { checkTarget, targetRules } from '../src/serve/targets.js';
import { loadKb, type Kb } from '../src/kb/load.js';
import { startLab, type Lab } from '../src/lab/index.js';
import { CLI, runCli } from './helpers.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

const TOKEN = 'a-test-token-of-32-characters-xx';
let kb: Kb;
let lab: Lab;

async function server(opts: Partial<ServeOptions> = {}): Promise<FastifyInstance> {
  const app = await buildServer({ host: '127.0.0.1', kb, ...opts });
  await mountRooms(app);
  return app;
}

const H = (extra: Record<string, string> = {}) => ({ host: '127.0.0.1', ...extra });
const post = (app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url,
    headers: H({ 'content-type': 'application/json', ...headers }),
    payload: JSON.stringify(body),
  });
const ndjson = (body: string) =>
  body
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

before(async () => {
  kb = await loadKb();
  lab = await startLab();
});
after(() => lab.stop());

const scenario = (name: string) => lab.scenarios.find((s) => s.name === name)!;

describe('POST /api/probe', () => {
  let app: FastifyInstance;
  // The lab's Basic-auth server is the one host its password is bound to (serve-secrets.test.ts).
  before(
    async () =>
      (app = await server({
        secretTargets: [`LINKDOCTOR_TEST_PASSWORD=${new URL(scenario('basic-auth').url).host}`],
      })),
  );
  after(() => app.close());

  test('a lab server with an unknown CA: the same JSON as `probe --json`', async () => {
    const url = scenario('unknown-ca').url;
    const r = await post(app, '/api/probe', { url, timeout: 3 });
    assert.equal(r.statusCode, 200);
    const api = r.json();
    assert.equal(api.ok, false);
    assert.equal(api.diagnoses[0].id, scenario('unknown-ca').expect);
    // Not runCli: the lab's servers live in this process and must answer while the CLI runs.
    const cli = await execFileP(process.execPath, [CLI, 'probe', '--json', '--timeout', '3', url]).catch(
      (e: { stdout: string }) => e,
    );
    const mine = JSON.parse(cli.stdout);
    // Timings differ from run to run; everything else is the same object.
    const strip = (o: { steps: { ms: number }[] }) => ({
      ...o,
      steps: o.steps.map((s) => ({ ...s, ms: 0 })),
    });
    assert.deepEqual(strip(api), strip(mine));
    // A duration as an inventory's module writes it (timeout: 3s) is the same probe (attack A4).
    const written = await post(app, '/api/probe', { url, timeout: '3s' });
    assert.equal(written.statusCode, 200, written.body);
    assert.deepEqual(strip(written.json()), strip(api));
  });

  test('the trust file and the steps as they run (NDJSON)', async () => {
    const r = await post(
      app,
      '/api/probe',
      { url: scenario('healthy').url, trust: lab.trustFile },
      { accept: 'application/x-ndjson' },
    );
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /application\/x-ndjson/);
    const lines = ndjson(r.body);
    const steps = lines.filter((l) => l.step).map((l) => (l.step as { name: string }).name);
    assert.deepEqual(steps, ['dns', 'tcp', 'tls', 'http']);
    const result = lines.at(-1)!.result as { ok: boolean; steps: unknown[]; tls: { chain: unknown[] } };
    assert.equal(result.ok, true);
    assert.ok(result.tls.chain.length >= 1);
  });

  test('secrets only by the name of a LINKDOCTOR_* variable', async () => {
    process.env.LINKDOCTOR_TEST_PASSWORD = lab.basicAuth.password;
    try {
      let r = await post(app, '/api/probe', {
        url: scenario('basic-auth').url,
        trust: lab.trustFile,
        user: lab.basicAuth.user,
        passwordEnv: 'LINKDOCTOR_TEST_PASSWORD',
      });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().ok, true, JSON.stringify(r.json().steps));
      assert.ok(!r.body.includes(lab.basicAuth.password));
      // The server's own token and its service key (JSON with the client secret) are not a password to send.
      for (const name of [
        'HOME',
        'AWS_SECRET_ACCESS_KEY',
        'LINKDOCTOR_TOKEN',
        'LINKDOCTOR_SERVICE_KEY',
        'linkdoctor_x',
      ]) {
        r = await post(app, '/api/probe', { url: scenario('basic-auth').url, user: 'u', passwordEnv: name });
        assert.equal(r.statusCode, 400, name);
        assert.equal(r.json()['invalid-params'][0].name, 'body/passwordEnv');
      }
      r = await post(app, '/api/probe', { url: scenario('basic-auth').url, user: 'u' });
      assert.equal(r.statusCode, 400);
      assert.match(r.json().detail, /body\/user needs body\/passwordEnv/);
      // The UI offers the names set on the server, never their values, nor the server's own.
      process.env.LINKDOCTOR_SERVICE_KEY = '{"clientsecret": "not-to-be-listed"}';
      const o = await app.inject({ url: '/api/probe/options', headers: H() });
      assert.equal(o.statusCode, 200);
      assert.ok(o.json().secrets.includes('LINKDOCTOR_TEST_PASSWORD'), o.body);
      assert.ok(
        !o.body.includes('LINKDOCTOR_SERVICE_KEY') && !o.body.includes(lab.basicAuth.password),
        o.body,
      );
      assert.equal(o.json().files, true);
    } finally {
      delete process.env.LINKDOCTOR_TEST_PASSWORD;
      delete process.env.LINKDOCTOR_SERVICE_KEY;
    }
  });

  test('bad requests are problem bodies', async () => {
    for (const [body, re] of [
      [{}, /body\/url/],
      [{ url: 'gopher://x' }, /cannot test gopher/],
      [{ url: 'https://x', timeout: 999 }, /body\/timeout/],
      [
        { url: 'https://x', timeout: 'forever' },
        /^body\/timeout: timeout takes a duration from 0\.1 s to 60 s, such as 5s or 1m$/,
      ],
      [{ url: 'https://x', maxRedirs: -1 }, /body\/maxRedirs/],
      // The API's own field, not the CLI's flag (attack report 25).
      [
        { url: 'https://user:pw@x' },
        /the URL holds a password: .*passwords come from the request's passwordEnv/,
      ],
      [{ url: 'https://x', trust: '/nonexistent/store.pem' }, /cannot read|not|no such/i],
    ] as const) {
      const r = await post(app, '/api/probe', body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.match(r.json().detail, re);
    }
  });
});

describe('target rules', () => {
  test('--allow-targets: names, *.suffix, addresses, CIDRs; a bad entry is one sentence', async () => {
    const rules = targetRules(['api.example.com', '*.corp.example', '10.0.0.0/8', '192.0.2.7'], false);
    await checkTarget('api.example.com', rules);
    await checkTarget('a.b.corp.example', rules);
    await checkTarget('10.1.2.3', rules);
    await checkTarget('192.0.2.7', rules);
    await assert.rejects(
      () => checkTarget('192.0.2.8', rules),
      /192\.0\.2\.8 is not in this server's --allow-targets/,
    );
    await assert.rejects(() => checkTarget('corp.example.evil', rules), /--allow-targets/);
    assert.throws(() => targetRules(['http://x/'], false), /"http:\/\/x\/" is not a host name/);
    assert.throws(() => targetRules(['10.0.0.0/33'], false), /bad prefix length/);
  });

  test('exposed: loopback and link-local refused unless named', async () => {
    const open = targetRules([], true);
    for (const h of ['127.0.0.1', 'localhost', '::1', '169.254.169.254', '0.0.0.0', '[fe80::1]'])
      await assert.rejects(() => checkTarget(h, open), /loopback or link-local/, h);
    await checkTarget('192.0.2.1', open);
    await checkTarget('127.0.0.1', targetRules(['127.0.0.1'], true));
  });

  test('through the API: 403 before any connection, the OAuth token URL too, no redirects followed', async () => {
    let hits = 0;
    const peer: Server = createServer((_req, res) => {
      hits++;
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const port = (peer.address() as { port: number }).port;
    const app = await server({ host: '0.0.0.0', token: TOKEN, allowTargets: ['127.0.0.1'] });
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      let r = await post(app, '/api/probe', { url: `http://localhost.localdomain.invalid:${port}/` }, auth);
      assert.equal(r.statusCode, 403);
      r = await post(app, '/api/probe', { url: `http://[::1]:${port}/` }, auth);
      assert.equal(r.statusCode, 403);
      assert.match(r.json().detail, /::1 is not in this server's --allow-targets/);
      r = await post(
        app,
        '/api/probe',
        {
          url: `http://127.0.0.1:${port}/`,
          oauthTokenUrl: 'http://169.254.169.254/token',
          oauthClientId: 'x',
          oauthSecretEnv: 'LINKDOCTOR_NONE',
        },
        auth,
      );
      assert.equal(r.statusCode, 403);
      assert.match(r.json().detail, /OAuth token URL host 169\.254\.169\.254/);
      assert.equal(hits, 0);
      // Allowed: probed, and the redirect to the metadata service is not followed.
      r = await post(app, '/api/probe', { url: `http://127.0.0.1:${port}/`, maxRedirs: 5 }, auth);
      assert.equal(r.statusCode, 200);
      assert.equal(hits, 1);
      assert.equal(r.json().http.exchanges.length, 1);
      assert.match(
        r.json().steps.at(-1).detail,
        /^302 Found: a redirect to http:\/\/169\.254\.169\.254\/latest\/meta-data\/, not followed \(this server follows no redirects: it is exposed beyond loopback; probe that address itself\)$/,
      );
      assert.doesNotMatch(JSON.stringify(r.json()), /more than 0 redirects/);
      // An exposed server reads no files a request names.
      r = await post(app, '/api/probe', { url: `https://127.0.0.1:${port}/`, trust: '/etc/passwd' }, auth);
      assert.equal(r.statusCode, 403);
      assert.equal(r.json()['invalid-params'][0].name, 'body/trust');
    } finally {
      await app.close();
      peer.close();
    }
  });
});

test("the exporter's GET /probe?target= keeps the same rules on a guarded server", async () => {
  const app = await server({ host: '0.0.0.0', token: TOKEN, allowTargets: ['127.0.0.1'] });
  const get = (target: string) =>
    app.inject({
      url: `/probe?target=${encodeURIComponent(target)}`,
      headers: H({ authorization: `Bearer ${TOKEN}` }),
    });
  try {
    let r = await get('http://169.254.169.254/latest/meta-data/');
    assert.equal(r.statusCode, 403, r.body);
    assert.match(r.json().detail, /169\.254\.169\.254 is not in this server's --allow-targets/);
    r = await get('http://[::1]:1/');
    assert.equal(r.statusCode, 403, r.body);
    // An allowed target is the exporter's to probe (a refused port: probe_success 0).
    r = await get('http://127.0.0.1:1/');
    assert.equal(r.statusCode, 200, r.body);
    assert.match(r.body, /probe_success 0/);
  } finally {
    await app.close();
  }
});

describe('DNS rebinding between the target check and the probe', () => {
  /**
   * A name that answers 127.0.0.1 to the first lookup and 127.0.0.2 to anyone who asks again, and a
   * peer on 127.0.0.1 that records "localAddress Host" of each request and answers with `respond`.
   */
  async function rebinding(respond: (res: ServerResponse) => void) {
    const asked: string[] = [];
    const resolve = async (host: string) => {
      asked.push(host);
      return asked.length === 1 ? ['127.0.0.1'] : ['127.0.0.2'];
    };
    const hosts: string[] = [];
    const peer: Server = createServer((req, res) => {
      hosts.push(`${req.socket.localAddress} ${req.headers.host}`);
      respond(res);
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    return { asked, resolve, hosts, peer, port: (peer.address() as { port: number }).port };
  }

  test('a name resolved once: the probe connects to the address checked, Host and URL stay the name', async () => {
    // 404 for every path: the probe's http step then sends more requests (the near-path search), each
    // on a connection of its own.
    const { asked, resolve, hosts, peer, port } = await rebinding((res) => res.writeHead(404).end('no'));
    const app = await server({ allowTargets: ['127.0.0.1'], resolve });
    try {
      const r = await post(app, '/api/probe', { url: `http://rebind.test:${port}/orders`, timeout: 5 });
      assert.equal(r.statusCode, 200, r.body);
      const steps = r.json().steps as { name: string; detail: string }[];
      assert.equal(steps[0]!.detail, 'rebind.test → 127.0.0.1');
      assert.equal(steps[1]!.detail, `connected to 127.0.0.1:${port}`);
      assert.match(steps[2]!.detail, /^404/);
      assert.deepEqual(asked, ['rebind.test'], 'the name was resolved more than once');
      assert.ok(hosts.length > 1, `only ${hosts.length} request(s): the near-path search did not run`);
      for (const h of hosts) assert.equal(h, `127.0.0.1 rebind.test:${port}`);
    } finally {
      await app.close();
      peer.close();
    }
  });

  test('the OAuth token URL too: its name is checked and connected to once', async () => {
    const asked: string[] = [];
    const resolve = async (host: string) => {
      asked.push(host);
      return asked.filter((h) => h === host).length === 1 ? ['127.0.0.1'] : ['169.254.169.254'];
    };
    let tokenHost = '';
    const peer: Server = createServer((req, res) => {
      if (req.url === '/token') {
        tokenHost = `${req.socket.localAddress} ${req.headers.host}`;
        return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      }
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const port = (peer.address() as { port: number }).port;
    process.env.LINKDOCTOR_TEST_OAUTH_SECRET = 'not-a-real-secret';
    const app = await server({
      allowTargets: ['127.0.0.1'],
      resolve,
      secretTargets: ['LINKDOCTOR_TEST_OAUTH_SECRET=token.rebind.test,api.rebind.test'],
      plainHttpCredentials: true,
    });
    try {
      const r = await post(app, '/api/probe', {
        url: `http://api.rebind.test:${port}/`,
        oauthTokenUrl: `http://token.rebind.test:${port}/token`,
        oauthClientId: 'client',
        oauthSecretEnv: 'LINKDOCTOR_TEST_OAUTH_SECRET',
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(tokenHost, `127.0.0.1 token.rebind.test:${port}`);
      assert.deepEqual(asked.sort(), ['api.rebind.test', 'token.rebind.test']);
    } finally {
      delete process.env.LINKDOCTOR_TEST_OAUTH_SECRET;
      await app.close();
      peer.close();
    }
  });

  test("the exporter's GET /probe too: it connects to the address checked and follows no redirect", async () => {
    const { asked, resolve, hosts, peer, port } = await rebinding((res) =>
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    );
    const app = await server({ allowTargets: ['127.0.0.1'], resolve });
    try {
      const r = await app.inject({
        method: 'GET',
        url: `/probe?target=${encodeURIComponent(`http://rebind.test:${port}/`)}`,
        headers: H(),
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(asked, ['rebind.test'], 'the name was resolved more than once');
      assert.deepEqual(hosts, [`127.0.0.1 rebind.test:${port}`]);
      assert.match(r.body, /^probe_success 0$/m, 'a redirect on a guarded server is not followed');
    } finally {
      await app.close();
      peer.close();
    }
  });
});

describe('POST /api/scan', () => {
  let app: FastifyInstance;
  const log =
    '2024-01-01 10:00:00 ERROR javax.net.ssl.SSLHandshakeException: PKIX path building failed\n' +
    '2024-01-01 10:05:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n' +
    '2024-01-01 10:06:00 INFO all good\n';
  const upload = (body: Buffer | string, query = 'name=app.log', headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: `/api/scan?${query}`,
      headers: H({ 'content-type': 'application/octet-stream', ...headers }),
      payload: body,
    });
  before(async () => (app = await server({ maxUploadBytes: 64 * 1024 })));
  after(() => app.close());

  test('a log: the groups of `scan --json`, gzip the same', async () => {
    const r = await upload(log);
    assert.equal(r.statusCode, 200, r.body);
    const api = r.json();
    assert.deepEqual(
      api.groups.map((g: { id: string }) => g.id),
      ['out-cert-path', 'out-sftp'],
    );
    assert.equal(api.groups[0].example.file, 'app.log');
    const cli = JSON.parse(runCli(['scan', '--json', '-'], { input: log }).stdout);
    const same = (o: { summary: { seconds: number }; groups: { example: object }[] }) => ({
      ...o,
      summary: { ...o.summary, seconds: 0 },
      groups: o.groups.map((g) => ({ ...g, example: { ...g.example, file: '' } })),
    });
    assert.deepEqual(same(api), same(cli));
    const gz = await upload(gzipSync(log), 'name=app.log.gz', { 'content-type': 'application/gzip' });
    assert.equal(gz.statusCode, 200);
    assert.deepEqual(
      gz.json().groups.map((g: { id: string; count: number }) => [g.id, g.count]),
      [
        ['out-cert-path', 1],
        ['out-sftp', 1],
      ],
    );
  });

  test('an upload read only in part (a truncated export, a cut gzip) is a 422: the sentence `scan` exits 2 with, and the result of what was read, as `scan --json` prints it (attack S12 A14)', async () => {
    const cut =
      '{"d":{"results":[{"MessageGuid":"a","Status":"FAILED","ErrorInformation":"Auth fail"},{"MessGu';
    const cli = runCli(['scan', '-'], { input: cut });
    assert.equal(cli.status, 2, cli.stderr);
    const sentence = cli.stderr.replace(/^linkdoctor: -:/, '').trim();
    assert.match(sentence, /the JSON ends early.*a truncated file: 1 record was read before it/);
    const r = await upload(cut, 'name=cut.json');
    assert.equal(r.statusCode, 422, r.body);
    assert.match(r.headers['content-type'] as string, /^application\/problem\+json/);
    const body = r.json();
    assert.equal(body.detail, `cut.json:${sentence} (the result holds what was read)`);
    assert.deepEqual(
      body.groups.map((g: { id: string; count: number }) => [g.id, g.count]),
      [['out-sftp', 1]],
      'the record read before the cut is in the answer',
    );
    assert.equal(body.summary.incomplete, 1);
    assert.equal(body.problems[0].message, sentence.replace(/^\d+ \(byte \d+\): /, ''));
    const streamed = ndjson((await upload(cut, 'name=cut.json', { accept: 'application/x-ndjson' })).body);
    assert.ok(!streamed.some((l) => l.error), 'no error line: a result');
    const result = streamed.at(-1)!.result as { groups: { id: string }[]; summary: { incomplete: number } };
    assert.deepEqual(
      result.groups.map((g) => g.id),
      ['out-sftp'],
    );
    assert.equal(result.summary.incomplete, 1);
    // A form of an intact log and a gzip cut short: the log's incidents and the gzip's, as the CLI's.
    const dir = mkdtempSync(join(tmpdir(), 'ld-cutgz-'));
    try {
      const gz = gzipSync(log.repeat(40));
      writeFileSync(join(dir, 'app.log'), log);
      writeFileSync(join(dir, 'cut.gz'), gz.subarray(0, gz.length >> 1));
      const cliJson = runCli(['scan', '--json', join(dir, 'app.log'), join(dir, 'cut.gz')]);
      assert.equal(cliJson.status, 2, cliJson.stderr);
      const boundary = 'linkdoctor-cut-boundary';
      const part = (name: string, data: Buffer | string) =>
        Buffer.concat([
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
              'Content-Type: application/octet-stream\r\n\r\n',
          ),
          Buffer.from(data),
          Buffer.from('\r\n'),
        ]);
      const f = await app.inject({
        method: 'POST',
        url: '/api/scan',
        headers: H({ 'content-type': `multipart/form-data; boundary=${boundary}` }),
        payload: Buffer.concat([
          part('app.log', log),
          part('cut.gz', gz.subarray(0, gz.length >> 1)),
          Buffer.from(`--${boundary}--\r\n`),
        ]),
      });
      assert.equal(f.statusCode, 422, f.body);
      assert.match(f.json().detail, /^cut\.gz \(byte \d+\): the gzip data ends early/);
      const counts = (o: { groups: { id: string; count: number }[] }) => o.groups.map((g) => [g.id, g.count]);
      assert.deepEqual(counts(f.json()), counts(JSON.parse(cliJson.stdout)));
      assert.ok(f.json().summary.incidents > 2, 'the intact log and what the gzip gave before its cut');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the body is the file whatever its Content-Type: an export sent as application/json, a log as application/json or text/plain (attack A4)', async () => {
    const mpl = JSON.stringify({
      d: {
        results: [
          {
            MessageGuid: 'A1',
            Status: 'FAILED',
            IntegrationFlowName: 'Orders',
            ErrorText: 'com.jcraft.jsch.JSchException: Auth fail',
          },
        ],
      },
    });
    const asOctets = await upload(mpl, 'name=mpl.json');
    assert.equal(asOctets.statusCode, 200, asOctets.body);
    assert.deepEqual(
      asOctets.json().groups.map((g: { id: string }) => g.id),
      ['out-sftp'],
    );
    const same = (o: { summary: object }) => ({ ...o, summary: { ...o.summary, seconds: 0 } });
    for (const [body, name, type] of [
      [mpl, 'mpl.json', 'application/json'],
      [mpl, 'mpl.json', 'application/json; charset=utf-8'],
      [log, 'app.log', 'application/json'],
      [log, 'app.log', 'text/plain'],
      [log, 'app.log', 'application/x-www-form-urlencoded'],
    ] as const) {
      const r = await upload(body, `name=${name}`, { 'content-type': type });
      assert.equal(r.statusCode, 200, `${type}: ${r.body}`);
      const octets = body === mpl ? asOctets : await upload(body, `name=${name}`);
      assert.deepEqual(same(r.json()), same(octets.json()), type);
    }
    // Without a Content-Type at all, too.
    const bare = await app.inject({
      method: 'POST',
      url: '/api/scan?name=app.log',
      headers: H(),
      payload: log,
    });
    assert.equal(bare.statusCode, 200, bare.body);
    assert.equal(bare.json().summary.incidents, 2);
  });

  test('streamed: progress, incidents as --jsonl prints them, then the result', async () => {
    const r = await upload(log, 'name=app.log&incidents=true', { accept: 'application/x-ndjson' });
    const lines = ndjson(r.body);
    const incidents = lines.filter((l) => l.incident).map((l) => l.incident as { diagnosis: { id: string } });
    assert.deepEqual(
      incidents.map((i) => i.diagnosis.id),
      ['out-cert-path', 'out-sftp'],
    );
    const cli = runCli(['scan', '--jsonl', '-'], { input: log }).stdout.trim().split('\n');
    assert.deepEqual(
      incidents.map((i) => ({ ...i, file: '-' })),
      cli.map((l) => JSON.parse(l)),
    );
    assert.ok((lines.at(-1)!.result as { summary: { incidents: number } }).summary.incidents === 2);
  });

  test('the cap: by Content-Length before reading, and while reading without one', async () => {
    const big = Buffer.alloc(65 * 1024, 'x\n');
    let r = await upload(big);
    assert.equal(r.statusCode, 413);
    assert.match(
      r.json().detail,
      /the upload is 0\.06 MB; this server takes at most 0\.06 MB|this server takes at most/,
    );
    // Chunked: no Content-Length, cut off when it outgrows the cap.
    const { Readable } = await import('node:stream');
    r = await app.inject({
      method: 'POST',
      url: '/api/scan?name=big.log',
      headers: H({ 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }),
      payload: Readable.from([big.subarray(0, 40 * 1024), big.subarray(40 * 1024)]),
    });
    assert.equal(r.statusCode, 413, r.body);
    assert.match(r.json().detail, /outgrew this server's cap of 0\.06 MB/);
  });

  test('a multipart/form-data form: its file scanned as it streams, its file name kept; the cap holds', async () => {
    const boundary = 'linkdoctor-test-boundary';
    const form = (file: Buffer, filename = 'app.log.gz') =>
      Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nfrom the ticket\r\n` +
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
            'Content-Type: application/gzip\r\n\r\n',
        ),
        file,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
    const type = { 'content-type': `multipart/form-data; boundary=${boundary}` };
    const send = (payload: Buffer | import('node:stream').Readable, query = '', headers = {}) =>
      app.inject({ method: 'POST', url: `/api/scan${query}`, headers: H({ ...type, ...headers }), payload });
    let r = await send(form(gzipSync(log)));
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(
      r.json().groups.map((g: { id: string; count: number }) => [g.id, g.count]),
      [
        ['out-cert-path', 1],
        ['out-sftp', 1],
      ],
    );
    assert.equal(r.json().groups[0].example.file, 'app.log.gz');
    // A path in the form's file name is dropped; ?name= wins over it.
    r = await send(form(Buffer.from(log), 'C:\\Users\\me\\app.log'));
    assert.equal(r.json().groups[0].example.file, 'app.log');
    r = await send(form(Buffer.from(log)), '?name=ticket-4711.log');
    assert.equal(r.json().groups[0].example.file, 'ticket-4711.log');
    // Over the cap: by Content-Length, and while reading a chunked form.
    const big = Buffer.alloc(65 * 1024, 'x\n');
    r = await send(form(Buffer.concat([big, big])));
    assert.equal(r.statusCode, 413, r.body);
    const { Readable } = await import('node:stream');
    const whole = form(big);
    r = await send(Readable.from([whole.subarray(0, 30 * 1024), whole.subarray(30 * 1024)]), '', {
      'transfer-encoding': 'chunked',
    });
    assert.equal(r.statusCode, 413, r.body);
    assert.match(r.json().detail, /outgrew this server's cap of 0\.06 MB/);
    // A form without a file.
    r = await send(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nno file\r\n--${boundary}--\r\n`,
      ),
    );
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().detail, /the form holds no file/);
  });

  test('bad uploads', async () => {
    let r = await upload(log, 'name=../../etc/passwd');
    assert.equal(r.statusCode, 400);
    assert.equal(r.json()['invalid-params'][0].name, 'querystring/name');
    r = await upload(log, 'format=xml');
    assert.equal(r.statusCode, 400);
    r = await upload(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'name=broken.gz');
    assert.equal(r.statusCode, 400);
    assert.match(r.json().detail, /broken\.gz/);
  });
});

describe('GET /api/kb', () => {
  let app: FastifyInstance;
  before(async () => (app = await server()));
  after(() => app.close());

  test('list and entry as kb list/show --json', async () => {
    const list = await app.inject({ url: '/api/kb', headers: H() });
    assert.deepEqual(list.json(), JSON.parse(runCli(['kb', 'list', '--json']).stdout));
    const entry = await app.inject({ url: '/api/kb/out-sftp', headers: H() });
    assert.deepEqual(entry.json(), JSON.parse(runCli(['kb', 'show', '--json', 'out-sftp']).stdout));
    const none = await app.inject({ url: '/api/kb/nope', headers: H() });
    assert.equal(none.statusCode, 404);
    assert.match(none.json().detail, /no entry "nope"/);
  });
});

describe('lab room', () => {
  test('lists the lab, probes a server by name with its own flags', async () => {
    const app = await server();
    await mountRooms(app, [{ name: 'lab', plugin: labRoutes(lab) }]);
    try {
      const health = await app.inject({ url: '/api/health', headers: H() });
      const rooms: string[] = health.json().rooms;
      for (const r of ['diagnose', 'probe', 'scan', 'kb', 'ui']) assert.ok(rooms.includes(r), r);
      assert.equal(rooms.at(-1), 'lab');
      const list = await app.inject({ url: '/api/lab', headers: H() });
      assert.equal(list.json().scenarios.length, lab.scenarios.length);
      const r = await app.inject({ method: 'POST', url: '/api/lab/expired/probe', headers: H() });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().diagnoses[0].id, scenario('expired').expect);
      const none = await app.inject({ method: 'POST', url: '/api/lab/nope/probe', headers: H() });
      assert.equal(none.statusCode, 404);
    } finally {
      await app.close();
    }
  });
});

test('the trust file of the lab is a real PEM (sanity of the fixtures used above)', () => {
  assert.match(readFileSync(lab.trustFile, 'utf8'), /BEGIN CERTIFICATE/);
});
