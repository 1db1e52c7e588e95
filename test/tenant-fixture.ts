// The tenant tests' set-up: the lab's FAKE TENANT (src/lab/tenant.ts: API host, token endpoint and
// runtime host, built from ../shared/platform/tenant-api.md), with the service key of tenant-api.md
// §1's fixture, and the few lines every tenant test shares: run the CLI as a user would (the lab's
// CA in NODE_EXTRA_CA_CERTS, no proxy), and check that no secret reached any output.
import assert from 'node:assert/strict';
import {
  startFakeTenant,
  TENANT_ARTIFACTS,
  TENANT_ERRORS,
  type FakeTenant,
  type FakeTenantOptions,
} from '../src/lab/tenant.js';
import { runCliAsync, type Run } from './helpers.js';

/** The secret of tenant-api.md §1's service key fixture (invented). */
export const FIXTURE_SECRET = '66666666-7777-8888-9999-000000000000$AbCd_Ef=';
export const FIXTURE_ERRORS = TENANT_ERRORS;
export const FIXTURE_ARTIFACTS = TENANT_ARTIFACTS;
export type TenantFixture = FakeTenant;
export type FixtureOptions = FakeTenantOptions;

/** The lab's fake tenant with the fixture's secret, on free ports, its files in a temporary folder. */
export const startTenantFixture = (o: FixtureOptions = {}): Promise<TenantFixture> =>
  startFakeTenant({ secret: FIXTURE_SECRET, ...o });

/** A fake tenant for the length of `body`. */
export async function withFixture(
  o: FixtureOptions,
  body: (f: TenantFixture) => Promise<void>,
): Promise<void> {
  const f = await startTenantFixture(o);
  try {
    await body(f);
  } finally {
    await f.close();
  }
}

/** The CLI with the fake's CA trusted for the API (NODE_EXTRA_CA_CERTS, as a user would), no proxy. */
export const runAgainst = (
  f: TenantFixture,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> =>
  runCliAsync(args, {
    env: { NODE_EXTRA_CA_CERTS: f.caFile, HTTPS_PROXY: '', https_proxy: '', ...env },
    timeout: 60_000,
  });

/**
 * Nothing of the key's secrets (client secret, the Certificate key's private key), no token handed
 * out (nor its signature), no private key in any output.
 */
export function assertNoSecret(f: TenantFixture, r: Run): void {
  const all = r.stdout + r.stderr;
  assert.ok(!all.includes(f.secret), 'the client secret leaked');
  assert.ok(!all.includes('PRIVATE KEY'), 'a private key leaked');
  // The Certificate key's private key, even without its PEM armour.
  for (const line of f.pki.goodClient.keyPem.split('\n').filter((l) => l.length >= 40))
    assert.ok(!all.includes(line), 'the certificate key leaked');
  for (const t of f.tokens) {
    assert.ok(!all.includes(t), 'a token leaked');
    assert.ok(!all.includes(t.split('.')[2]!), 'a token signature leaked');
  }
}

/** The requests the fake saw for one entity set (its list, not its sub-resources). */
export const listRequests = (f: TenantFixture, set: string) =>
  f.requests.filter((r) => new URL(r.url).pathname === `/api/v1/${set}`);
