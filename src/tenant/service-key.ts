// The service key of a Process Integration Runtime instance (plan `api`): where the tenant's API is,
// where its token comes from, and the client's credentials. Shapes from tenant-api.md §1 (SAP docs
// 40-RemoteSystems/creating-service-instance-and-service-key-for-inbound-authentication-19af5e2.md,
// SAP Piper pkg/cpi/commonUtils.go: `oauth.url`, `oauth.tokenurl`, `oauth.clientid`, `oauth.clientsecret`).
// Nothing of the key but its URLs and client id ever appears in a sentence.
import { readRegularFileSync } from '../fs-read.js';
import { UserError } from '../errors.js';

/** A service key, read and checked. The secret, the certificate and the key are never printed. */
export interface ServiceKey {
  /** The API host (`oauth.url`), without a trailing slash; the service root is `${url}/api/v1`. */
  url: string;
  /** The XSUAA token endpoint (`oauth.tokenurl`). */
  tokenUrl: string;
  clientId: string;
  /** Key type ClientId/Secret. */
  clientSecret?: string;
  /** Key type Certificate: a PEM chain (`certificate`) and its private key (`key`), for mutual TLS to the token URL. */
  certificate?: string;
  key?: string;
  /** Where the key came from, for sentences: a file name or the environment variable's name. */
  source: string;
}

/** The environment variable that may hold the service key's JSON. */
export const SERVICE_KEY_ENV = 'LINKDOCTOR_SERVICE_KEY';

/** The largest service key read: real ones are about 1 KB (6 KB with a certificate chain). */
const MAX_KEY_BYTES = 256 * 1024;

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

function httpsUrl(raw: string | undefined, field: string, source: string): string {
  if (!raw)
    throw new UserError(
      `${source} has no ${field} (is it the service key of a Process Integration Runtime instance?)`,
    );
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError(`${source}: ${field} is not a URL`);
  }
  if (u.protocol !== 'https:')
    throw new UserError(`${source}: ${field} must be an https URL, not ${u.protocol}`);
  if (u.username || u.password) throw new UserError(`${source}: ${field} must not carry credentials`);
  return u.href.replace(/\/+$/, '');
}

/**
 * Parses a service key's JSON. The fields sit under `oauth` (tenant-api.md §1); a key whose fields
 * are at the top level is accepted too. Unknown fields (`createdate`, `certificatedetails`) are
 * ignored. Throws UserError naming the missing or wrong field, never quoting a value.
 */
export function parseServiceKey(text: string, source: string): ServiceKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which holds the secret: not repeated.
    throw new UserError(`${source} is not JSON (a service key is the JSON the BTP cockpit shows)`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new UserError(`${source} is not a service key (a JSON object with an "oauth" member)`);
  const root = json as Record<string, unknown>;
  const o = (root.oauth && typeof root.oauth === 'object' ? root.oauth : root) as Record<string, unknown>;
  const clientId = str(o.clientid);
  if (!clientId) throw new UserError(`${source} has no oauth.clientid`);
  const clientSecret = str(o.clientsecret);
  const certificate = str(o.certificate);
  const key = str(o.key);
  if (!clientSecret && !certificate)
    throw new UserError(
      `${source} has neither oauth.clientsecret nor oauth.certificate: no way to get a token`,
    );
  if (certificate && !clientSecret && !key)
    throw new UserError(
      `${source} is an External Certificate key (a certificate without its key): give the private key's PEM in it as oauth.key`,
    );
  if (certificate && !/-----BEGIN CERTIFICATE-----/.test(certificate))
    throw new UserError(`${source}: oauth.certificate is not a PEM certificate`);
  if (key && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key))
    throw new UserError(`${source}: oauth.key is not a PEM private key`);
  return {
    url: httpsUrl(str(o.url), 'oauth.url', source).replace(/\/api\/v1$/, ''),
    tokenUrl: httpsUrl(str(o.tokenurl), 'oauth.tokenurl', source),
    clientId,
    ...(clientSecret ? { clientSecret } : {}),
    ...(certificate && key ? { certificate, key } : {}),
    source,
  };
}

/**
 * The service key from `--service-key FILE`, else from $LINKDOCTOR_SERVICE_KEY (its JSON).
 * Throws UserError when neither is given or the key cannot be read.
 */
export function loadServiceKey(file: string | undefined, env = process.env): ServiceKey {
  if (file) {
    const buf = readRegularFileSync(file, { what: 'service key', maxBytes: MAX_KEY_BYTES });
    return parseServiceKey(buf.toString('utf8'), file);
  }
  const raw = env[SERVICE_KEY_ENV];
  if (raw) return parseServiceKey(raw, `$${SERVICE_KEY_ENV}`);
  throw new UserError(
    `give the tenant's service key with --service-key FILE, or its JSON in $${SERVICE_KEY_ENV} (a Process Integration Runtime key of plan api)`,
  );
}

/** Every secret of a key, for a final check that none leaks into a sentence. */
export function secretsOf(key: ServiceKey): string[] {
  return [key.clientSecret, key.key].filter((s): s is string => !!s);
}
