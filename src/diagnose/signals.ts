// Reads the signals out of an error text: HTTP statuses with their context, exception classes,
// SAP ICM/SSL codes, TLS alerts, socket errors, adapter markers, URLs, hosts, ports, certificate
// names, and who reported the error. Every signal keeps the span of the text it came from.
import type { Facts, Signal } from '../types.js';
import { bounded } from '../kb/bounded.js';
import { CUES } from './cues.js';
import { logEntries } from './log-entries.js';
import { isSignInUrl } from '../sign-in.js';

const REASONS: Record<string, number> = {
  'bad request': 400,
  unauthorized: 401,
  unauthorised: 401,
  unathorized: 401,
  forbidden: 403,
  'not found': 404,
  'method not allowed': 405,
  'proxy authentication required': 407,
  'request timeout': 408,
  'request time-out': 408,
  'length required': 411,
  'payload too large': 413,
  'request entity too large': 413,
  'unsupported media type': 415,
  'too many requests': 429,
  'internal server error': 500,
  'bad gateway': 502,
  'service unavailable': 503,
  'service temporarily unavailable': 503,
  'gateway timeout': 504,
  'gateway time-out': 504,
};
const REASON_RE = Object.keys(REASONS)
  .sort((a, b) => b.length - a.length)
  .map((r) => r.replace(/ /g, '\\s+').replace('-', '-?'))
  .join('|');

/** The words of each reason phrase: "request entity too large" → request, entity, too, large. */
const REASON_WORDS = Object.keys(REASONS).map((r) => r.split(/[\s-]+/));

/**
 * Whether `text` may hold a reason phrase of REASONS: every word of one of them occurs in it, in
 * any case. The patterns built from REASON_RE are the largest the reader has (7,500 regexp
 * bytecodes together), and their required literals hold in many a text without a phrase
 * ("request" in "to requested target"): this test spares compiling and running them there.
 */
function mayHoldReason(text: string): boolean {
  const lower = text.toLowerCase();
  return REASON_WORDS.some((words) => words.every((w) => lower.includes(w)));
}

function reasonCode(phrase: string): number | undefined {
  return REASONS[phrase.toLowerCase().replace(/\s+/g, ' ')];
}

/** Status patterns; group `code` is the status, `reason` its phrase, `url` the called URL. */
// Separators are one class with one run (`[\s:#(-]*`), never `\s*[:#]?\s*`: optional items between
// runs of blanks multiply the ways a failing attempt can split a long blank run (the http-code
// pattern took 0.7 s per MB of "HTTP" and spaces with three such runs; bench/adversarial.bench.mjs).
// `phrase`: every match holds a reason phrase of REASONS (the pattern is built from REASON_RE).
const STATUS_PATTERNS: { re: RegExp; context: string; phrase?: true }[] = [
  {
    re: /HTTP response '(?<code>\d{3})(?::\s*(?<reason>[^'\n]*))?' when communicating with (?<url>(?:[^\s'"<>/@:]{1,256}:\/\/[^\s'"<>/@:]{1,256}:<redacted>@)?[^\s'"<>]+)/gi,
    context: 'cxf',
  },
  {
    re: /(?:invoking|calling)\s+(?<url>\S+)\s+with\s+status\s?code:?\s*(?<code>\d{3})/gi,
    context: 'camel',
  },
  {
    re: /\bHTTP\/\d(?:\.\d)?\s+(?<code>[1-5]\d\d)\b(?:[ \t]+(?<reason>[A-Za-z][A-Za-z -]{1,40}))?/g,
    context: 'status-line',
  },
  {
    re: /\bstatus[\s_-]?code(?: of)?\b\W{0,3}(?<code>[1-5]\d\d)\b|\b(?:HTTP[\s_-]*)?status[\s:=]*(?<code2>[1-5]\d\d)\b/gi,
    context: 'status-field',
  },
  {
    re: /\bHTTP(?:[\s_-]*(?:error[\s_-]*code|errorcode|error|status[\s_-]*error|status|code|response))?[\s_:.#([-]*(?<code>[1-5]\d\d)\b(?![.:/]\d)/gi,
    context: 'http-code',
  },
  {
    re: new RegExp(`\\b(?<code>[1-5]\\d\\d)[\\s:"'(-]*(?<reason>${REASON_RE})\\b`, 'gi'),
    context: 'code-reason',
    phrase: true,
  },
  {
    re: new RegExp(`\\b(?<reason>${REASON_RE})\\s*[("'\\[]\\s*(?<code>[1-5]\\d\\d)\\s*[)"'\\]]`, 'gi'),
    context: 'reason-code',
    phrase: true,
  },
  {
    re: /\b(?:an?|got|get|getting|gets|gives?|gave|returns?|returning|returned|receiv(?:e|es|ed|ing)|throws?|throwing|fails? with|failed with|(?:responded|answered|replied) with|answers?|error|response|code|receiver|sender|adapter|endpoint|backend|server|API|service)\s+(?:an?\s+)?(?:HTTP\s+)?(?:error\s+|status\s+|code\s+|response\s+)?(?<code>[45]\d\d)\b(?![.,:]\d)(?!\s*(?:ms|bytes|kb|mb|seconds?|records?|rows?|items?|entries|lines?|%))/gi,
    context: 'prose',
  },
  // Not the milliseconds of a log line's time before its level ("10:00:01,503 ERROR").
  { re: /(?<!\d[.,:])\b(?<code>[45]\d\d)\s+(?:error|response|status|http)\b/gi, context: 'prose' },
  {
    re: new RegExp(
      `\\(\\s*(?<code>[1-5]\\d\\d)\\s*\\)\\s*(?<reason>${REASON_RE})\\b|\\b(?<reason2>${REASON_RE})\\s*:\\s*(?<code2>[1-5]\\d\\d)\\b`,
      'gi',
    ),
    context: 'code-reason',
    phrase: true,
  },
  {
    re: /\bresponse code:?\s*(?<code>[1-5]\d\d)\b/gi,
    context: 'response-code',
  },
  // A status first on its line (or quoted) followed by a dash and the server's message, which need not
  // be a reason phrase: '503 - "The SuccessFactors suite is undergoing maintenance"', '`503 - The
  // backend is unhealthy`'. A range ("400 - 499") or a number ("500 - 600 ms") has no word after.
  {
    re: /(?:^[\t >*-]*|(?<=[`"'(]))(?<code>[45]\d\d)[\t ]+[-\u2013][\t ]+(?=["\u201c'A-Za-z])/gm,
    context: 'status-line',
  },
  // An access log line: "POST /http/orders HTTP/1.1" 404
  {
    re: /"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP\/\d(?:\.\d)?" (?<code>[1-5]\d\d)\b/g,
    context: 'access-log',
  },
  // A reason phrase alone says the status too; "Not Found" and the gateway phrases only capitalised, as they are common prose.
  {
    // Not a word joined by a hyphen ("#forbidden-header-name", a URL's slug) nor the Fetch standard's
    // "forbidden header": a phrase there names no response.
    re: /\b(?<reason>unauthori[sz]ed|unathorized|forbidden|length\s+required|service\s+(?:temporarily\s+)?unavailable|proxy\s+authentication\s+required)\b(?!-\w|\s+headers?\b)/gi,
    context: 'reason',
  },
  { re: /\b(?<reason>Not\s+Found|Bad\s+Gateway|Gateway\s+Time-?out)\b/g, context: 'reason' },
];

/**
 * SAP's ABAP HTTP client (and abapGit on top of it) reports a failed connect or TLS handshake with its
 * own return code where a status would stand: "HTTP error 411 occured: ... NIECONN_REFUSED",
 * "HTTP client code 407 reason ICM_HTTP_SSL_ERROR". Such a number followed by an NI, ICM or SSSLERR
 * code is not an HTTP status.
 */
const ICM_RC_AFTER =
  /^(?:(?!\b\d{3}\b)[^\n]){0,80}?(?:\bN[IT]E[A-Z]{3,}|\bICM_HTTP_[A-Z_]+|\bSSSLERR_[A-Z_]+|\b[Dd]irect connect to \S+ failed|\b[Cc]onnect to \S+ failed)/;

interface Extractor {
  type: string;
  re: RegExp;
  /** Value of the signal; the whole match when absent. */
  value?: (m: RegExpExecArray) => string | undefined;
  /** What follows the match, quoted from `shown` (the text as given, at the same offsets as the one read). */
  detail?: (m: RegExpExecArray, shown: string) => string | undefined;
}

/**
 * File names of code and logs, which a stack frame or a script's error prints with a line number
 * ("SFTPProducer.java:123", "At C:\\Scripts\\Sync.ps1:398 char:5"): no host, and the number no port.
 * Extensions that are also country domains (.sh, .pl, .rs, .cc) are not listed: hosts end so.
 */
const NOT_HOST =
  /\.(?:java|groovy|kt|kts|scala|js|mjs|cjs|ts|tsx|jsx|py|rb|php|go|cs|vb|vbs|ps1|psm1|psd1|bat|cmd|lua|swift|cpp|hpp|abap|sql|gradle|xml|xsl|xslt|class|jar|json|yaml|yml|log|trc|txt|html?|wsdl|svc)$/i;

/** Words that introduce a link to read, not a call: "More details here: URL", "Visit URL", "For more information, see URL". */
const REFERENCE_BEFORE =
  /(?:more (?:details|information|info)(?: here| at)?|for (?:more )?(?:information|details|help),? see|visit|refer to|read more(?: at)?|learn more(?: at)?)\s*:?\s*$/i;
/** Words after a link that make it one to read: "Visit URL for more information". */
const REFERENCE_AFTER = /^[\s.,;:)]{0,3}(?:for (?:more )?(?:information|details|help)|to learn more)\b/i;
/** Hosts of the help links clients print under their errors (curl's docs, Microsoft's short links): never the endpoint called. */
const HELP_HOST = /^(?:https?:\/\/)(?:curl\.se|curl\.haxx\.se|aka\.ms|go\.microsoft\.com\/fwlink)[/:?#]/i;

/**
 * Whether the URL at [start, end) of `text` is a link a client prints for the user to read (curl's
 * "More details here: https://curl.se/docs/sslcerts.html", Microsoft 365's "Visit https://aka.ms/...
 * for more information"): boilerplate of the error, not the endpoint that failed, so no fact.
 */
function referenceLink(text: string, start: number, end: number): boolean {
  return (
    HELP_HOST.test(text.slice(start, end + 1)) ||
    REFERENCE_BEFORE.test(text.slice(Math.max(0, start - 40), start)) ||
    REFERENCE_AFTER.test(text.slice(end, end + 40))
  );
}

/** Brackets a URL may close: an OData key predicate ("/Products(1)", "('KEY')"), an IPv6 host, a template. */
const CLOSING: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * A URL as a text cites it, without the punctuation of the sentence around it: a trailing ".", ",",
 * ";" or ":" goes, and a closing bracket only when the URL did not open it ("(see https://x/a)" ends
 * at a, ".../Products(1)" keeps its ")"). The one place URLs read from a text are cut.
 */
export function urlAsCited(raw: string): string {
  let url = raw;
  for (;;) {
    const last = url.at(-1);
    if (last === undefined) return url;
    if ('.,;:'.includes(last)) url = url.slice(0, -1);
    else if (last in CLOSING && count(url, CLOSING[last]!) < count(url, last)) url = url.slice(0, -1);
    else return url;
  }
}
const count = (s: string, ch: string) => s.split(ch).length - 1;

const EXTRACTORS: Extractor[] = [
  {
    type: 'exception',
    re: /\b(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Fault)\b|\b[A-Z][\w$]*(?:Exception|Fault)\b/g,
    detail: (m, shown) =>
      /^:\s{0,16}([^\n]{1,200})/
        .exec(shown.slice(m.index + m[0].length, m.index + m[0].length + 220))?.[1]
        ?.trim(),
  },
  { type: 'icm.code', re: /\bICM_HTTP_[A-Z_]+[A-Z]\b/g },
  { type: 'ssl.error', re: /\bSSSLERR_[A-Z_]+[A-Z]\b/g },
  { type: 'ni.error', re: /\bNIE[A-Z]+_[A-Z_]+[A-Z]\b/g },
  {
    type: 'tls.alert',
    // also OpenSSL/BoringSSL's reason-code form of a received alert: SSLV3_ALERT_BAD_CERTIFICATE,
    // TLSV1_ALERT_UNKNOWN_CA, TLSV13_ALERT_CERTIFICATE_REQUIRED (Python's "[SSL: ...]", Android, Chrome)
    re: /(?:received fatal alert|fatal alert|(?:sslv3|tlsv1(?:\.\d|\d)?|ssl|tls) alert)\s*:?\s*(?<name>[a-z]+(?:[_ ][a-z]+){0,2})|\((?<name2>[a-z]+(?:_[a-z]+)+)\)\s*received fatal alert|\b(?:SSLV3|TLSV1(?:_\d)?|TLSV13)_ALERT_(?<name3>[A-Z]+(?:_[A-Z]+){0,3})\b/gi,
    value: (m) => (m.groups?.name ?? m.groups?.name2 ?? m.groups?.name3)?.toLowerCase().replace(/ /g, '_'),
  },
  {
    type: 'tls.code',
    re: /\b(?:UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_[A-Z_]+|ERR_CERT_[A-Z_]+)\b/g,
  },
  {
    type: 'errno',
    re: /\b(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|EPROTO|EAI_AGAIN|ECONNABORTED|EAUTH)\b/g,
  },
  { type: 'marker', re: /(?:\[[A-Z][A-Z_]*\]){2,}/g },
  {
    type: 'url',
    // A password in the URL reads as the input's redaction left it ("https://user:<redacted>@host/x");
    // an OData key in quotes stays in it ("/Customers('ALFKI')", "(Order='1',Item='10')").
    re: /\b(?:https?|sftp|ftps?|smtps?|imaps?|pop3s?|ldaps?|wss?|ssh):\/\/(?:[^\s'"<>`\\/@:]{1,256}:<redacted>@)?[^\s'"<>`\\]+(?:(?<=[(=,])'[^\s'"<>`\\]{0,256}'[^\s'"<>`\\]*){0,8}/gi,
    value: (m) => (referenceLink(m.input, m.index, m.index + m[0].length) ? undefined : urlAsCited(m[0])),
  },
  {
    // A Location header: to an identity provider's sign-in page (src/sign-in.ts), or elsewhere.
    type: 'http.location',
    re: /\bLocation(?<colon>:?)[ \t]*["']?(?:(?<url>https?:\/\/[^\s"'<>]{1,2048})|\S)/gi,
    value: (m) =>
      m.groups?.url && isSignInUrl(m.groups.url) ? 'sign-in' : m.groups?.colon ? 'elsewhere' : undefined,
  },
  {
    type: 'http.method',
    re: /\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\b(?=\s+(?:\/|https?:|request|call|calls|method|operation|requests|with)|\s*$)/g,
  },
  {
    type: 'cert.subject',
    re: /\b(?:subject(?: DN)?|owner)\s*[:=]\s*"?(?<dn>(?:CN|OU|O|C|L|ST|E|EMAILADDRESS)=[^;"\n]+?)(?=[;"\n)]|$|,\s?issuer|\sissuer)/gi,
    value: (m) => m.groups?.dn?.trim(),
  },
  {
    // openssl s_client's verify lines: "depth=0 CN = api.example.com, O = Example" is the server's own certificate.
    type: 'cert.subject',
    re: /^depth=0[ \t]+(?<dn>(?:CN|OU|O|C|L|ST|emailAddress)[ \t]?=[^\n]+)$/gim,
    value: (m) => m.groups?.dn?.trim().replace(/[ \t]?=[ \t]?/g, '='),
  },
  {
    type: 'cert.issuer',
    re: /\b(?:issuer(?: DN)?\s*[:=]|issued by)\s*"?(?<dn>(?:CN|OU|O|C|L|ST|E|EMAILADDRESS)=[^;"\n]+?)(?=[;"\n)]|$|,\s?is not trusted|\sis not trusted)/gi,
    value: (m) => m.groups?.dn?.trim(),
  },
];

/** Host and port forms: JavaMail's "host, port: h, 25", "host: h, port: 25", "h:443", "connect to h". */
const HOST_PORT_PATTERNS: RegExp[] = [
  /\bhost,\s*port:\s*(?<host>[\w.-]+),\s*(?<port>\d{1,5})\b/gi,
  /\bhost\s*[:=]\s*'?(?<host>[\w.-]+\.[a-z][\w-]*|\d{1,3}(?:\.\d{1,3}){3})'?\s*[,;]\s*port\s*[:=]?\s*(?<port>\d{1,5})\b/gi,
  /(?<![\w.:/@-])(?<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}|\d{1,3}(?:\.\d{1,3}){3}):(?<port>\d{1,5})\b(?![.\d])/gi,
  /\b(?:connect(?:ed|ion)? to|peer host|host|UnknownHostException:|ENOTFOUND|unknown host|SMTP host:?|reject HostKey:|UnknownHostKey:|HostKey has been changed:|name matching)\s+'?(?<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}|\d{1,3}(?:\.\d{1,3}){3})\b/gi,
  /\bport\s*[:=#]?\s*(?<port>\d{1,5})\b/gi,
  // Java's InetSocketAddress: "Connection refused: erp.corp.local/10.1.2.3:44300" (the name, then its address).
  /(?<![\w./-])(?<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z][a-z0-9-]{0,62})\/\d{1,3}(?:\.\d{1,3}){3}:(?<port>\d{1,5})\b(?![.\d])/gi,
  // A Cloud Connector virtual host is often a single name: "... to s4virtual:44300", "virtual host erp-virtual:8000".
  /\b(?:to|virtual host)\s+'?(?!(?:status|code|line|port|https?|version|step|level|page|row|index|id|time)\b)(?<host>[a-z][a-z0-9-]{0,62}):(?<port>\d{1,5})\b(?![.\d])/gi,
];

/** What stands before the DNS server a Go resolver names: "lookup HOST on " (see hostSignals). */
const DNS_SERVER_BEFORE = /\blookup \S{1,253} on $/;

/** A clock time with a fraction of a second: "10:00:01,503", "T10:00:01.401Z". */
const TIME_FRACTION = /(?<![\d:])(\d{1,2}:\d{2}:\d{2}[.,])(\d{1,9})(?!\d)/g;

/**
 * `text` with the fractions of its clock times as zeros, same length: the milliseconds of a log
 * line's time ("10:00:01,503 ERROR", "10:00:01.401 ... certificate expired") are no HTTP status,
 * for the status reader and the knowledge base's patterns alike. The same string when it has none.
 */
export function maskTimeFractions(text: string): string {
  TIME_FRACTION.lastIndex = 0;
  return TIME_FRACTION.test(text)
    ? text.replace(TIME_FRACTION, (_m, time: string, fraction: string) => time + '0'.repeat(fraction.length))
    : text;
}

/**
 * How many matches of one pattern are read: the first hundreds say all a diagnosis needs, and a
 * text of 50,000 URLs or statuses would otherwise cost seconds in signals nobody reads.
 */
const MAX_MATCHES = 1000;

/**
 * The matches of a global pattern over `text`, at most `max` of them. The pattern runs with its open
 * repetitions bounded (kb/bounded.ts): no text makes it backtrack without end.
 */
function* matchesOf(pattern: RegExp, text: string, max = MAX_MATCHES): Generator<RegExpExecArray> {
  const re = bounded(pattern);
  re.lastIndex = 0;
  let n = 0;
  for (let m = re.exec(text); m && n++ < max; m = re.exec(text)) yield m;
}

/**
 * The signals of one text, without duplicates: one signal per type and value at a place (two
 * overlapping readings of the same span are one). The spans of each type and value are kept sorted
 * by start, so a check costs a binary search, not a pass over every earlier signal (a trace with
 * 20,000 "Caused by" lines stays linear).
 */
class SignalSet {
  readonly list: Signal[] = [];
  private readonly spans = new Map<string, { start: number; end: number }[]>();

  add(s: Signal): void {
    if (s.start === undefined || s.end === undefined) {
      this.list.push(s);
      return;
    }
    // Any two exceptions at one place are one reading: the longer or the shorter class name.
    const key = s.type === 'exception' ? s.type : `${s.type}\0${s.value}`;
    let spans = this.spans.get(key);
    if (!spans) this.spans.set(key, (spans = []));
    let lo = 0;
    let hi = spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (spans[mid]!.start < s.start) lo = mid + 1;
      else hi = mid;
    }
    // The spans that start before it (a few back: they may be nested) and those that start inside it.
    for (let i = Math.max(0, lo - 3); i < spans.length && spans[i]!.start < s.end; i++)
      if (spans[i]!.start < s.end && s.start < spans[i]!.end) return;
    spans.splice(lo, 0, { start: s.start, end: s.end });
    this.list.push(s);
  }
}

function statusSignals(text: string, signals: SignalSet, may: MayMatch): void {
  let reasonMayHold: boolean | undefined;
  for (const { re, context, phrase } of STATUS_PATTERNS) {
    if (!may(re) || (phrase && !(reasonMayHold ??= mayHoldReason(text)))) continue;
    for (const m of matchesOf(re, text)) {
      const g = m.groups ?? {};
      const reason = (g.reason ?? g.reason2)?.trim();
      const code = g.code ?? g.code2 ?? (reason ? String(reasonCode(reason) ?? '') : '');
      if (!code) continue;
      const start = m.index;
      const end = m.index + m[0].length;
      if (bounded(ICM_RC_AFTER).test(text.slice(end, end + 200))) {
        signals.add({
          type: 'icm.rc',
          value: code,
          start,
          end,
          detail: 'ABAP HTTP client return code of a failed connect',
        });
        continue;
      }
      signals.add({
        type: 'http.status',
        value: code,
        start,
        end,
        detail: reason ? `${context}: ${reason}` : context,
      });
      if (g.url) signals.add({ type: 'url', value: urlAsCited(g.url), start, end });
    }
  }
}

function hostSignals(text: string, signals: SignalSet, may: MayMatch): void {
  for (const re of HOST_PORT_PATTERNS) {
    if (!may(re)) continue;
    for (const m of matchesOf(re, text)) {
      const { host, port } = m.groups ?? {};
      const start = m.index;
      const end = m.index + m[0].length;
      // "SFTPProducer.java:123" is a source line, neither a host nor a port.
      if (host && NOT_HOST.test(host)) continue;
      // Go's "lookup api.example.com on 10.0.0.2:53": the DNS server asked, not the call's host or port.
      if (host && port && DNS_SERVER_BEFORE.test(text.slice(Math.max(0, start - 300), start))) continue;
      if (host) signals.add({ type: 'host', value: host.toLowerCase(), start, end });
      if (port && +port > 0 && +port < 65536) signals.add({ type: 'port', value: String(+port), start, end });
    }
  }
  for (const s of signals.list.filter((x) => x.type === 'url')) {
    try {
      const u = new URL(s.value);
      if (u.hostname && !/[<>]/.test(u.hostname))
        signals.add({ type: 'host', value: u.hostname.toLowerCase(), start: s.start, end: s.end });
      if (u.port) signals.add({ type: 'port', value: u.port, start: s.start, end: s.end });
    } catch {
      // a URL with a placeholder host ("https://<host>/x") gives no host
    }
  }
}

function cueSignals(text: string, signals: SignalSet, may: MayMatch): void {
  for (const cue of CUES) {
    if (!may(cue.re)) continue;
    // Bounded where they run, as the reader's own (matchesOf).
    const m = bounded(cue.re).exec(text);
    if (!m || [cue.unless ?? []].flat().some((u) => bounded(u).test(text))) continue;
    const start = m.index;
    const end = m.index + m[0].length;
    if (cue.reporter) signals.add({ type: 'reporter', value: cue.reporter, start, end });
    if (cue.direction)
      // Direction cues are not deduplicated: two cues on one span each count.
      signals.list.push({
        type: 'direction',
        value: cue.direction,
        start,
        end,
        detail: cue.means,
        weight: cue.weight,
      });
  }
}

/**
 * Whether a reader pattern can match the text at all; false lets the reader skip it (the knowledge
 * base's cache holds each pattern's required literals, see readerLiterals in kb/load.ts).
 */
export type MayMatch = (re: RegExp) => boolean;

/**
 * Every pattern the reader runs over a whole text, in a fixed order: the knowledge-base cache stores
 * their required literals, so that a cold `diagnose` compiles and runs only those that can match.
 */
export const READER_PATTERNS: RegExp[] = [
  ...STATUS_PATTERNS.map((p) => p.re),
  ...EXTRACTORS.map((x) => x.re),
  ...HOST_PORT_PATTERNS,
  ...CUES.map((c) => c.re),
];

/**
 * The HTTP statuses the reader reads in a text: the values of extractSignals' `http.status` signals,
 * for scan's prefilter, which needs no other signal to tell that a status symptom cannot hold.
 */
export function statusesIn(text: string): string[] {
  return statusReadings(text)
    .filter((s) => s.type === 'http.status')
    .map((s) => s.value);
}

/**
 * Every signal the status reader gives a text (statuses, ABAP return codes, the URLs they name, with
 * their spans), for scan's cache of verdicts: a part of an event that, left out, changes none of
 * them is not read by the status reader.
 */
export function statusReadings(text: string): Signal[] {
  const signals = new SignalSet();
  statusSignals(maskTimeFractions(text), signals, () => true);
  return signals.list;
}

/**
 * Every signal of the text, ordered by position; `may` (default: every pattern) skips patterns that
 * cannot match. `shown`: the text as given when `text` is it with its control sequences blanked
 * (same length, see blankControls): details quote it, so a report shows what was really there.
 */
export function extractSignals(text: string, may: MayMatch = () => true, shown = text): Signal[] {
  const signals = new SignalSet();
  statusSignals(text, signals, may);
  for (const x of EXTRACTORS) {
    if (!may(x.re)) continue;
    // Every exception counts: the innermost cause of a long "Caused by" chain is the last one.
    for (const m of matchesOf(x.re, text, x.type === 'exception' ? Infinity : MAX_MATCHES)) {
      const value = x.value ? x.value(m) : m[0];
      if (!value) continue;
      const detail = x.detail?.(m, shown);
      signals.add({
        type: x.type,
        value,
        start: m.index,
        end: m.index + m[0].length,
        ...(detail ? { detail } : {}),
      });
    }
  }
  hostSignals(text, signals, may);
  cueSignals(text, signals, may);
  return signals.list.sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
}

/** The facts of one call: they are taken together from one log entry, never stitched across entries. */
const CALL_TYPES = ['host', 'port', 'url', 'http.status', 'http.method'];

/** A status below 400: the call it reports went well, so its entry is not the failing call's. */
const healthy = (inEntry: Signal[]) => {
  const statuses = inEntry.filter((s) => s.type === 'http.status');
  return statuses.length > 0 && statuses.every((s) => Number(s.value) < 400);
};

/** A log level written in brackets ("[info]", "[error]" of nginx): no flow's or thread's name. */
const LEVEL_WORD =
  /^(?:trace|debug|fine[rs]?t?|info|notice|warn(?:ing)?|error|err|severe|crit(?:ical)?|fatal|alert|emerg)$/i;
/** Where an entry names whose work it is: its first bracketed name ("[Orders_to_ERP]", "[w-2]"). */
const ENTRY_NAME = /\[([^\]\s]{1,80})\]/g;
/** An entry's message id ("Message 3c4d", "message id: 7a8b-..."). */
const ENTRY_MESSAGE = /\bmessage(?:[ _-]?id)?[\s:=#]{1,4}([0-9a-f][\w-]{3,63})\b/i;
/** How far into an entry its flow's name and message id are looked for, in characters. */
const ENTRY_HEAD = 160;

/**
 * Whose work an entry is: its first bracketed name that is no log level, and its message id; each
 * undefined when the entry's head names none. Two entries with different names (or message ids)
 * are different flows or threads: one's call is not the call the other's failure is about.
 */
function entryOwner(head: string): { name?: string; message?: string } {
  let name: string | undefined;
  ENTRY_NAME.lastIndex = 0;
  for (let m = ENTRY_NAME.exec(head); m; m = ENTRY_NAME.exec(head))
    if (!LEVEL_WORD.test(m[1]!)) {
      name = m[1]!.toLowerCase();
      break;
    }
  const message = ENTRY_MESSAGE.exec(head)?.[1]?.toLowerCase();
  return { ...(name ? { name } : {}), ...(message ? { message } : {}) };
}

/** Whether two entries' owners (entryOwner) may be the same work: no name or id they both tell differs. */
const sameOwner = (a: { name?: string; message?: string }, b: { name?: string; message?: string }) =>
  !(a.name && b.name && a.name !== b.name) && !(a.message && b.message && a.message !== b.message);

/**
 * A log's signals by entry (see logEntries), read once per text: `failing(at)` then gives the
 * signals to read facts from for the deciding evidence at the offsets `at` (in the
 * order of its evidence, strongest first): the failing entry's
 * own, and for the call's facts (host, port, URL, status, method) the failing entry's own when it
 * names a host or URL, else the nearest entry before it of the same flow (same bracketed name and
 * message id, when both tell them) that names a host or URL and did not answer a success status
 * (the "POST https://... sending" line before an error line, not an earlier health check's
 * "GET ... 200" nor another flow's call), else the nearest such entry after it; none when no call
 * qualifies. Undefined when the text is no log of several entries.
 */
export function logReader(
  signals: Signal[],
  text: string,
): ((at: number[]) => { own: Signal[]; call: Signal[] }) | undefined {
  const entries = logEntries(text);
  if (!entries) return undefined;
  // Each signal to its entry once (a binary search): a 4 MB log has tens of thousands of entries.
  const byEntry = new Map<number, Signal[]>();
  const entryAt = (offset: number) => {
    let lo = 0;
    let hi = entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (entries[mid]!.start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  for (const s of signals) {
    if (s.start === undefined) continue;
    const i = entryAt(s.start);
    const list = byEntry.get(i);
    if (list) list.push(s);
    else byEntry.set(i, [s]);
  }
  const inEntry = (i: number) => byEntry.get(i) ?? [];
  const owner = (i: number) =>
    entryOwner(text.slice(entries[i]!.start, Math.min(entries[i]!.end, entries[i]!.start + ENTRY_HEAD)));
  const names = (xs: Signal[]) => xs.some((s) => s.type === 'host' || s.type === 'url');
  const callOf = (xs: Signal[]) => xs.filter((s) => CALL_TYPES.includes(s.type));
  const order = [...byEntry.keys()];
  return (at) => {
    // The failing entry: the one holding most of the deciding evidence; of equals, the one holding
    // the evidence listed first (an entry's strongest symptoms come first), not the call announced
    // before the failure that holds as many weak ones (a scheme, a port).
    const held = new Map<number, number>();
    for (const offset of at) {
      const i = entryAt(offset);
      held.set(i, (held.get(i) ?? 0) + 1);
    }
    let k = -1;
    for (const [i, n] of held) if (k < 0 || n > held.get(k)!) k = i;
    const own = inEntry(k);
    if (names(own)) return { own, call: callOf(own) };
    const mine = owner(k);
    const nearest = [...order].sort((a, b) => (a < k !== b < k ? (a < k ? -1 : 1) : a < k ? b - a : a - b));
    for (const i of nearest) {
      if (i === k) continue;
      const other = inEntry(i);
      if (names(other) && !healthy(other) && sameOwner(mine, owner(i))) return { own, call: callOf(other) };
    }
    return { own, call: [] };
  };
}

/**
 * The facts a user acts on: the first of each kind, in text order (the exception: the last one).
 * `failing`: the text and the offsets in it of the deciding evidence; in a log of several
 * timestamped entries the facts then come from that entry alone (and the call's facts, when it
 * names no host, from the nearest entry of the same flow that does and did not succeed; see
 * logReader): never another flow's line. The call's facts never mix entries, and an entry whose call
 * succeeded (a status below 400) gives none: when only such calls are named, the facts name no host.
 * `reader`: logReader(signals, failing.text), when the caller reads several diagnoses' facts of one
 * text (it cuts the log once). A single message or stack trace reads as without `failing`.
 */
export function factsOf(
  signals: Signal[],
  failing?: { text: string; at: number[] },
  reader: ReturnType<typeof logReader> = failing ? logReader(signals, failing.text) : undefined,
): Facts {
  const near = failing && reader ? reader(failing.at) : undefined;
  const from = (type: string) =>
    near ? (CALL_TYPES.includes(type) ? near.call : near.own).filter((s) => s.type === type) : [];
  // In a log every fact is the failing entry's (or its call's): never a health check's host with the
  // failing call's port, nor the reporter or exception of another flow's line.
  const first = (type: string) => (near ? from(type)[0] : signals.find((s) => s.type === type))?.value;
  const facts: Facts = {};
  const set = <K extends keyof Facts>(k: K, v: Facts[K] | undefined) => {
    if (v !== undefined && v !== '') facts[k] = v;
  };
  set('host', first('host'));
  const port = first('port');
  set('port', port ? Number(port) : undefined);
  set('url', first('url'));
  const status = first('http.status');
  set('status', status ? Number(status) : undefined);
  set('method', first('http.method'));
  // The innermost cause is the last exception of a "Caused by" chain.
  set('exception', (near ? from('exception') : signals.filter((s) => s.type === 'exception')).at(-1)?.value);
  set('code', first('ssl.error') ?? first('icm.code') ?? first('ni.error') ?? first('tls.code'));
  set('alert', first('tls.alert'));
  set('errno', first('errno'));
  set('certificateSubject', first('cert.subject'));
  set('certificateIssuer', first('cert.issuer'));
  set('reporter', first('reporter'));
  return facts;
}
