// The fake tenant's RUNTIME HOST (the `…-rt` host of tenant-api.md §1, §8.3): what a sender calls.
// It behaves as the tenant's inbound side does where a sender can break: the load balancer asks for
// a client certificate (optional, with its list of accepted CAs) and refuses one it does not accept
// or that expired; the deployed endpoints answer under /http/<address> and /cxf/<address>, case-
// sensitive, 404 otherwise; 401 for wrong or missing credentials, 403 for a user without the sender
// role, a CSRF-protected endpoint, 405 for HEAD. `probe --direction inbound` against it reproduces
// the inbound seed rows; RUNTIME_SCENARIOS lists them with the entry each must produce.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Lab } from './index.js';
import type { LabPki } from './pki.js';
import { csrfHandler } from './servers.js';

/** A deployed inbound endpoint (tenant-api.md §8.3): HTTPS senders under /http/, SOAP under /cxf/. */
export interface RuntimeEndpoint {
  prefix: 'http' | 'cxf';
  address: string;
  /** ServiceEndpoints' Protocol: REST for the HTTPS sender, SOAP for SOAP and IDoc (§8.3). */
  protocol: string;
  iflow: string;
  /** The HTTPS sender adapter's "CSRF Protected": writes need a fetched X-CSRF-Token. */
  csrf?: boolean;
}

/** The runtime's error page: the Cloud Integration runtime is a Tomcat (the kb's in-http-403 says so). */
function tomcatPage(
  res: ServerResponse,
  status: number,
  reason: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'text/html;charset=utf-8', ...headers });
  res.end(
    `<!doctype html><html lang="en"><head><title>HTTP Status ${status} – ${reason}</title></head><body><h1>HTTP Status ${status} – ${reason}</h1></body></html>`,
  );
}

/** The Basic user and password of a request, if it sent any. */
function basicOf(req: IncomingMessage): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = pair.indexOf(':');
  return i < 0 ? undefined : { user: pair.slice(0, i), password: pair.slice(i + 1) };
}

/**
 * The runtime host's server (HTTPS, the lab's chain for 127.0.0.1). Users: `sender` holds the
 * sender role (ESBMessaging.send); `viewer` logs on with the same password but lacks it (403). A
 * client certificate from the lab's client CA authenticates as a sender too.
 */
export function runtimeHost(o: {
  pki: LabPki;
  endpoints: RuntimeEndpoint[];
  sender: { user: string; password: string };
  viewer: string;
}): Server {
  const { pki, endpoints, sender, viewer } = o;
  const csrf = new Map(endpoints.filter((e) => e.csrf).map((e) => [e, csrfHandler()]));
  const server = createServer(
    {
      key: pki.local.keyPem,
      cert: pki.local.certPem + pki.issuing.certPem,
      // The load balancer's client-certificate question: optional, with the CAs it accepts (the
      // CertificateRequest lists `ca`'s subjects). A sender with Basic sends none and goes on.
      requestCert: true,
      rejectUnauthorized: false,
      ca: pki.clientCa.certPem,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const path = new URL(req.url ?? '/', 'https://runtime').pathname.replace(/(.)\/+$/, '$1');
      // Case-sensitive, as the runtime matches the address (§8.3; kb in-http-404 cause "case").
      const ep = endpoints.find((e) => path === `/${e.prefix}/${e.address}`);
      if (!ep) {
        // CXF's own answer for an address no SOAP endpoint is registered under.
        if (path.startsWith('/cxf/')) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          return res.end('No service was found.');
        }
        return void res.writeHead(404, { 'content-type': 'text/plain' }).end();
      }
      const basic = basicOf(req);
      const byCert = socket.authorized === true;
      const isSender = byCert || (basic?.user === sender.user && basic.password === sender.password);
      const isViewer = !isSender && basic?.user === viewer && basic.password === sender.password;
      if (!isSender && !isViewer)
        return tomcatPage(res, 401, 'Unauthorized', {
          'www-authenticate': 'Basic realm="SAP Cloud Integration"',
        });
      if (isViewer) return tomcatPage(res, 403, 'Forbidden');
      if (req.method === 'HEAD') return tomcatPage(res, 405, 'Method Not Allowed', { allow: 'GET, POST' });
      const guard = csrf.get(ep);
      if (guard) return guard(req, res);
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`OK: ${ep.iflow}\n`);
    },
  );
  // The load balancer refuses a client certificate it does not accept (another CA) or one that
  // expired: the connection ends after the handshake (Node cannot send the TLS alert ICM sends).
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    if (peer && Object.keys(peer).length && !socket.authorized) socket.destroy();
  });
  return server;
}

/** One inbound seed row the runtime host reproduces: the probe's path and flags, and the entry. */
export interface RuntimeScenario {
  name: string;
  path: string;
  reproduces: string;
  expect: string;
  cause?: string;
  probeArgs: (lab: Lab) => string[];
}

const INBOUND = ['--direction', 'inbound'];

/** The inbound seed rows `probe --direction inbound` reproduces against the runtime host. */
export const RUNTIME_SCENARIOS: RuntimeScenario[] = [
  {
    name: 'tenant-401',
    path: '/http/orders',
    reproduces: 'a sender calls a deployed endpoint of the fake tenant without credentials: 401 (seed row 4)',
    expect: 'in-http-401',
    probeArgs: () => INBOUND,
  },
  {
    name: 'tenant-403',
    path: '/http/orders',
    reproduces:
      'a sender logs on as a user without the role ESBMessaging.send: 403 from the runtime (seed row 5)',
    expect: 'in-http-403',
    probeArgs: () => [...INBOUND, '-u', 'viewer', '--password-env', 'LAB_PASSWORD'],
  },
  {
    name: 'tenant-404',
    path: '/http/Orders',
    reproduces:
      'a sender calls /http/Orders where the deployed endpoint is /http/orders: 404, paths are case-sensitive (seed row 6)',
    expect: 'in-http-404',
    probeArgs: () => INBOUND,
  },
  {
    name: 'tenant-csrf',
    path: '/http/orders/confirm',
    reproduces:
      'a sender POSTs to an endpoint with CSRF Protected on, without fetching a token: 403 (seed row 5, CSRF)',
    expect: 'in-http-403',
    cause: 'csrf',
    probeArgs: () => [...INBOUND, '-X', 'POST', '-d', '{}', '-u', 'sender', '--password-env', 'LAB_PASSWORD'],
  },
  {
    name: 'tenant-cert-refused',
    path: '/http/orders',
    reproduces:
      "a sender's client certificate from a CA the load balancer does not accept: refused after the handshake (seed row 7)",
    expect: 'in-request-not-reaching',
    probeArgs: (lab) => [
      ...INBOUND,
      '--client-cert',
      lab.clientCert.wrongCa,
      '--client-cert-password-env',
      'LAB_PASSWORD',
    ],
  },
  {
    name: 'tenant-cert-expired',
    path: '/http/orders',
    reproduces:
      "a sender's client certificate that expired 10 days ago: refused by the load balancer (seed row 1)",
    expect: 'in-cert-validity',
    cause: 'client-cert-expired',
    probeArgs: (lab) => [
      ...INBOUND,
      '--client-cert',
      lab.clientCert.expired,
      '--client-cert-password-env',
      'LAB_PASSWORD',
    ],
  },
];
