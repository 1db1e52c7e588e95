// HTTPS to the tenant and its token URL: Node's CA store (NODE_EXTRA_CA_CERTS works as everywhere
// in Node), a proxy from HTTPS_PROXY/NO_PROXY (undici's EnvHttpProxyAgent: CONNECT tunnels), one
// bound per request (connect, headers and body together), a byte limit per answer, and bounded
// retries with backoff on the statuses a tenant answers when it is busy (429 above the rate limits
// of tenant-api.md §4; 502/503/504 from its load balancer, 503 for a locked keystore, §5).
import { rootCertificates } from 'node:tls';
import { EnvHttpProxyAgent, Pool, errors as undiciErrors, request } from 'undici';
import type { Dispatcher } from 'undici';
import { UserError } from '../errors.js';

/** Statuses worth another try after a pause (tenant-api.md §4 rate limits, §5 keystore locked). */
export const RETRY_STATUSES = new Set([429, 502, 503, 504]);
/** Tries after the first, at most, and the longest pause between two (a Retry-After above it is cut). */
export const DEFAULT_RETRIES = 3;
export const MAX_PAUSE_MS = 10_000;

export interface HttpOptions {
  /** Bound of each request, connect to last byte, in ms. */
  timeoutMs: number;
  /** Tries after the first on RETRY_STATUSES (default DEFAULT_RETRIES). */
  retries?: number;
  /** The first pause; each next one doubles (default 500 ms). Retry-After wins when shorter than MAX_PAUSE_MS. */
  backoffMs?: number;
  /** Extra CA certificates (PEM) besides Node's own: for tests; users set NODE_EXTRA_CA_CERTS. */
  ca?: string[];
  /** Called before each pause, for a progress line: the status, the try, the pause in ms. */
  onRetry?: (status: number, attempt: number, pauseMs: number) => void;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Tries it took (1 when the first answered). */
  tries: number;
}

export interface Ask {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** A client certificate (PEM chain and key) for mutual TLS: the Certificate service key's. */
  identity?: { cert: string; key: string };
  /** The longest answer read; a longer one is an error. */
  maxBytes: number;
  /** What is asked, for sentences: "the token URL", "the tenant's API". */
  what: string;
}

/** One sentence for a failed request; `retryable` when the status was in RETRY_STATUSES. */
export class TransportError extends UserError {
  override name = 'TransportError';
}

/** A pause that ends early with the signal. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function retryAfterMs(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const CERT_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate chain does not lead to a CA this machine trusts',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate chain does not lead to a CA this machine trusts',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a root this machine does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it shows a self-signed certificate',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate is not valid for that host name',
};

/** A transport failure in one sentence, naming the host and never a credential. */
export function transportSentence(e: unknown, url: URL, what: string, timeoutMs: number): string {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err?.cause?.code ?? err?.code ?? '';
  const host = url.host;
  const proxied = !!(process.env.https_proxy ?? process.env.HTTPS_PROXY);
  // Before the timeout: undici reports a refused tunnel as a RequestAbortedError, named AbortError.
  if (/Proxy response \((\d+)\)/.test(err?.message ?? '')) {
    const status = /Proxy response \((\d+)\)/.exec(err.message)![1];
    return `the proxy of HTTPS_PROXY refused the tunnel to ${host} (${status}${status === '407' ? ': it wants credentials' : ''}); set NO_PROXY=${url.hostname} if the host is reached directly`;
  }
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError' || /TIMEOUT/.test(code))
    return `${what} (${host}) did not answer within ${timeoutMs / 1000} s (--timeout)${proxied ? ', through the proxy of HTTPS_PROXY (a proxy that does not answer the tunnel request looks the same)' : ''}`;
  if (CERT_CODES[code])
    return `${what} (${host}) is not trusted: ${CERT_CODES[code]} (add the CA with NODE_EXTRA_CA_CERTS=FILE)`;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${what}: the host ${url.hostname} does not resolve (DNS); check the URL in the service key`;
    case 'ECONNREFUSED':
      return proxied
        ? `${what} (${host}) or the proxy of HTTPS_PROXY refused the connection`
        : `${what} (${host}) refused the connection; check the URL in the service key`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `${what} (${host}) closed the connection before it answered`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${what} (${host}) is unreachable from here (no route)`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `${what} (${host}) does not speak TLS on that port`;
    default:
      return `${what} (${host}) failed: ${(err?.message ?? String(e)).split('\n')[0]!.slice(0, 200)}`;
  }
}

/** The HTTP client of the tenant commands. `close()` when done. */
export class TenantHttp {
  private readonly plain: Dispatcher;
  private readonly withIdentity = new Map<string, Dispatcher>();

  constructor(readonly opts: HttpOptions) {
    this.plain = this.dispatcher();
  }

  private dispatcher(identity?: { cert: string; key: string }): Dispatcher {
    const tls = {
      // A `ca` option replaces Node's roots, so extra CAs (tests) come with them.
      ...(this.opts.ca ? { ca: [...this.opts.ca, ...rootCertificates] } : {}),
      ...(identity ? { cert: identity.cert, key: identity.key } : {}),
    };
    const bound = { headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs };
    return new EnvHttpProxyAgent({
      connect: { ...tls, timeout: this.opts.timeoutMs },
      requestTls: tls,
      ...bound,
      connections: 16,
      // The client to the proxy itself, whose CONNECT neither the request's signal nor the options
      // above reach: bounded too, else a proxy that accepts and stays silent holds a request for
      // undici's default 300 s.
      clientFactory: (origin: URL | string, options: object) => new Pool(origin, { ...options, ...bound }),
    });
  }

  private dispatcherFor(identity?: { cert: string; key: string }): Dispatcher {
    if (!identity) return this.plain;
    let d = this.withIdentity.get(identity.cert);
    if (!d) this.withIdentity.set(identity.cert, (d = this.dispatcher(identity)));
    return d;
  }

  /** One try: the answer, or a TransportError sentence. */
  private async once(ask: Ask): Promise<Omit<Answer, 'tries'>> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const res = await request(ask.url, {
        method: ask.method,
        headers: ask.headers,
        ...(ask.body !== undefined ? { body: ask.body } : {}),
        dispatcher: this.dispatcherFor(ask.identity),
        signal,
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > ask.maxBytes) {
          res.body.destroy();
          throw new TransportError(
            `${ask.what} (${ask.url.host}) sent more than ${Math.round(ask.maxBytes / 1024)} KB for one answer: stopped reading`,
          );
        }
        chunks.push(chunk as Buffer);
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
    } catch (e) {
      if (e instanceof TransportError) throw e;
      if (
        e instanceof undiciErrors.ResponseContentLengthMismatchError ||
        /other side closed|terminated/i.test((e as Error)?.message ?? '')
      )
        throw new TransportError(
          `${ask.what} (${ask.url.host}) broke off its answer before the end (a truncated response)`,
        );
      throw new TransportError(transportSentence(e, ask.url, ask.what, this.opts.timeoutMs));
    }
  }

  /** Sends, retrying a busy answer (RETRY_STATUSES) a bounded number of times with growing pauses. */
  async send(ask: Ask): Promise<Answer> {
    const retries = this.opts.retries ?? DEFAULT_RETRIES;
    const base = this.opts.backoffMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      const a = await this.once(ask);
      if (!RETRY_STATUSES.has(a.status) || attempt >= retries) return { ...a, tries: attempt + 1 };
      const backoff = base * 2 ** attempt;
      const wait = Math.min(retryAfterMs(a.headers['retry-after']) ?? backoff, MAX_PAUSE_MS);
      this.opts.onRetry?.(a.status, attempt + 1, wait);
      await pause(wait);
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.plain, ...this.withIdentity.values()].map((d) => d.close().catch(() => undefined)),
    );
  }
}
