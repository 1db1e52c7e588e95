// OAuth2 client credentials: the token is fetched in a step of its own, with the same trust store,
// and neither the secret nor the token ever appears in the output.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makePki } from '../src/lab/pki.js';
import { runCliAsync } from './helpers.js';

const SECRET = 'client-secret-for-test';
const payload = Buffer.from(
  JSON.stringify({ client_id: 'sb-orders', scope: ['it-rt.ESBMessaging.send'] }),
).toString('base64url');
const TOKEN = `eyJhbGciOiJub25lIn0.${payload}.sig`;
let server: Server;
let base = '';
let dir = '';

// Where the token URL's redirect leads: it must get no request at all (the secret stays put).
let elsewhere = 0;
const reached: string[] = [];
const other = http.createServer((req, res) => {
  reached.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
  res.writeHead(200).end();
});

before(async () => {
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  elsewhere = (other.address() as { port: number }).port;
  const pki = await makePki();
  dir = mkdtempSync(join(tmpdir(), 'ld-oauth-'));
  writeFileSync(join(dir, 'trust.pem'), pki.root.certPem);
  server = createServer(
    { key: pki.local.keyPem, cert: `${pki.local.certPem}\n${pki.issuing.certPem}` },
    (req, res) => {
      if (req.url === '/oauth/moved') {
        res.writeHead(302, { location: `http://user:pw@127.0.0.1:${elsewhere}/login?session=abc#x` });
        return res.end();
      }
      if (req.url === '/oauth/token') {
        const ok =
          req.headers.authorization === `Basic ${Buffer.from(`sb-orders:${SECRET}`).toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify(
            ok
              ? { access_token: TOKEN, token_type: 'bearer', expires_in: 43199 }
              : { error: 'invalid_client', error_description: 'Bad credentials' },
          ),
        );
      }
      res.writeHead(req.headers.authorization === `Bearer ${TOKEN}` ? 200 : 401).end();
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => {
  server?.close();
  other.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const probe = (secret: string, tokenPath = '/oauth/token') =>
  runCliAsync(
    [
      'probe',
      `${base}/http/orders`,
      '--trust',
      join(dir, 'trust.pem'),
      '--json',
      '--oauth-token-url',
      `${base}${tokenPath}`,
      '--oauth-client-id',
      'sb-orders',
      '--oauth-secret-env',
      'SECRET',
    ],
    { env: { SECRET: secret } },
  );

test('a token from the service key tokenurl, then the call with it', async () => {
  const r = await probe(SECRET);
  assert.equal(r.status, 0, r.stdout);
  const json = JSON.parse(r.stdout);
  assert.deepEqual(
    json.steps.map((s: { name: string }) => s.name),
    ['dns', 'tcp', 'tls', 'oauth', 'http'],
  );
  assert.deepEqual(json.oauth.scopes, ['it-rt.ESBMessaging.send']);
  assert.equal(json.oauth.clientId, 'sb-orders');
  for (const secret of [SECRET, TOKEN, payload])
    assert.ok(!(r.stdout + r.stderr).includes(secret), 'no secret or token in the output');
});

test('a wrong client secret: the oauth step fails, the call is not made, oauth-token-failure', async () => {
  const r = await probe('wrong-secret');
  assert.equal(r.status, 1);
  const json = JSON.parse(r.stdout);
  const oauth = json.steps.find((s: { name: string }) => s.name === 'oauth');
  assert.match(oauth.detail, /answered 401 .*invalid_client/);
  assert.equal(json.steps.find((s: { name: string }) => s.name === 'http').ok, null);
  assert.equal(json.diagnoses[0].id, 'oauth-token-failure');
  assert.ok(!(r.stdout + r.stderr).includes('wrong-secret'));
});

test('a token URL that redirects: the URL is wrong, not the client id and secret; the redirect is not followed', async () => {
  const r = await probe(SECRET, '/oauth/moved');
  assert.equal(r.status, 1, r.stdout);
  const json = JSON.parse(r.stdout);
  const oauth = json.steps.find((s: { name: string }) => s.name === 'oauth');
  assert.match(
    oauth.detail,
    new RegExp(`answered 302 Found, a redirect to http://127\\.0\\.0\\.1:${elsewhere}/login \\(not followed`),
  );
  assert.match(oauth.detail, /the token URL is wrong, use the tokenurl of the service key/);
  assert.doesNotMatch(oauth.detail, /client id and secret of the service key/);
  assert.equal(json.diagnoses[0].id, 'oauth-token-failure');
  assert.equal(json.diagnoses[0].cause?.id, 'token-url');
  assert.deepEqual(reached, [], 'nothing went where the token URL redirects');
  // The Location's user, password, query and fragment are not shown.
  assert.doesNotMatch(r.stdout + r.stderr, /user:pw|session=abc|#x/);
  assert.ok(!(r.stdout + r.stderr).includes(SECRET));
});
