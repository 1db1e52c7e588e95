// Credentials out of any text linkdoctor shows: `redact` by their shape (headers, schemes, parameters,
// a password in a URL), `withoutSecrets` by their value when linkdoctor knows them (what a probe sent).
// A value that is a protocol keyword stays: `X-CSRF-Token: Required` is evidence, not a secret.

const KEYWORD =
  /^(?:required|fetch|invalid|expired|missing|none|null|undefined|empty|true|false|<redacted>)$/i;
const SECRET_HEADER =
  /\b(authorization|proxy-authorization|cookie|set-cookie|x-csrf-token|x-api-key|api-key|apikey)(["']?\s*[:=]\s*["']?)([^"'\r\n]+)/gi;
const SECRET_SCHEME = /\b(Basic|Bearer|Negotiate|NTLM|Digest)\s+[A-Za-z0-9._~+/=-]{8,}/g;
// The names of parameters that carry a secret: in a text (`password=...`, `"token": ...`) and in a
// URL's query (`?access_token=...&sig=...`, redactUrls; there also as the last word of a longer name).
const SECRET_PARAM_NAMES =
  'password|passwd|passphrase|pwd|secret|client_secret|access_token|refresh_token|id_token|private_token|token|client_assertion|assertion|signature|sig|jsessionid|session_?id|api_?key|subscription-key|functions-key|samlresponse|jwt';
// Names that are a secret as a URL's query parameter, whole, and ordinary words in a text or as the
// last word of a longer name (`error_code`, `sort_key`): Azure Functions' `?code=` (a function key;
// also OAuth's authorization code), Google's `?key=`, `?auth=`, `?pass=`, CAS `?ticket=`, `?otp=`,
// `?session=`; `credential` also as a last word (X-Amz-Credential, X-Goog-Credential).
const SECRET_QUERY_ONLY_NAMES = 'code|key|auth|pass|ticket|otp|session|(?:[^]*[-_.])?credential';
const SECRET_PARAM = new RegExp(`\\b(${SECRET_PARAM_NAMES})(["']?\\s*[:=]\\s*["']?)([^"'&\\s,;<>]+)`, 'gi');
const JWT = /\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;
// user:password@ in a URL (RFC 3986 userinfo); the scheme bounded so that a long word costs no backtracking.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]{0,30}:\/\/[^\s/?#@:]{0,256}):[^\s/?#@]{1,256}@/gi;

/**
 * Whether a request header carries a credential: Authorization, Proxy-Authorization, Cookie,
 * X-CSRF-Token, and the API-key and token headers receivers use (X-API-Key, APIKey, Api-Key,
 * Ocp-Apim-Subscription-Key, X-Functions-Key, X-Auth-Token, X-Access-Token, ...: a name ending in
 * api-key, apikey, subscription-key, functions-key, token, secret or password). `name` in any case.
 */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER.test(name);
}
const CREDENTIAL_HEADER =
  /^(?:authorization|proxy-authorization|cookie|(?:[\w-]*-)?(?:api-?key|apikey|subscription-key|functions-key|token|secret|password|passwd))$/i;

/** A protocol keyword as a credential header's value (`X-CSRF-Token: Fetch`, `Required`): no secret. */
export const KEYWORD_VALUE = /^(?:required|fetch)$/i;

/**
 * The names, as the user spelled them, of the `-H` headers that carry a credential (Authorization,
 * X-API-Key, Cookie, ...; see isCredentialHeader), a protocol keyword as value aside
 * (`X-CSRF-Token: Fetch`). Each name once.
 */
export function credentialHeaderNames(headers: readonly (readonly [string, string])[]): string[] {
  const names = new Map<string, string>();
  for (const [k, v] of headers)
    if (isCredentialHeader(k) && !KEYWORD_VALUE.test(v.trim())) names.set(k.toLowerCase(), k);
  return [...names.values()];
}

const keep = (whole: string, name: string, sep: string, value: string) =>
  KEYWORD.test(value.trim()) ? whole : `${name}${sep}<redacted>`;

/**
 * Removes credentials by their shape: authorization, cookie, CSRF-token and API-key headers (also as
 * JSON fields), Basic/Bearer/… tokens, JWTs, password/secret/token parameters, the password of a
 * URL (`https://user:<redacted>@host`) and a URL's secret query parameters as redactUrls names them
 * (`?code=<redacted>`, `&key=<redacted>`: `code` and `key` only in a query, not as words of a text). Protocol keywords as values (`X-CSRF-Token: Required`) stay.
 * Linear in the text's length.
 */
export function redact(text: string): string {
  return text
    .replace(URL_PASSWORD, '$1:<redacted>@')
    .replace(QUERY, maskQuery)
    .replace(SECRET_HEADER, keep)
    .replace(SECRET_SCHEME, '$1 <redacted>')
    .replace(JWT, '<redacted>')
    .replace(SECRET_PARAM, keep);
}

/**
 * `text` with each known secret (a password, a token, a client secret: 4 characters or more, shorter
 * ones would blank ordinary words) replaced by "(secret)"; for what a peer may echo back.
 */
export function withoutSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('(secret)');
  return out;
}

// A query parameter (after `?`, `&` or `;`) and its value; its name is judged by SECRET_QUERY_NAME.
const QUERY_PARAM = /([?&;])([^=&#;?\s"'<>]{1,200})=([^&#;\s"'<>]*)/g;
// A secret parameter's name, whole or as the last word of a longer one (X-Amz-Signature, oauth_token),
// or one of the names that are a secret only as a query parameter (code, key, ...).
const SECRET_QUERY_NAME = new RegExp(
  `^(?:(?:[^]*[-_.])?(?:${SECRET_PARAM_NAMES})|${SECRET_QUERY_ONLY_NAMES})$`,
  'i',
);
// A URL's query in a text: from its `?` to the next blank or quote (no backtracking: each `?` starts
// at most one match, which runs to the end of its word).
const QUERY = /\?[^\s"'<>]+/g;
const maskQuery = (query: string) =>
  query.replace(QUERY_PARAM, (whole: string, sep: string, name: string, value: string) =>
    value && value !== '<redacted>' && SECRET_QUERY_NAME.test(name) ? `${sep}${name}=<redacted>` : whole,
  );

/**
 * `text` (a URL, or a sentence that holds URLs) with the secrets a URL carries masked: the password
 * of `user:password@`, and the value of each query parameter named as `redact` names a secret
 * parameter (access_token, token, sig, signature, apikey, api_key, password, secret, subscription-key,
 * SAMLResponse, ...; also as the last word of a longer name: X-Amz-Signature, oauth_token,
 * private_token) or a name that is a secret in a query (code, key, auth, pass, ticket, otp, session,
 * X-Amz-Credential), as `name=<redacted>`. Other parameters,
 * the host and the path stay. For what linkdoctor shows or stores of a URL it requests (the request
 * itself uses the URL as given). Linear in the text's length.
 */
export function redactUrls(text: string): string {
  if (!/[?&;@]/.test(text)) return text;
  return maskQuery(text.replace(URL_PASSWORD, '$1:<redacted>@'));
}
