// The findings of session 13's new-user attack that session 14 closed (B14, B7, B9, B4, B5 and what
// was noticed): each test holds the KIND with texts written in the style people post, not the
// attack's own texts nor corpus lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../src/diagnose/match.js';
import { loadKb } from '../src/kb/load.js';

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
