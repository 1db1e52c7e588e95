// The http step: one request the way the platform's HTTP receiver sends it, with redirects, the
// CSRF token flow and the empty-body (411) retry, explained in the knowledge base's terms.
import http from 'node:http';
import https from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { Signal } from '../types.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';

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
  /** TLS options for https (the probe's trust decision is its own, so no verification here). */
  tls?: ConnectionOptions;
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
}

export interface HttpFinding {
  exchanges: HttpExchange[];
  status?: number;
  reason?: string;
  wwwAuthenticate?: string;
  redirects: string[];
  /** What the CSRF and 411 experiments showed, in sentences. */
  notes: string[];
}

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SHOWN =
  /^(?:server|content-type|content-length|location|retry-after|www-authenticate|x-csrf-token|via|sap-[\w-]+|x-sap-[\w-]+|proxy-authenticate|x-correlationid|x-request-id|transfer-encoding|connection)$/i;
const BODY_MAX = 2048;

interface Raw extends HttpExchange {
  setCookies: string[];
  rawHeaders: http.IncomingHttpHeaders;
}

function mask(name: string, value: string): string {
  if (/^x-csrf-token$/i.test(name) && !/^(?:required|fetch)$/i.test(value))
    return `(a token, ${value.length} characters)`;
  return value;
}

/** One request, bounded by `signal`; rejects with the socket error. */
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
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, {
      method,
      headers,
      agent: false,
      signal,
      ...(url.protocol === 'https:' ? spec.tls : {}),
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const firstByte = performance.now() - started;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < BODY_MAX) chunks.push(c);
        size += c.length;
      });
      res.once('error', reject);
      res.once('end', () => {
        const shown: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers))
          if (SHOWN.test(k) && v !== undefined) shown[k] = mask(k, Array.isArray(v) ? v.join(', ') : v);
        const setCookies = res.headers['set-cookie'] ?? [];
        if (setCookies.length)
          shown['set-cookie'] = setCookies.map((c) => `${c.split('=')[0]}=(value hidden)`).join(', ');
        resolve({
          method,
          url: url.href,
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          headers: shown,
          ms: { firstByte: Math.round(firstByte), total: Math.round(performance.now() - started) },
          body: Buffer.concat(chunks).toString('utf8').slice(0, BODY_MAX),
          setCookies,
          rawHeaders: res.headers,
        });
      });
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

/** Sends the request, following redirects up to the bound; detects loops. */
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
    const b = bodyOf(spec, method, headers, explicitEmpty);
    const r = await send(spec, url, method, b.headers, b.body, signal);
    finding.exchanges.push(strip(r));
    const location = r.rawHeaders.location;
    if (![301, 302, 303, 307, 308].includes(r.status) || !location) return r;
    seen.add(url.href);
    const next = new URL(location, url);
    finding.redirects.push(`${r.status} → ${next.href}`);
    if (seen.has(next.href)) throw Object.assign(new Error('redirect loop'), { loop: true, last: r });
    if (finding.redirects.length > spec.maxRedirects)
      throw Object.assign(new Error('too many redirects'), { loop: false, last: r });
    if (r.status === 303 || ((r.status === 301 || r.status === 302) && method !== 'GET' && method !== 'HEAD'))
      method = 'GET';
    url = next;
  }
}

const strip = ({ setCookies: _s, rawHeaders: _r, ...x }: Raw): HttpExchange => x;

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
          `The CSRF fetch got a token${f.cookies.length ? ` and ${f.cookies.length} session cookie(s)` : ' but no session cookie'}.`,
        );
      }
      if (f.cookies.length) headers.cookie = cookieHeader(f.cookies);
    }
    res = await exchange(spec, headers, finding, signal);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { loop?: boolean; last?: Raw };
    if (err.last) {
      signals.push(
        { type: 'http.redirect', value: err.loop ? 'loop' : 'too-many' },
        { type: 'http.status', value: String(err.last.status) },
      );
      const detail = err.loop
        ? `redirect loop: ${finding.redirects.join(', ')}`
        : `more than ${spec.maxRedirects} redirects: ${finding.redirects.join(', ')}`;
      return { ok: false, detail, signals, text: `${detail}\n${responseText(err.last)}` };
    }
    if (err.name === 'AbortError') throw err;
    return {
      ok: false,
      detail: describeError(err, spec.url.host),
      signals: [...signals, ...errorSignals(err)],
      text: `${err.code ?? ''} ${err.message}`,
    };
  }
  finding.status = res.status;
  finding.reason = res.reason;
  const challenge = res.rawHeaders['www-authenticate'];
  if (challenge) finding.wwwAuthenticate = Array.isArray(challenge) ? challenge.join(', ') : challenge;
  signals.push(
    { type: 'http.status', value: String(res.status), detail: res.reason },
    { type: 'probe.status', value: String(res.status), detail: res.reason },
  );
  if (res.status < 400) return { ok: true, detail: `${res.status} ${res.reason}`, signals };

  let detail = `${res.status} ${res.reason}`;
  if (res.status === 401 && finding.wwwAuthenticate) {
    const scheme = finding.wwwAuthenticate.split(/\s/)[0]!.toLowerCase();
    signals.push({ type: 'http.auth', value: scheme });
    detail += `: the server wants ${scheme === 'basic' ? 'Basic (user and password)' : scheme} authentication${spec.auth ? ' and refused the credentials sent' : ', and none was sent'}`;
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
  if (res.status === 403) detail += await explainCsrf(spec, res, baseHeaders(spec), finding, signals, signal);
  if (res.status === 404) detail += await explainNotFound(spec, headers, finding, signal);
  if (res.status === 411 && WRITE.has(spec.method) && spec.data === undefined) {
    const retry = await exchange(spec, headers, finding, signal, true);
    const works = retry.status < 400;
    finding.notes.push(
      works
        ? `Sent again with an explicit empty body (Content-Length: 0), the server answered ${retry.status}: it rejects only the chunked empty body.`
        : `Sent again with an explicit empty body (Content-Length: 0), the server still answered ${retry.status} ${retry.reason}.`,
    );
    detail += works ? '; with Content-Length: 0 it works' : '; Content-Length: 0 did not help either';
  }
  return { ok: false, detail, signals, text: responseText(res) };
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
  signal: AbortSignal,
): Promise<string> {
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
