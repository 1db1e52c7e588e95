// The oauth step: fetch a token with the OAuth2 client-credentials grant, as a sender does with the
// tokenurl of a service key, judged with the same trust store; a failure is a diagnosis like any
// other step's. Neither the secret nor the token is ever shown: only what the token says of itself.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { TrustStore } from '../trust/store.js';
import type { OAuthFinding } from '../types.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';

export interface OAuthSpec {
  tokenUrl: string;
  clientId: string;
  /** Never printed. */
  secret: string;
  /** How the token URL's host is resolved (default: the system's); see lookupFrom in src/probe/net.ts. */
  lookup?: LookupFunction;
}

/** The claims of a JWT, or undefined when the token is opaque. */
function claims(token: string): { scope?: string[] | string; client_id?: string; cid?: string } | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Where a token URL's redirect leads, said safely: "to ORIGIN/PATH" (its user, password, query and
 * fragment left out: a Location may carry anything), or why it leads nowhere.
 */
function redirectTarget(location: string | undefined, base: URL): string {
  if (!location?.trim()) return 'that names no Location';
  try {
    const to = new URL(location.trim(), base);
    if (to.protocol !== 'http:' && to.protocol !== 'https:') return `to a ${to.protocol} URL`;
    return `to ${to.origin}${to.pathname}`;
  } catch {
    return 'to a Location that is not a URL';
  }
}

/** The longest token endpoint answer read. */
const TOKEN_ANSWER_MAX = 64 * 1024;

export function oauthStep(
  spec: OAuthSpec,
  store: TrustStore,
  out: { token?: string; finding?: OAuthFinding },
  signal: AbortSignal,
): Promise<StepOutcome> {
  const url = new URL(spec.tokenUrl);
  const finding: OAuthFinding = { tokenUrl: `${url.origin}${url.pathname}` };
  out.finding = finding;
  return new Promise((resolve) => {
    const lib = url.protocol === 'https:' ? https : http;
    const body = 'grant_type=client_credentials';
    const req = lib.request(url, {
      method: 'POST',
      agent: false,
      signal,
      ...(spec.lookup ? { lookup: spec.lookup } : {}),
      // The token URL is judged by the same store as the target (Node then verifies the chain).
      ca: store.entries.map((e) => e.cert.toString()),
      headers: {
        authorization: `Basic ${Buffer.from(`${spec.clientId}:${spec.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(body.length),
        accept: 'application/json',
      },
    });
    req.once('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') return;
      resolve({
        ok: false,
        detail: `the token URL ${finding.tokenUrl} could not be reached: ${describeError(e, url.host)}`,
        signals: errorSignals(e),
        text: `OAuth token request to ${finding.tokenUrl} failed: ${e.code ?? ''} ${e.message}`,
      });
    });
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      // A token answer takes a few KB; a longer one is not read to its end.
      let ended = false;
      const answer = () => {
        if (ended) return;
        ended = true;
        req.destroy();
        finding.status = res.statusCode ?? 0;
        let json: {
          access_token?: string;
          token_type?: string;
          expires_in?: number;
          error?: string;
          error_description?: string;
        } = {};
        try {
          json = JSON.parse(text);
        } catch {
          // an HTML error page: its status says enough
        }
        if (res.statusCode === 200 && json.access_token) {
          out.token = json.access_token;
          const c = claims(json.access_token);
          const scopes = Array.isArray(c?.scope) ? c.scope : c?.scope?.split(' ');
          Object.assign(finding, {
            ...(json.token_type ? { tokenType: json.token_type } : {}),
            ...(json.expires_in !== undefined ? { expiresIn: json.expires_in } : {}),
            ...(scopes ? { scopes } : {}),
            ...((c?.client_id ?? c?.cid) ? { clientId: c?.client_id ?? c?.cid } : {}),
          });
          return resolve({
            ok: true,
            detail: `a ${json.token_type ?? 'bearer'} token from ${finding.tokenUrl}${json.expires_in ? `, valid ${json.expires_in} s` : ''}${scopes ? `, scopes: ${scopes.join(' ')}` : ''}`,
          });
        }
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && status !== 304) {
          // Not followed: the client id and secret go only to the token URL given. A token endpoint
          // does not redirect; the URL is another one (http:// for https://, a login page, a path).
          const where = redirectTarget(res.headers.location, url);
          const detail = `the token URL answered ${status} ${res.statusMessage ?? ''}, a redirect ${where} (not followed: the client id and secret go only to the URL given): the token URL is wrong, use the tokenurl of the service key (https://, ending in /oauth/token)`;
          return resolve({
            ok: false,
            detail,
            signals: [
              { type: 'http.redirect', value: 'token-url', detail: where },
              { type: 'http.status', value: String(status), detail: 'OAuth token endpoint' },
            ],
            text: `OAuth token request to ${finding.tokenUrl}: ${detail}`,
          });
        }
        finding.error = [json.error, json.error_description].filter(Boolean).join(': ') || undefined;
        resolve({
          ok: false,
          detail: `the token URL answered ${res.statusCode} ${res.statusMessage ?? ''}${finding.error ? ` (${finding.error})` : ''}: check the client id and secret of the service key`,
          signals: [{ type: 'http.status', value: String(res.statusCode), detail: 'OAuth token endpoint' }],
          text: `OAuth token request to ${finding.tokenUrl} failed: HTTP ${res.statusCode} ${json.error ?? ''} ${json.error_description ?? ''}`,
        });
      };
      res.on('data', (c: string) => {
        text += c;
        if (text.length > TOKEN_ANSWER_MAX) answer();
      });
      res.once('end', answer);
    });
    req.end(body);
  });
}
