// The corrections of issue 15: eight entries checked against SAP's documentation (SAP-docs
// btp-integration-suite and btp-connectivity). Each test holds a corrected fact, not its wording:
// it fails if the knowledge base states the old claim again or drops the new one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../src/diagnose/match.js';
import { loadKb } from '../src/kb/load.js';
import type { Entry } from '../src/types.js';

const kb = await loadKb();
const entry = (id: string): Entry => kb.byId.get(id)!;
/** Every cause, fix and check of an entry, as one sentence each. */
const statements = (id: string): string[] => {
  const e = entry(id);
  return [...e.causes, ...e.fixes, ...e.checks].map((x) => x.text.replace(/\s+/g, ' '));
};
const some = (id: string, re: RegExp) => statements(id).some((s) => re.test(s));
const none = (id: string, re: RegExp) => statements(id).filter((s) => re.test(s));
const causeOf = (text: string) => {
  const top = diagnose(kb, { text }).diagnoses[0];
  return `${top?.id}/${top?.cause?.id}`;
};

test('out-http-403-cloud-connector: principal propagation per system mapping, suspended resources, "Access denied to system" its own cause', () => {
  const id = 'out-http-403-cloud-connector';
  assert.ok(some(id, /principal propagation[^.]*system mapping|system mapping[^.]*principal propagation/i));
  assert.deepEqual(none(id, /principal propagation[^.]*not allowed for the resource/i), []);
  assert.ok(some(id, /suspended/i), 'a suspended (inactive) resource is denied');
  assert.deepEqual(
    none(id, /mapping (?:is )?for another protocol/i),
    [],
    'the mapping protocol is the leg to the backend',
  );
  const system = causeOf(
    "HTTP response '403: Forbidden' when communicating with http://erp-virtual:8000/x - Access denied to system erp-virtual:8000",
  );
  const resource = causeOf(
    'HTTP/1.1 403 Forbidden - Access denied to resource /sap/opu/odata/sap/X on system s4-virtual:44300',
  );
  assert.match(system, /^out-http-403-cloud-connector\/\S+/);
  assert.notEqual(system, resource, 'no mapping and a path not exposed are told apart');
  assert.ok(!system.endsWith('/undefined'));
});

test('out-sftp: deprecated algorithms in the adapters only; PuTTY and protected keys accepted; 3des-cbc supported; the SSH test as it is', () => {
  const id = 'out-sftp';
  for (const s of none(id, /Deprecated Algorithms/i))
    if (/connectivity test/i.test(s))
      assert.match(s, /\bno such option|not in the (?:SSH )?connectivity test/i, s);
  assert.ok(
    some(id, /Deprecated Algorithms[^.]*(?:sender|Poll Enrich)/i),
    'sender, receiver and poll enrich adapters',
  );
  for (const s of none(id, /PuTTY|passphrase|password-protected/i))
    assert.match(s, /accept|PuTTY key is accepted/i, s);
  for (const s of none(id, /3des-cbc/i)) assert.match(s, /supported list|supported[^.]*3des-cbc/i, s);
  assert.ok(
    some(id, /diffie-hellman-group1-sha1[^.]*ssh-rsa/i),
    "the documentation's examples of deprecated algorithms",
  );
  assert.deepEqual(
    none(id, /Authentication None[^.]*Host Key Verification (?:'|")?Off/i),
    [],
    'no Host Key Verification with None',
  );
  assert.ok(some(id, /Against Tenant/), 'the option is labelled Against Tenant');
  for (const s of none(id, /Check Directory Access/))
    if (/Dual/.test(s)) assert.match(s, /not offered with Dual/, s);
  assert.ok(
    some(id, /Known Hosts \(SSH\)[^.]*\bEdit\b[^]*\bDeploy\b/),
    'known_hosts is edited in a table and deployed',
  );
  assert.ok(some(id, /Create > SSH Key\b(?! Pair)/));
  assert.deepEqual(none(id, /Create > SSH Key Pair/), []);
});

test('in-request-not-reaching: no certificate reaches the tenant (401); External Certificate takes the leaf; custom domains on Cloud Foundry', () => {
  const id = 'in-request-not-reaching';
  const noCert = entry(id).causes.find((c) => c.id === 'no-cert-sent')!;
  assert.match(noCert.text, /reaches the tenant[^.]*401/);
  assert.match(noCert.text, /Authentication object was not found in the SecurityContext/);
  assert.ok(some(id, /External Certificate[^.]*leaf[^.]*not the chain/i));
  assert.ok(some(id, /custom domains? on Cloud Foundry/i));
  assert.ok(
    some(id, /load balancer does not pass the client certificate on/i),
    'only an unsupported CA is stopped there',
  );
});

test('in-ssslerr-untrusted: SNI (note 2124480) and TLS 1.2 (note 510007) are causes of their own; the server root page', () => {
  const e = entry('in-ssslerr-untrusted');
  const sni = e.causes.find((c) => /\bSNI\b/.test(c.text))!;
  const tls12 = e.causes.find((c) => /TLS 1\.2/.test(c.text) && c !== sni)!;
  assert.ok(sni?.id && tls12?.id && sni.id !== tls12.id);
  assert.match(sni.text, /icm\/HTTPS\/client_sni_enabled[^]*ssl\/client_sni_enabled/);
  assert.ok(sni.sources?.some((s) => typeof s === 'object' && 'note' in s && s.note === '2124480'));
  assert.ok(tls12.sources?.some((s) => typeof s === 'object' && 'note' in s && s.note === '510007'));
  assert.equal(
    causeOf('HTTP error 407 occured: ICM_HTTP_SSL_ERROR; dev_icm: SapSSLSessionStartNB()==SSSLERR_SSL_READ'),
    `in-ssslerr-untrusted/${sni.id}`,
  );
  assert.equal(
    causeOf('SM59 test to the tenant fails: ICM_HTTP_SSL_ERROR, our SAPCRYPTOLIB only supports TLS 1.0'),
    `in-ssslerr-untrusted/${tls12.id}`,
  );
  assert.ok(
    !e.references.some((r) => /Load Balancer Root Certificates/i.test(r.title)),
    'that page is about senders’ client certificates',
  );
  assert.ok(
    e.references.some((r) =>
      /connectivity test to get the load balancer server root certificate/i.test(r.title),
    ),
  );
});

test('out-cert-path: the chain shows after a successful test (untick "Validate Server Certificate Required"); Add to keystore needs the full chain; Cloud Connector judges on-premise backends', () => {
  const id = 'out-cert-path';
  assert.ok(some(id, /untick[^.]*'Validate Server Certificate Required'/));
  assert.deepEqual(none(id, /"Validate Server Certificate"(?! Required)/), [], 'the exact label');
  assert.ok(some(id, /Add to keystore[^.]*(?:only when|not offered)[^.]*(?:full chain|incomplete chain)/i));
  assert.ok(some(id, /Cloud Connector[^.]*(?:Backend Trust Store|not by the tenant's keystore)/));
});

test('out-csrf-403: OData V4 CSRF Protected needs HTTP Session Reuse; x-csrf-token in the fetch call’s Request Headers too; session handling with a Splitter', () => {
  const id = 'out-csrf-403';
  assert.ok(some(id, /V4[^.]*CSRF Protected|CSRF Protected[^.]*V4/));
  assert.ok(some(id, /CSRF Protected requires (?:it|HTTP Session Reuse)/));
  assert.ok(some(id, /Request Headers[^.]*fetch call|fetch call[^.]*Request Headers/));
  assert.ok(some(id, /Splitter[^.]*(?:On Exchange|On Integration Flow)/));
});

test('in-http-403: custom roles in Monitor > Manage Security > User Roles; MessagingSend for IdP users; no "GET without role context"', () => {
  const id = 'in-http-403';
  assert.ok(some(id, /Monitor > Manage Security > User Roles/));
  assert.ok(some(id, /\bMessagingSend\b/));
  assert.deepEqual(none(id, /without role context/i), []);
});

test('out-fsm-sequential-smtp: the FSM link is an inference; on-premise SMTPS is Protection Off with TLS in the Cloud Connector; OAuth2 Authorization Code', () => {
  const e = entry('out-fsm-sequential-smtp');
  assert.match(e.summary, /inference/i);
  // The inference is said in the cause's sources, not in the sentence a user reads (kb lint warns on that).
  assert.ok(e.causes.some((c) => c.id === 'port-25-blocked' && c.sources?.includes('inference')));
  assert.ok(some(e.id, /on-premise[^.]*SMTPS[^.]*Protection Off[^.]*Cloud Connector/i));
  assert.ok(some(e.id, /OAuth2 Authorization Code/));
  assert.deepEqual(none(e.id, /\bOAuth2\)/), [], 'not plain "OAuth2"');
});

// Second review (issue 15, the remaining entries): corrections found there.

test('in-http-401: an IdP user (SAP ID service) may log on with Basic; no "S-user password never works"', () => {
  const id = 'in-http-401';
  assert.deepEqual(none(id, /S-user password alone does not work/i), []);
  assert.ok(
    some(id, /default identity provider|default IdP/i),
    'Basic logon of IdP users goes through the default IdP',
  );
  assert.ok(some(id, /Alibaba/i), 'not on Alibaba Cloud');
});

test('in-cert-validity: an SAP-generated service key certificate lives at most 365 days; a renewed certificate needs its DNs in Client Certificate authorization', () => {
  const id = 'in-cert-validity';
  assert.ok(some(id, /\b365\b/));
  assert.ok(some(id, /Client Certificate[^.]*Subject DN[^.]*Issuer DN[^.]*redeploy/i));
});

test('in-icm-connection-failed: no unsourced notice period for load balancer IP changes', () => {
  assert.deepEqual(none('in-icm-connection-failed', /four weeks|4 weeks/i), []);
});

test('out-http-401: Client Certificate is not offered for On-Premise receivers; principal propagation tokens last 30 minutes', () => {
  const id = 'out-http-401';
  assert.ok(
    some(id, /On-Premise[^.]*(?:not allow|does not allow|cannot use|not possible)[^.]*Client Certificate/i),
  );
  assert.ok(some(id, /30 minutes/));
});

test('out-osci-conversion: the OData V2 receiver caches metadata for an hour', () => {
  assert.ok(some('out-osci-conversion', /metadata cache|caches? (?:the )?metadata/i));
  assert.ok(some('out-osci-conversion', /SAP_ODataV2_RefreshCacheOnExpiry/));
});

test('out-successfactors-adapter: the SOAP and OData V2 adapters need HTTP Session Reuse (never None)', () => {
  const id = 'out-successfactors-adapter';
  assert.ok(some(id, /SOAP and OData V2 adapters require On Exchange or On Integration Flow/i));
  assert.deepEqual(none(id, /Session Reuse is 'None' while/i), []);
});

test('out-successfactors-webservice: the Company ID field of a SuccessFactors credential; no unread KBA for the API servers', () => {
  const id = 'out-successfactors-webservice';
  assert.ok(some(id, /Company ID/));
  assert.deepEqual(none(id, /user@companyId|2215682/), []);
  assert.ok(some(id, /List of SAP SuccessFactors API Servers/));
});

test('out-http-404: a CamelHttpUri header set in an earlier step overwrites the Address too', () => {
  assert.ok(some('out-http-404', /CamelHttpUri[^.]*earlier step[^.]*overwrites the Address/i));
});

test('smtp-auth-failed: the mail adapter offers OAuth2 Authorization Code only (no client credentials); no OAuth for personal Microsoft accounts; STARTTLS Optional upgrades when offered', () => {
  const id = 'smtp-auth-failed';
  assert.deepEqual(none(id, /Client Credentials credential|service principal/i), []);
  assert.ok(some(id, /OAuth2 Authorization Code/));
  assert.ok(some(id, /personal Microsoft account/i));
  assert.deepEqual(none(id, /\(Protection Off or STARTTLS Optional\)/), []);
});

test('out-client-cert-rejected: after a key pair renewal the flow is restarted on every runtime node (keystore cached 24 hours)', () => {
  assert.ok(some('out-client-cert-rejected', /restart[^.]*every runtime node[^.]*24 hours/i));
});

// The last twelve entries (issue 15, third engineer): each test holds a fact read in the source it cites.

test('out-csrf-403: a token fetched before a Splitter goes with HTTP Session Reuse On Exchange (Specify Proper Session Handling); On Integration Flow only for a stateless API without CSRF', () => {
  const id = 'out-csrf-403';
  const splitter = statements(id).filter((s) => /Splitter/.test(s));
  assert.ok(splitter.some((s) => /Splitter[^.]*On Exchange|On Exchange[^.]*Splitter/.test(s)));
  for (const s of splitter.filter((x) => /On Integration Flow/.test(x)))
    assert.match(s, /On Integration Flow[^.]*stateless[^.]*without CSRF/i, s);
});

test('ftp-failure: the FTP adapter supports passive mode only and no TLS session reuse, so a vsftpd 522 needs require_ssl_reuse=NO on the server', () => {
  const id = 'ftp-failure';
  assert.ok(some(id, /passive mode only/i));
  assert.ok(some(id, /does not support TLS session reuse/i));
  assert.ok(some(id, /require_ssl_reuse=NO/));
  assert.deepEqual(none(id, /server that supports TLS session reuse/i), []);
  assert.equal(
    causeOf('FTPS upload failed: 522 SSL connection failed; session reuse required'),
    'ftp-failure/ftps',
  );
});

test("network-timeout: the receiver adapters' field is Timeout (in ms), 60000 ms by default, and the lowest timeout on the path decides", () => {
  const id = 'network-timeout';
  assert.deepEqual(none(id, /Request Timeout/), []);
  assert.ok(some(id, /Timeout \(in ms\)/));
  assert.ok(some(id, /60000 ms/));
  assert.ok(some(id, /lowest one decides|whatever the adapter's Timeout says/));
});

test('http-redirect-loop: the HTTP receiver does not follow redirects; session reuse helps only when the flow follows them itself', () => {
  const id = 'http-redirect-loop';
  assert.ok(some(id, /HTTP receiver does not follow redirects/));
  for (const s of none(id, /Session Reuse/)) assert.match(s, /follows the redirects itself/, s);
});

test('in-http-503: resource exhaustion restarts the Cloud Integration runtime (health check) and answers 503 on the Edge Integration Cell', () => {
  const id = 'in-http-503';
  assert.ok(some(id, /health check[^.]*restart/i));
  assert.ok(some(id, /Edge Integration Cell[^.]*503/));
  assert.deepEqual(none(id, /rejects new requests for a while/), []);
});

test('tls-hostname-mismatch: through the Cloud Connector the adapter calls http:// and the virtual host; the backend certificate is checked against the internal host', () => {
  const id = 'tls-hostname-mismatch';
  assert.ok(some(id, /http:\/\/[^.]*virtual host|virtual host[^.]*http:\/\//));
  assert.ok(some(id, /internal host[^.]*certificate|certificate[^.]*internal host/));
  assert.deepEqual(none(id, /virtual host name match what the backend certificate covers/), []);
});

test('connection-reset: pooled connections of the HTTP receiver stay open up to its Max Idle Timeout', () => {
  assert.ok(some('connection-reset', /Max Idle Timeout/));
});

test('tls-handshake-failure and in-ssslerr-untrusted: Cloud Integration supports TLS 1.2 and 1.3, inbound and outbound (Security Aspects of Data, Data Flow)', () => {
  assert.ok(some('tls-handshake-failure', /TLS 1\.2 and 1\.3[^.]*inbound[^.]*outbound/));
  assert.deepEqual(none('tls-handshake-failure', /current JVM/), []);
  assert.ok(some('in-ssslerr-untrusted', /TLS 1\.2 and 1\.3 for inbound/));
});
