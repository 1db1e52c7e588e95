// Identity providers' sign-in pages, told by their URL and by the page itself: where a service that
// wants a user who logs on in a browser sends a call that came without credentials it accepts
// (kb out-http-redirect, cause login-redirect). One list for every reader: the text reader's
// `http.location` signal (a pasted Location header), the probe's http step (a redirect's Location,
// the page a followed redirect ends on, a sign-in form) and scan's HAR reader.

/**
 * What marks a URL as an identity provider's sign-in or authorize endpoint, as regular-expression
 * sources: SAML SSO (`/saml2/idp/sso` of SAP Cloud Identity Services, `SAMLRequest=`), OAuth's
 * `/authorize` (with `/oauth2/authorize`), `/login`, `/logon`, ADFS, and the hosts of Microsoft Entra
 * ID, Google, SAP ID service, SAP Cloud Identity Services, a BTP subaccount's XSUAA and Okta.
 */
const SIGN_IN_PARTS = [
  String.raw`(?<!/)/(?:login|logon|saml2?|sso|authorize|adfs)\b`,
  String.raw`[?&](?:SAMLRequest|RelayState)=`,
  String.raw`login\.microsoftonline\.com`,
  String.raw`accounts\.google\.com`,
  String.raw`accounts\.sap\.com`,
  String.raw`\.accounts\.ondemand\.com`,
  String.raw`\.authentication\.[\w-]+\.hana\.ondemand\.com`,
  String.raw`\.okta(?:preview)?\.com/`,
];

/** The sign-in URL marks as one regular-expression source, a group that matches any of them. */
export const SIGN_IN_URL_SOURCE = `(?:${SIGN_IN_PARTS.join('|')})`;

const SIGN_IN_URL = new RegExp(SIGN_IN_URL_SOURCE, 'i');

/** Whether `url` (absolute, as a Location or a request names it) is an identity provider's sign-in endpoint. */
export function isSignInUrl(url: string): boolean {
  return SIGN_IN_URL.test(url.slice(0, 2048));
}

/** An HTML form's password field: `<input type="password" ...>`, in any order of attributes. */
const PASSWORD_FIELD = /<input\b[^>]{0,500}?\btype\s*=\s*["']?password\b/i;

/**
 * Why an answer is a sign-in page rather than what a channel's call wants, in a sentence's part, or
 * undefined when it is none: `redirectedTo` (the URL a followed redirect ended on; undefined when no
 * redirect was followed, since a URL the user named is what they meant) is an identity provider's
 * sign-in endpoint, or `body` (its start, as the probe reads it) is HTML with a password field.
 * `contentType`: the answer's Content-Type header, when it sent one.
 */
export function signInPage(
  redirectedTo: string | undefined,
  body: string,
  contentType?: string,
): string | undefined {
  if (redirectedTo && isSignInUrl(redirectedTo))
    return `the redirect ended on ${new URL(redirectedTo).host}'s sign-in page`;
  const html = contentType ? /html/i.test(contentType) : /^\s*</.test(body);
  if (html && PASSWORD_FIELD.test(body.slice(0, 65536)))
    return 'the page is a sign-in form (it has a password field)';
  return undefined;
}
