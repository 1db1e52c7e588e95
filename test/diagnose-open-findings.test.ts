// The findings of session 13's new-user attack that session 14 closed (B14, B7, B9, B4, B5 and what
// was noticed): each test holds the KIND with texts written in the style people post, not the
// attack's own texts nor corpus lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../src/diagnose/match.js';
import { loadKb } from '../src/kb/load.js';
import { runCli } from './helpers.js';

const kb = await loadKb();
const top = (text: string) => {
  const d = diagnose(kb, { text }).diagnoses[0];
  return d ? `${d.id}/${d.cause?.id ?? '-'}` : 'none';
};

test('attack S13 B14: the Cloud Connector that cannot resolve its internal host is fixed in the Cloud Connector, not by "use the Cloud Connector"', () => {
  // Its answer through a 503 (the seed's row 19 names it), and through other statuses or its own trace.
  assert.equal(
    top(
      "HTTP response '503: Service Unavailable' when communicating with http://hr-virtual:8443/sap/bc/srt/scs/sap/zemp - SCC: backend host hrapp04 could not be resolved",
    ),
    'out-http-503/backend-name-unknown',
  );
  for (const text of [
    "org.apache.cxf.transport.http.HTTPException: HTTP response '502: Bad Gateway' when communicating with http://wms-virtual:50000/XISOAPAdapter - Cloud Connector: Connection to backend system wmsprd.plant.internal:50000 failed: java.net.UnknownHostException: wmsprd.plant.internal",
    '2026-11-30 08:14:55,201 +0100#ERROR#com.sap.core.connectivity.tunnel#tunnelserver-worker-3# #scc_core: backend connection for virtual host mes-virtual:443 failed: java.net.UnknownHostException: mesapp01: Name or service not known',
  ]) {
    const d = diagnose(kb, { text }).diagnoses[0]!;
    assert.equal(`${d.id}/${d.cause?.id}`, 'dns-failure/cloud-connector-lookup', text);
    assert.match(d.fixes[0]!, /Internal Host of the system mapping/);
    assert.match(d.fixes[0]!, /Cloud Connector's machine/);
    assert.ok(!/use Proxy Type On-Premise/.test(d.fixes[0]!), d.fixes[0]);
  }
  // An internal name called from the cloud without a Cloud Connector keeps its own cause and fix.
  assert.equal(
    top(
      'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: java.net.UnknownHostException: sapqas.corp',
    ),
    'dns-failure/internal-name',
  );
});

test('attack S13 B7: scan names the host a failing line names, in the forms clients print it', () => {
  const log = [
    '2026-12-01 10:00:00,100 ERROR [Supplier_Pull] Message a1 failed: com.jcraft.jsch.JSchException: UnknownHostKey: drop.supplier.example. RSA key fingerprint is 4a:1c:0e',
    '2026-12-01 10:01:00,100 ERROR [Bank_Out] Message b2 failed: java.net.ConnectException: Connection refused: paygw.dc1.example/10.20.30.40:9443',
    '2026-12-01 10:02:00,100 ERROR [Old_Api] Message c3 failed: javax.net.ssl.SSLHandshakeException: No subject alternative DNS name matching oldapi.example.net found.',
  ].join('\n');
  const r = runCli(['scan', '-'], { input: log });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(!r.stdout.includes('no host named'), r.stdout);
  for (const host of ['drop.supplier.example', 'paygw.dc1.example', 'oldapi.example.net'])
    assert.match(r.stdout, new RegExp(`host ${host.replace(/\./g, '\\.')}\\b`));
  // diagnose reads the same facts: one reader
  const d = diagnose(kb, { text: 'java.net.ConnectException: Connection refused: s4app/10.0.0.7:44300' });
  assert.equal(d.facts.host, 's4app');
  assert.equal(d.facts.port, 44300);
});

test("attack S13 B7: a scan group whose cause is known lists that cause's fixes, as diagnose's report does", () => {
  const hostKey =
    '2026-12-01 11:00:00,100 ERROR [Supplier_Pull] Message d4 failed: com.jcraft.jsch.JSchException: HostKey has been changed: [sftp.supplier.example]:2222';
  const r = runCli(['scan', '-'], { input: hostKey + '\n' });
  const group = r.stdout.slice(r.stdout.indexOf('✖ out-sftp'));
  assert.match(group, /Host key changed|host key/i);
  assert.match(group, /Known Hosts/);
  assert.ok(!/authorized_keys/.test(group), "the login fix is not this cause's");
  assert.ok(!/Deprecated Algorithms/.test(group), "the algorithms fix is not this cause's");
  assert.match(group, /More: every cause, fix and reference with `linkdoctor kb show out-sftp`/);
  const diagnosed = runCli(['diagnose', '--', hostKey.slice(hostKey.indexOf('com.jcraft'))]).stdout;
  const fixesOf = (out: string) => out.split('What to do')[1]!.split(/\n {2}(?:Read|How to confirm)/)[0]!;
  assert.equal(fixesOf(group).replace(/\s+/g, ' '), fixesOf(diagnosed).replace(/\s+/g, ' '));
  // Groups of one id with different causes: every fix stays listed.
  const mixed = runCli(['scan', '-'], {
    input: [
      hostKey,
      '2026-12-01 11:05:00,100 ERROR [Supplier_Push] Message e5 failed: com.jcraft.jsch.JSchException: Auth fail',
    ].join('\n'),
  }).stdout;
  assert.match(mixed, /Known Hosts/);
  assert.match(mixed, /authorized_keys/);
});

test('attack S13 B9: --full quotes the evidence whole, and an OData key URL keeps its closing parenthesis', () => {
  const url =
    "https://erp-qas.example.com:44301/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartnerAddress(BusinessPartner='1000042',AddressID='27')";
  const text = `com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking ${url} with statusCode: 404\n{"error":{"code":"/IWBEP/CM_MGW_RT/020","message":{"lang":"en","value":"Resource not found for segment 'A_BusinessPartnerAddressType'."}}}`;
  const full = runCli(['diagnose', '--full', '--', text], { env: { COLUMNS: '100' } });
  const evidence = full.stdout.split('Evidence')[1]!.split('What to do')[0]!.replace(/\s+/g, '');
  assert.ok(evidence.includes(`invoking${url}withstatusCode:404`), full.stdout);
  assert.ok(!evidence.includes('…'), 'nothing cut');
  // the default report may cut
  assert.ok(runCli(['diagnose', '--', text]).stdout.split('Evidence')[1]!.includes('…'));
  assert.equal(diagnose(kb, { text }).facts.url, url);
  for (const [said, cited] of [
    [
      'PKIX path building failed for https://mdm.example.org/odata/v4/Products(17).',
      'https://mdm.example.org/odata/v4/Products(17)',
    ],
    [
      "HTTP 404 at https://crm.example.org/odata/Accounts('C-9'), retrying",
      "https://crm.example.org/odata/Accounts('C-9')",
    ],
    ['HTTP 502 (from https://gw.example.org/api/v2/orders)', 'https://gw.example.org/api/v2/orders'],
  ])
    assert.equal(diagnose(kb, { text: said! }).facts.url, cited, said);
});

test("attack S13 B4: an ABAP receiver's ICF logon error page is the receiver refusing the login, whatever status wraps it", () => {
  const page = (status: number, words: string) =>
    `HTTP operation failed invoking https://erp.example.com:8443/sap/bc/srt/idoc?sap-client=300 with statusCode: ${status}\nThe error details: <html><head><title>Logon Error Message</title></head><body><h2>Logon failed</h2>ICF-LE-http-c:300-l:E-T:0-C:3-U:5 - ${words}</body></html>`;
  assert.equal(
    top(page(500, 'Password logon no longer possible - too many failed attempts')),
    'out-http-401/user-locked',
  );
  assert.equal(
    top(page(401, 'Password logon no longer possible - too many failed attempts')),
    'out-http-401/user-locked',
  );
  const d = diagnose(kb, { text: page(500, 'Password logon no longer possible - too many failed attempts') });
  assert.match(d.diagnoses[0]!.fixes[0]!, /Unlock the backend user/);
  // the page with another logon message is still the login, not the receiver's dump
  assert.match(top(page(500, 'Name or password is incorrect (repeat logon)')), /^out-http-401\//);
  // a plain 500 without the page stays a 500
  assert.match(top(page(500, '').replace(/<title>.*<\/html>/s, 'ABAP runtime error')), /^out-http-500\//);
});

test('attack S13 B5: an RFC call through the Cloud Connector that the backend refuses is the Cloud Connector unable to reach its backend', () => {
  const text =
    "com.sap.conn.jco.JCoException: (102) JCO_ERROR_COMMUNICATION: Connection to partner 'bw-virtual:sapgw10' broken\nException thrown while opening the connection [Caused by: com.sap.core.connectivity.jco.CloudConnectorException: Opening connection to backend failed: Connection to bwdb.example.internal:3310 refused]";
  const d = diagnose(kb, { text });
  assert.equal(`${d.diagnoses[0]?.id}/${d.diagnoses[0]?.cause?.id}`, 'out-http-503/backend-unreachable');
  assert.match(d.diagnoses[0]!.fixes[0]!, /gateway port 33NN/);
  assert.equal(d.facts.host, 'bwdb.example.internal');
  assert.equal(d.facts.port, 3310);
});

test('noticed S13: a script or source file with its line number is no host and port, on Windows and elsewhere', () => {
  for (const [text, file] of [
    [
      'At C:\\Jobs\\PushOrders.ps1:112 char:9\n+ Invoke-RestMethod : The remote server returned an error: (403) Forbidden.',
      'pushorders.ps1',
    ],
    ['Traceback: File "sync_job.rb:57" raised Net::HTTPUnauthorized (401)', 'sync_job.rb'],
    ['deploy.bat:14: curl: (7) Failed to connect to 10.1.1.1 port 443: Connection refused', 'deploy.bat'],
  ]) {
    const facts = diagnose(kb, { text: text! }).facts;
    assert.notEqual(facts.host, file, text);
    assert.ok(![112, 57, 14].includes(facts.port ?? 0), text);
  }
  // a host in a country domain that is also a file extension stays a host
  assert.equal(
    diagnose(kb, { text: 'Connection refused: connect to api.shop.pl:8443' }).facts.host,
    'api.shop.pl',
  );
});

test("noticed S13: openssl s_client's depth=0 line names the server certificate's subject", () => {
  const text = [
    'CONNECTED(00000003)',
    'depth=1 C = US, O = Example Trust, CN = Example Issuing CA 7',
    'verify error:num=20:unable to get local issuer certificate',
    'depth=0 CN = edi.partner.example, O = Partner GmbH',
    'verify return:1',
  ].join('\n');
  assert.equal(diagnose(kb, { text }).facts.certificateSubject, 'CN=edi.partner.example, O=Partner GmbH');
});

test("noticed S13: an SSH login's 'Permission denied (publickey,...)' is the login, not a directory's rights", () => {
  for (const text of [
    'batch@sftp-eu.vendor.example: Permission denied (publickey,keyboard-interactive).',
    'sftp -i id_ed25519 ops@sftp.vendor.example\nops@sftp.vendor.example: Permission denied (publickey).',
  ]) {
    const d = diagnose(kb, { text }).diagnoses[0]!;
    assert.equal(`${d.id}/${d.cause?.id}`, 'out-sftp/login-refused', text);
    assert.ok(!d.evidence.some((e) => e.cause === 'directory'), JSON.stringify(d.evidence));
  }
  // a refused directory is still the directory
  assert.equal(
    top('sftp> cd /outbound/archive\nremote readdir("/outbound/archive"): Permission denied'),
    'out-sftp/directory',
  );
});
