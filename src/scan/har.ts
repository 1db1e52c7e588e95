// HAR files (a browser's or a proxy's record of HTTP exchanges): a failed exchange (no response,
// an HTTP error, a redirect to a login page) is an incident. The text handed to the matcher is
// built from the response only: request headers, cookies, query strings and bodies sent carry
// credentials, and none of them is ever read.
import type { Candidate, Place, Report } from './incident.js';
import { redact } from '../redact.js';
import { parseTime } from './text.js';
import { isSignInUrl } from '../sign-in.js';

/** Response headers that help a diagnosis and carry no secret. */
const SAFE_HEADERS = new Set([
  'www-authenticate',
  'proxy-authenticate',
  'location',
  'content-type',
  'sap-err-id',
]);
const TEXTUAL = /json|xml|html|text|javascript/i;
/** What of a response body the matcher reads. */
const MAX_BODY = 2048;

type Rec = Record<string, unknown>;

const obj = (v: unknown): Rec | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined;

function header(res: Rec, name: string): string | undefined {
  const headers = Array.isArray(res.headers) ? (res.headers as Rec[]) : [];
  const h = headers.find((x) => typeof x?.name === 'string' && x.name.toLowerCase() === name);
  return typeof h?.value === 'string' ? h.value : undefined;
}

/** A URL without its query and fragment, which may hold tokens. */
function bare(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
}

function body(res: Rec): string {
  const content = obj(res.content);
  if (!content || typeof content.text !== 'string' || !TEXTUAL.test(String(content.mimeType ?? '')))
    return '';
  const raw =
    content.encoding === 'base64'
      ? Buffer.from(content.text.slice(0, (MAX_BODY * 4) / 3 + 4), 'base64').toString('utf8')
      : content.text.slice(0, MAX_BODY);
  return redact(raw);
}

/** The entry as a candidate, or null when the exchange went well; a malformed entry is reported. */
export function harCandidate(entry: Rec, place: Place, report: Report): Candidate | null {
  const req = obj(entry.request);
  const res = obj(entry.response);
  const missing = !req
    ? 'request'
    : typeof req.url !== 'string'
      ? 'request.url'
      : !res
        ? 'response'
        : typeof res.status !== 'number'
          ? 'response.status'
          : '';
  if (missing) {
    report({ place, message: `a HAR entry without ${missing}: skipped` });
    return null;
  }
  let url: URL;
  try {
    url = new URL(req!.url as string);
  } catch {
    report({ place, message: 'a HAR entry whose request.url is not a URL: skipped' });
    return null;
  }
  const status = res!.status as number;
  const error = [res!._error, entry._error].find((e): e is string => typeof e === 'string' && e !== '');
  const location = header(res!, 'location');
  const failing =
    status <= 0 || error
      ? `no response${error ? ` (${error})` : ''}`
      : status >= 400
        ? `HTTP ${status}`
        : status >= 300 && location && isSignInUrl(location)
          ? 'redirect to a login page'
          : undefined;
  if (!failing) return null;

  const method = typeof req!.method === 'string' ? req!.method : 'GET';
  const version =
    typeof res!.httpVersion === 'string' && /^HTTP\//i.test(res!.httpVersion) ? res!.httpVersion : 'HTTP/1.1';
  const statusText = typeof res!.statusText === 'string' ? res!.statusText : '';
  const lines = [`${method} ${bare(url)}`];
  if (status > 0) lines.push(`${version} ${status} ${statusText}`.trim());
  for (const name of SAFE_HEADERS) {
    const v = header(res!, name);
    if (v) lines.push(`${name}: ${name === 'location' ? safeLocation(v, url) : v}`);
  }
  const csrf = header(res!, 'x-csrf-token');
  if (csrf && /^(?:required|fetch)$/i.test(csrf)) lines.push(`x-csrf-token: ${csrf}`);
  if (error) lines.push(error);
  const text = redact([...lines, body(res!)].join('\n').trim());
  const started = typeof entry.startedDateTime === 'string' ? entry.startedDateTime : undefined;
  const at = started ? parseTime(started) : undefined;
  return {
    text,
    place,
    message: `${method} ${url.host}${url.pathname} → ${status > 0 ? `${status} ${statusText}`.trim() : failing}`,
    ...(started ? { time: started } : {}),
    ...(at !== undefined ? { at } : {}),
    failing,
    host: url.hostname,
  };
}

function safeLocation(location: string, base: URL): string {
  try {
    return bare(new URL(location, base));
  } catch {
    return '(not a URL)';
  }
}
