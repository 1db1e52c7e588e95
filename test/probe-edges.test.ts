// What a probe knows, said as what it saw: credentials it withheld itself on a redirect to another
// origin are not blamed on the user, a redirect the platform would not follow is diagnosed, and a
// probe that matches nothing says so in the probe's words, with the facts it saw.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadKb } from '../src/kb/load.js';
import { rawServer, runCliAsync, unwrap } from './helpers.js';

const kb = await loadKb();
const servers: http.Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A server on 127.0.0.1 that answers each request with `answer`. */
async function serve(answer: http.RequestListener): Promise<number> {
  const s = http.createServer(answer);
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

let target = 0; // 401 without credentials, 200 with them
let redirector = 0; // 302 to the target, another origin (another port)
let sameOrigin = 0; // 302 to its own /ok, which wants credentials
before(async () => {
  const auth: http.RequestListener = (req, res) => {
    if (req.url === '/redir') {
      res.writeHead(302, { location: `/ok` });
      return res.end();
    }
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      return res.end();
    }
    res.writeHead(200).end('ok');
  };
  target = await serve(auth);
  sameOrigin = await serve(auth);
  redirector = await serve((_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${target}/echo` });
    res.end();
  });
});

interface ProbeJson {
  ok: boolean;
  signals: { type: string; value: string }[];
  diagnoses: { id: string; confidence: number; cause?: { id: string }; fixes: string[] }[];
}

async function probe(url: string, ...args: string[]) {
  const r = await runCliAsync(['probe', url, '--timeout', '3', ...args], { env: { PW: 'hunter2pass' } });
  assert.doesNotMatch(r.stdout + r.stderr, /hunter2pass/, 'no secret in any output');
  return r;
}

test('credentials withheld on a cross-origin redirect: the redirect is diagnosed, with that cause, not wrong credentials', async () => {
  const follow = ['--max-redirs', '5'];
  const r = await probe(
    `http://127.0.0.1:${redirector}/`,
    ...follow,
    '-u',
    'bob',
    '--password-env',
    'PW',
    '--json',
  );
  assert.equal(r.status, 1, r.stderr);
  const json = JSON.parse(r.stdout) as ProbeJson;
  assert.ok(json.signals.some((s) => s.type === 'http.withheld' && s.value === 'cross-origin'));
  const [top, ...rest] = json.diagnoses;
  assert.equal(top?.id, 'out-http-redirect', JSON.stringify(json.diagnoses.map((d) => [d.id, d.confidence])));
  assert.equal(top.cause?.id, 'credentials-withheld');
  const own = kb.byId.get('out-http-redirect')!.fixes.find((f) => f.for?.includes('credentials-withheld'))!;
  assert.equal(top.fixes[0], own.text, "the cause's own fix first");
  // The 401 without credentials is no evidence of wrong ones: at most a distant second.
  const wrong = rest.find((d) => d.id === 'out-http-401');
  assert.ok(!wrong || wrong.confidence < 0.5, JSON.stringify(wrong));

  const text = await probe(`http://127.0.0.1:${redirector}/`, ...follow, '-u', 'bob', '--password-env', 'PW');
  assert.match(text.stdout, /✖ out-http-redirect/);
  assert.match(unwrap(text.stdout), /cause Credentials withheld on a redirect to another origin/);
  assert.doesNotMatch(text.stdout, /cause Wrong or undeployed credentials/);
});

test('the same redirect within the origin keeps the credentials: a 401 there is about them', async () => {
  const r = await probe(
    `http://127.0.0.1:${sameOrigin}/redir`,
    '--max-redirs',
    '5',
    '-u',
    'bob',
    '--password-env',
    'PW',
    '--json',
  );
  // The credentials went along and were taken: 200.
  assert.equal(r.status, 0, r.stdout);
  const none = await probe(`http://127.0.0.1:${sameOrigin}/redir`, '--max-redirs', '5', '--json');
  const json = JSON.parse(none.stdout) as ProbeJson;
  assert.ok(!json.signals.some((s) => s.type === 'http.withheld'), 'nothing was withheld');
  assert.equal(json.diagnoses[0]?.id, 'out-http-401');
});

test('outbound, a redirect is not followed by default: the HTTP receiver stops at it; --max-redirs follows', async () => {
  // The redirect leads to a healthy page: a probe that followed it would call the receiver healthy.
  const healthy = await serve((_req, res) => res.writeHead(200).end('ok'));
  const moved = await serve((_req, res) =>
    res.writeHead(301, { location: `http://127.0.0.1:${healthy}/` }).end(),
  );
  for (const args of [[], ['--max-redirs', '0']]) {
    const r = await probe(`http://127.0.0.1:${moved}/`, ...args);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /✖ out-http-redirect/);
    assert.doesNotMatch(r.stdout, /this text/);
    if (!args.length)
      assert.match(unwrap(r.stdout), /HTTP receiver follows no redirects; --max-redirs N follows them/);
  }
  const followed = await probe(`http://127.0.0.1:${moved}/`, '--max-redirs', '1');
  assert.equal(followed.status, 0, followed.stdout);
  // Toward the tenant (a sender's client, curl -L say) redirects are followed, up to 5.
  const inbound = await probe(`http://127.0.0.1:${moved}/`, '--direction', 'inbound');
  assert.equal(inbound.status, 0, inbound.stdout);
});

test('300 Multiple Choices and the other 3xx but 304 reach out-http-redirect, and its title and summary say so, not 301-308 only', async () => {
  const port = await serve((req, res) =>
    res.writeHead(Number(req.url!.slice(1)), { location: '/elsewhere' }).end(),
  );
  const entry = kb.byId.get('out-http-redirect')!;
  for (const status of [300, 305, 306]) {
    const r = await probe(`http://127.0.0.1:${port}/${status}`, '--json');
    const json = JSON.parse(r.stdout) as ProbeJson & { diagnoses: { id: string; title: string }[] };
    assert.equal(json.diagnoses[0]?.id, 'out-http-redirect', `${status}`);
    // The title the report prints covers the status that reached it.
    assert.doesNotMatch(json.diagnoses[0]!.title, /\(301, 302, 303, 307, 308\)/);
  }
  assert.match(entry.title, /a 3xx status other than 304 Not Modified/);
  assert.match(entry.summary, /300 Multiple Choices/);
  // The adapter's own message for a 300 is that entry too; a 304 is not.
  const text = (status: number) =>
    runCliAsync([
      'diagnose',
      '--json',
      `HTTP operation failed invoking https://docs.example.com/api with statusCode: ${status}`,
    ]);
  const top = async (status: number) =>
    (JSON.parse((await text(status)).stdout) as { diagnoses: { id: string }[] }).diagnoses[0]?.id;
  assert.equal(await top(300), 'out-http-redirect');
  assert.notEqual(await top(304), 'out-http-redirect');
});

test("a probe that matches nothing says so in the probe's words, with the facts it saw", async () => {
  const teapot = await serve((_req, res) => res.writeHead(418, "I'm a teapot").end());
  const r = await probe(`http://127.0.0.1:${teapot}/brew`);
  assert.equal(r.status, 1, r.stderr);
  // Text output wraps at 100 columns: the sentence read across its lines.
  assert.match(unwrap(r.stdout), /nothing in the knowledge base fits what the probe saw/);
  assert.match(
    unwrap(r.stdout),
    /Facts seen\s+status 418 · method GET · url http:\/\/127\.0\.0\.1:\d+\/brew · host 127\.0\.0\.1/,
  );
  assert.doesNotMatch(r.stdout, /this text|No facts/);
});

test('a 401 to a probe that sent no credentials names that cause; a 401 to credentials sent blames them', async () => {
  const strict = await serve((req, res) => {
    const right = `Basic ${Buffer.from('bob:the-right-one').toString('base64')}`;
    if (req.headers.authorization === right) return res.writeHead(200).end('ok');
    res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
  });
  const url = `http://127.0.0.1:${strict}/`;
  const none = JSON.parse((await probe(url, '--json')).stdout) as ProbeJson;
  assert.ok(none.signals.some((s) => s.type === 'http.credentials' && s.value === 'none'));
  assert.equal(none.diagnoses[0]?.id, 'out-http-401');
  assert.equal(none.diagnoses[0]?.cause?.id, 'no-credentials');
  const own = kb.byId.get('out-http-401')!.fixes.find((f) => f.for?.includes('no-credentials'))!;
  assert.equal(none.diagnoses[0]?.fixes[0], own.text, "that cause's fix first");
  const wrong = await probe(url, '-u', 'bob', '--password-env', 'PW', '--json');
  const json = JSON.parse(wrong.stdout) as ProbeJson;
  assert.ok(!json.signals.some((s) => s.type === 'http.credentials'), 'credentials were sent');
  assert.equal(json.diagnoses[0]?.cause?.id, 'credentials');
});

test('a 3xx without a Location (or with an empty one) is a redirect no client can follow: never healthy, in probe and check, both directions', async () => {
  const bare = await serve((req, res) => {
    const status = Number(req.url!.slice(1, 4));
    res.writeHead(status, req.url!.endsWith('/empty') ? { location: '' } : {}).end();
  });
  for (const path of ['/302', '/302/empty', '/301', '/307', '/300'])
    for (const direction of ['outbound', 'inbound']) {
      const url = `http://127.0.0.1:${bare}${path}`;
      const r = await probe(url, '--direction', direction, '--json');
      assert.equal(r.status, 1, `${path} ${direction}: ${r.stdout}`);
      const json = JSON.parse(r.stdout) as ProbeJson;
      assert.equal(json.ok, false);
      assert.ok(json.signals.some((s) => s.type === 'http.redirect' && s.value === 'no-location'));
      assert.equal(json.diagnoses[0]?.id, 'out-http-redirect', `${path} ${direction}`);
      assert.equal(json.diagnoses[0]?.cause?.id, 'no-location');
    }
  const text = await probe(`http://127.0.0.1:${bare}/302/empty`);
  assert.match(
    unwrap(text.stdout),
    /✖ http .*302 Found: a redirect that names no Location \(an empty Location header\)/,
  );
  assert.doesNotMatch(text.stdout, /All steps passed/);
  // A 304 is no redirect: left alone.
  assert.equal((await probe(`http://127.0.0.1:${bare}/304`)).status, 0);
  // check (the watch and /metrics read the same): red, with that cause.
  const dir = mkdtempSync(join(tmpdir(), 'ld-redir-'));
  try {
    writeFileSync(
      join(dir, 'inv.yaml'),
      `targets:\n  - url: http://127.0.0.1:${bare}/302\n  - url: http://127.0.0.1:${bare}/302/empty\n`,
    );
    const c = await runCliAsync(['check', join(dir, 'inv.yaml'), '--db', join(dir, 'h.db')]);
    assert.equal(c.status, 1, c.stdout + c.stderr);
    assert.match(c.stdout, /0 ok, 2 failing/);
    assert.equal(
      c.stdout.match(/out-http-redirect \(A redirect that names no Location\)/g)?.length,
      4,
      c.stdout,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an HTTP answer with a control character in a header is a header that cannot be parsed, not "not HTTP" and no TLS diagnosis', async () => {
  const closers: (() => unknown)[] = [];
  try {
    const answer = (text: string) => rawServer((s) => s.once('data', () => s.end(text)), closers);
    const ctl = await answer('HTTP/1.1 302 Found\r\nLocation: /x\x1b[2Jy\r\nContent-Length: 0\r\n\r\n');
    const r = await probe(`http://127.0.0.1:${ctl}/ctl`, '--json');
    assert.equal(r.status, 1, r.stdout);
    assert.ok(!r.stdout.includes('\x1b'), 'no control character reaches the terminal');
    const json = JSON.parse(r.stdout) as ProbeJson & { steps: { name: string; detail: string }[] };
    const step = json.steps.find((s) => s.name === 'http')!;
    assert.match(
      step.detail,
      /answered HTTP, but with a header that cannot be parsed \(Parse Error: Invalid header value char/,
    );
    assert.ok(!json.signals.some((s) => s.value === 'garbage'), JSON.stringify(json.signals));
    assert.ok(
      !json.diagnoses.some((d) => d.id.startsWith('tls-')),
      JSON.stringify(json.diagnoses.map((d) => d.id)),
    );
    // Something that is not HTTP at all is still said so.
    const ssh = await answer('SSH-2.0-OpenSSH_9.6\r\n');
    const other = JSON.parse((await probe(`http://127.0.0.1:${ssh}/`, '--json')).stdout) as typeof json;
    assert.match(
      other.steps.find((s) => s.name === 'http')!.detail,
      /answered in another protocol, not HTTP/,
    );
  } finally {
    closers.forEach((c) => c());
  }
});

test('another protocol behind http:// (a banner, binary data): "answered in another protocol", named when the banner tells, never "does not speak TLS"', async () => {
  const closers: (() => unknown)[] = [];
  try {
    const cases: [string | Buffer, RegExp, RegExp | undefined][] = [
      [
        'SSH-2.0-OpenSSH_9.6\r\n',
        /^127\.0\.0\.1:\d+ answered in another protocol, not HTTP(?! \()/,
        /this port speaks SSH, not what http:\/\/ expects \(it greets with "SSH-2\.0-OpenSSH_9\.6"\)/,
      ],
      [
        '220 mail.example.com ESMTP Postfix\r\n',
        /answered in another protocol, not HTTP(?! \()/,
        /this port speaks SMTP, not what http:\/\/ expects \(it greets with "220 mail\.example\.com ESMTP Postfix"\)/,
      ],
      [
        'HELLO from a protocol nobody knows\r\n',
        /answered in another protocol, not HTTP \(it sent "HELLO from/,
        undefined,
      ],
      [
        Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 10]),
        /answered in another protocol, not HTTP \(it sent binary data\)/,
        undefined,
      ],
    ];
    for (const [banner, detail, named] of cases) {
      // The server speaks first, as SSH and SMTP do, and to every connection (the scheme step's too).
      const port = await rawServer((s) => s.write(banner), closers);
      const r = await probe(`http://127.0.0.1:${port}/`, '--json');
      assert.equal(r.status, 1, r.stdout);
      const json = JSON.parse(r.stdout) as ProbeJson & { steps: { name: string; detail: string }[] };
      const http = json.steps.find((s) => s.name === 'http')!;
      assert.match(http.detail, detail);
      if (named) assert.match(http.detail, named);
      assert.doesNotMatch(r.stdout, /speak TLS/);
      assert.equal(json.diagnoses[0]?.id, 'wrong-scheme', JSON.stringify(json.diagnoses.map((d) => d.id)));
      assert.ok(
        !json.diagnoses.some((d) => d.id.startsWith('tls-')),
        JSON.stringify(json.diagnoses.map((d) => d.id)),
      );
    }
  } finally {
    closers.forEach((c) => c());
  }
});

test("a redirect's Location with a user and password: dropped, never sent as Basic, not shown; the report says so", async () => {
  const got: (string | undefined)[] = [];
  const next = await serve((req, res) => {
    got.push(req.headers.authorization);
    res.writeHead(req.headers.authorization ? 200 : 401, { 'www-authenticate': 'Basic realm="x"' }).end();
  });
  // The userinfo trick: "127.0.0.1:PORT" is the user and password, the host is the one after the @.
  const trick = await serve((_req, res) =>
    res.writeHead(302, { location: `http://127.0.0.1:4711@127.0.0.1:${next}/ui` }).end(),
  );
  for (const extra of [[], ['--location-trusted']]) {
    got.length = 0;
    const r = await probe(`http://127.0.0.1:${trick}/b`, '--max-redirs', '3', '-v', ...extra);
    assert.equal(got.length, 1, r.stdout);
    assert.equal(got[0], undefined, 'no Authorization made up from the Location');
    assert.equal(r.status, 1, r.stdout);
    assert.match(unwrap(r.stdout), /named a user and password in its Location: dropped, not sent/);
    assert.doesNotMatch(r.stdout, /4711@/);
  }
  // With the user's own credentials: only those would go on (with --location-trusted), never the Location's.
  got.length = 0;
  await probe(`http://127.0.0.1:${trick}/b`, '--max-redirs', '3', '-u', 'bob', '--password-env', 'PW');
  assert.deepEqual(got, [undefined], 'withheld, as the note says');
  got.length = 0;
  await probe(
    `http://127.0.0.1:${trick}/b`,
    '--max-redirs',
    '3',
    '-u',
    'bob',
    '--password-env',
    'PW',
    '--location-trusted',
  );
  assert.deepEqual(got, [`Basic ${Buffer.from('bob:hunter2pass').toString('base64')}`]);
});

test('an SSH server that sends its banner and then stalls: the stall named with the banner, not a connection that could not be opened (attack S12 A8)', async () => {
  const closers: (() => unknown)[] = [];
  const port = await rawServer((s) => {
    s.write('SSH-2.0-OpenSSH_8.0\r\n');
    s.on('data', () => undefined);
  }, closers);
  try {
    const r = await runCliAsync(['probe', `sftp://127.0.0.1:${port}/`, '--timeout', '1.5']);
    assert.equal(r.status, 1, r.stderr);
    const text = unwrap(r.stdout);
    assert.match(text, /✔ tcp .*connected to/);
    assert.match(
      text.replace(/\s+/g, ' '),
      /✖ ssh \d+ ms 127\.0\.0\.1:\d+ sent its identification \("SSH-2\.0-OpenSSH_8\.0"\) and then stalled in the key exchange, which did not finish within 1\.5 s: the TCP connection and the server's banner got through, so no firewall blocks the port/,
    );
    assert.doesNotMatch(text, /could not be opened|Connect timeout/);
    const json = JSON.parse(
      (await runCliAsync(['probe', `sftp://127.0.0.1:${port}/`, '--timeout', '1.5', '--json'])).stdout,
    );
    assert.equal(json.ssh.banner, 'SSH-2.0-OpenSSH_8.0');
    assert.notEqual(json.diagnoses[0]?.cause?.id, 'connect-timeout');
  } finally {
    closers.forEach((c) => c());
  }
});

test('an IPv6 address is written in brackets in the steps ([::1]:1), and a port above 65535 is said to be the problem (attack S12 A18)', async () => {
  const v6 = await runCliAsync(['probe', 'https://[::1]:1/', '--timeout', '2']);
  assert.equal(v6.status, 1, v6.stderr);
  assert.match(v6.stdout, /✖ tcp +\d+ ms {2}\[::1\]:1 refused the connection/);
  const port = await runCliAsync(['probe', 'https://127.0.0.1:99999/']);
  assert.deepEqual(
    [port.status, port.stderr],
    [2, 'linkdoctor: "https://127.0.0.1:99999/": port 99999 is out of range (a port is 1 to 65535)\n'],
  );
});

test("a 200 that is a sign-in page (a password form, or an identity provider's page a redirect ended on) is no pass: login-redirect (attack S12 A16)", async () => {
  const app = await serve((req, res) => {
    const here = `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}`;
    if (req.url === '/form')
      return res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<html><form method="post"><input name="user"><input name=pw type="password"></form></html>');
    if (req.url === '/app')
      return res.writeHead(302, { location: `${here}/saml2/idp/sso?SAMLRequest=abc` }).end();
    if (req.url === '/entra')
      return res
        .writeHead(302, { location: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize?x=1' })
        .end();
    if (req.url === '/google')
      return res.writeHead(302, { location: 'https://accounts.google.com/o/oauth2/v2/auth?x=1' }).end();
    if (req.url?.startsWith('/saml2/idp/sso'))
      return res.writeHead(200, { 'content-type': 'text/html' }).end('<html><title>Sign in</title></html>');
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><form><input name="q"></form></html>');
  });
  const loginCause = async (path: string, ...args: string[]) => {
    const r = await probe(`http://127.0.0.1:${app}${path}`, ...args);
    assert.equal(r.status, 1, `${path}: ${r.stdout}`);
    assert.doesNotMatch(r.stdout, /All steps passed/);
    const j = JSON.parse(
      (await probe(`http://127.0.0.1:${app}${path}`, '--json', ...args)).stdout,
    ) as ProbeJson;
    assert.equal(j.ok, false);
    assert.deepEqual(
      [j.diagnoses[0]?.id, j.diagnoses[0]?.cause?.id],
      ['out-http-redirect', 'login-redirect'],
      path,
    );
    return r;
  };
  const form = await loginCause('/form');
  assert.match(
    unwrap(form.stdout),
    /✖ http +\d+ ms {2}200 OK, but the page is a sign-in form \(it has a password field\)/,
  );
  const followed = await loginCause('/app', '--max-redirs', '3');
  assert.match(unwrap(followed.stdout), /200 OK, but the redirect ended on 127\.0\.0\.1:\d+'s sign-in page/);
  // Not followed (the HTTP receiver's way): the Location names the sign-in page; every provider of the one list.
  for (const path of ['/app', '/entra', '/google']) await loginCause(path);
  // A page without a password field, and no redirect: a pass.
  const plain = await probe(`http://127.0.0.1:${app}/search`);
  assert.equal(plain.status, 0, plain.stdout);
  assert.match(plain.stdout, /All steps passed/);
});

test('one list of sign-in URLs: a pasted Location and a HAR redirect to accounts.google.com are login-redirect too', async () => {
  const text = 'HTTP/1.1 302 Found\nLocation: https://accounts.google.com/o/oauth2/v2/auth?client_id=x';
  const d = await runCliAsync(['diagnose', '--json', '--direction', 'outbound', text]);
  const j = JSON.parse(d.stdout) as ProbeJson;
  assert.deepEqual([j.diagnoses[0]?.id, j.diagnoses[0]?.cause?.id], ['out-http-redirect', 'login-redirect']);
  const dir = mkdtempSync(join(tmpdir(), 'ld-har-'));
  try {
    const har = join(dir, 'sso.har');
    const entry = {
      startedDateTime: '2026-12-01T10:00:00.000Z',
      request: { method: 'GET', url: 'https://app.example.com/api/orders', headers: [] },
      response: {
        status: 302,
        statusText: 'Found',
        httpVersion: 'HTTP/1.1',
        headers: [{ name: 'Location', value: 'https://accounts.google.com/o/oauth2/v2/auth?client_id=x' }],
        content: { mimeType: 'text/html', text: '' },
      },
    };
    writeFileSync(har, JSON.stringify({ log: { version: '1.2', entries: [entry] } }));
    const s = await runCliAsync(['scan', '--json', har]);
    const groups = (JSON.parse(s.stdout) as { groups: { id: string }[] }).groups;
    assert.deepEqual(
      groups.map((g) => g.id),
      ['out-http-redirect'],
      s.stdout.slice(0, 500),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an IPv6 address is written [::1]:PORT wherever a user reads it: the tls step, trust add-from-site and its failures (one helper, hostPort)', async () => {
  const { createServer: netServer } = await import('node:net');
  const { createServer: tlsServer } = await import('node:tls');
  const { makePki } = await import('../src/lab/pki.js');
  const listen = async (s: import('node:net').Server) => {
    servers.push(s as unknown as http.Server);
    await new Promise<void>((resolve) => s.listen(0, '::1', resolve));
    return (s.address() as AddressInfo).port;
  };
  // A server on ::1 that answers a TLS hello with bytes that are no TLS.
  const garbage = await listen(
    netServer((socket) => socket.once('data', () => socket.end('\x00\x01\x02 hello\r\n'))),
  );
  const probed = await runCliAsync(['probe', `https://[::1]:${garbage}/`, '--timeout', '3']);
  assert.equal(probed.status, 1, probed.stderr);
  assert.match(
    probed.stdout,
    new RegExp(`✖ tls +\\d+ ms {2}\\[::1\\]:${garbage} does not speak TLS`),
    probed.stdout,
  );
  // trust add-from-site: the chain a TLS server on ::1 sent, and a refused port.
  const pki = await makePki();
  const tls = await listen(
    tlsServer({ key: pki.local.keyPem, cert: pki.local.certPem + pki.issuing.certPem }, (s) => s.end()),
  );
  const shown = await runCliAsync(['trust', 'add-from-site', `[::1]:${tls}`]);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^\\[::1\\]:${tls} sent 2 certificates`, 'm'), shown.stdout);
  const refused = await runCliAsync(['trust', 'add-from-site', '[::1]:1', '--timeout', '3']);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /\[::1\]:1 refused the connection/);
  assert.doesNotMatch(shown.stdout + refused.stderr + probed.stdout, /(?<!\[)::1:\d/);
});
