// The lab's FAKE TENANT: a loopback HTTPS server that answers as a Cloud Integration tenant's OData
// API (`/api/v1`) and its XSUAA token endpoint do, per ../shared/platform/tenant-api.md (§ given at
// each shape), and beside it the tenant's RUNTIME HOST (src/lab/runtime.ts), where senders call the
// deployed endpoints. No real tenant is reachable from here: `linkdoctor lab`, the demo and every
// tenant test run against this one implementation. Where the reference marks a fact unverified (§10),
// the fake's choice is said in a comment. Faults (429, 503, a cut page, silence, an endless answer,
// revoked tokens, a foreign next link) are switched on per instance, for the tests.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, randomUUID, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certInfo } from '../trust/cert.js';
import { listen } from './listen.js';
import { makePki, type LabPki } from './pki.js';
import { runtimeHost, type RuntimeEndpoint } from './runtime.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const DAY = 86_400_000;

/** The client id of the service key fixture of tenant-api.md §1 (invented), pointed at the fake. */
export const TENANT_CLIENT_ID = 'sb-11111111-2222-3333-4444-555555555555!b1234|it!b5678';

/** The runtime's user without the sender role (ESBMessaging.send): a 403 on every endpoint. */
export const VIEWER = 'viewer';

/** A throwaway client secret in the shape of real keys (§1: `<uuid>$<base64url>=`). */
export const throwawaySecret = () => `${randomUUID()}$${randomBytes(9).toString('base64url')}=`;

/** Error texts as the platform writes them (the lab's scenarios' wordings), with the iFlow they fail in. */
export const TENANT_ERRORS: { iflow: string; text: string; expect: string | null }[] = [
  {
    iflow: 'Orders_to_ERP',
    text: 'javax.net.ssl.SSLHandshakeException: sun.security.validator.ValidatorException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
    expect: 'out-cert-path',
  },
  {
    iflow: 'Orders_to_Shop',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://shop.example.com/api/orders with statusCode: 401',
    expect: 'out-http-401',
  },
  {
    iflow: 'Orders_to_ERP',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://erp.example.com/sap/opu/odata/sap/ZORDERS_SRV/Orders with statusCode: 503',
    expect: 'out-http-503',
  },
  { iflow: 'Invoices_SFTP', text: 'com.jcraft.jsch.JSchException: Auth fail', expect: 'out-sftp' },
  {
    iflow: 'Jobs_Start',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://jobs.example.com/v1/jobs/42/start with statusCode: 411',
    expect: 'out-411-empty-post',
  },
  {
    iflow: 'Orders_to_ERP',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://erp.example.com/sap/opu/odata/sap/ZLAB_SRV/Orders with statusCode: 403, response: CSRF token validation failed',
    expect: 'out-csrf-403',
  },
  {
    iflow: 'Orders_to_ERP',
    text: 'javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed, caused by java.security.cert.CertificateExpiredException: NotAfter: Mon Oct 26 14:58:00 UTC 2026 (receiver https://erp.example.com)',
    expect: 'out-cert-expired',
  },
  {
    iflow: 'Orders_to_Shop',
    text: 'javax.net.ssl.SSLHandshakeException: No subject alternative DNS name matching erp.example.com found.',
    expect: 'tls-hostname-mismatch',
  },
  {
    iflow: 'Invoices_SFTP',
    text: 'org.apache.camel.component.file.GenericFileOperationFailedException: Cannot connect to sftp://sftp.example.com:22, cause: com.jcraft.jsch.JSchException: HostKey has been changed: [sftp.example.com]:22',
    expect: 'out-sftp',
  },
  {
    iflow: 'Jobs_Start',
    text: 'java.net.SocketTimeoutException: Read timed out, cause: java.net.SocketTimeoutException: Read timed out',
    expect: 'network-timeout',
  },
  {
    iflow: 'Mail_Notify',
    text: 'com.sun.mail.smtp.SMTPSendFailedException: 530 5.7.0 Must issue a STARTTLS command first',
    expect: 'smtp-starttls-required',
  },
  {
    iflow: 'Mail_Notify',
    text: 'javax.mail.AuthenticationFailedException: 535 5.7.8 Authentication credentials invalid',
    expect: 'smtp-auth-failed',
  },
  {
    iflow: 'Orders_to_ERP',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking http://erp.virtual:44300/sap/opu/odata/sap/ZORDERS_SRV/Orders with statusCode: 403',
    expect: 'out-http-403-cloud-connector',
  },
  {
    iflow: 'Orders_to_Shop',
    text: 'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://shop.example.com/api/Orders with statusCode: 404',
    expect: 'out-http-404',
  },
  {
    iflow: 'Orders_to_Shop',
    text: "org.apache.http.client.CircularRedirectException: Circular redirect to 'https://shop.example.com/loop/1'",
    expect: 'http-redirect-loop',
  },
  {
    iflow: 'Orders_to_ERP',
    text: 'org.apache.cxf.interceptor.Fault: Could not send Message., cause: java.net.SocketException: Connection reset',
    expect: 'connection-reset',
  },
  {
    iflow: 'Orders_to_Shop',
    text: 'javax.net.ssl.SSLHandshakeException: Received fatal alert: bad_certificate',
    expect: 'out-client-cert-rejected',
  },
  {
    iflow: 'Stock_Mapping',
    text: 'java.lang.IllegalStateException: Mapping step failed: field Quantity missing in record 17',
    expect: null,
  },
];

/** A deployed artifact (tenant-api.md §8.2) and its inbound endpoint (§8.3), when it has one. */
export interface TenantArtifact {
  id: string;
  name: string;
  version: string;
  status: 'STARTED' | 'STARTING' | 'STOPPING' | 'ERROR';
  endpoint?: Omit<RuntimeEndpoint, 'iflow'>;
  /** `ErrorInformation/$value` of an artifact in ERROR: the CF shape recorded from a tenant (§8.2). */
  deployError?: unknown;
}

/** The deployed artifacts: the messages' iFlows, three inbound endpoints (one CSRF-protected), one in ERROR. */
export const TENANT_ARTIFACTS: TenantArtifact[] = [
  {
    id: 'Orders_In',
    name: 'Orders In',
    version: '1.0.3',
    status: 'STARTED',
    endpoint: { prefix: 'http', address: 'orders', protocol: 'REST' },
  },
  {
    id: 'Orders_Confirm',
    name: 'Orders Confirm',
    version: '1.0.0',
    status: 'STARTED',
    // The HTTPS sender adapter's "CSRF Protected" (on by default).
    endpoint: { prefix: 'http', address: 'orders/confirm', protocol: 'REST', csrf: true },
  },
  {
    id: 'Invoice_SOAP',
    name: 'Invoice SOAP',
    version: '2.1.0',
    status: 'STARTED',
    endpoint: { prefix: 'cxf', address: 'InvoiceService', protocol: 'SOAP' },
  },
  { id: 'Orders_to_ERP', name: 'Orders_to_ERP', version: '1.2.0', status: 'STARTED' },
  { id: 'Orders_to_Shop', name: 'Orders_to_Shop', version: '1.0.0', status: 'STARTED' },
  { id: 'Invoices_SFTP', name: 'Invoices_SFTP', version: '1.0.1', status: 'STARTED' },
  { id: 'Jobs_Start', name: 'Jobs_Start', version: '1.0.0', status: 'STARTED' },
  { id: 'Mail_Notify', name: 'Mail_Notify', version: '1.1.0', status: 'STARTED' },
  {
    id: 'Stock_Mapping',
    name: 'Stock_Mapping',
    version: '1.0.4',
    status: 'ERROR',
    // The misspelled subsytemPartName and `parameter` beside `message`, one parameter a JSON string.
    deployError: {
      message: {
        subsystemName: 'CONTENT',
        subsytemPartName: 'CONTENT_DEPLOY',
        messageId: 'GenerationFailed',
        messageText: '',
      },
      parameter: [
        JSON.stringify({
          message: 'The generation and build of the artifact were unsuccessful.',
          childMessageInstances: [{ message: "Script file 'script1.groovy' not found", parameters: [] }],
        }),
      ],
    },
  },
];

export interface TenantFaults {
  /** The first N API requests answer 429 (Retry-After: 0). */
  tooMany?: number;
  /** Every API request answers 429: the client must give up after its bounded retries. */
  alwaysBusy?: boolean;
  /** The first N API requests answer 503. */
  unavailable?: number;
  /** The MPL page with this index (0-based) is cut off in the middle. */
  truncatePage?: number;
  /** The API accepts the connection and never answers. */
  silent?: boolean;
  /** The API answers 200 and sends bytes without end. */
  endless?: boolean;
  /** After N API requests, every token issued so far is refused (a token that expires mid-run). */
  revokeAfter?: number;
  /** Atom XML even when JSON is asked for. */
  xmlAlways?: boolean;
  /** Every API request answers 200 with an HTML login page (the Web UI host given as the API's). */
  loginPage?: boolean;
  /** The MPL next link leads to another host. */
  foreignNext?: boolean;
  /** The token endpoint refuses every client. */
  tokenRefuses?: boolean;
  /** Every API answer waits this long (ms): a tenant slower than a probe's --timeout. */
  delayMs?: number;
  /**
   * The error text of every Nth message with one (1-based: the Nth, 2Nth, ...) answers 500 with an
   * OData error: texts the client cannot read.
   */
  lostErrorTextEvery?: number;
  /**
   * The error text of every Nth message with one (1-based; counted among those not lost) answers
   * 200 with an empty body, as for a flow that failed without a text (an Error End event).
   */
  emptyErrorTextEvery?: number;
}

export interface FakeTenantOptions {
  /** Messages over the last three days (default 2,500); every fifth is COMPLETED. */
  messages?: number;
  /** Roles of the key's service instance (default MonitoringDataRead). */
  roles?: string[];
  /** expires_in of a token, seconds (default 43199, tenant-api.md §2). */
  tokenSeconds?: number;
  /** __next as an absolute URL (default: relative, as the fake should, §4). */
  absoluteNext?: boolean;
  faults?: TenantFaults;
  /** The client secret of the key (default: a throwaway one, made at start). */
  secret?: string;
  /** The lab's PKI (default: one made for this tenant alone). */
  pki?: LabPki;
  /** The folder for the key files (default: a temporary one, removed at close). */
  dir?: string;
  /** Ports of the API host and the runtime host (default: free ones). */
  ports?: { api?: number; runtime?: number };
  /** The runtime's sender user (role ESBMessaging.send); its password is the viewer's too (default: throwaway). */
  sender?: { user: string; password: string };
}

export interface RequestRecord {
  method: string;
  url: string;
  authorization?: string;
  clientCert: boolean;
}

export interface FakeTenant {
  /** https://127.0.0.1:PORT: the service key's url (the API host) and the token URL's origin. */
  url: string;
  tokenUrl: string;
  /** The lab root that signed the server's chain: trust it with NODE_EXTRA_CA_CERTS=caFile. */
  caPem: string;
  caFile: string;
  /** The runtime host (https://127.0.0.1:PORT): the deployed endpoints' URLs, what senders call. */
  runtimeUrl: string;
  /** The runtime's users: one with the sender role, one without it (the same password). */
  sender: { user: string; password: string };
  viewer: string;
  /** The key's client secret (a throwaway: the lab prints it on purpose). */
  secret: string;
  /** A ClientId/Secret service key file, and a Certificate one (mutual TLS to the token URL). */
  keyFile: string;
  certKeyFile: string;
  /** The key as JSON text (for $LINKDOCTOR_SERVICE_KEY). */
  keyJson: string;
  /** Every token handed out, and every request seen. */
  tokens: string[];
  requests: RequestRecord[];
  /** The messages it holds, newest first, with their error texts. */
  mpls: Record<string, unknown>[];
  errorTexts: Map<string, string>;
  pki: LabPki;
  dir: string;
  close(): Promise<void>;
}

/** "/Date(ms)/" (tenant-api.md §3). */
const odataDate = (ms: number) => `/Date(${ms})/`;

/** A self-signed CA certificate valid until `notAfter`. */
async function caCert(subject: string, notAfter: Date): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // Encoded O first, as CAs do, so that the DN reads CN first (as src/lab/pki.ts does).
    name: subject
      .split(/,(?=\s*[A-Za-z]+=)/)
      .reverse()
      .join(','),
    keys,
    signingAlgorithm: alg,
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return cert.toString('pem');
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The OData V2 error body (tenant-api.md §5): JSON when asked for, else the XML form. */
function odataError(res: ServerResponse, json: boolean, status: number, code: string, message: string) {
  if (json) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message: { lang: 'en', value: message } } }));
  } else {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="utf-8"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code>${code}</code><message xml:lang="en">${xmlEscape(message)}</message></error>`,
    );
  }
}

/** A minimal Atom feed: the default format when JSON is not asked for (tenant-api.md §3). */
function atomFeed(base: string, set: string, rows: Record<string, unknown>[]): string {
  const props = (r: Record<string, unknown>) =>
    Object.entries(r)
      .filter(([, v]) => v === null || typeof v !== 'object')
      .map(([k, v]) => `<d:${k}>${xmlEscape(String(v ?? ''))}</d:${k}>`)
      .join('');
  return `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xml:base="${base}"><title type="text">${set}</title>${rows.map((r) => `<entry><content type="application/xml"><m:properties>${props(r)}</m:properties></content></entry>`).join('')}</feed>`;
}

interface MplFilter {
  statuses?: string[];
  from?: number;
  to?: number;
  iflow?: string;
}

/**
 * The $filter forms the MPL query rules allow (tenant-api.md §8.1; monitoring-tools.md §C), and
 * nothing else: `Status eq '..' or ...`, `LogEnd ge|gt datetime'..'`, `LogStart le|lt datetime'..'`,
 * `IntegrationFlowName eq '..'`, joined by `and`. A `Z` in a datetime literal is misread by the
 * tenant (§3); the fixture refuses it with 400, so that a client that writes one fails loudly.
 */
function parseMplFilter(f: string): MplFilter | string {
  const out: MplFilter = {};
  const statuses = [...f.matchAll(/Status eq '([A-Z]+)'/g)].map((m) => m[1]!);
  if (statuses.length) out.statuses = statuses;
  for (const m of f.matchAll(/(LogEnd|LogStart) (ge|gt|le|lt) datetime'([^']*)'/g)) {
    if (/Z$/.test(m[3]!)) return `Invalid datetime literal '${m[3]}'`;
    const t = Date.parse(`${m[3]}Z`);
    if (Number.isNaN(t)) return `Invalid datetime literal '${m[3]}'`;
    if (m[2]!.startsWith('g')) out.from = t;
    else out.to = t;
  }
  const iflow = /IntegrationFlowName eq '((?:''|[^'])*)'/.exec(f);
  if (iflow) out.iflow = iflow[1]!.replace(/''/g, "'");
  return out;
}

/**
 * Starts the fake tenant's API host (with its token endpoint) and its runtime host on 127.0.0.1.
 * Throws UserError when a given port is in use.
 */
export async function startFakeTenant(o: FakeTenantOptions = {}): Promise<FakeTenant> {
  const pki = o.pki ?? (await makePki());
  const faults = o.faults ?? {};
  const roles = o.roles ?? ['MonitoringDataRead'];
  const ownDir = !o.dir;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'linkdoctor-tenant-'));
  const clientSecret = o.secret ?? throwawaySecret();
  const sender = o.sender ?? { user: 'sender', password: randomBytes(9).toString('base64url') };
  const now = Date.now();

  // Messages over the last three days, newest first (tenant-api.md §8.1 shape, real CF example).
  const count = o.messages ?? 2500;
  const mpls: Record<string, unknown>[] = [];
  const errorTexts = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const guid = `AGk_${i.toString(36).padStart(6, '0')}${'x'.repeat(18)}`;
    const end = now - 60_000 - Math.floor((i * 3 * DAY) / count);
    const completed = i % 5 === 4;
    const err = TENANT_ERRORS[i % TENANT_ERRORS.length]!;
    const status = completed ? 'COMPLETED' : i % 11 === 1 ? 'RETRY' : 'FAILED';
    const iflow = completed ? 'Orders_to_ERP' : err.iflow;
    mpls.push({
      __metadata: {
        id: `URL:443/api/v1/MessageProcessingLogs('${guid}')`,
        uri: `URL:443/api/v1/MessageProcessingLogs('${guid}')`,
        type: 'com.sap.hci.api.MessageProcessingLog',
      },
      MessageGuid: guid,
      CorrelationId: `AGk_corr${i}`,
      ApplicationMessageId: null,
      PredecessorMessageGuid: null,
      ApplicationMessageType: null,
      LogStart: odataDate(end - 2000),
      LogEnd: odataDate(end),
      Sender: null,
      Receiver: null,
      IntegrationFlowName: iflow,
      Status: status,
      AlternateWebLink: `https://acme-dev.integrationsuite.cfapps.eu10-003.hana.ondemand.com:443/shell/monitoring/Messages/%7B%22identifier%22%3A%22${guid}%22%7D`,
      IntegrationArtifact: {
        Id: iflow,
        Name: iflow,
        Type: 'INTEGRATION_FLOW',
        PackageId: 'Acme',
        PackageName: 'Acme',
      },
      LogLevel: 'INFO',
      CustomStatus: status,
      ArchivingStatus: 'NOT_RELEVANT',
      ArchivingSenderChannelMessages: false,
      ArchivingReceiverChannelMessages: false,
      ArchivingLogAttachments: false,
      ArchivingPersistedMessages: false,
      TransactionId: randomBytes(16).toString('hex'),
      ErrorInformation: {
        __deferred: { uri: `URL:443/api/v1/MessageProcessingLogs('${guid}')/ErrorInformation` },
      },
    });
    // A RETRY whose error information does not exist yet answers 204 (tenant-api.md §5 quirks).
    if (!completed && !(status === 'RETRY' && i % 3 === 0))
      errorTexts.set(guid, `${err.text}\nThe MPL ID for the failed message is : ${guid}`);
  }

  // faults.lostErrorTextEvery: the messages whose error text the API fails to give (every Nth with one).
  const lost = new Set(
    faults.lostErrorTextEvery
      ? [...errorTexts.keys()].filter((_, i) => (i + 1) % faults.lostErrorTextEvery! === 0)
      : [],
  );
  const empty = new Set(
    faults.emptyErrorTextEvery
      ? [...errorTexts.keys()]
          .filter((g) => !lost.has(g))
          .filter((_, i) => (i + 1) % faults.emptyErrorTextEvery! === 0)
      : [],
  );
  // The keystore (tenant-api.md §8.5): SAP's key pair, the lab's CA, one expiring in 10 days, one expired.
  const soon = await caCert(
    'CN=Partner Root CA 2016,O=Partner AG,C=DE',
    new Date(now + 10 * DAY + 3_600_000),
  );
  const old = await caCert('CN=Old Receiver CA,O=Receiver Corp,C=US', new Date(now - 20 * DAY));
  const keystore: { alias: string; type: string; owner: string; pem: string }[] = [
    { alias: 'sap_cloudintegrationcertificate', type: 'Key Pair', owner: 'SAP', pem: pki.goodClient.certPem },
    {
      alias: 'linkdoctor lab root',
      type: 'Certificate',
      owner: 'Tenant Administrator',
      pem: pki.root.certPem,
    },
    { alias: 'partner_root_2016', type: 'Certificate', owner: 'Tenant Administrator', pem: soon },
    { alias: 'old_receiver_ca', type: 'Certificate', owner: 'Tenant Administrator', pem: old },
  ];
  const keystoreRows = keystore.map((k) => {
    const c = new x509.X509Certificate(k.pem);
    const info = certInfo(new X509Certificate(k.pem));
    return {
      __metadata: { type: 'com.sap.hci.api.KeystoreEntry' },
      Hexalias: Buffer.from(k.alias, 'utf8').toString('hex').toUpperCase(),
      Alias: k.alias,
      KeyType: c.publicKey.algorithm.name === 'ECDSA' ? 'EC' : 'RSA',
      KeySize: c.publicKey.algorithm.name === 'ECDSA' ? 256 : 2048,
      ValidNotBefore: odataDate(c.notBefore.getTime()),
      ValidNotAfter: odataDate(c.notAfter.getTime()),
      SerialNumber: `0x${c.serialNumber}`,
      SignatureAlgorithm: 'SHA256withRSA',
      EllipticCurve: null,
      Validity: null,
      SubjectDN: info.subject,
      IssuerDN: info.issuer,
      Version: 3,
      Type: k.type,
      Owner: k.owner,
      LastModifiedBy: 'admin',
      LastModifiedTime: odataDate(now - 30 * DAY),
      CreatedBy: 'admin',
      CreatedTime: odataDate(now - 300 * DAY),
      Status: 'unchanged',
    };
  });

  // Deployed artifacts (tenant-api.md §8.2): the iFlows the messages name, two with inbound endpoints
  // (§8.3: /http/<address> for HTTPS senders, /cxf/<address> for SOAP), one in ERROR.
  const artifactRows = TENANT_ARTIFACTS.map((a, i) => ({
    __metadata: {
      type: 'com.sap.hci.api.IntegrationRuntimeArtifact',
      media_src: `URL:443/api/v1/IntegrationRuntimeArtifacts('${a.id}')/$value`,
    },
    Id: a.id,
    Version: a.version,
    Name: a.name,
    Type: 'INTEGRATION_FLOW',
    DeployedBy: 'admin',
    DeployedOn: odataDate(now - (i + 1) * DAY),
    Status: a.status,
    ErrorInformation: {
      __deferred: { uri: `URL:443/api/v1/IntegrationRuntimeArtifacts('${a.id}')/ErrorInformation` },
    },
  }));

  // Tokens (tenant-api.md §2): opaque to the API, JWT-shaped like XSUAA's.
  const tokens = new Map<string, { expiresAt: number; revoked: boolean }>();
  const issued: string[] = [];
  const requests: RequestRecord[] = [];
  let apiRequests = 0;

  const server = createServer(
    {
      key: pki.local.keyPem,
      cert: pki.local.certPem + pki.issuing.certPem,
      // The token URL of a Certificate key asks for the client certificate (§2; mutual TLS).
      requestCert: true,
      rejectUnauthorized: false,
      ca: [pki.goodClient.certPem, pki.clientCa.certPem],
    },
    (req, res) => void handle(req, res),
  );
  const endpoints: RuntimeEndpoint[] = TENANT_ARTIFACTS.flatMap((a) =>
    a.endpoint ? [{ ...a.endpoint, iflow: a.id }] : [],
  );
  const runtime = runtimeHost({ pki, endpoints, sender, viewer: VIEWER });
  const sockets = new Set<Duplex>();
  for (const s of [server, runtime]) {
    s.on('connection', (socket: Socket) => {
      // As a load balancer does: answers are not held back for the peer's ACK (Nagle).
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // A client that vanishes mid-handshake (a probe's timeout) must not crash the lab.
      socket.on('error', () => undefined);
    });
    s.on('tlsClientError', () => undefined);
  }
  const closeAll = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([server, runtime].map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  let port: number;
  let runtimePort: number;
  try {
    port = await listen(server, o.ports?.api ?? 0, 'tenant-api');
    runtimePort = await listen(runtime, o.ports?.runtime ?? 0, 'tenant-runtime');
  } catch (e) {
    await closeAll();
    throw e;
  }
  const url = `https://127.0.0.1:${port}`;
  const runtimeUrl = `https://127.0.0.1:${runtimePort}`;
  const tokenUrl = `${url}/oauth/token`;
  for (const m of mpls) {
    const meta = m.__metadata as Record<string, string>;
    meta.id = meta.id!.replace('URL:443', url);
    meta.uri = meta.uri!.replace('URL:443', url);
  }

  async function body(req: IncomingMessage): Promise<string> {
    let s = '';
    for await (const c of req) {
      s += c;
      if (s.length > 64 * 1024) break;
    }
    return s;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const socket = req.socket as TLSSocket;
    requests.push({
      method: req.method ?? '',
      url: u.href,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      clientCert: socket.authorized === true,
    });
    if (u.pathname === '/oauth/token') return void (await token(req, res, u, socket));
    if (u.pathname.startsWith('/api/v1')) {
      if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
      return void api(req, res, u);
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
  }

  /**
   * POST <tokenurl>?grant_type=client_credentials (§2): Basic clientid:secret, or client_id and
   * client_secret as form or query parameters, or mutual TLS with client_id only. The refusal body
   * is unverified (§10); the fixture answers XSUAA's usual `{"error":"unauthorized",...}` with 401.
   */
  async function token(req: IncomingMessage, res: ServerResponse, u: URL, socket: TLSSocket) {
    const form = new URLSearchParams(await body(req));
    const grant = u.searchParams.get('grant_type') ?? form.get('grant_type');
    if (req.method !== 'POST' || grant !== 'client_credentials') {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ error: 'unsupported_grant_type', error_description: 'Unsupported grant type' }),
      );
    }
    let id: string | undefined;
    let secret: string | undefined;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const pair = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const i = pair.indexOf(':');
      id = pair.slice(0, i);
      secret = pair.slice(i + 1);
    } else {
      id = form.get('client_id') ?? u.searchParams.get('client_id') ?? undefined;
      secret = form.get('client_secret') ?? u.searchParams.get('client_secret') ?? undefined;
    }
    const bySecret = id === TENANT_CLIENT_ID && secret === clientSecret;
    const byCert = id === TENANT_CLIENT_ID && secret === undefined && socket.authorized === true;
    if (faults.tokenRefuses || !(bySecret || byCert)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: 'unauthorized', error_description: 'Bad credentials' }));
    }
    const seconds = o.tokenSeconds ?? 43199;
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const jwt = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({
      client_id: TENANT_CLIENT_ID,
      scope: roles.map((r) => `it!b5678.${r}`),
      exp: Math.floor(Date.now() / 1000) + seconds,
      jti: randomBytes(8).toString('hex'),
    })}.${randomBytes(32).toString('base64url')}`;
    tokens.set(jwt, { expiresAt: Date.now() + seconds * 1000, revoked: false });
    issued.push(jwt);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        access_token: jwt,
        token_type: 'bearer',
        expires_in: seconds,
        scope: roles.map((r) => `it!b5678.${r}`).join(' '),
        jti: randomBytes(8).toString('hex'),
      }),
    );
  }

  function api(req: IncomingMessage, res: ServerResponse, u: URL) {
    apiRequests++;
    const json =
      u.searchParams.get('$format') === 'json' || /application\/json/.test(req.headers.accept ?? '');
    const asJson = json && !faults.xmlAlways;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const t = bearer ? tokens.get(bearer) : undefined;
    if (faults.revokeAfter !== undefined && apiRequests === faults.revokeAfter + 1)
      for (const v of tokens.values()) v.revoked = true;
    // 401: token missing, bad or expired; the body is not documented (§5, §10): empty here.
    if (!t || t.revoked || t.expiresAt < Date.now()) return void res.writeHead(401).end();
    if (faults.loginPage)
      return void res
        .writeHead(200, { 'content-type': 'text/html;charset=utf-8' })
        .end('<!DOCTYPE html><html><head><title>Log On</title></head><body><form>...</form></body></html>');
    if (faults.silent) return; // holds the request open, never answers
    if (faults.endless) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      return pump();
    }
    if (faults.alwaysBusy || (faults.tooMany && apiRequests <= faults.tooMany)) {
      res.setHeader('retry-after', '0');
      return odataError(res, asJson, 429, 'Too Many Requests', 'Rate limit exceeded');
    }
    if (faults.unavailable && apiRequests <= (faults.tooMany ?? 0) + faults.unavailable)
      return odataError(res, asJson, 503, 'Service Unavailable', 'Service Unavailable');
    if (req.method !== 'GET') return odataError(res, asJson, 405, 'Method Not Allowed', 'Method not allowed');
    const path = decodeURIComponent(u.pathname.replace(/^\/api\/v1\/?/, ''));
    const set = /^([A-Za-z]+)/.exec(path)?.[1] ?? '';
    // The role check (§7); the 403 body is unverified (§10): the fixture uses the §5 error shape.
    const needs: Record<string, string> = {
      MessageProcessingLogs: 'MonitoringDataRead',
      KeystoreEntries: 'MonitoringDataRead',
      IntegrationRuntimeArtifacts: 'MonitoringDataRead',
      // The role of ServiceEndpoints is not documented (§10): the fixture takes MonitoringDataRead.
      ServiceEndpoints: 'MonitoringDataRead',
    };
    if (!needs[set])
      return odataError(
        res,
        asJson,
        404,
        'Not Found',
        `Could not find an entity set or function import for '${set}'.`,
      );
    if (!roles.includes(needs[set]!)) return odataError(res, asJson, 403, 'Forbidden', 'Access is denied');

    if (set === 'MessageProcessingLogs') {
      const one = /^MessageProcessingLogs\('([^']+)'\)\/ErrorInformation\/\$value$/.exec(path);
      if (one) {
        const guid = one[1]!;
        if (!mpls.some((m) => m.MessageGuid === guid))
          return odataError(res, asJson, 404, 'Not Found', 'Requested entity could not be found.');
        const text = errorTexts.get(guid);
        if (!text) return void res.writeHead(204).end();
        if (lost.has(guid))
          return odataError(
            res,
            asJson,
            500,
            'Internal Server Error',
            'The error information is not available.',
          );
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(empty.has(guid) ? '' : text);
      }
      // Custom header properties (§8.1): Edm.Int64 `Id` as a string, as the real API writes it (§3).
      const headers = /^MessageProcessingLogs\('([^']+)'\)\/CustomHeaderProperties$/.exec(path);
      if (headers) {
        const i = mpls.findIndex((m) => m.MessageGuid === headers[1]);
        if (i < 0) return odataError(res, asJson, 404, 'Not Found', 'Requested entity could not be found.');
        return page(res, u, asJson, 'CustomHeaderProperties', [
          {
            __metadata: { type: 'com.sap.hci.api.CustomHeaderProperty' },
            Id: String(166 + i),
            Name: 'po_number',
            Value: String(4500012000 + i),
          },
        ]);
      }
      const counting = path === 'MessageProcessingLogs/$count';
      if (path !== 'MessageProcessingLogs' && !counting)
        return odataError(res, asJson, 400, 'Bad Request', 'Invalid URI');
      const filter = parseMplFilter(u.searchParams.get('$filter') ?? '');
      if (typeof filter === 'string') return odataError(res, asJson, 400, 'Bad Request', filter);
      const rows = mpls.filter((m) => {
        const end = Number(/\d+/.exec(m.LogEnd as string)![0]);
        const start = Number(/\d+/.exec(m.LogStart as string)![0]);
        return (
          (!filter.statuses || filter.statuses.includes(m.Status as string)) &&
          (filter.from === undefined || end >= filter.from) &&
          (filter.to === undefined || start <= filter.to) &&
          (!filter.iflow || m.IntegrationFlowName === filter.iflow)
        );
      });
      // `/$count` is plain text (§3).
      if (counting) return void res.writeHead(200, { 'content-type': 'text/plain' }).end(String(rows.length));
      return page(res, u, asJson, 'MessageProcessingLogs', rows);
    }
    if (set === 'KeystoreEntries') {
      const cert = /^KeystoreEntries\('([0-9A-Fa-f]*)'\)\/Certificate\/\$value$/.exec(path);
      if (cert) {
        // Odd-length hex gives 500 (§8.5); case-insensitive in.
        if (cert[1]!.length % 2)
          return odataError(
            res,
            asJson,
            500,
            'Internal Server Error',
            `hexBinary needs to be even-length: ${cert[1]}`,
          );
        const k = keystore.find(
          (e) => Buffer.from(e.alias, 'utf8').toString('hex').toUpperCase() === cert[1]!.toUpperCase(),
        );
        if (!k)
          return odataError(res, asJson, 404, 'Not Found', `Alias '${cert[1]}' not found in the keystore`);
        res.writeHead(200, { 'content-type': 'application/pkix-cert' });
        return res.end(k.pem);
      }
      if (path === 'KeystoreEntries') return page(res, u, asJson, 'KeystoreEntries', keystoreRows);
    }
    if (set === 'IntegrationRuntimeArtifacts') {
      if (path === 'IntegrationRuntimeArtifacts')
        return page(
          res,
          u,
          asJson,
          set,
          artifactRows.map((r) => withOrigin(r)),
        );
      // ('<Id>')/ErrorInformation/$value: the CF JSON of §8.2 for an artifact in ERROR, 204 without one.
      const one = /^IntegrationRuntimeArtifacts\('((?:''|[^'])*)'\)\/ErrorInformation\/\$value$/.exec(path);
      const a = one && TENANT_ARTIFACTS.find((x) => x.id === one[1]!.replace(/''/g, "'"));
      // A flow that is not deployed: 404 with "Requested entity could not be found" (§9 item 8).
      if (!a) return odataError(res, asJson, 404, 'Not Found', 'Requested entity could not be found.');
      if (!a.deployError) return void res.writeHead(204).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(a.deployError));
    }
    if (set === 'ServiceEndpoints' && path === 'ServiceEndpoints') {
      // EntryPoints inline only with $expand=EntryPoints; else a deferred link (OData V2, §8.3).
      const expand = /(^|,)EntryPoints(,|$)/.test(u.searchParams.get('$expand') ?? '');
      const rows = TENANT_ARTIFACTS.filter((a) => a.endpoint).map((a) => {
        const ep = a.endpoint!;
        const entry = `${runtimeUrl}/${ep.prefix}/${ep.address}`;
        return {
          __metadata: { type: 'com.sap.hci.api.ServiceEndpoint' },
          Name: a.id,
          Id: `${a.id}$endpointAddress=${ep.address}`,
          Title: a.name,
          Version: a.version,
          Summary: '',
          Description: '',
          LastUpdated: odataDate(now - DAY),
          Protocol: ep.protocol,
          EntryPoints: expand
            ? {
                results: [
                  {
                    __metadata: {
                      id: `${url}/api/v1/EntryPoints('${encodeURIComponent(entry)}')`,
                      type: 'com.sap.hci.api.EntryPoint',
                    },
                    Name: a.id,
                    Url: entry,
                    Type: 'PROD',
                    AdditionalInformation: '',
                  },
                ],
              }
            : { __deferred: { uri: `${url}/api/v1/ServiceEndpoints('${a.id}')/EntryPoints` } },
          ApiDefinitions: { __deferred: { uri: `${url}/api/v1/ServiceEndpoints('${a.id}')/ApiDefinitions` } },
        };
      });
      return page(res, u, asJson, set, rows);
    }
    return odataError(res, asJson, 404, 'Not Found', 'Requested entity could not be found.');
  }

  const withOrigin = (r: Record<string, unknown>) => ({
    ...r,
    __metadata: Object.fromEntries(
      Object.entries(r.__metadata as Record<string, string>).map(([k, v]) => [k, v.replace('URL:443', url)]),
    ),
  });

  let pagesServed = 0;
  /** A page of at most 1000 rows (or $top), then `__next` with $skiptoken (§4); `__count` a string (§3). */
  function page(res: ServerResponse, u: URL, asJson: boolean, set: string, rows: Record<string, unknown>[]) {
    const skip = Number(u.searchParams.get('$skiptoken') ?? u.searchParams.get('$skip') ?? 0);
    const top = Math.min(Number(u.searchParams.get('$top') ?? 1000), 1000);
    const slice = rows.slice(skip, skip + top);
    const more = skip + top < rows.length;
    const nextQuery = new URLSearchParams(u.searchParams);
    nextQuery.delete('$format');
    nextQuery.set('$skiptoken', String(skip + top));
    const relative = `${set}?${nextQuery.toString().replace(/\+/g, '%20')}`;
    const next = faults.foreignNext
      ? `https://tenant.example.org/api/v1/${relative}`
      : o.absoluteNext
        ? `${url}/api/v1/${relative}`
        : relative;
    const index = pagesServed++;
    if (!asJson) {
      res.writeHead(200, { 'content-type': 'application/atom+xml;type=feed;charset=utf-8' });
      return res.end(atomFeed(`${url}/api/v1/`, set, slice));
    }
    const d: Record<string, unknown> = { results: slice };
    if (u.searchParams.get('$inlinecount') === 'allpages') d.__count = String(rows.length);
    if (more) d.__next = next;
    const text = JSON.stringify({ d });
    if (faults.truncatePage === index) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
      });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      return setTimeout(() => res.socket?.destroy(), 20);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text);
  }

  const key = (extra: Record<string, string>) =>
    JSON.stringify({ oauth: { clientid: TENANT_CLIENT_ID, url, tokenurl: tokenUrl, ...extra } });
  const keyJson = key({ clientsecret: clientSecret });
  const keyFile = join(dir, 'tenant-service-key.json');
  const certKeyFile = join(dir, 'tenant-service-key-cert.json');
  const caFile = join(dir, 'lab-root-ca.pem');
  // Throwaway lab keys, readable by their owner only.
  writeFileSync(keyFile, `${keyJson}\n`, { mode: 0o600 });
  writeFileSync(
    certKeyFile,
    `${key({ certificate: pki.goodClient.certPem, key: pki.goodClient.keyPem })}\n`,
    {
      mode: 0o600,
    },
  );
  writeFileSync(caFile, pki.root.certPem);

  return {
    url,
    tokenUrl,
    runtimeUrl,
    sender,
    viewer: VIEWER,
    secret: clientSecret,
    caPem: pki.root.certPem,
    caFile,
    keyFile,
    certKeyFile,
    keyJson,
    tokens: issued,
    requests,
    mpls,
    errorTexts,
    pki,
    dir,
    close: closeAll,
  };
}
