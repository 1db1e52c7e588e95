// A read-only client of a Cloud Integration tenant's OData V2 API (`/api/v1`): the token flow, JSON
// answers, paging along `__next`, and every failure as one sentence. Sources: tenant-api.md §2
// (token flow), §3 (conventions), §4 (paging), §5 (errors), §7 (roles). Only GET goes to the API; the
// only POST is the token request to the key's token URL.
import { UserError } from '../errors.js';
import { printable } from '../report/printable.js';
import { type Answer, type HttpOptions, TenantHttp } from './http.js';
import type { ServiceKey } from './service-key.js';

/** Refresh a token this long before it expires (tenant-api.md §2: "about 60 s before expiry"). */
const REFRESH_EARLY_MS = 60_000;
/** A token answer is a few KB (tenant-api.md §2; the probe's OAuth step reads 64 KB at most too). */
const TOKEN_MAX_BYTES = 64 * 1024;
/** A page of 1000 MPLs is about 2 MB of JSON (tenant-api.md §8.1 example × 1000); room for fat ones. */
export const PAGE_MAX_BYTES = 32 * 1024 * 1024;
/** The API's page size (tenant-api.md §4: at most 1000 entries per call). */
export const PAGE_ROWS = 1000;

/** The role each entity set needs (tenant-api.md §7; ServiceEndpoints' role is not documented, §10). */
export const ROLE_OF: Record<string, string> = {
  MessageProcessingLogs: 'MonitoringDataRead',
  MessageProcessingLogErrorInformations: 'MonitoringDataRead',
  IntegrationRuntimeArtifacts: 'MonitoringDataRead',
  ServiceEndpoints: 'MonitoringDataRead',
  KeystoreEntries: 'MonitoringDataRead',
  Keystores: 'MonitoringDataRead',
  IntegrationPackages: 'WorkspacePackagesRead',
  IntegrationDesigntimeArtifacts: 'WorkspacePackagesRead',
  UserCredentials: 'MonitoringDataRead',
  AccessPolicies: 'AccessPoliciesRead',
};

export interface ClientOptions extends HttpOptions {
  /** Called when a token is fetched (first time: false, refresh: true): for tests and --verbose. */
  onToken?: (refresh: boolean) => void;
}

/** The OData error message of a body, JSON or Atom XML (tenant-api.md §5), printable and short. */
export function odataErrorMessage(body: Buffer): string | undefined {
  const text = body.subarray(0, 64 * 1024).toString('utf8');
  try {
    const j = JSON.parse(text) as { error?: { code?: string; message?: { value?: string } | string } };
    const m = j.error?.message;
    const v = typeof m === 'string' ? m : m?.value;
    if (v) return printable(v).slice(0, 300);
  } catch {
    // not JSON: maybe the XML form
  }
  const xml = /<message[^>]*>([\s\S]*?)<\/message>/.exec(text)?.[1];
  if (xml)
    return printable(
      xml
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&'),
    ).slice(0, 300);
  return undefined;
}

const isXml = (a: Answer) =>
  /xml/i.test(String(a.headers['content-type'] ?? '')) || /^\s*</.test(a.body.subarray(0, 64).toString());

/** An HTML page (a login or SSO page, a portal): by its media type or its first tag. */
const isHtml = (a: Answer) =>
  /text\/html|application\/xhtml/i.test(String(a.headers['content-type'] ?? '')) ||
  /^\s*(?:<!doctype html|<html)/i.test(a.body.subarray(0, 256).toString());

/** The entity set a path names: "MessageProcessingLogs('x')/ErrorInformation/$value" → MessageProcessingLogs. */
export const entitySetOf = (path: string) => /^\/?(?:api\/v1\/)?([A-Za-z]+)/.exec(path)?.[1] ?? path;

export class TenantClient {
  /** The service root, `${url}/api/v1/` (tenant-api.md §3). */
  readonly root: URL;
  readonly http: TenantHttp;
  private token?: { value: string; expiresAt: number };
  private fetching?: Promise<string>;
  /** Tokens fetched, refreshes included. */
  tokensFetched = 0;
  requests = 0;

  constructor(
    readonly key: ServiceKey,
    readonly opts: ClientOptions,
  ) {
    this.root = new URL(`${key.url}/api/v1/`);
    this.http = new TenantHttp(opts);
  }

  /** The tenant's host, for sentences. */
  get host(): string {
    return this.root.host;
  }

  /**
   * A bearer token: cached in memory only, refreshed 60 s before it expires; `force` fetches anew
   * (after a 401). Concurrent callers share one request.
   */
  async bearer(force = false): Promise<string> {
    if (!force && this.token && Date.now() < this.token.expiresAt - REFRESH_EARLY_MS) return this.token.value;
    if (this.fetching) return this.fetching;
    const refresh = !!this.token;
    this.fetching = this.fetchToken()
      .then((t) => {
        this.token = t;
        this.tokensFetched++;
        this.opts.onToken?.(refresh);
        return t.value;
      })
      .finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  /**
   * POST <tokenurl>?grant_type=client_credentials (tenant-api.md §2): Basic clientid:clientsecret for
   * a secret key; for a Certificate key, mutual TLS with only client_id in the body.
   */
  private async fetchToken(): Promise<{ value: string; expiresAt: number }> {
    const k = this.key;
    const url = new URL(k.tokenUrl);
    url.searchParams.set('grant_type', 'client_credentials');
    const mtls = !k.clientSecret && k.certificate && k.key;
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (mtls) body.set('client_id', k.clientId);
    const tokenUrl = `${url.origin}${url.pathname}`;
    const a = await this.http.send({
      method: 'POST',
      url,
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        ...(mtls
          ? {}
          : { authorization: `Basic ${Buffer.from(`${k.clientId}:${k.clientSecret}`).toString('base64')}` }),
      },
      body: body.toString(),
      ...(mtls ? { identity: { cert: k.certificate!, key: k.key! } } : {}),
      maxBytes: TOKEN_MAX_BYTES,
      what: 'the token URL',
    });
    let json: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } =
      {};
    try {
      json = JSON.parse(a.body.toString('utf8'));
    } catch {
      // an HTML page: the status tells
    }
    const said = [json.error, json.error_description]
      .filter((v): v is string => typeof v === 'string')
      .map((v) => printable(v).slice(0, 120))
      .join(': ');
    if (a.status === 401 || (a.status === 400 && /invalid_client|unauthorized/i.test(said)))
      throw new UserError(
        mtls
          ? `the token URL ${tokenUrl} refused the service key's certificate (${a.status}${said ? ` ${said}` : ''}): the key was deleted, the certificate expired, or oauth.tokenurl is not the certificate one`
          : `the token URL ${tokenUrl} refused the client id and secret of the service key (${a.status}${said ? ` ${said}` : ''}): the secret is wrong, or the key was deleted`,
      );
    if (a.status === 404)
      throw new UserError(
        `the token URL ${tokenUrl} does not exist (404): check oauth.tokenurl in the service key`,
      );
    if (a.status !== 200)
      throw new UserError(
        `the token URL ${tokenUrl} answered ${a.status}${a.tries > 1 ? ` after ${a.tries} tries` : ''}${said ? ` (${said})` : ''}`,
      );
    if (typeof json.access_token !== 'string' || !json.access_token)
      throw new UserError(
        `the token URL ${tokenUrl} answered 200 without an access_token: is it an OAuth token endpoint?`,
      );
    const seconds = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 3600;
    return { value: json.access_token, expiresAt: Date.now() + seconds * 1000 };
  }

  /** A path of the API (relative to the service root), or a link the tenant gave, as a URL of this tenant. */
  resolve(pathOrLink: string): URL {
    const u = new URL(pathOrLink, this.root);
    // The token goes to the service key's host only: a link elsewhere is not followed.
    if (u.origin !== this.root.origin)
      throw new UserError(
        `the tenant's answer links to another host (${printable(u.host)}): not followed, the token goes only to ${this.root.host}`,
      );
    return u;
  }

  /**
   * GET with the bearer token; a 401 fetches a new token once and tries again (tenant-api.md §2).
   * `accept: 'json'` adds `$format=json` and `Accept: application/json` (the default is Atom XML, §3).
   * Throws UserError for any answer but 2xx: the missing role (403), a wrong URL (404), the tenant
   * busy after the retries (429/5xx), with the tenant's own OData error message.
   */
  async get(pathOrLink: string, o: { accept: 'json' | 'text'; maxBytes: number }): Promise<Answer> {
    const url = this.resolve(pathOrLink);
    if (o.accept === 'json' && !url.searchParams.has('$format')) url.searchParams.set('$format', 'json');
    const what = `the tenant's API`;
    for (let retried = false; ; retried = true) {
      const token = await this.bearer(retried);
      this.requests++;
      const a = await this.http.send({
        method: 'GET',
        url,
        headers: {
          authorization: `Bearer ${token}`,
          accept: o.accept === 'json' ? 'application/json' : 'text/plain, */*',
        },
        maxBytes: o.maxBytes,
        what,
      });
      if (a.status === 401 && !retried) continue;
      if (a.status >= 200 && a.status < 300) return a;
      throw new UserError(this.sentence(a, url, retried));
    }
  }

  private sentence(a: Answer, url: URL, retried: boolean): string {
    const path = decodeURIComponent(url.pathname.replace(/^\/api\/v1\/?/, '')) || '/api/v1';
    const set = entitySetOf(path);
    const said = odataErrorMessage(a.body);
    const tail = said ? `: "${said}"` : '';
    switch (a.status) {
      case 401:
        return `the tenant ${this.host} refused the token${retried ? ' even after a fresh one' : ''} (401)${tail}: is the key of a Process Integration Runtime instance of plan api, on this tenant?`;
      case 403: {
        const role = ROLE_OF[set];
        return role
          ? `the service key lacks the role ${role} for ${set} (403)${tail}: add "${role}" to the roles of its service instance, then create a new key (a role change can take up to an hour to show)`
          : `the tenant ${this.host} refused ${set} (403)${tail}: the service instance lacks a role for it`;
      }
      case 404:
        return `the tenant ${this.host} has no ${path} (404)${tail}${/-rt\./.test(this.host) ? ': oauth.url is a runtime host (-rt); the API is on the host without -rt' : ': check oauth.url in the service key (the API host of plan api)'}`;
      case 429:
        return `the tenant ${this.host} is over its rate limit for ${set} (429 Too Many Requests, still after ${a.tries} tries)${tail}`;
      default:
        return `the tenant ${this.host} answered ${a.status} for ${set}${a.tries > 1 ? ` after ${a.tries} tries` : ''}${tail}`;
    }
  }

  /** GET a JSON answer's `d` (tenant-api.md §3 envelopes). Throws UserError when it is not that JSON. */
  async getJson(pathOrLink: string, maxBytes = PAGE_MAX_BYTES): Promise<Record<string, unknown>> {
    const a = await this.get(pathOrLink, { accept: 'json', maxBytes });
    const set = entitySetOf(this.resolve(pathOrLink).pathname);
    if (isHtml(a)) {
      const title = /<title[^>]*>([^<]{1,120})/i
        .exec(a.body.subarray(0, 64 * 1024).toString('utf8'))?.[1]
        ?.trim();
      throw new UserError(
        `${this.host} answered ${set} with an HTML page${title ? ` ("${printable(title)}")` : ''}, not the OData API: ` +
          'is oauth.url in the service key the API host of plan api (not the Web UI host), reached without a login page?',
      );
    }
    if (isXml(a))
      throw new UserError(`the tenant answered ${set} in XML although JSON was asked for ($format=json)`);
    let j: unknown;
    try {
      j = JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new UserError(`the tenant's answer for ${set} is not JSON (cut short, or not the OData API)`);
    }
    const d = (j as { d?: unknown })?.d;
    if (!d || typeof d !== 'object')
      throw new UserError(`the tenant's answer for ${set} has no "d" (not an OData V2 answer)`);
    return d as Record<string, unknown>;
  }

  /**
   * Every entity of a collection, page by page: at most 1000 rows per page, then `d.__next`, which
   * may be absolute, `/api/...` or relative to the service root (tenant-api.md §4). Stops with a
   * UserError on a link seen before (a loop) and after `maxRows` rows with `truncated` set.
   */
  async *pages(
    path: string,
    o: { maxRows?: number; onPage?: (rows: number, count?: number) => void } = {},
  ): AsyncGenerator<Record<string, unknown>[]> {
    const seen = new Set<string>();
    let link: string | undefined = path;
    let rows = 0;
    while (link) {
      const url = this.resolve(link).href;
      if (seen.has(url))
        throw new UserError(`the tenant's next link repeats an earlier page: paging stopped`);
      seen.add(url);
      const d = await this.getJson(link);
      const results = d.results;
      if (!Array.isArray(results))
        throw new UserError(`the tenant's answer for ${entitySetOf(path)} has no d.results`);
      rows += results.length;
      // __count is a string (tenant-api.md §3).
      const count =
        typeof d.__count === 'string' || typeof d.__count === 'number' ? Number(d.__count) : undefined;
      o.onPage?.(rows, Number.isFinite(count) ? count : undefined);
      yield results as Record<string, unknown>[];
      if (o.maxRows !== undefined && rows >= o.maxRows) return;
      link = typeof d.__next === 'string' && d.__next ? d.__next : undefined;
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
