// Secrets of `linkdoctor serve` go only to hosts the operator named (attack finding 30): POST
// /api/probe names a secret (passwordEnv, oauthSecretEnv) and a target, and the server sends the
// secret only to the hosts `--secret-targets` (or the inventory) binds it to, never in clear text over
// http:// without --plain-http-credentials, never on to a redirect's host that is not bound. Two real
// HTTP servers on 127.0.0.1 stand for the bound host and an attacker's; each records what it got.
import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { FtpSrv } from 'ftp-srv';
import forge from 'node-forge';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServeOptions } from '../src/serve/app.js';
import { mountRooms } from '../src/serve/rooms.js';
import { loadKb, type Kb } from '../src/kb/load.js';
import type { WatchServeOptions } from '../src/watch/room.js';
import { freePort, runCliAsync, tempDirs } from './helpers.js';

const PASSWORD = 'pw-9f3c1a-never-elsewhere';
const OAUTH_SECRET = 'oauth-secret-77d2e0-never-elsewhere';
const tmp = tempDirs();
let kb: Kb;

/** A loopback HTTP server that records each request's path and Authorization header. */
interface Recorder {
  server: Server;
  port: number;
  got: { path: string; authorization?: string; body: string }[];
  /** Everything it received, headers and bodies, as one text: for "no password bytes". */
  raw: () => string;
}

async function recorder(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => void r.end('ok'),
): Promise<Recorder> {
  const got: Recorder['got'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      got.push({
        path: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        body,
      });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    got,
    raw: () => got.map((g) => `${g.path} ${g.authorization ?? ''} ${g.body}`).join('\n'),
  };
}

/** Whether `text` holds the secret in any form a request carries it: plain, or in Basic's base64. */
function holds(text: string, secret: string, user = 'u'): boolean {
  return (
    text.includes(secret) ||
    text.includes(Buffer.from(`${user}:${secret}`).toString('base64')) ||
    text.includes(Buffer.from(`client:${secret}`).toString('base64'))
  );
}

async function server(opts: Partial<ServeOptions & WatchServeOptions> = {}): Promise<FastifyInstance> {
  const app = await buildServer({ host: '127.0.0.1', kb, ...opts });
  await mountRooms(app);
  return app;
}

const post = (app: FastifyInstance, body: unknown) =>
  app.inject({
    method: 'POST',
    url: '/api/probe',
    headers: { host: '127.0.0.1', 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });

let bound: Recorder;
let attacker: Recorder;
const closers: (() => unknown)[] = [];
const require = createRequire(import.meta.url);

before(async () => {
  kb = await loadKb();
  process.env.LINKDOCTOR_T_PASSWORD = PASSWORD;
  process.env.LINKDOCTOR_T_OAUTH = OAUTH_SECRET;
  bound = await recorder((req, res) => {
    if (req.url === '/token')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"access_token":"tok-from-bound","token_type":"Bearer","expires_in":60}');
    if (req.url === '/hop') return void res.writeHead(302, { location: hopTo }).end();
    res.end('ok');
  });
  attacker = await recorder((req, res) => {
    if (req.url === '/token')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"access_token":"tok-from-attacker","token_type":"Bearer","expires_in":60}');
    res.end('ok');
  });
  closers.push(
    () => bound.server.close(),
    () => attacker.server.close(),
  );
});
after(() => {
  delete process.env.LINKDOCTOR_T_PASSWORD;
  delete process.env.LINKDOCTOR_T_OAUTH;
  delete process.env.LINKDOCTOR_T_STORE;
  for (const c of closers) c();
});
let hopTo = '';

const reset = () => {
  bound.got.length = 0;
  attacker.got.length = 0;
};

describe('POST /api/probe: a secret goes only to the hosts it is bound to', () => {
  test('a secret bound to nothing cannot be used at all (403, nothing sent anywhere)', async () => {
    const app = await server({ plainHttpCredentials: true });
    try {
      reset();
      const r = await post(app, {
        url: `http://127.0.0.1:${bound.port}/`,
        user: 'u',
        passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(
        r.json().detail,
        'LINKDOCTOR_T_PASSWORD is bound to no host, so no request may use it (serve --secret-targets ' +
          'LINKDOCTOR_T_PASSWORD=HOST[:PORT] binds it, and so does an inventory module that names it, for ' +
          "the module's targets)",
      );
      assert.equal(bound.got.length + attacker.got.length, 0);
    } finally {
      await app.close();
    }
  });

  test("another host than the bound one: 403 naming the variable's hosts and the flag; the attacker gets nothing, the bound host the credentials", async () => {
    const app = await server({
      secretTargets: [`LINKDOCTOR_T_PASSWORD=127.0.0.1:${bound.port}`],
      plainHttpCredentials: true,
    });
    try {
      reset();
      let r = await post(app, {
        url: `http://127.0.0.1:${attacker.port}/`,
        user: 'u',
        passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(
        r.json().detail,
        `LINKDOCTOR_T_PASSWORD is bound to 127.0.0.1:${bound.port}, not to 127.0.0.1:${attacker.port}, ` +
          'where the Basic credentials would go: a request may send it only to the hosts it is bound to ' +
          '(serve --secret-targets LINKDOCTOR_T_PASSWORD=HOST[:PORT] binds it)',
      );
      // The same host written otherwise (localhost is another name; the port decides) and other schemes.
      for (const url of [
        `http://localhost:${bound.port}/`,
        `sftp://127.0.0.1:${attacker.port}/`,
        `ftp://127.0.0.1:${attacker.port}/`,
        `smtp://127.0.0.1:${attacker.port}`,
      ]) {
        r = await post(app, { url, user: 'u', passwordEnv: 'LINKDOCTOR_T_PASSWORD', timeout: 2 });
        assert.equal(r.statusCode, 403, url);
      }
      assert.equal(attacker.got.length, 0);
      assert.equal(bound.got.length, 0);

      r = await post(app, {
        url: `http://127.0.0.1:${bound.port}/`,
        user: 'u',
        passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().ok, true);
      assert.deepEqual(
        bound.got.map((g) => g.authorization),
        [`Basic ${Buffer.from(`u:${PASSWORD}`).toString('base64')}`],
      );
      assert.ok(!holds(r.body, PASSWORD), 'the answer does not echo the password');
      assert.equal(attacker.got.length, 0);
      assert.ok(!holds(attacker.raw(), PASSWORD));
    } finally {
      await app.close();
    }
  });

  test('Basic credentials over http:// refused without --plain-http-credentials (sent in clear), even to the bound host', async () => {
    const app = await server({ secretTargets: [`LINKDOCTOR_T_PASSWORD=127.0.0.1`] });
    try {
      reset();
      const r = await post(app, {
        url: `http://127.0.0.1:${bound.port}/`,
        user: 'u',
        passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(
        r.json().detail,
        `the Basic credentials (LINKDOCTOR_T_PASSWORD) would go to http://127.0.0.1:${bound.port} in clear ` +
          'text, readable by anyone on the way: probe https://, or start serve with --plain-http-credentials to allow it',
      );
      assert.equal(bound.got.length, 0);
    } finally {
      await app.close();
    }
  });

  test('a redirect to another host: locationTrusted forwards the credentials only to a host bound too', async () => {
    hopTo = `http://127.0.0.1:${attacker.port}/landing`;
    const body = {
      url: `http://127.0.0.1:${bound.port}/hop`,
      user: 'u',
      passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      locationTrusted: true,
      maxRedirs: 3,
    };
    let app = await server({
      secretTargets: [`LINKDOCTOR_T_PASSWORD=127.0.0.1:${bound.port}`],
      plainHttpCredentials: true,
    });
    try {
      reset();
      const r = await post(app, body);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(bound.got.length, 1);
      assert.ok(bound.got[0]!.authorization, 'the bound host got the credentials');
      assert.deepEqual(
        attacker.got.map((g) => g.path),
        ['/landing'],
        'the redirect was followed',
      );
      assert.equal(attacker.got[0]!.authorization, undefined, 'no Authorization header to the attacker');
      assert.ok(!holds(attacker.raw(), PASSWORD));
      assert.ok(
        r
          .json()
          .http.notes.includes(
            `Withheld from http://127.0.0.1:${attacker.port}: the Basic credentials (127.0.0.1:${attacker.port} is not one of the hosts LINKDOCTOR_T_PASSWORD is bound to by --secret-targets).`,
          ),
        JSON.stringify(r.json().http.notes),
      );
    } finally {
      await app.close();
    }
    // Bound too: the operator named it, so locationTrusted sends them on.
    app = await server({
      secretTargets: [`LINKDOCTOR_T_PASSWORD=127.0.0.1:${bound.port},127.0.0.1:${attacker.port}`],
      plainHttpCredentials: true,
    });
    try {
      reset();
      const r = await post(app, body);
      assert.equal(r.statusCode, 200, r.body);
      assert.ok(attacker.got[0]!.authorization);
    } finally {
      await app.close();
    }
  });

  test('a credential header of the request (Authorization, X-API-Key): not over http:// without --plain-http-credentials, and never carried on by locationTrusted, as it is bound to no host (attack S12 A12)', async () => {
    const TOKEN_VALUE = 'Bearer hdr-token-5e1b-never-elsewhere';
    let app = await server();
    try {
      reset();
      const r = await post(app, {
        url: `http://127.0.0.1:${bound.port}/`,
        header: [`Authorization: ${TOKEN_VALUE}`, 'X-API-Key: key-5e1b'],
      });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(
        r.json().detail,
        `the Authorization and X-API-Key headers (body/header) would go to http://127.0.0.1:${bound.port} in clear ` +
          'text, readable by anyone on the way: probe https://, or start serve with --plain-http-credentials to allow it',
      );
      assert.equal(bound.got.length, 0, 'nothing sent');
      // A protocol keyword is no credential: X-CSRF-Token: Fetch goes.
      const fetch = await post(app, {
        url: `http://127.0.0.1:${bound.port}/`,
        header: ['X-CSRF-Token: Fetch'],
      });
      assert.equal(fetch.statusCode, 200, fetch.body);
    } finally {
      await app.close();
    }
    hopTo = `http://127.0.0.1:${attacker.port}/landing`;
    app = await server({ plainHttpCredentials: true });
    try {
      reset();
      const r = await post(app, {
        url: `http://127.0.0.1:${bound.port}/hop`,
        header: [`Authorization: ${TOKEN_VALUE}`],
        locationTrusted: true,
        maxRedirs: 3,
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(bound.got[0]?.authorization, TOKEN_VALUE, 'the origin named got the header');
      assert.deepEqual(
        attacker.got.map((g) => g.path),
        ['/landing'],
      );
      assert.equal(attacker.got[0]!.authorization, undefined, 'not carried on to the redirect');
      assert.ok(!attacker.raw().includes('hdr-token-5e1b'));
      assert.ok(!r.body.includes('hdr-token-5e1b'), 'never in the answer');
      assert.ok(
        r
          .json()
          .http.notes.some((n: string) =>
            n.includes("a request's own credential headers are bound to no host by --secret-targets"),
          ),
        JSON.stringify(r.json().http.notes),
      );
    } finally {
      await app.close();
    }
  });

  test('OAuth: the secret only to a bound token URL, the token it buys only to a bound target', async () => {
    const oauth = (tokenPort: number, targetPort: number) => ({
      url: `http://127.0.0.1:${targetPort}/api`,
      oauthTokenUrl: `http://127.0.0.1:${tokenPort}/token`,
      oauthClientId: 'client',
      oauthSecretEnv: 'LINKDOCTOR_T_OAUTH',
    });
    let app = await server({
      secretTargets: [`LINKDOCTOR_T_OAUTH=127.0.0.1:${bound.port}`],
      plainHttpCredentials: true,
    });
    try {
      reset();
      let r = await post(app, oauth(attacker.port, bound.port));
      assert.equal(r.statusCode, 403, r.body);
      assert.match(r.json().detail, /where the OAuth client secret would go/);
      r = await post(app, oauth(bound.port, attacker.port));
      assert.equal(r.statusCode, 403, r.body);
      assert.match(
        r.json().detail,
        new RegExp(`not to 127\\.0\\.0\\.1:${attacker.port}, where the OAuth token it fetches would go`),
      );
      assert.equal(attacker.got.length, 0);
      assert.equal(bound.got.length, 0);
      r = await post(app, oauth(bound.port, bound.port));
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(
        bound.got.map((g) => [g.path, g.authorization]),
        [
          ['/token', `Basic ${Buffer.from(`client:${OAUTH_SECRET}`).toString('base64')}`],
          ['/api', 'Bearer tok-from-bound'],
        ],
      );
    } finally {
      await app.close();
    }
    // Without --plain-http-credentials: an http:// token URL is refused (the secret in clear).
    app = await server({ secretTargets: [`LINKDOCTOR_T_OAUTH=127.0.0.1:${bound.port}`] });
    try {
      reset();
      const r = await post(app, oauth(bound.port, bound.port));
      assert.equal(r.statusCode, 403, r.body);
      assert.match(
        r.json().detail,
        /^the OAuth client secret \(LINKDOCTOR_T_OAUTH\) would go to http:\/\/127\.0\.0\.1:\d+ in clear text/,
      );
      assert.equal(bound.got.length, 0);
    } finally {
      await app.close();
    }
  });

  test("an inventory module's password_env binds its targets; GET /api/probe/options lists each secret with its hosts", async () => {
    const dir = tmp('ld-secrets-');
    const inv = join(dir, 'inv.yaml');
    writeFileSync(
      inv,
      `modules:\n  basic: { user: u, password_env: LINKDOCTOR_T_PASSWORD, timeout: 2s }\n` +
        `targets:\n  - { url: "http://127.0.0.1:${bound.port}/", module: basic }\n`,
    );
    const app = await server({
      inventory: inv,
      db: join(dir, 'h.db'),
      everyMs: 3_600_000,
      secretTargets: ['LINKDOCTOR_T_OAUTH=auth.example.com,[::1]:8443'],
      plainHttpCredentials: true,
    });
    try {
      const o = await app.inject({ url: '/api/probe/options', headers: { host: '127.0.0.1' } });
      assert.equal(o.statusCode, 200);
      assert.deepEqual(o.json().secretHosts, {
        LINKDOCTOR_T_OAUTH: ['auth.example.com', '[::1]:8443'],
        LINKDOCTOR_T_PASSWORD: [`127.0.0.1:${bound.port}`],
      });
      assert.equal(o.json().plainHttpCredentials, true);
      assert.ok(!holds(o.body, PASSWORD) && !o.body.includes(OAUTH_SECRET));
      reset();
      let r = await post(app, {
        url: `http://127.0.0.1:${attacker.port}/`,
        user: 'u',
        passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      });
      assert.equal(r.statusCode, 403);
      assert.match(r.json().detail, new RegExp(`is bound to 127\\.0\\.0\\.1:${bound.port}, not to`));
      r = await post(app, {
        url: `http://127.0.0.1:${bound.port}/`,
        user: 'u',
        passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(attacker.got.length, 0);
    } finally {
      await app.close();
    }
  });
});

describe('plain FTP', () => {
  test('a server without AUTH TLS: the bound password is not sent in clear text unless --plain-http-credentials', async () => {
    const port = await freePort();
    const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
    const ftp = new FtpSrv({
      url: `ftp://127.0.0.1:${port}`,
      pasv_url: '127.0.0.1',
      pasv_min: 42000,
      pasv_max: 42999,
      tls: false,
      greeting: 'plain FTP',
      log: quiet as never,
    });
    const logins: string[] = [];
    const root = tmp('ld-ftp-root-');
    ftp.on('login', ({ username, password }, resolve, reject) => {
      logins.push(`${username}:${password}`);
      return password === PASSWORD ? resolve({ root }) : reject(new Error('Login incorrect.'));
    });
    ftp.on('client-error', () => undefined);
    await ftp.listen();
    const body = {
      url: `ftp://127.0.0.1:${port}/`,
      user: 'u',
      passwordEnv: 'LINKDOCTOR_T_PASSWORD',
      timeout: 3,
    };
    let app = await server({ secretTargets: [`LINKDOCTOR_T_PASSWORD=127.0.0.1:${port}`] });
    try {
      const r = await post(app, body);
      assert.equal(r.statusCode, 200, r.body);
      const login = (r.json() as { steps: { name: string; ok: boolean; detail: string }[] }).steps.find(
        (s) => s.name === 'login',
      )!;
      assert.equal(login.ok, false);
      assert.equal(
        login.detail,
        'the login of u was not sent: the server offers no AUTH TLS, so its password would go in clear text ' +
          '(this server sends no password in clear text without --plain-http-credentials)',
      );
      assert.deepEqual(logins, [], 'no USER/PASS reached the server');
    } finally {
      await app.close();
    }
    app = await server({
      secretTargets: [`LINKDOCTOR_T_PASSWORD=127.0.0.1:${port}`],
      plainHttpCredentials: true,
    });
    try {
      const r = await post(app, body);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().ok, true, r.body);
      assert.deepEqual(logins, [`u:${PASSWORD}`]);
    } finally {
      await app.close();
      await ftp.close();
    }
  });
});

describe('POST /api/probe: a secret opens only the files it is bound to (attack S2)', () => {
  const STORE_PASSWORD = 'store-pw-51c0-never-elsewhere';
  /** A PKCS#12 trust store of one real CA certificate (Node's list), under `password`. */
  function pkcs12Store(file: string, password: string): string {
    const cert = rootCertificates
      .map((pem) => {
        try {
          return forge.pki.certificateFromPem(pem);
        } catch {
          return undefined; // an EC certificate: forge reads RSA ones only
        }
      })
      .find(Boolean)!;
    const asn1 = forge.pkcs12.toPkcs12Asn1(null, [cert], password, { algorithm: '3des' });
    writeFileSync(file, Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
    return file;
  }

  test("another secret of the server tried as a store password on the caller's file: 403 before the file is read, so no guess is confirmed", async () => {
    process.env.LINKDOCTOR_T_STORE = STORE_PASSWORD;
    const dir = tmp('ld-secret-files-');
    const store = pkcs12Store(join(dir, 'store.p12'), STORE_PASSWORD);
    // The caller's store, made with a guess of the operator's OAuth secret (here: the right one).
    const guess = pkcs12Store(join(dir, 'guess.p12'), OAUTH_SECRET);
    const closed = await freePort();
    const app = await server({
      secretTargets: [`LINKDOCTOR_T_STORE=${store}`, `LINKDOCTOR_T_OAUTH=127.0.0.1`],
    });
    try {
      const url = `https://127.0.0.1:${closed}/`;
      let r = await post(app, { url, trust: guess, trustPasswordEnv: 'LINKDOCTOR_T_OAUTH' });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(
        r.json().detail,
        'LINKDOCTOR_T_OAUTH is bound to no file, so no request may use it as the trust store password ' +
          '(serve --secret-targets LINKDOCTOR_T_OAUTH=/PATH/TO/FILE binds it, and so does an inventory module ' +
          'that names it with its file)',
      );
      r = await post(app, { url, trust: guess, trustPasswordEnv: 'LINKDOCTOR_T_STORE' });
      assert.equal(r.statusCode, 403, r.body);
      assert.match(
        r.json().detail,
        /^LINKDOCTOR_T_STORE is bound to \S+store\.p12, not to \S+guess\.p12, which it would open as the trust store password/,
      );
      // The same holds for a client certificate's password and an SSH key's passphrase.
      r = await post(app, { url, clientCert: guess, clientCertPasswordEnv: 'LINKDOCTOR_T_OAUTH' });
      assert.equal(r.statusCode, 403, r.body);
      r = await post(app, {
        url: `sftp://127.0.0.1:${closed}/`,
        user: 'u',
        identity: guess,
        identityPassphraseEnv: 'LINKDOCTOR_T_OAUTH',
      });
      assert.equal(r.statusCode, 403, r.body);
      // A password with no file to open is a bad request.
      r = await post(app, { url, trustPasswordEnv: 'LINKDOCTOR_T_STORE' });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(
        r.json().detail,
        'body/trustPasswordEnv goes with body/trust: it is the password of that file',
      );
      // The file it is bound to opens, by its own name or through a symbolic link.
      r = await post(app, { url, trust: store, trustPasswordEnv: 'LINKDOCTOR_T_STORE', timeout: 2 });
      assert.equal(r.statusCode, 200, r.body);
      symlinkSync(store, join(dir, 'link.p12'));
      r = await post(app, {
        url,
        trust: join(dir, 'link.p12'),
        trustPasswordEnv: 'LINKDOCTOR_T_STORE',
        timeout: 2,
      });
      assert.equal(r.statusCode, 200, r.body);
      for (const secret of [STORE_PASSWORD, OAUTH_SECRET]) assert.ok(!r.body.includes(secret));
    } finally {
      await app.close();
    }
  });

  test("serve --inventory reads the inventory and its modules' files once at start, for the probe and watch rooms", async () => {
    process.env.LINKDOCTOR_T_STORE = STORE_PASSWORD;
    const dir = tmp('ld-secret-once-');
    pkcs12Store(join(dir, 'store.p12'), STORE_PASSWORD);
    const inv = join(dir, 'inv.yaml');
    writeFileSync(
      inv,
      `modules:\n  tls: { trust: store.p12, trust_password_env: LINKDOCTOR_T_STORE, timeout: 2s }\n` +
        `  basic: { user: u, password_env: LINKDOCTOR_T_PASSWORD, timeout: 2s }\n` +
        `targets:\n  - { url: "https://127.0.0.1:${await freePort()}/", module: tls }\n` +
        `  - { url: "http://127.0.0.1:${bound.port}/", module: basic }\n`,
    );
    // Every open of a file of that folder, whichever fs call the readers use.
    const opened: string[] = [];
    const fs = require('node:fs') as typeof import('node:fs');
    const fsp = require('node:fs/promises') as typeof import('node:fs/promises');
    const { open } = fsp;
    const { openSync, readFileSync } = fs;
    const seen = (f: unknown) => String(f).startsWith(dir) && opened.push(String(f).slice(dir.length + 1));
    type Any = (...a: unknown[]) => unknown;
    const counted =
      (fn: Any) =>
      (f: unknown, ...a: unknown[]) => (seen(f), fn(f, ...a));
    Object.assign(fsp, { open: counted(open as Any) });
    Object.assign(fs, { openSync: counted(openSync as Any), readFileSync: counted(readFileSync as Any) });
    syncBuiltinESMExports();
    let app: FastifyInstance | undefined;
    try {
      app = await server({ inventory: inv, db: join(dir, 'h.db'), everyMs: 3_600_000 });
    } finally {
      Object.assign(fsp, { open });
      Object.assign(fs, { openSync, readFileSync });
      syncBuiltinESMExports();
    }
    try {
      assert.deepEqual(opened.sort(), ['inv.yaml', 'store.p12']);
      // Both rooms have it: the secrets bound to its targets, the watch room's targets.
      const o = await app.inject({ url: '/api/probe/options', headers: { host: '127.0.0.1' } });
      assert.deepEqual(o.json().secretHosts.LINKDOCTOR_T_PASSWORD, [`127.0.0.1:${bound.port}`]);
      const m = await app.inject({
        url: '/probe?target=http://x/&module=nosuch',
        headers: { host: '127.0.0.1' },
      });
      assert.match(m.body, /Unknown module "nosuch" \(modules: tls, basic\)/);
    } finally {
      await app.close();
    }
  });

  test("an inventory module's trust with its trust_password_env binds that file, and that variable only", async () => {
    process.env.LINKDOCTOR_T_STORE = STORE_PASSWORD;
    const dir = tmp('ld-secret-files-');
    const store = pkcs12Store(join(dir, 'store.p12'), STORE_PASSWORD);
    const closed = await freePort();
    const inv = join(dir, 'inv.yaml');
    writeFileSync(
      inv,
      `modules:\n  tls: { trust: store.p12, trust_password_env: LINKDOCTOR_T_STORE, timeout: 2s }\n` +
        `targets:\n  - { url: "https://127.0.0.1:${closed}/", module: tls }\n`,
    );
    const app = await server({ inventory: inv, db: join(dir, 'h.db'), everyMs: 3_600_000 });
    try {
      const r = await post(app, {
        url: `https://127.0.0.1:${closed}/`,
        trust: store,
        trustPasswordEnv: 'LINKDOCTOR_T_STORE',
        timeout: 2,
      });
      assert.equal(r.statusCode, 200, r.body);
      const other = await post(app, {
        url: `https://127.0.0.1:${closed}/`,
        trust: store,
        trustPasswordEnv: 'LINKDOCTOR_T_OAUTH',
        timeout: 2,
      });
      assert.equal(other.statusCode, 403, other.body);
      assert.match(other.json().detail, /^LINKDOCTOR_T_OAUTH is bound to no file/);
    } finally {
      await app.close();
    }
  });
});

describe('the CLI', () => {
  test('serve --secret-targets: a bad entry is one sentence, exit 2', async () => {
    for (const [entry, re] of [
      [
        '127.0.0.1',
        /^linkdoctor: --secret-targets takes LINKDOCTOR_VAR=host\[:port\]\[,host\.\.\.\], not "127\.0\.0\.1"\n$/,
      ],
      ['AWS_SECRET=h', /^linkdoctor: --secret-targets: AWS_SECRET is not a LINKDOCTOR_\* variable/],
      ['LINKDOCTOR_TOKEN=h', /^linkdoctor: --secret-targets: LINKDOCTOR_TOKEN is the server's own setting/],
      ['LINKDOCTOR_X=http://h/', /"http:\/\/h\/" \(for LINKDOCTOR_X\) is not a host name or address/],
      ['LINKDOCTOR_X=h:70000', /"h:70000" \(for LINKDOCTOR_X\) is not a host name/],
    ] as const) {
      const r = await runCliAsync(['serve', '--port', String(await freePort()), '--secret-targets', entry], {
        timeout: 20_000,
      });
      assert.equal(r.status, 2, entry);
      assert.match(r.stderr, re, entry);
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    }
  });

  test('probe http:// with a user and a password: allowed (the user named the host), with a warning that it goes in clear', async () => {
    bound.got.length = 0;
    const r = await runCliAsync(
      ['probe', `http://127.0.0.1:${bound.port}/`, '--user', 'u', '--password-env', 'LINKDOCTOR_T_PASSWORD'],
      { env: { LINKDOCTOR_T_PASSWORD: PASSWORD } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stderr,
      `linkdoctor: warning: the password of u goes to http://127.0.0.1:${bound.port} in clear text ` +
        '(http://, not https://): anyone on the way can read it\n',
    );
    assert.equal(bound.got.length, 1);
    assert.ok(bound.got[0]!.authorization);
    assert.ok(!holds(r.stdout + r.stderr, PASSWORD));
  });
});
