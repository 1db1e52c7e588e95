// The http step: one request the way the platform's HTTP receiver sends it, with redirects, the
// CSRF token flow and the empty-body (411) retry, explained in the knowledge base's terms.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { judgeChain } from '../trust/chain.js';
import { fetchServerChain } from '../trust/fetch.js';
import { closestHint, closestSignal, endpointSentence, type DeployedEndpoint } from '../tenant/endpoints.js';
import type { TrustStore } from '../trust/store.js';
import type { Signal } from '../types.js';
import { isCredentialHeader, KEYWORD_VALUE, redact, withoutSecrets } from '../redact.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';
import { greetingProtocol } from './sniff.js';
import { signInPage } from '../sign-in.js';
import { andList, plural } from '../report/width.js';

export interface HttpSpec {
  url: URL;
  method: string;
  headers: [string, string][];
  /** The body (-d); undefined: none, sent for a write method as the platform does: chunked and empty. */
  data?: string;
  /** Basic credentials or a bearer token; never printed. */
  auth?: { user: string; password: string } | { bearer: string };
  csrf: boolean;
  maxRedirects: number;
  /** Why no redirect is followed, when maxRedirects is 0 by a rule rather than the user's --max-redirs 0. */
  noRedirects?: string;
  /**
   * --location-trusted: send the credentials, the token and the session cookies on to another origin
   * a redirect leads to. Without it they go only to the origin the user named (scheme, host, port).
   */
  locationTrusted?: boolean;
  /**
   * Why the credentials may not go on to a redirect's origin even with locationTrusted (undefined:
   * they may). `serve` sets it: a request's locationTrusted reaches only hosts the secret is bound to.
   */
  forwardCredentials?: (url: URL) => string | undefined;
  /** How a request that opens its own connection resolves the host (default: the system's); see lookupFrom. */
  lookup?: LookupFunction;
  /**
   * The open connection to the origin of `url` that the tcp and tls steps made (handshaken for
   * https): the first request to that origin goes on it, later ones open their own. Taken once.
   */
  connection?: Socket;
  /** TLS options for https (the probe's trust decision is its own, so no verification here). */
  tls?: ConnectionOptions;
  /** The trust store that judges the certificate of another https origin a redirect leads to. */
  store?: TrustStore;
  /** Bound of each request: connection, response head and the part of the body that is read. */
  timeoutMs: number;
  /** performance.now() by which the whole step must end (the probe's total budget). */
  deadline?: number;
  /** The tenant's deployed inbound endpoints (probe --tenant): a 404 names the closest one. */
  deployed?: { endpoints: DeployedEndpoint[]; tenant: string };
}

export interface HttpExchange {
  method: string;
  url: string;
  status: number;
  reason: string;
  /** The headers worth showing; secrets (cookies, tokens) masked. */
  headers: Record<string, string>;
  ms: { firstByte: number; total: number };
  /** The start of the body, for error pages. */
  body: string;
  /**
   * Why the body was not read to its end: `limit`, its start was all the probe needs; `timeout`, it
   * did not arrive within the bound (a trickle). Absent when it was read whole.
   */
  bodyEnd?: 'limit' | 'timeout';
  /** Bytes of the body received, when it was not read whole. */
  bodyBytes?: number;
}

export interface HttpFinding {
  exchanges: HttpExchange[];
  status?: number;
  reason?: string;
  /** The HTTP version of the answer to the request as configured ("1.1"). */
  httpVersion?: string;
  /** Its Last-Modified header, as sent (blackbox_exporter's probe_http_last_modified_timestamp_seconds). */
  lastModified?: string;
  wwwAuthenticate?: string;
  redirects: string[];
  /** What the CSRF and 411 experiments showed, in sentences. */
  notes: string[];
  /** A redirect led to another origin, and the credentials were not sent there. */
  withheld?: boolean;
}

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SHOWN =
  /^(?:server|content-type|content-length|location|retry-after|www-authenticate|x-csrf-token|via|sap-[\w-]+|x-sap-[\w-]+|proxy-authenticate|x-correlationid|x-request-id|transfer-encoding|connection)$/i;
const BODY_MAX = 2048;

interface Raw extends HttpExchange {
  setCookies: string[];
  rawHeaders: http.IncomingHttpHeaders;
  /** "1.1", "1.0": the version of the server's answer. */
  httpVersion: string;
}

/**
 * A request that ended without a whole answer, told by what the server did: `timeout`, no connection
 * in time; `silent`, connected and said nothing; `slow`, began its answer and did not finish it;
 * `budget` says the probe's total budget ended the wait. `url` is the request's, so a redirect's host is named.
 */
class Stalled extends Error {
  constructor(
    message: string,
    readonly verdict: 'timeout' | 'silent' | 'slow',
    readonly url: URL,
    /** The probe's total budget, not the request's own timeout, ended the wait. */
    readonly budget = false,
  ) {
    super(message);
  }
}

/** How many answers each http step's requests got so far (a server that answered before is slow, not silent). */
const answered = new WeakMap<HttpSpec, number>();

/** A redirect to another https origin whose certificate the trust store does not accept. */
class UntrustedHop extends Error {
  constructor(
    message: string,
    readonly signals: Signal[],
    readonly url: URL,
  ) {
    super(message);
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The bound of the next request: the per-request timeout, or what is left of the budget. */
function limitOf(spec: HttpSpec): { ms: number; budget: boolean } {
  const left = spec.deadline === undefined ? Infinity : spec.deadline - performance.now();
  return left < spec.timeoutMs
    ? { ms: Math.max(0, left), budget: true }
    : { ms: spec.timeoutMs, budget: false };
}

function mask(name: string, value: string): string {
  if (/^x-csrf-token$/i.test(name) && !/^(?:required|fetch)$/i.test(value))
    return `(a token, ${value.length} characters)`;
  // A Location's user and password are a server's, never followed and never shown.
  if (/^location$/i.test(name))
    return value.replace(/^([a-z][\w+.-]*:\/\/)[^/?#]*@/i, '$1(user info removed)@');
  return value;
}

/**
 * One request, bounded by `signal` and by its own limit (the timeout, or what is left of the budget):
 * the body is read only as far as the probe keeps it (BODY_MAX), and a body that does not arrive in
 * time ends the request with what came. Rejects with the socket error (its `url` set) or Stalled.
 */
function send(
  spec: HttpSpec,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const limit = limitOf(spec);
    const lib = url.protocol === 'https:' ? https : http;
    const open = spec.connection;
    spec.connection = undefined;
    const usable = open && url.origin === spec.url.origin && !open.destroyed && open.writable;
    if (open && !usable) open.destroy();
    // The step's signal ends the request only while it runs: http.request's own `signal` option
    // stays attached until the request closes, and the step's end (runStep aborts every step's
    // signal) then built an AbortError with its stack for every probe.
    const req = lib.request(url, {
      method,
      headers,
      ...(spec.lookup ? { lookup: spec.lookup } : {}),
      ...(usable ? { createConnection: () => open } : { agent: false }),
      ...(url.protocol === 'https:' ? spec.tls : {}),
    });
    let connected = false;
    let settled = false;
    let res: http.IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    let firstByte = 0;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () =>
      fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });
    const fail = (e: Error) => {
      if (settled) return;
      settle();
      req.destroy();
      reject(Object.assign(e, { url }));
    };
    /** The response as far as it was read; `end` says why the reading stopped early. */
    const finish = (end?: 'limit' | 'timeout') => {
      if (settled || !res) return;
      settle();
      // The rest of a long or trickled body is not needed: the connection is closed, not drained.
      if (end) req.destroy();
      const shown: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (SHOWN.test(k) && v !== undefined) shown[k] = mask(k, Array.isArray(v) ? v.join(', ') : v);
      const setCookies = res.headers['set-cookie'] ?? [];
      if (setCookies.length)
        shown['set-cookie'] = setCookies.map((c) => `${c.split('=')[0]}=(value hidden)`).join(', ');
      answered.set(spec, (answered.get(spec) ?? 0) + 1);
      resolve({
        method,
        url: url.href,
        status: res.statusCode ?? 0,
        reason: res.statusMessage ?? '',
        headers: shown,
        ms: { firstByte: Math.round(firstByte), total: Math.round(performance.now() - started) },
        // A peer may echo the request back (httpbin's /anything): nothing sent as a secret is shown.
        body: withoutSecrets(redact(Buffer.concat(chunks).toString('utf8')), sentSecrets(spec, headers)),
        ...(end ? { bodyEnd: end, bodyBytes: size } : {}),
        setCookies,
        rawHeaders: res.headers,
        httpVersion: res.httpVersion,
      });
    };
    const timer = setTimeout(() => {
      if (res) return finish('timeout');
      const bound = seconds(limit.ms);
      const got = req.socket?.bytesRead ?? 0;
      if (limit.budget) {
        // Still say what the server did until then: that is the reason, the budget only where it ended.
        const before = answered.get(spec) ?? 0;
        const [what, verdict] = !connected
          ? ['no connection yet', 'timeout' as const]
          : got || before
            ? [
                got ? `it had sent ${got} bytes` : `it had answered ${before} request(s) before, slowly`,
                'slow' as const,
              ]
            : ['connected, no answer yet', 'silent' as const];
        return fail(
          new Stalled(
            `the probe's total time ran out while waiting for ${url.host} (${what})`,
            verdict,
            url,
            true,
          ),
        );
      }
      if (!connected)
        return fail(new Stalled(`${url.host} did not accept a connection within ${bound}`, 'timeout', url));
      fail(
        got
          ? new Stalled(
              `${url.host} sent ${got} bytes but no complete response head within ${bound} (a server that trickles its answer)`,
              'slow',
              url,
            )
          : new Stalled(
              `${url.host} accepted the connection but sent no response within ${bound} (a silent server)`,
              'silent',
              url,
            ),
      );
    }, limit.ms);
    req.once('socket', (socket) => {
      const connecting = (socket as { connecting?: boolean }).connecting;
      if (connecting === false) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    req.once('error', fail);
    req.once('response', (r) => {
      res = r;
      firstByte = performance.now() - started;
      r.on('data', (c: Buffer) => {
        size += c.length;
        if (kept < BODY_MAX) {
          const part = c.subarray(0, BODY_MAX - kept);
          chunks.push(part);
          kept += part.length;
        }
        if (kept >= BODY_MAX) finish('limit');
      });
      r.once('error', fail);
      r.once('end', () => finish());
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function baseHeaders(spec: HttpSpec): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': 'linkdoctor-probe', accept: '*/*' };
  for (const [k, v] of spec.headers) h[k.toLowerCase()] = v;
  if (spec.auth && 'bearer' in spec.auth) h.authorization = `Bearer ${spec.auth.bearer}`;
  else if (spec.auth)
    h.authorization = `Basic ${Buffer.from(`${spec.auth.user}:${spec.auth.password}`).toString('base64')}`;
  return h;
}

/** Headers and body of the main request: an empty write goes chunked, as the platform's HTTP receiver sends it. */
function bodyOf(spec: HttpSpec, method: string, headers: Record<string, string>, explicitEmpty: boolean) {
  if (spec.data !== undefined)
    return {
      headers: { ...headers, 'content-length': String(Buffer.byteLength(spec.data)) },
      body: spec.data,
    };
  if (!WRITE.has(method)) return { headers, body: undefined };
  if (explicitEmpty) return { headers: { ...headers, 'content-length': '0' }, body: '' };
  return { headers: { ...headers, 'transfer-encoding': 'chunked' }, body: undefined };
}

const cookieHeader = (setCookies: string[]) => setCookies.map((c) => c.split(';')[0]).join('; ');

/** The headers without the user's credentials and the session (for another origin). */
function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !isCredentialHeader(k)));
}

/** The secret values a request sends: the password or token, and the credential headers' values. */
function sentSecrets(spec: HttpSpec, headers: Record<string, string>): string[] {
  const out = spec.auth ? ['bearer' in spec.auth ? spec.auth.bearer : spec.auth.password] : [];
  for (const [k, v] of Object.entries(headers)) {
    if (!isCredentialHeader(k) || !v || KEYWORD_VALUE.test(v)) continue;
    out.push(v, v.replace(/^\S+\s+/, ''), ...v.split(/;\s*/).map((c) => c.slice(c.indexOf('=') + 1)));
  }
  return out;
}

/**
 * What the credential headers of a request are, in words: "the Basic credentials" (-u), "the OAuth
 * token" (the oauth step's), "the session cookies" (the CSRF fetch's), "the CSRF token", and a
 * header the user gave with -H by its name: "the Authorization header", "the X-API-Key header".
 */
function credentialWords(spec: HttpSpec, headers: Record<string, string>): string[] {
  const own = new Map(spec.headers.map(([k, v]) => [k.toLowerCase(), { name: k, value: v }]));
  const words: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (!isCredentialHeader(k) || !v) continue;
    const given = own.get(k);
    if (given?.value === v) {
      if (!KEYWORD_VALUE.test(v.trim())) words.push(`the ${given.name} header`);
    } else if (k === 'authorization')
      words.push(spec.auth && 'bearer' in spec.auth ? 'the OAuth token' : 'the Basic credentials');
    else if (k === 'cookie') words.push('the session cookies');
    else if (k === 'x-csrf-token') words.push('the CSRF token');
    else words.push(`the ${k} header`);
  }
  return words;
}

/**
 * A redirect to another https origin: the platform would judge that server's certificate too, so the
 * probe does before it sends anything there; an untrusted one ends the step, naming that host.
 */
async function judgeHop(spec: HttpSpec, url: URL): Promise<void> {
  if (!spec.store) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  const limit = limitOf(spec);
  let sent;
  try {
    sent = await fetchServerChain(host, port, {
      ...(spec.tls?.servername && url.host === spec.url.host ? { servername: spec.tls.servername } : {}),
      timeoutMs: Math.max(1, limit.ms),
    });
  } catch (e) {
    throw Object.assign(new Error(`the redirect to ${url.href} failed: ${(e as Error).message}`), { url });
  }
  const judged = judgeChain({ sent: sent.chain, store: spec.store, host });
  const failing = judged.verdicts.filter((v) => v !== 'weak-key');
  if (!failing.length) return;
  throw new UntrustedHop(
    `the redirect leads to ${url.host}, whose certificate ${spec.store.label} does not accept: ${judged.sentences[0]}`,
    failing.map((v) => ({ type: 'tls.verdict', value: v })),
    url,
  );
}

/**
 * Why credentials may not go on to a redirect's `hop` even with --location-trusted: a hop to plain
 * http:// from an https:// origin named would carry them in clear text, which the user accepted only
 * by naming an http:// URL themselves (the clear-text rule of cli/probe.ts clearTextSecrets, which
 * `probe` and `check` warn of and `serve` refuses). Undefined: it is no such hop.
 */
export function clearTextHop(named: URL, hop: URL): string | undefined {
  return hop.protocol === 'http:' && named.protocol !== 'http:'
    ? `${hop.origin} is plain http://: credentials go in clear text only to an http:// URL named, never on to one a redirect leads to`
    : undefined;
}

/**
 * Sends the request, following redirects up to the bound; detects loops. Credentials and the session
 * go only to the origin the user named (as curl does), unless --location-trusted.
 */
async function exchange(
  spec: HttpSpec,
  headers: Record<string, string>,
  finding: HttpFinding,
  signal: AbortSignal,
  explicitEmpty = false,
): Promise<Raw> {
  let url = spec.url;
  let method = spec.method;
  const seen = new Set<string>();
  for (;;) {
    const foreign = url.origin !== spec.url.origin;
    let sent = headers;
    if (foreign) {
      if (url.protocol === 'https:') await judgeHop(spec, url);
      const words = credentialWords(spec, headers);
      const refused = spec.locationTrusted
        ? (clearTextHop(spec.url, url) ?? spec.forwardCredentials?.(url))
        : undefined;
      if ((!spec.locationTrusted || refused) && words.length) {
        sent = withoutCredentials(headers);
        const note = refused
          ? `Withheld from ${url.origin}: ${andList(words)} (${refused}).`
          : `Withheld from ${url.origin}: ${andList(words)} (they go only to ${spec.url.origin}, the origin named; --location-trusted sends them on).`;
        if (!finding.notes.includes(note)) finding.notes.push(note);
        finding.withheld = true;
      }
    }
    const b = bodyOf(spec, method, sent, explicitEmpty);
    const r = await send(spec, url, method, b.headers, b.body, signal);
    finding.exchanges.push(strip(r));
    const location = r.rawHeaders.location?.trim();
    // Any 3xx but 304 (Not Modified) ends the HTTP receiver's call; one without a Location
    // cannot even be followed (curl -L stops there too), so it is never a healthy answer.
    if (r.status < 300 || r.status > 399 || r.status === 304) return r;
    if (!location)
      throw Object.assign(new Error('redirect without a Location'), { noLocation: true, last: r });
    seen.add(url.href);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw Object.assign(
        new Error(`${url.host} redirects to "${location.slice(0, 80)}", which is not a URL`),
        {
          url,
        },
      );
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw Object.assign(
        new Error(`${url.host} redirects to a ${next.protocol} URL, which HTTP cannot follow`),
        {
          url,
        },
      );
    // Credentials come only from the user: a Location's user and password (which Node would send
    // as Basic, and curl uses too: curl/curl#11410) are dropped, and the report says so.
    if (next.username || next.password) {
      next.username = '';
      next.password = '';
      const note = `The redirect to ${next.href} named a user and password in its Location: dropped, not sent (credentials come only from the user, never from a server).`;
      if (!finding.notes.includes(note)) finding.notes.push(note);
    }
    finding.redirects.push(`${r.status} → ${next.href}`);
    if (seen.has(next.href)) throw Object.assign(new Error('redirect loop'), { loop: true, last: r });
    if (finding.redirects.length > spec.maxRedirects)
      throw Object.assign(new Error('too many redirects'), {
        loop: false,
        last: r,
        notFollowed: spec.maxRedirects === 0,
      });
    if (r.status === 303 || ((r.status === 301 || r.status === 302) && method !== 'GET' && method !== 'HEAD'))
      method = 'GET';
    url = next;
  }
}

const strip = ({ setCookies: _s, rawHeaders: _r, httpVersion: _v, ...x }: Raw): HttpExchange => x;

/** The CSRF fetch: GET with X-CSRF-Token: Fetch; returns the token and the session cookies. */
async function fetchToken(
  spec: HttpSpec,
  headers: Record<string, string>,
  finding: HttpFinding,
  signal: AbortSignal,
) {
  const r = await send(spec, spec.url, 'GET', { ...headers, 'x-csrf-token': 'Fetch' }, undefined, signal);
  finding.exchanges.push(strip(r));
  const token = r.rawHeaders['x-csrf-token'];
  return {
    token: typeof token === 'string' && !/^required$/i.test(token) ? token : undefined,
    cookies: r.setCookies,
    status: r.status,
  };
}

function responseText(r: HttpExchange): string {
  const head = Object.entries(r.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  return `${r.method} ${r.url}\nHTTP/1.1 ${r.status} ${r.reason}\n${head}\n\n${r.body}`;
}

export async function httpStep(
  spec: HttpSpec,
  finding: HttpFinding,
  signal: AbortSignal,
): Promise<StepOutcome> {
  const headers = baseHeaders(spec);
  const signals: Signal[] = [
    { type: 'http.method', value: spec.method },
    { type: 'url', value: spec.url.href },
  ];
  let res: Raw;
  try {
    if (spec.csrf) {
      const f = await fetchToken(spec, headers, finding, signal);
      if (!f.token)
        finding.notes.push(`The CSRF fetch (GET with X-CSRF-Token: Fetch) got ${f.status} and no token.`);
      else {
        headers['x-csrf-token'] = f.token;
        finding.notes.push(
          `The CSRF fetch got a token${f.cookies.length ? ` and ${plural(f.cookies.length, 'session cookie')}` : ' but no session cookie'}.`,
        );
      }
      if (f.cookies.length) headers.cookie = cookieHeader(f.cookies);
    }
    res = await exchange(spec, headers, finding, signal);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & {
      loop?: boolean;
      last?: Raw;
      notFollowed?: boolean;
      noLocation?: boolean;
    };
    if (err.last) {
      const kind = err.noLocation
        ? 'no-location'
        : err.loop
          ? 'loop'
          : err.notFollowed
            ? 'not-followed'
            : 'too-many';
      signals.push(
        { type: 'http.redirect', value: kind },
        { type: 'http.status', value: String(err.last.status) },
      );
      // No redirect may be followed at all: one redirect is no "too many".
      const detail = err.noLocation
        ? `${err.last.status} ${err.last.reason}: a redirect that names no Location (${err.last.rawHeaders.location === undefined ? 'no Location header' : 'an empty Location header'}), so no client can follow it`
        : err.loop
          ? `redirect loop: ${finding.redirects.join(', ')}`
          : err.notFollowed
            ? `${err.last.status} ${err.last.reason}: a redirect to ${finding.redirects.at(-1)!.replace(/^\d+ → /, '')}, not followed (${spec.noRedirects ?? '--max-redirs 0'})`
            : `more than ${spec.maxRedirects} redirects: ${finding.redirects.join(', ')}`;
      return { ok: false, detail, signals, text: `${detail}\n${responseText(err.last)}` };
    }
    if (err.name === 'AbortError') throw err;
    return failure(err, spec, signals);
  }
  finding.status = res.status;
  finding.reason = res.reason;
  finding.httpVersion = res.httpVersion;
  const lastModified = res.rawHeaders['last-modified'];
  if (lastModified) finding.lastModified = lastModified;
  const challenge = res.rawHeaders['www-authenticate'];
  if (challenge) finding.wwwAuthenticate = Array.isArray(challenge) ? challenge.join(', ') : challenge;
  signals.push(
    { type: 'http.status', value: String(res.status), detail: res.reason },
    { type: 'probe.status', value: String(res.status), detail: res.reason },
  );
  const trickled = res.bodyEnd === 'timeout';
  if (trickled) signals.push({ type: 'net.error', value: 'slow' });
  // A body that did not arrive in time: the platform's read timeout would end the call.
  const trickle = trickled
    ? `, but its body trickled: ${res.bodyBytes} bytes within ${seconds(res.ms.total)}, then the probe stopped reading (a read timeout for the platform)`
    : '';
  if (res.status < 400 && trickled) {
    const detail = `${new URL(res.url).host} answered ${res.status} ${res.reason}${trickle}`;
    return { ok: false, detail, signals, text: `${detail}\n${responseText(res)}` };
  }
  // A sign-in page answers a browser's user, not a channel's call: the flow would get this page.
  const signIn =
    res.status < 300
      ? signInPage(finding.redirects.length ? res.url : undefined, res.body, res.headers['content-type'])
      : undefined;
  if (signIn) {
    signals.push({ type: 'http.page', value: 'sign-in', detail: signIn });
    const detail = `${res.status} ${res.reason}, but ${signIn}: the service wants a user who logs on in a browser, and the channel's call would get this page, not the service's answer`;
    return { ok: false, detail, signals, text: `${detail}\n${responseText(res)}` };
  }
  if (res.status < 400) return { ok: true, detail: `${res.status} ${res.reason}`, signals };

  let detail = `${res.status} ${res.reason}`;
  // A refusal from another origin the credentials were withheld from says nothing about them.
  const foreign = new URL(res.url).origin !== spec.url.origin;
  if (foreign && finding.withheld && (res.status === 401 || res.status === 403))
    signals.push({ type: 'http.withheld', value: 'cross-origin', detail: new URL(res.url).origin });
  if (res.status === 401 && finding.wwwAuthenticate) {
    const scheme = finding.wwwAuthenticate.split(/\s/)[0]!.toLowerCase();
    signals.push({ type: 'http.auth', value: scheme });
    if (!spec.auth) signals.push({ type: 'http.credentials', value: 'none' });
    const withheld = !!finding.withheld && foreign;
    detail += `: the server wants ${scheme === 'basic' ? 'Basic (user and password)' : scheme} authentication${spec.auth ? (withheld ? `, and none was sent: the credentials were withheld from ${new URL(res.url).origin}, another origin than the one named` : ' and refused the credentials sent') : ', and none was sent'}`;
  }
  // nginx and other proxies check the client certificate after the handshake and answer 400.
  if (
    res.status === 400 &&
    /no required ssl certificate was sent|ssl certificate error|client certificate/i.test(res.body)
  ) {
    const presented = !!(spec.tls?.pfx || spec.tls?.cert);
    signals.push({ type: 'tls.verdict', value: presented ? 'client-cert-rejected' : 'client-cert-required' });
    detail += presented
      ? ': the server refused the client certificate'
      : ': the server requires a client certificate';
  }
  detail += trickle;
  // The experiments below send more requests; one that fails or stalls does not hide the answer above.
  const experiment = async (what: string, run: () => Promise<string>): Promise<string> => {
    try {
      return await run();
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      finding.notes.push(`The ${what} got no answer: ${failure(e as Error, spec, []).detail}.`);
      return '';
    }
  };
  if (res.status === 403)
    detail += await experiment('CSRF experiment', () =>
      explainCsrf(spec, res, baseHeaders(spec), finding, signals, signal),
    );
  if (res.status === 404)
    detail += await experiment('search for a near path', () =>
      explainNotFound(spec, headers, finding, signals, signal),
    );
  if (res.status === 411 && WRITE.has(spec.method) && spec.data === undefined)
    detail += await experiment('retry with Content-Length: 0', () =>
      retryEmpty(spec, headers, finding, signal),
    );
  return { ok: false, detail, signals, text: responseText(res) };
}

/** llhttp's errors that come only after a status line was read: the header and body framing. */
const PAST_STATUS_LINE = new Set([
  'HPE_INVALID_HEADER_TOKEN',
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_TRANSFER_ENCODING',
  'HPE_INVALID_CHUNK_SIZE',
]);

/**
 * Whether Node's HTTP parse error (`rawPacket`: the bytes it failed in, as Node's client sets it)
 * came from an answer that is HTTP/1.x but malformed, rather than from something that is not HTTP.
 */
function malformedHttp(err: NodeJS.ErrnoException & { rawPacket?: unknown }): boolean {
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 16).toString('latin1') : '';
  return /^HTTP\/1\.[01] \d{3}/.test(raw) || PAST_STATUS_LINE.has(err.code ?? '');
}

/**
 * What a server that is no HTTP server sent, as a sentence's part: `it sent "SSH-2.0-OpenSSH_9.6"`
 * (its first line, at most 60 characters), `it sent binary data` when that line holds bytes that
 * are no printable ASCII; undefined when nothing came.
 */
function firstWords(raw: Buffer | undefined): string | undefined {
  if (!raw?.length) return undefined;
  const line = raw.subarray(0, 120).toString('latin1').split(/\r?\n/)[0]!;
  if (!line || /[^\x20-\x7e\t]/.test(line)) return 'it sent binary data';
  return `it sent "${line.length > 60 ? `${line.slice(0, 60)}…` : line}"`;
}

/** A request that ended without an answer, in the probe's terms, naming the host that failed. */
function failure(e: Error, spec: HttpSpec, signals: Signal[]): StepOutcome {
  const err = e as NodeJS.ErrnoException & { url?: URL; rawPacket?: unknown };
  const host = (err.url ?? spec.url).host;
  if (e instanceof Stalled) {
    const text =
      e.verdict === 'silent' || e.verdict === 'slow'
        ? `${e.message}: read timeout`
        : e.verdict === 'timeout'
          ? `${e.message}: connect timed out`
          : e.message;
    return {
      ok: false,
      detail: e.message,
      signals: [
        ...signals,
        { type: 'net.error', value: e.verdict },
        ...(e.budget ? [{ type: 'net.error', value: 'budget' }] : []),
      ],
      text,
    };
  }
  if (e instanceof UntrustedHop)
    return { ok: false, detail: e.message, signals: [...signals, ...e.signals], text: e.message };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // An HTTP answer whose head does not end: nothing about TLS, which that server spoke or did not need.
    const detail = `${host} sent a response head larger than 16 KB (not a usable HTTP answer)`;
    return { ok: false, detail, signals, text: detail };
  }
  if (err.code?.startsWith('HPE_') && malformedHttp(err)) {
    // An HTTP answer the parser gave up on past its status line: HTTP all the same, so nothing about TLS.
    const header = err.code === 'HPE_INVALID_HEADER_TOKEN';
    const detail = header
      ? `${host} answered HTTP, but with a header that cannot be parsed (${err.message}: a control character or another byte a header may not hold)`
      : `${host} answered HTTP, but its answer cannot be parsed (${err.message})`;
    return { ok: false, detail, signals, text: detail };
  }
  if (err.code?.startsWith('HPE_')) {
    // Another protocol on the port (an SSH or SMTP banner, a database's greeting): nothing about
    // TLS, which http:// never spoke. The scheme step names the protocol when the banner tells it.
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
    // A greeting the scheme step knows (SSH-2.0-..., 220 ... ESMTP) is quoted there, with its name.
    const sent = raw && greetingProtocol(raw) ? undefined : firstWords(raw);
    // Node's parser's own words ("Expected HTTP/, RTSP/ or ICE/") tell a user nothing more.
    const detail = `${host} answered in another protocol, not HTTP${sent ? ` (${sent})` : ''}`;
    return {
      ok: false,
      detail,
      signals: [...signals, { type: 'net.error', value: 'not-http' }],
      text: detail,
    };
  }
  return {
    ok: false,
    detail: err.code ? describeError(err, host) : err.message,
    signals: [...signals, ...errorSignals(err)],
    text: `${err.code ?? ''} ${err.message}`,
  };
}

/** On a 411 to an empty write: does an explicit Content-Length: 0 work? */
async function retryEmpty(
  spec: HttpSpec,
  headers: Record<string, string>,
  finding: HttpFinding,
  signal: AbortSignal,
): Promise<string> {
  const retry = await exchange(spec, headers, finding, signal, true);
  const works = retry.status < 400;
  finding.notes.push(
    works
      ? `Sent again with an explicit empty body (Content-Length: 0), the server answered ${retry.status}: it rejects only the chunked empty body.`
      : `Sent again with an explicit empty body (Content-Length: 0), the server still answered ${retry.status} ${retry.reason}.`,
  );
  return works ? '; with Content-Length: 0 it works' : '; Content-Length: 0 did not help either';
}

/** On a 403 to a write: is it the CSRF protection, and what would satisfy it? */
async function explainCsrf(
  spec: HttpSpec,
  res: Raw,
  headers: Record<string, string>,
  finding: HttpFinding,
  signals: Signal[],
  signal: AbortSignal,
): Promise<string> {
  const required = /^required$/i.test(String(res.rawHeaders['x-csrf-token'] ?? ''));
  const invalid = /csrf token validation failed|invalid csrf token/i.test(res.body);
  if (!required && !invalid) return '';
  if (spec.csrf) {
    signals.push({ type: 'http.csrf', value: 'invalid' });
    const got = finding.notes.some((n) => n.includes('but no session cookie'));
    signals.push(...(got ? [{ type: 'http.csrf', value: 'cookies-not-kept' }] : []));
    return ': the CSRF token was sent but not accepted';
  }
  signals.push({ type: 'http.csrf', value: required ? 'required' : 'invalid' });
  if (!WRITE.has(spec.method)) return ': the server asks for a CSRF token';
  // Try what the platform should do: fetch a token, keep the cookies, send both; then without the cookies.
  const f = await fetchToken(spec, headers, finding, signal);
  if (!f.token) {
    finding.notes.push('A CSRF fetch (GET with X-CSRF-Token: Fetch) returned no token.');
    return ': a CSRF token is required, and the fetch returned none';
  }
  const withBoth = await exchange(
    spec,
    { ...headers, 'x-csrf-token': f.token, cookie: cookieHeader(f.cookies) },
    finding,
    signal,
  );
  const withToken = await exchange(spec, { ...headers, 'x-csrf-token': f.token }, finding, signal);
  const sessionBound = withBoth.status < 400 && withToken.status === 403;
  if (sessionBound) signals.push({ type: 'http.csrf', value: 'cookies-not-kept' });
  finding.notes.push(
    withBoth.status < 400
      ? `With a fetched token and the session cookies the request works (${withBoth.status}).`
      : `Even with a fetched token and the session cookies the server answered ${withBoth.status}.`,
    sessionBound
      ? 'With the token but without the cookies it fails (403): the token belongs to the session, so the cookies must be kept (HTTP Session Reuse).'
      : `With the token but without the cookies the server answered ${withToken.status}.`,
  );
  return withBoth.status < 400
    ? ': no CSRF token was sent; with a fetched token and the session cookies it works'
    : ': CSRF token flow fails too';
}

/**
 * Paths a 404 may have meant: another case of the last segment, all lower-case, and the other
 * Cloud Integration endpoint prefix (/http/ for HTTPS senders, /cxf/ for SOAP senders).
 */
export function nearPaths(path: string): string[] {
  const segments = path.split('/');
  const last = segments.at(-1) ?? '';
  const toggled = last
    ? (last[0] === last[0]!.toUpperCase() ? last[0]!.toLowerCase() : last[0]!.toUpperCase()) + last.slice(1)
    : '';
  const variants = [
    [...segments.slice(0, -1), toggled].join('/'),
    path.toLowerCase(),
    path.replace(/^\/http\//, '/cxf/') !== path
      ? path.replace(/^\/http\//, '/cxf/')
      : path.replace(/^\/cxf\//, '/http/'),
  ];
  return [...new Set(variants)].filter((v) => v !== path && v !== '/');
}

/** On a 404: does a near path exist? Asked with GET only, so that nothing is written. */
async function explainNotFound(
  spec: HttpSpec,
  headers: Record<string, string>,
  finding: HttpFinding,
  signals: Signal[],
  signal: AbortSignal,
): Promise<string> {
  // The tenant's own list says which endpoint was meant: no guessing with more requests.
  if (spec.deployed) {
    finding.notes.push(endpointSentence(spec.url, spec.deployed.endpoints, spec.deployed.tenant));
    const cause = closestSignal(spec.url, spec.deployed.endpoints);
    if (cause) signals.push(cause);
    return closestHint(spec.url, spec.deployed.endpoints);
  }
  for (const path of nearPaths(spec.url.pathname)) {
    const url = new URL(spec.url);
    url.pathname = path;
    const r = await send(spec, url, 'GET', headers, undefined, signal).catch(() => undefined);
    if (!r) continue;
    finding.exchanges.push(strip(r));
    if (r.status !== 404) {
      finding.notes.push(
        `${path} answers ${r.status} ${r.reason} where ${spec.url.pathname} answers 404: check the spelling, case and prefix of the path.`,
      );
      return `; ${path} exists (${r.status})`;
    }
  }
  finding.notes.push(
    'No near path (other case, other /http/ or /cxf/ prefix) exists either: check that the endpoint is deployed and started.',
  );
  return '';
}
