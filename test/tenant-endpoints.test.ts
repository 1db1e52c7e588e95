// `linkdoctor tenant endpoints` and the closest deployed endpoint of `probe --tenant`, against the
// loopback tenant FIXTURE: IntegrationRuntimeArtifacts (one in ERROR with the CF deployment error),
// ServiceEndpoints with EntryPoints only under $expand, and the runtime's case-sensitive paths.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { diagnose } from '../src/diagnose/match.js';
import { loadKb } from '../src/kb/load.js';
import {
  closestEndpoint,
  closestHint,
  closestSignal,
  type DeployedEndpoint,
} from '../src/tenant/endpoints.js';
import {
  assertNoSecret,
  FIXTURE_ARTIFACTS,
  runAgainst as run,
  startTenantFixture,
  type TenantFixture,
} from './tenant-fixture.js';

describe('closestEndpoint', () => {
  const rt = 'https://acme.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com';
  const deployed: DeployedEndpoint[] = [
    { url: `${rt}/http/orders`, iflow: 'Orders_In' },
    { url: `${rt}/cxf/InvoiceService`, iflow: 'Invoice_SOAP' },
    { url: `${rt}/http/stock/v2`, iflow: 'Stock_In' },
  ];
  const why = (path: string, host = rt) => closestEndpoint(new URL(path, host), deployed);

  test('exact, another case, the other prefix, a missing prefix, the nearest spelling', () => {
    assert.deepEqual(
      [why('/http/orders')!.exact, why('/http/orders/')!.exact, why('/http/orders')!.endpoint.iflow],
      [true, true, 'Orders_In'],
    );
    assert.match(why('/http/Orders')!.why, /another case/);
    assert.equal(why('/http/Orders')!.endpoint.iflow, 'Orders_In');
    assert.match(why('/http/InvoiceService')!.why, /^\/cxf\/ instead of \/http\/ \(a SOAP sender/);
    assert.match(why('/orders')!.why, /a missing prefix: \/http\//);
    const near = why('/http/stok/v2')!;
    assert.deepEqual([near.endpoint.iflow, near.why], ['Stock_In', 'the nearest spelling']);
    assert.match(why('/http/orders', 'https://other.example')!.why, /another host/);
    assert.equal(closestEndpoint(new URL('https://x/http/a'), []), undefined);
  });

  test("a 404's hint names the in-http-404 cause it points to", async () => {
    const kb = await loadKb();
    const causeOf = (path: string, endpoints = deployed) => {
      const url = new URL(path, rt);
      // What the probe's http step reads: the status, and the signal of the closest endpoint.
      const hint = closestSignal(url, endpoints);
      const signals = [{ type: 'probe.status', value: '404' }, ...(hint ? [hint] : [])];
      const d = diagnose(kb, { text: '404 Not Found', signals, direction: 'inbound' });
      return `${d.diagnoses[0]?.id}/${d.diagnoses[0]?.cause?.id}`;
    };
    assert.equal(causeOf('/http/Orders'), 'in-http-404/case');
    assert.equal(causeOf('/http/InvoiceService'), 'in-http-404/wrong-url');
    assert.equal(causeOf('/orders'), 'in-http-404/wrong-url');
    assert.equal(causeOf('/http/stok/v2'), 'in-http-404/wrong-url');
    const stopped = [{ ...deployed[0]!, status: 'ERROR' }];
    assert.equal(closestHint(new URL('/http/orders', rt), deployed), '');
    assert.equal(closestSignal(new URL('/http/orders', rt), deployed), undefined);
    assert.match(closestHint(new URL('/http/orders', rt), stopped), /in status ERROR/);
    assert.equal(
      causeOf('/http/orders', [{ ...deployed[0]!, url: 'https://other.example/http/orders' }]),
      'in-http-404/wrong-host',
    );
    assert.equal(causeOf('/http/orders', stopped), 'in-http-404/not-deployed');
  });
});

describe('tenant endpoints and probe --tenant of an inbound URL', () => {
  let f: TenantFixture;
  before(async () => (f = await startTenantFixture({ messages: 10 })));
  after(() => f.close());

  test('lists the deployed flows with their inbound URLs, the one in ERROR with its deployment error (exit 1)', async () => {
    const r = await run(f, ['tenant', 'endpoints', '--service-key', f.keyFile]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /INTEGRATION FLOW\s+STATUS\s+VERSION\s+DEPLOYED ON\s+ENDPOINTS/);
    assert.match(
      r.stdout,
      new RegExp(`Orders In\\s+STARTED\\s+1\\.0\\.3\\s+\\S+\\s+${f.runtimeUrl}/http/orders`),
    );
    assert.match(
      r.stdout,
      new RegExp(`Invoice SOAP\\s+STARTED\\s+2\\.1\\.0\\s+\\S+\\s+${f.runtimeUrl}/cxf/InvoiceService`),
    );
    assert.match(r.stdout, /Stock_Mapping\s+ERROR/);
    // The CF error: messageId, the JSON string inside `parameter`, its child message.
    assert.match(
      r.stdout,
      /Stock_Mapping is in status ERROR; its deployment error:\n\s+GenerationFailed\n\s+The generation and build/,
    );
    assert.match(r.stdout, /Script file 'script1\.groovy' not found/);
    // EntryPoints asked for with $expand (without it they are only a deferred link).
    const asked = f.requests.find((q) => new URL(q.url).pathname === '/api/v1/ServiceEndpoints');
    assert.equal(new URL(asked!.url).searchParams.get('$expand'), 'EntryPoints');
    const j = JSON.parse(
      (await run(f, ['tenant', 'endpoints', '--service-key', f.keyFile, '--json'])).stdout,
    );
    assert.deepEqual(j.errors, ['Stock_Mapping']);
    assert.equal(j.artifacts.length, FIXTURE_ARTIFACTS.length);
    assertNoSecret(f, r);
  });

  test('a 404 from the runtime names the closest deployed endpoint and why', async () => {
    // The note is wrapped to the terminal's width: compared on one line.
    const probe = async (path: string) => {
      const r = await run(f, [
        'probe',
        `${f.runtimeUrl}${path}`,
        '--direction',
        'inbound',
        '--tenant',
        '--service-key',
        f.keyFile,
      ]);
      return { ...r, stdout: r.stdout.replace(/\s*\n\s*(?=[^\s✖✔·])/g, ' ') };
    };
    const cased = await probe('/http/Orders');
    assert.equal(cased.status, 1, cased.stderr);
    assert.match(cased.stdout, /✖ http .*404.*the closest deployed endpoint is \/http\/orders/);
    assert.match(
      cased.stdout,
      /No deployed integration flow of tenant \S+ has the endpoint \/http\/Orders; the closest is \S+\/http\/orders of Orders_In: another case/,
    );
    // The hint names the in-http-404 cause it points to: the case of the address.
    assert.match(cased.stdout, /in-http-404 .* cause Case of the address:/);
    const prefix = await probe('/http/InvoiceService');
    assert.match(
      prefix.stdout,
      /the closest is \S+\/cxf\/InvoiceService of Invoice_SOAP: \/cxf\/ instead of \/http\//,
    );
    assert.match(prefix.stdout, /in-http-404 .* cause Wrong URL:/);
    const bare = await probe('/orders');
    assert.match(bare.stdout, /a missing prefix: \/http\//);
    assert.match(bare.stdout, /in-http-404 .* cause Wrong URL:/);
    // The deployed path itself: the runtime asks for credentials (401), no endpoint note.
    const right = await probe('/http/orders');
    assert.match(right.stdout, /401/);
    assert.doesNotMatch(right.stdout, /closest/);
    assertNoSecret(f, cased);
  });

  test('an outbound probe does not read the endpoints', async () => {
    const before = f.requests.length;
    await run(f, ['probe', `${f.runtimeUrl}/http/Orders`, '--tenant', '--service-key', f.keyFile]);
    const sets = f.requests.slice(before).map((q) => new URL(q.url).pathname);
    assert.ok(!sets.some((p) => p.includes('ServiceEndpoints')), sets.join(' '));
  });
});
