// The tenant's keystore (tenant-api.md §8.5; monitoring-tools.md §B): its entries as the Keystore
// Monitor lists them, and its certificates as a trust store that src/trust judges chains with.
import { X509Certificate } from 'node:crypto';
import { UserError } from '../errors.js';
import { printable } from '../report/printable.js';
import { dayCount } from '../trust/cert.js';
import type { TrustStore } from '../trust/store.js';
import type { TenantClient } from './client.js';
import { certificatePath, type KeystoreEntry, keystoreEntryOf } from './entities.js';
import { plural } from '../report/width.js';

/** A certificate in PEM is 2–8 KB. */
const CERT_MAX_BYTES = 256 * 1024;
/** Certificates downloaded at once: the security-content rate limit is 12 req/s per tenant (§4). */
const CERT_CONCURRENCY = 4;

/** Whole days left, as every report counts them (src/trust/cert.ts dayCount); negative once expired. */
export const daysUntil = (ms: number, now = Date.now()) => dayCount(ms, now);

/** The entries of keystore `system` (the default of `keystoreName`, §8.5), sorted by alias. */
export async function keystoreEntries(client: TenantClient): Promise<KeystoreEntry[]> {
  const out: KeystoreEntry[] = [];
  for await (const page of client.pages('KeystoreEntries'))
    for (const r of page) {
      const e = keystoreEntryOf(r);
      if (e) out.push(e);
    }
  return out.sort((a, b) => a.alias.localeCompare(b.alias));
}

/**
 * Entries that hold an X.509 certificate: trusted certificates, and key pairs (their own certificate:
 * SunJSSE's trust manager takes the certificate of a key entry as trusted too). SSH keys have none.
 */
export const holdsCertificate = (e: KeystoreEntry) => /^(certificate|key ?pair)$/i.test(e.type.trim());

/**
 * Downloads each certificate entry's PEM (`KeystoreEntries('<hex>')/Certificate/$value`, §8.5) and
 * makes them a TrustStore under the tenant's aliases. Throws UserError as the client does, or when
 * an answer is not a certificate.
 */
export async function tenantTrustStore(
  client: TenantClient,
  entries?: KeystoreEntry[],
): Promise<{ store: TrustStore; entries: KeystoreEntry[] }> {
  const all = entries ?? (await keystoreEntries(client));
  const wanted = all.filter(holdsCertificate);
  const certs: (X509Certificate | undefined)[] = new Array(wanted.length);
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const i = next++;
      const e = wanted[i]!;
      const a = await client.get(certificatePath(e.hexalias), { accept: 'text', maxBytes: CERT_MAX_BYTES });
      try {
        certs[i] = new X509Certificate(a.body);
      } catch {
        throw new UserError(
          `the tenant's certificate of ${printable(e.alias)} is not a readable X.509 certificate`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CERT_CONCURRENCY, wanted.length) }, worker));
  const store: TrustStore = {
    label: `the keystore of tenant ${client.host} (${plural(wanted.length, 'certificate')})`,
    kind: 'pem',
    entries: wanted.map((e, i) => ({ alias: e.alias, cert: certs[i]! })),
    // monitoring-tools.md §B: the Keystore tile's Add > Certificate.
    addTo: `the tenant's keystore (Monitor > Manage Security > Keystore > Add > Certificate)`,
    namesAnchor: true,
    refusal: 'your tenant would not trust this chain',
  };
  return { store, entries: all };
}
