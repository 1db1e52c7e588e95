// Two rewrites of a message: `redact` removes secrets (from any text scan prints), and `mask`
// makes messages that differ only in their numbers, ids, times and hosts the same, so that
// unknown incidents can be grouped.

const SECRET_HEADER =
  /\b(authorization|proxy-authorization|cookie|set-cookie|x-csrf-token|x-api-key|api-key|apikey)(\s*[:=]\s*)[^\r\n]+/gi;
const SECRET_SCHEME = /\b(Basic|Bearer|Negotiate|NTLM|Digest)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const SECRET_PARAM =
  /\b(password|passwd|pwd|secret|client_secret|access_token|refresh_token|id_token|token|assertion|signature|sig|jsessionid|session_?id|api_?key)(["']?\s*[:=]\s*["']?)[^"'&\s,;<>]+/gi;
const JWT = /\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;

/** Removes credentials: authorization and cookie headers, bearer and basic tokens, password and token values. */
export function redact(text: string): string {
  return text
    .replace(SECRET_HEADER, '$1$2<redacted>')
    .replace(SECRET_SCHEME, '$1 <redacted>')
    .replace(JWT, '<redacted>')
    .replace(SECRET_PARAM, '$1$2<redacted>');
}

const MASKS: [RegExp, string][] = [
  // Times first: their digits would otherwise become separate numbers.
  [
    /\b\d{4}[-/]\d{2}[-/]\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g,
    '<time>',
  ],
  [/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<time>'],
  [/\/Date\(\d+\)\//g, '<time>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // Message GUIDs of Cloud Integration ("AGk_xKgivsDaGSUpuvz-eEFzhKZO") and other long mixed ids.
  [/\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{20,}\b/g, '<id>'],
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<id>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '<host>'],
  [/(:\/\/|@)[\w.-]+/g, '$1<host>'],
  [
    /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|de|eu|us|uk|fr|ch|at|nl|jp|cn|in|local|internal|corp|lan|cloud)\b(?!\.\w)/gi,
    '<host>',
  ],
  [/\b\d+\b/g, '<n>'],
];

/** The message with secrets removed and numbers, ids, times and hosts masked, on one line. */
export function mask(message: string): string {
  let out = redact(message).replace(/\s+/g, ' ').trim();
  for (const [re, to] of MASKS) out = out.replace(re, to);
  return out.slice(0, 200);
}
