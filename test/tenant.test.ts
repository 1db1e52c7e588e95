// `linkdoctor tenant`: the CLI against the loopback tenant FIXTURE (test/tenant-fixture.ts), which
// answers as tenant-api.md documents the real API: token flow, paging, errors, quirks and faults.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCliAsync, type Run } from './helpers.js';
import {
  FIXTURE_ERRORS,
  FIXTURE_SECRET,
  startTenantFixture,
  type FixtureOptions,
  type TenantFixture,
} from './tenant-fixture.js';

/** Runs the CLI with the fixture's CA trusted (NODE_EXTRA_CA_CERTS, as a user would) and its key. */
function run(
  f: TenantFixture,
  args: string[],
  env: Record<string, string> = {},
  key = f.keyFile,
): Promise<Run> {
  return runCliAsync(['tenant', ...args, '--service-key', key], {
    env: { NODE_EXTRA_CA_CERTS: f.caFile, HTTPS_PROXY: '', https_proxy: '', ...env },
    timeout: 60_000,
  });
}

/** Nothing of the key's secrets, no token handed out, no private key in any output. */
function assertNoSecret(f: TenantFixture, r: Run): void {
  const all = r.stdout + r.stderr;
  assert.ok(!all.includes(FIXTURE_SECRET), 'the client secret leaked');
  assert.ok(!all.includes('PRIVATE KEY'), 'a private key leaked');
  for (const t of f.tokens) {
    assert.ok(!all.includes(t), 'a token leaked');
    assert.ok(!all.includes(t.split('.')[2]!), 'a token signature leaked');
  }
}

async function withFixture(o: FixtureOptions, body: (f: TenantFixture) => Promise<void>): Promise<void> {
  const f = await startTenantFixture(o);
  try {
    await body(f);
  } finally {
    await f.close();
  }
}

const listRequests = (f: TenantFixture, set: string) =>
  f.requests.filter((r) => new URL(r.url).pathname === `/api/v1/${set}`);

describe('tenant failures against the fixture', () => {
  let f: TenantFixture;
  before(async () => (f = await startTenantFixture({ messages: 2500 })));
  after(() => f.close());

  test('reads every page, diagnoses each error text and groups them by diagnosis and iFlow', async () => {
    const r = await run(f, ['failures', '--since', '4d', '--json']);
    assert.equal(r.status, 1, r.stderr);
    assertNoSecret(f, r);
    const j = JSON.parse(r.stdout);
    const failing = f.mpls.filter((m) => m.Status !== 'COMPLETED');
    assert.equal(j.summary.incidents, failing.length);
    // 2,000 failing messages: two pages of 1000 along a relative __next, asked as JSON.
    const pages = listRequests(f, 'MessageProcessingLogs');
    assert.equal(pages.length, 2);
    assert.ok(pages.every((p) => new URL(p.url).searchParams.get('$format') === 'json'));
    const ids = new Set(j.groups.map((g: { id: string }) => g.id));
    for (const e of FIXTURE_ERRORS) if (e.expect) assert.ok(ids.has(e.expect), `${e.expect} missing`);
    const pkix = j.groups.find((g: { id: string; iflow: string }) => g.id === 'out-cert-path');
    assert.equal(pkix.iflow, 'Orders_to_ERP');
    assert.match(pkix.example.file, /shell\/monitoring\/Messages/);
    assert.ok(j.unknown.some((u: { message: string }) => /Mapping step failed/.test(u.message)));
  });
});

describe('tenant: connecting', () => {
  test('a wrong secret says so, and names no secret', async () =>
    withFixture({ messages: 10 }, async (f) => {
      const bad = join(f.dir, 'bad-key.json');
      writeFileSync(bad, f.keyJson.replace(FIXTURE_SECRET, 'wrong-secret-value'));
      const r = await run(f, ['failures'], {}, bad);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /refused the client id and secret of the service key \(401/);
      assert.ok(!r.stderr.includes('wrong-secret-value'));
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }));
});
