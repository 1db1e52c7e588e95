// The lab's fake tenant and its runtime host, checked with plain node:https/tls clients and
// openssl: what the documented API and the tenant's inbound side do where a client can break
// (tenant-api.md §2-§8), and what `linkdoctor lab` and the demo make of it.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { startLab, type Lab } from '../src/lab/index.js';
import { RUNTIME_SCENARIOS } from '../src/lab/runtime.js';
import { TENANT_CLIENT_ID, TENANT_ERRORS } from '../src/lab/tenant.js';
import { CLI, runCliAsync, unwrap } from './helpers.js';

let lab: Lab;
let ca: string;

before(async () => {
  lab = await startLab();
  ca = readFileSync(lab.trustFile, 'utf8');
});
after(() => lab.stop());

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTPS request trusting the lab root. */
function fetchLab(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: o.method ?? 'GET',
        headers: o.headers ?? {},
        ca,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** A token from the fake's token endpoint with the lab key's credentials. */
async function token(): Promise<string> {
  const r = await fetchLab(`${lab.tenant.tokenUrl}?grant_type=client_credentials`, {
    method: 'POST',
    headers: { ...basic(TENANT_CLIENT_ID, lab.tenant.secret), accept: 'application/json' },
  });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).access_token as string;
}

describe('the fake tenant: token endpoint and /api/v1', () => {
  test('Basic and form credentials get a token; a wrong secret gets 401 as XSUAA answers', async () => {
    assert.match(await token(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const form = await fetchLab(lab.tenant.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: TENANT_CLIENT_ID,
        client_secret: lab.tenant.secret,
      }).toString(),
    });
    assert.equal(form.status, 200);
    assert.equal(JSON.parse(form.body).token_type, 'bearer');
    const wrong = await fetchLab(`${lab.tenant.tokenUrl}?grant_type=client_credentials`, {
      method: 'POST',
      headers: basic(TENANT_CLIENT_ID, 'not-the-secret'),
    });
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body).error, 'unauthorized');
  });

  test('Atom XML unless JSON is asked; /Date(ms)/, __count and Int64 as strings; 1000-row pages with __next', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const api = `${lab.tenant.url}/api/v1`;
    const xml = await fetchLab(`${api}/KeystoreEntries`, { headers: auth });
    assert.equal(xml.status, 200);
    assert.match(String(xml.headers['content-type']), /application\/atom\+xml/);
    assert.match(xml.body, /^<\?xml .*<feed xmlns="http:\/\/www\.w3\.org\/2005\/Atom"/);
    const page = await fetchLab(`${api}/MessageProcessingLogs?$format=json&$inlinecount=allpages`, {
      headers: auth,
    });
    const d = JSON.parse(page.body).d;
    assert.equal(typeof d.__count, 'string');
    assert.ok(Number(d.__count) > 2000, `a few thousand messages (${d.__count})`);
    assert.equal(d.results.length, 1000);
    assert.match(d.__next, /^MessageProcessingLogs\?.*(\$|%24)skiptoken=1000/);
    assert.match(d.results[0].LogEnd, /^\/Date\(\d+\)\/$/);
    const guid = d.results[0].MessageGuid as string;
    const headers = await fetchLab(
      `${api}/MessageProcessingLogs('${guid}')/CustomHeaderProperties?$format=json`,
      {
        headers: auth,
      },
    );
    assert.equal(typeof JSON.parse(headers.body).d.results[0].Id, 'string');
    const count = await fetchLab(`${api}/MessageProcessingLogs/$count`, { headers: auth });
    assert.match(count.body, /^\d+$/);
    // An OData error body: XML by default, JSON when asked.
    const missing = await fetchLab(`${api}/DataStores`, { headers: auth });
    assert.equal(missing.status, 404);
    assert.match(missing.body, /<code>Not Found<\/code><message xml:lang="en">Could not find an entity set/);
    const j = await fetchLab(`${api}/DataStores?$format=json`, { headers: auth });
    assert.equal(JSON.parse(j.body).error.code, 'Not Found');
  });

  test("$filter on Status, LogEnd/LogStart datetime'...' without Z, IntegrationFlowName; a Z is refused", async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 19);
    const filter = `Status eq 'FAILED' and LogEnd ge datetime'${since}' and IntegrationFlowName eq 'Jobs_Start'`;
    const r = await fetchLab(
      `${lab.tenant.url}/api/v1/MessageProcessingLogs?$format=json&$filter=${encodeURIComponent(filter)}`,
      { headers: auth },
    );
    const rows = JSON.parse(r.body).d.results as { Status: string; IntegrationFlowName: string }[];
    assert.ok(rows.length > 0);
    assert.ok(rows.every((m) => m.Status === 'FAILED' && m.IntegrationFlowName === 'Jobs_Start'));
    const z = await fetchLab(
      `${lab.tenant.url}/api/v1/MessageProcessingLogs?$format=json&$filter=${encodeURIComponent(`LogEnd ge datetime'${since}Z'`)}`,
      { headers: auth },
    );
    assert.equal(z.status, 400);
    assert.match(JSON.parse(z.body).error.message.value, /Invalid datetime literal/);
  });
});

describe('the fake tenant: runtime host', () => {
  const rt = () => lab.tenant.runtimeUrl;
  const pw = () => lab.clientCert.password;

  test('deployed /http/ and /cxf/ paths, case-sensitive; 404 otherwise (CXF says so for /cxf/)', async () => {
    assert.equal((await fetchLab(`${rt()}/http/Orders`)).status, 404);
    const cxf = await fetchLab(`${rt()}/cxf/invoiceservice`);
    assert.equal(cxf.status, 404);
    assert.equal(cxf.body, 'No service was found.');
    assert.equal(
      (await fetchLab(`${rt()}/cxf/InvoiceService`, { headers: basic('sender', pw()) })).status,
      200,
    );
    assert.equal((await fetchLab(`${rt()}/http/orders/`, { headers: basic('sender', pw()) })).status, 200);
  });

  test('401 for missing or wrong credentials, 403 for a user without the sender role, 405 for HEAD', async () => {
    const none = await fetchLab(`${rt()}/http/orders`);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic /);
    assert.equal((await fetchLab(`${rt()}/http/orders`, { headers: basic('sender', 'wrong') })).status, 401);
    const viewer = await fetchLab(`${rt()}/http/orders`, { headers: basic(lab.tenant.viewer, pw()) });
    assert.equal(viewer.status, 403);
    assert.match(viewer.body, /HTTP Status 403 – Forbidden/);
    const head = await fetchLab(`${rt()}/http/orders`, { method: 'HEAD', headers: basic('sender', pw()) });
    assert.equal(head.status, 405);
  });

  test('the CSRF-protected endpoint: a POST without a token is 403; with a fetched token and cookie it works', async () => {
    const auth = basic('sender', pw());
    const url = `${rt()}/http/orders/confirm`;
    const bare = await fetchLab(url, { method: 'POST', headers: auth, body: '{}' });
    assert.equal(bare.status, 403);
    assert.equal(bare.headers['x-csrf-token'], 'Required');
    const f = await fetchLab(url, { headers: { ...auth, 'x-csrf-token': 'Fetch' } });
    const cookie = String(f.headers['set-cookie']?.[0]).split(';')[0]!;
    const ok = await fetchLab(url, {
      method: 'POST',
      headers: { ...auth, 'x-csrf-token': String(f.headers['x-csrf-token']), cookie },
      body: '{}',
    });
    assert.equal(ok.status, 201);
  });

  test("the load balancer's client-certificate question names the accepted CA; an accepted certificate logs on", async (t) => {
    const port = new URL(rt()).port;
    // Asynchronous: the lab's servers run in this process, so a synchronous spawn would block the
    // event loop that must answer openssl's handshake (every run ended in ETIMEDOUT and skipped).
    const s = await new Promise<{ stdout: string; error?: Error }>((resolve) => {
      execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'],
        { encoding: 'utf8', timeout: 20_000 },
        (error, stdout) => resolve({ stdout, error: error && !stdout ? error : undefined }),
      ).stdin?.end();
    });
    if (s.error) t.skip(`openssl not runnable: ${s.error.message}`);
    else assert.match(s.stdout, /Acceptable client certificate CA names\n.*CN ?= ?linkdoctor lab Client CA/);
    // A client certificate from the accepted CA is a sender: 200 without Basic.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/http/orders',
          ca,
          agent: false,
          pfx: readFileSync(lab.clientCert.good),
          passphrase: pw(),
        },
        (res) => (res.resume(), resolve(res.statusCode ?? 0)),
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  });

  test('a certificate from another CA, or an expired one, is refused after the handshake', async () => {
    for (const file of [lab.clientCert.wrongCa, lab.clientCert.expired]) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = tlsConnect(
          {
            host: '127.0.0.1',
            port: Number(new URL(rt()).port),
            ca,
            servername: 'localhost',
            pfx: readFileSync(file),
            passphrase: pw(),
          },
          () => socket.write('GET /http/orders HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n'),
        );
        let data = '';
        socket.on('data', (d: Buffer) => (data += d));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
        socket.on('close', () => resolve(data ? `answered ${data.slice(0, 12)}` : 'closed'));
      });
      assert.doesNotMatch(outcome, /answered/, file);
    }
  });

  test('the lab lists each inbound seed row with the entry it must produce (probe-lab.test.ts probes them)', () => {
    for (const r of RUNTIME_SCENARIOS) {
      const s = lab.scenarios.find((x) => x.name === r.name);
      assert.ok(s, r.name);
      assert.equal(s.url, `${rt()}${r.path}`);
      assert.ok(s.probeArgs.includes('inbound'));
    }
    assert.deepEqual(RUNTIME_SCENARIOS.map((r) => r.expect).sort(), [
      'in-cert-validity',
      'in-http-401',
      'in-http-403',
      'in-http-403',
      'in-http-404',
      'in-request-not-reaching',
    ]);
  });
});

describe('linkdoctor lab and the tenant commands against its fake tenant', () => {
  test('lab prints the service key file, and the tenant commands run with the key it wrote', async () => {
    const printed = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [CLI, 'lab'], {
        env: { ...process.env, NO_COLOR: '1', COLUMNS: '100' },
      });
      let out = '';
      const hang = setTimeout(() => p.kill('SIGKILL'), 90_000);
      p.stdout.on('data', (d: Buffer) => {
        out += d;
        if (/--tenant --service-key tenant-service-key\.json\n/.test(unwrap(out))) p.kill('SIGTERM');
      });
      p.once('error', reject);
      p.once('close', () => (clearTimeout(hang), resolve(unwrap(out))));
    });
    assert.match(
      printed,
      /fake tenant {3}API https:\/\/127\.0\.0\.1:\d+ \(token URL \/oauth\/token\), runtime host https:\/\/127\.0\.0\.1:\d+/,
    );
    assert.match(printed, /service key {3}tenant-service-key\.json/);
    // The key's JSON is cut with "…" at the line's end (text output fits 100 columns); the file holds it whole.
    const shown = /^ {4}(\{"oauth":.*)…$/m.exec(printed)?.[1];
    assert.ok(shown, printed);
    const written = readFileSync(lab.tenant.keyFile, 'utf8');
    assert.ok(written.startsWith(shown), `${shown}\nis not the start of\n${written}`);
    assert.deepEqual(Object.keys(JSON.parse(written).oauth).sort(), [
      'clientid',
      'clientsecret',
      'tokenurl',
      'url',
    ]);
    assert.match(
      printed,
      /NODE_EXTRA_CA_CERTS=lab-root-ca\.pem linkdoctor tenant failures --since 24h --service-key tenant-service-key\.json/,
    );

    const key = JSON.parse(readFileSync(lab.tenant.keyFile, 'utf8'));
    assert.equal(key.oauth.url, lab.tenant.url);
    const r = await runCliAsync(
      ['tenant', 'failures', '--since', '4d', '--json', '--service-key', lab.tenant.keyFile],
      {
        env: { NODE_EXTRA_CA_CERTS: lab.trustFile, HTTPS_PROXY: '', https_proxy: '' },
        timeout: 120_000,
      },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes(lab.tenant.secret), 'the client secret leaked');
    const ids = new Set(JSON.parse(r.stdout).groups.map((g: { id: string }) => g.id));
    for (const e of TENANT_ERRORS) if (e.expect) assert.ok(ids.has(e.expect), `${e.expect} missing`);
  });
});
