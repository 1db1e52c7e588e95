// The lab's scenarios: one server each, reproducing one known failure and nothing else. The HTTP
// scenarios sit behind a valid lab chain so that a probe sees only their HTTP failure.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server } from 'node:net';
import type { TlsOptions, TLSSocket } from 'node:tls';
import type { Lab } from './index.js';
import { FTP_SCENARIOS } from './ftp.js';
import { MAIL_SCENARIOS } from './mail.js';
import type { Issued, LabPki } from './pki.js';
import { type LabSshKeys, SSH_SCENARIOS } from './ssh.js';

/** What a scenario's server needs to know. */
export interface LabContext {
  pki: LabPki;
  basicAuth: { user: string; password: string };
  ssh: LabSshKeys;
}

export interface ScenarioSpec {
  name: string;
  /** The scheme of the scenario's URL (https when absent). */
  scheme?: string;
  /** The path of the scenario's URL. */
  path: string;
  reproduces: string;
  /** The knowledge-base entry a probe should report ('' when all is well). */
  expect: string;
  /** The cause of that entry a probe should name, where the probe can tell it. */
  cause?: string;
  /** A function when the flags name the lab's files. */
  probeArgs: string[] | ((lab: Lab) => string[]);
  /** The line the lab's known_hosts holds for this scenario's server, when it holds one. */
  knownHostsLine?: (ctx: LabContext, port: number) => string;
  /**
   * The SMTP port advice: the URL names a closed port, and the probe gets the server's port as the
   * "587" to try instead (LINKDOCTOR_SMTP_ALT_PORTS), since the lab cannot bind 25 or 587.
   */
  portAdvice?: boolean;
  server(ctx: LabContext): Server;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = { 'Content-Type': 'application/json' };

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${body}\n`);
}

/** An HTTPS server presenting `leaf`, followed by the CA certificates it sends along. */
function https(leaf: Issued, sent: Issued[], handler: RequestListener, options: TlsOptions = {}): Server {
  const cert = [leaf, ...sent].map((c) => c.certPem).join('');
  return createHttpsServer({ key: leaf.keyPem, cert, ...options }, handler);
}

/** The usual lab server: a valid chain for 127.0.0.1 and localhost. */
function labHttps(pki: LabPki, handler: RequestListener): Server {
  return https(pki.local, [pki.issuing], handler);
}

const hello: RequestListener = (_req, res) => send(res, 200, 'OK: linkdoctor lab');

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * An SAP Gateway-like CSRF check. A GET or HEAD with `X-CSRF-Token: Fetch` opens a session (a cookie)
 * and returns its token; a write must carry both. Like SAP, every refusal is a 403 with
 * `X-CSRF-Token: Required` and the body "CSRF token validation failed", whether the token is missing,
 * the session cookie was not kept, or the token belongs to another session.
 */
export function csrfHandler(): RequestListener {
  const COOKIE = 'SAP_SESSIONID_LAB';
  const MAX_SESSIONS = 1000;
  const tokens = new Map<string, string>(); // session id → token
  return (req, res) => {
    const method = req.method ?? 'GET';
    const session = cookie(req, COOKIE);
    const sent = req.headers['x-csrf-token'];
    if (!WRITE_METHODS.has(method)) {
      if (typeof sent !== 'string' || sent.toLowerCase() !== 'fetch')
        return send(res, 200, '{"value":[]}', JSON_TYPE);
      let sid = session && tokens.has(session) ? session : undefined;
      if (!sid) {
        sid = randomBytes(16).toString('hex');
        tokens.set(sid, randomBytes(18).toString('base64'));
        // A long-running lab must not grow without bound: forget the oldest session.
        if (tokens.size > MAX_SESSIONS) tokens.delete(tokens.keys().next().value as string);
      }
      return send(res, 200, '{"value":[]}', {
        ...JSON_TYPE,
        'X-CSRF-Token': tokens.get(sid) as string,
        'Set-Cookie': `${COOKIE}=${sid}; Path=/; Secure; HttpOnly`,
      });
    }
    const valid = typeof sent === 'string' && session !== undefined && tokens.get(session) === sent;
    if (!valid) return send(res, 403, 'CSRF token validation failed', { 'X-CSRF-Token': 'Required' });
    send(res, 201, '{"created":true}', JSON_TYPE);
  };
}

/** A redirect circle: /loop/1 → /loop/2 → /loop/3 → /loop/1; any other path enters it. */
const redirectLoop: RequestListener = (req, res) => {
  const step = Number(/^\/loop\/([123])$/.exec(req.url ?? '')?.[1] ?? 0);
  res.writeHead(302, { Location: `/loop/${(step % 3) + 1}` });
  res.end();
};

export const SCENARIOS: ScenarioSpec[] = [
  {
    name: 'healthy',
    path: '/',
    reproduces: 'nothing: a valid chain (leaf and intermediate) for 127.0.0.1 and localhost, 200 OK',
    expect: '',
    probeArgs: [],
    server: ({ pki }) => labHttps(pki, hello),
  },
  {
    name: 'unknown-ca',
    path: '/',
    reproduces: 'a certificate chain from a private CA that is not in the trust store',
    expect: 'out-cert-path',
    cause: 'root-missing',
    probeArgs: [],
    server: ({ pki }) => https(pki.unknownLeaf, [pki.unknownIssuing], hello),
  },
  {
    name: 'expired',
    path: '/',
    reproduces: 'a server certificate that expired 35 days ago',
    expect: 'out-cert-expired',
    cause: 'server-cert-expired',
    probeArgs: [],
    server: ({ pki }) => https(pki.expired, [pki.issuing], hello),
  },
  {
    name: 'wrong-host',
    path: '/',
    reproduces: 'a valid certificate for another host name (erp.example.com)',
    expect: 'tls-hostname-mismatch',
    probeArgs: [],
    server: ({ pki }) => https(pki.otherHost, [pki.issuing], hello),
  },
  {
    name: 'missing-intermediate',
    path: '/',
    reproduces: 'a server that sends only its own certificate, without the intermediate CA',
    expect: 'out-cert-path',
    cause: 'incomplete-chain',
    probeArgs: [],
    server: ({ pki }) => https(pki.local, [], hello),
  },
  {
    name: 'client-cert',
    path: '/',
    reproduces: 'a server that requires a client certificate from "linkdoctor lab Client CA"',
    expect: 'out-client-cert-rejected',
    cause: 'no-cert-sent',
    probeArgs: [],
    // Node refuses a certificate from another CA by closing the connection after the handshake, where
    // nginx or SAP's ICM send an unknown_ca alert; a missing one gets certificate_required either way.
    server: ({ pki }) =>
      https(
        pki.local,
        [pki.issuing],
        (req, res) =>
          send(res, 200, `OK: hello ${(req.socket as TLSSocket).getPeerCertificate().subject.CN}`),
        // `ca` is also the list of acceptable CA names the CertificateRequest sends.
        { ca: pki.clientCa.certPem, requestCert: true, rejectUnauthorized: true },
      ),
  },
  {
    name: 'basic-auth',
    path: '/',
    reproduces: 'HTTP 401 with WWW-Authenticate: Basic realm="lab" to a call without credentials',
    expect: 'out-http-401',
    cause: 'no-credentials',
    probeArgs: [],
    server: ({ pki, basicAuth }) => {
      const expected = `Basic ${Buffer.from(`${basicAuth.user}:${basicAuth.password}`).toString('base64')}`;
      return labHttps(pki, (req, res) =>
        req.headers.authorization === expected
          ? send(res, 200, `OK: hello ${basicAuth.user}`)
          : send(res, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic realm="lab"' }),
      );
    },
  },
  {
    name: 'forbidden',
    path: '/',
    reproduces: 'HTTP 403 Forbidden for every request',
    expect: 'out-http-403-cloud-connector',
    probeArgs: [],
    server: ({ pki }) => labHttps(pki, (_req, res) => send(res, 403, 'Forbidden')),
  },
  {
    name: 'case-404',
    path: '/orders',
    reproduces: 'HTTP 404 for a path in the wrong case (/Orders exists, /orders does not)',
    expect: 'out-http-404',
    probeArgs: [],
    server: ({ pki }) =>
      labHttps(pki, (req, res) =>
        new URL(req.url ?? '/', 'https://lab').pathname === '/Orders'
          ? send(res, 200, '{"value":[{"id":1}]}', JSON_TYPE)
          : send(res, 404, 'Not Found'),
      ),
  },
  {
    name: 'csrf',
    path: '/sap/opu/odata/sap/ZLAB_SRV/Orders',
    reproduces: 'HTTP 403 "CSRF token validation failed" on a write without fetching a token first',
    expect: 'out-csrf-403',
    probeArgs: ['-X', 'POST', '-d', '{}'],
    server: ({ pki }) => labHttps(pki, csrfHandler()),
  },
  {
    name: 'length-required',
    path: '/jobs/42/start',
    reproduces: 'HTTP 411 Length Required on a POST without a body (chunked, no Content-Length)',
    expect: 'out-411-empty-post',
    probeArgs: ['-X', 'POST'],
    server: ({ pki }) =>
      labHttps(pki, (req, res) => {
        if (!WRITE_METHODS.has(req.method ?? 'GET') || req.headers['content-length'] !== undefined)
          return send(res, 200, 'OK: accepted');
        // Like many servers, answer before reading the body, and close the connection.
        send(res, 411, 'Length Required', { Connection: 'close' });
      }),
  },
  {
    name: 'unavailable',
    path: '/',
    reproduces: 'HTTP 503 Service Unavailable with Retry-After',
    expect: 'out-http-503',
    probeArgs: [],
    server: ({ pki }) =>
      labHttps(pki, (_req, res) => send(res, 503, 'Service Unavailable', { 'Retry-After': '120' })),
  },
  {
    name: 'redirect-loop',
    path: '/loop/1',
    reproduces: 'HTTP 302 redirects that go round in a circle',
    expect: 'http-redirect-loop',
    // Followed as a flow that follows Location itself would: the HTTP receiver stops at the first.
    probeArgs: ['--max-redirs', '5'],
    server: ({ pki }) => labHttps(pki, redirectLoop),
  },
  {
    name: 'silent',
    path: '/',
    reproduces: 'a port that accepts the connection and never answers (a dropping firewall, a hung server)',
    expect: 'network-timeout',
    cause: 'read-timeout',
    probeArgs: [],
    // The lab keeps the socket (and closes it at stop); it never writes to it.
    server: () => createNetServer(() => undefined),
  },
  {
    name: 'closes',
    path: '/',
    reproduces: 'a port that accepts the connection and drops it at once (a proxy or firewall refusing it)',
    expect: 'connection-reset',
    cause: 'handshake-closed',
    probeArgs: [],
    // Closed after the TCP handshake, not reset during it: the connect succeeds and TLS then fails, as
    // behind a middlebox that accepts and drops ("socket disconnected before secure TLS connection").
    server: () => createNetServer((socket) => socket.destroy()),
  },
  ...SSH_SCENARIOS,
  ...MAIL_SCENARIOS,
  ...FTP_SCENARIOS,
];
