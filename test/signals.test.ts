import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractSignals, factsOf } from '../src/diagnose/signals.js';

const values = (text: string, type: string) =>
  extractSignals(text)
    .filter((s) => s.type === type)
    .map((s) => s.value);
/** The directions the cues of a text say, each once. */
const dirs = (text: string) => [...new Set(values(text, 'direction'))];

test('HTTP statuses are read in their usual contexts', () => {
  const cases: [string, string][] = [
    ["HTTP response '401: Unauthorized' when communicating with https://erp.example.com/x", '401'],
    ['HTTP operation failed invoking https://api.example.com/v1 with statusCode: 404', '404'],
    ['HTTP/1.1 403 Forbidden', '403'],
    ['<h1>HTTP Status 403 – Forbidden</h1>', '403'],
    ['Http-Errorcode 411 "Length required" when executing POST requests', '411'],
    ['the server answered 503 Service Unavailable', '503'],
    ["messages start to fail with 'Unathorized(401)' errors", '401'],
    ['I get an 401 error when calling the service', '401'],
    ['returns HTTP 403 "Access Forbidden"', '403'],
    ['status code 502', '502'],
    ['com.adobe.ads.destination.DestinationException: HTTP-401 Error.(200.101).', '401'],
    // A sentence stop between the words and the number, as delivery logs and e-mails write it.
    ['Last delivery failed: Invalid HTTP Response. 410.', '410'],
    ['the response has a status code of 429 and validateStatus was configured to throw', '429'],
    ['DioError [DioErrorType.RESPONSE]: Http status error [502]', '502'],
  ];
  for (const [text, code] of cases)
    assert.ok(values(text, 'http.status').includes(code), `${code} in: ${text}`);
});

test('numbers that are not HTTP statuses are not read as statuses', () => {
  for (const text of [
    'SAP DBTech JDBC: [403]: internal error: Cannot get remote source objects',
    'processed 500 records in 403 ms',
    'at com.jcraft.jsch.Session.connect(Session.java:519)',
    'Connect to github.com:443 failed',
  ])
    assert.deepEqual(values(text, 'http.status'), [], text);
});

test("an ABAP client's 'HTTP error 411' on a failed connect is an ICM return code, not Length Required", () => {
  const text = 'Error: HTTP error 411 occured: Direct connect to github.com:443 failed: NIECONN_REFUSED(-10)';
  assert.deepEqual(values(text, 'http.status'), []);
  assert.deepEqual(values(text, 'icm.rc'), ['411']);
  assert.deepEqual(values(text, 'ni.error'), ['NIECONN_REFUSED']);
  const facts = factsOf(extractSignals(text));
  assert.equal(facts.host, 'github.com');
  assert.equal(facts.port, 443);
});

test('exceptions, codes, alerts and socket errors', () => {
  const text = `javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure
Caused by: java.net.SocketTimeoutException: connect timed out
ICM_HTTP_SSL_ERROR SSSLERR_PEER_CERT_UNTRUSTED connect ECONNREFUSED 10.1.2.3:443 tlsv1 alert unknown ca`;
  assert.deepEqual(values(text, 'exception'), [
    'javax.net.ssl.SSLHandshakeException',
    'java.net.SocketTimeoutException',
  ]);
  assert.deepEqual(values(text, 'tls.alert'), ['handshake_failure', 'unknown_ca']);
  assert.deepEqual(values(text, 'icm.code'), ['ICM_HTTP_SSL_ERROR']);
  assert.deepEqual(values(text, 'ssl.error'), ['SSSLERR_PEER_CERT_UNTRUSTED']);
  assert.deepEqual(values(text, 'errno'), ['ECONNREFUSED']);
  const facts = factsOf(extractSignals(text));
  assert.equal(facts.exception, 'java.net.SocketTimeoutException', 'the innermost cause is the fact');
  assert.equal(facts.host, '10.1.2.3');
});

test('hosts and ports: URLs, JavaMail, host:port, and no Java file names', () => {
  const mail = values("Couldn't connect to host, port: smtp.example.com, 25; timeout -1", 'host');
  assert.deepEqual(mail, ['smtp.example.com']);
  assert.deepEqual(values("Couldn't connect to host, port: smtp.example.com, 25; timeout -1", 'port'), [
    '25',
  ]);
  assert.deepEqual(values('Connection timed out, host: smtp.live.com, port: 25', 'port'), ['25']);
  assert.deepEqual(values('at com.jcraft.jsch.Session.connect(Session.java:519)', 'host'), []);
  const url = factsOf(extractSignals('calling https://api.example.com:8443/v1/orders?x=1.'));
  assert.equal(url.url, 'https://api.example.com:8443/v1/orders?x=1');
  assert.equal(url.host, 'api.example.com');
  assert.equal(url.port, 8443);
});

test('certificate names', () => {
  const text =
    'Unauthorized. Subject and issuer (subject: cn=sender01,o=Acme,c=DE; issuer: cn=Acme Issuing CA,o=Acme,c=DE) of the provided certificate is not contained';
  const facts = factsOf(extractSignals(text));
  assert.equal(facts.certificateSubject, 'cn=sender01,o=Acme,c=DE');
  assert.equal(facts.certificateIssuer, 'cn=Acme Issuing CA,o=Acme,c=DE');
});

test('who reported it, and which way the call went', () => {
  const cxf = extractSignals(
    "HTTP response '503: Service Unavailable' when communicating with https://x.example.com/y",
  );
  assert.ok(cxf.some((s) => s.type === 'reporter' && s.value.includes('CXF')));
  assert.ok(cxf.some((s) => s.type === 'direction' && s.value === 'outbound'));
  const sender = extractSignals(
    'Postman call to https://t1.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com/http/orders gives 401',
  );
  assert.ok(sender.some((s) => s.type === 'direction' && s.value === 'inbound'));
  assert.ok(!sender.some((s) => s.type === 'direction' && s.value === 'outbound'));
});

test('more client wordings of a status, and "denied" is not an ABAP NI code', () => {
  const cases: [string, string][] = [
    ['java.io.IOException: Server returned HTTP response code: 401 for URL: https://x.example.com/a', '401'],
    ['The remote server returned an error: (401) Unauthorized.', '401'],
    ['org.springframework.web.client.HttpClientErrorException$Unauthorized: 401 : [no body]', '401'],
    ['the backend responded with 401', '401'],
    ['calling the endpoint gives 403', '403'],
    ['{"error":"Forbidden"}', '403'],
    ['401 - Unauthorized: Access is denied due to invalid credentials.', '401'],
    ['10.0.53.12 - - [12/Jun/2024:07:44:12 +0000] "POST /http/hr/newhire HTTP/1.1" 404 0 "-"', '404'],
    ['CPI HTTP receiver 401 although credentials are correct', '401'],
  ];
  for (const [text, code] of cases)
    assert.ok(values(text, 'http.status').includes(code), `${code} in: ${text}`);
  assert.deepEqual(values('401 - Unauthorized: Access is denied due to invalid credentials.', 'icm.rc'), []);
});

test('a polling sender channel is the tenant calling out, not a sender calling in', () => {
  const polling = dirs(
    '[CAMEL][IFLOW][POLL_FAILED] : Polling failed for SuccessFactors sender channel EmployeeDelta',
  );
  assert.ok(polling.includes('outbound') && !polling.includes('inbound'), polling.join());
  assert.deepEqual(dirs('the partner sends the order XML to our CPI endpoint every 15 minutes'), ['inbound']);
  assert.deepEqual(dirs('Salesforce REST call from our iFlow returns HTTP 401'), ['outbound']);
});

test('outbound cues: a receiver-only adapter named, a remote system that answered, a call to another system, a SaaS API', () => {
  for (const text of [
    'Getting 401 Unauthorized from the ServiceNow adapter since Monday',
    'The OData V2 adapter fails with 403 on every PATCH',
    'The remote web service responded with status 500 and an empty body',
    'Error while connecting to api.partner.example: connection reset',
    'SuccessFactors OData API returns 401 for every query',
  ])
    assert.deepEqual(dirs(text), ['outbound'], text);
  // The tenant itself named as the target, or a sender adapter: not outbound.
  assert.ok(!dirs('Error while calling the iFlow endpoint from SAP ERP: 401').includes('outbound'));
  assert.ok(
    !dirs('The SOAP sender adapter answers 403; the HTTP adapter on the other side is fine').includes(
      'outbound',
    ),
  );
  assert.ok(!dirs('SRT Framework exception: error when calling SOAP Runtime functions').includes('outbound'));
});

test("numbers that look like statuses: an ABAP client's return code before an NI/ICM/SSSLERR code, a source line", () => {
  assert.deepEqual(values('HTTP client code 407 reason ICM_HTTP_SSL_ERROR', 'http.status'), []);
  assert.deepEqual(values('HTTP client code 407 reason ICM_HTTP_SSL_ERROR', 'icm.rc'), ['407']);
  assert.deepEqual(values('Cannot connect: HTTP error 400 occured: NTECONN_REFUSED(-10)', 'icm.rc'), ['400']);
  // A status earlier on the line keeps its meaning: the code after it belongs to the next number.
  assert.ok(
    values(
      'HTTP response code 401 Unauthorized & HTTP client code 407 reason ICM_HTTP_SSL',
      'http.status',
    ).includes('401'),
  );
  const frame = 'at com.sap.it.adapter.sftp.SFTPProducer.process(SFTPProducer.java:123)';
  assert.deepEqual(values(frame, 'port'), []);
  assert.deepEqual(values(frame, 'host'), []);
});

test('a general-purpose HTTP client in the text is an outbound call; the tenant named as its target makes it inbound', () => {
  for (const text of [
    'requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://api.vendor.example/v1/items',
    "HTTPSConnectionPool(host='files.vendor.example', port=443): Max retries exceeded with url: /export",
    'Invoke-RestMethod : The remote server returned an error: (403) Forbidden.',
    'org.springframework.web.client.HttpClientErrorException$NotFound: 404 Not Found: [no body]',
    'AxiosError: Request failed with status code 401 at settle (node_modules/axios/lib/core/settle.js:19:12)',
    'RuntimeError: could not connect to the billing service at https://billing.example.org: 503',
  ])
    assert.deepEqual(dirs(text), ['outbound'], text);
  // A sender script that names the tenant's runtime host: inbound outweighs the client's cue.
  const sender = extractSignals(
    'Invoke-RestMethod : The remote server returned an error: (401) Unauthorized. Uri https://acme.it-cpi018-rt.cfapps.eu10-002.hana.ondemand.com/http/orders',
  ).filter((s) => s.type === 'direction');
  const weight = (d: string) => Math.max(0, ...sender.filter((s) => s.value === d).map((s) => s.weight ?? 0));
  assert.ok(weight('inbound') > weight('outbound'));
  // "could not connect to the iFlow" is a sender's sentence, not an outbound call
  assert.ok(!dirs('We could not connect to the iFlow endpoint from our ERP').includes('outbound'));
});

test('"forbidden" in a hyphenated word or as the Fetch standard\'s "forbidden header" is no 403', () => {
  for (const text of [
    'see https://fetch.spec.whatwg.org/#forbidden-header-name before setting it',
    'Date is a forbidden header for scripts in the browser',
  ])
    assert.deepEqual(values(text, 'http.status'), [], text);
  assert.deepEqual(values('the proxy answered: Forbidden', 'http.status'), ['403']);
});

test('a status first on its line, a dash and the server\'s own message: 503 - "..."', () => {
  for (const [text, code] of [
    ['503 - "The HR suite is currently undergoing scheduled maintenance"', '503'],
    ['Response:\n  404 - Resource /odata/v2/Orders does not exist', '404'],
    ['the monitor shows `502 - upstream closed the connection`', '502'],
  ] as const)
    assert.deepEqual(values(text, 'http.status'), [code], text);
  // a range or a count after the dash is no status line
  for (const text of ['Retry on statuses 500 - 599 only', '400 - 450 ms per call on average'])
    assert.deepEqual(values(text, 'http.status'), [], text);
});

test("OpenSSL/BoringSSL's reason-code form of a received alert (SSLV3_ALERT_..., TLSV1_ALERT_...) is a TLS alert", () => {
  for (const [text, alert] of [
    ['error:10000412:SSL routines:OPENSSL_internal:SSLV3_ALERT_BAD_CERTIFICATE', 'bad_certificate'],
    ['ssl.SSLError: [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:1006)', 'unknown_ca'],
    ['[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired', 'certificate_expired'],
    ['OPENSSL_internal:TLSV13_ALERT_CERTIFICATE_REQUIRED', 'certificate_required'],
  ] as const)
    assert.ok(values(text, 'tls.alert').includes(alert), `${alert} in: ${text}`);
  // an alert's name inside another identifier is no alert
  assert.deepEqual(values('set MY_SSLV3_ALERT_LEVEL=2 in the profile', 'tls.alert'), []);
});
