// `linkdoctor tenant failures | keystore | endpoints`: thin commands over src/tenant. Exit codes: 0
// nothing found, 1 something found (failures, an expiring certificate), 2 usage, input or connection error.
import { UserError } from '../errors.js';
import { closestName } from './usage-error.js';
import { loadKb } from '../kb/load.js';
import { jsonText, printable } from '../report/printable.js';
import { incidentJson, problemSink, renderScan, scanJson, scanMarkdown } from '../report/scan.js';
import { colorsFor, type Colors } from '../report/text.js';
import { TenantClient } from '../tenant/client.js';
import { DEFAULT_STATUSES, type FailuresResult, tenantFailures } from '../tenant/failures.js';
import type { Kb } from '../kb/load.js';
import type { Problem } from '../scan/incident.js';
import { MPL_STATUSES, type KeystoreEntry } from '../tenant/entities.js';
import { daysUntil, keystoreEntries, tenantTrustStore } from '../tenant/keystore.js';
import { loadServiceKey, secretsOf, type ServiceKey } from '../tenant/service-key.js';
import { withoutSecrets } from '../redact.js';
import { defaultDirection, parseTarget } from '../probe/target.js';
import {
  deployedArtifacts,
  endpointsOf,
  type DeployedArtifact,
  type DeployedEndpoint,
} from '../tenant/endpoints.js';
import type { TrustStore } from '../trust/store.js';
import type { Direction } from '../types.js';
import { addTrustedCerts } from '../trust/write.js';
import { secondsOption } from './probe-flags.js';
import { secretFromEnv } from './secrets.js';
import { fitText, plural } from '../report/width.js';

/** The tenant commands' default --timeout, seconds (src/cli/main.ts's literal): a keystore takes a while. */
/**
 * What `tenant failures --json` prints and GET /api/tenant/failures answers: scan --json's object
 * with the tenant's `host`, its summary telling what was read of the tenant (`messages`, error
 * `texts`, `distinct` texts among them, and `truncated` when --max cut them) where a scan tells its
 * files and bytes, which mean nothing here.
 */
export function failuresJson(
  host: string,
  r: FailuresResult,
  kb: Kb,
  problems: readonly Problem[] = [],
): { tenant: string; summary: Record<string, unknown> } {
  const { summary, ...rest } = scanJson(r.scan, kb, problems) as { summary: Record<string, unknown> };
  const { files: _files, bytes: _bytes, ...counts } = summary;
  return {
    tenant: host,
    summary: {
      messages: r.messages,
      texts: r.texts,
      distinct: r.distinct,
      ...(r.truncated ? { truncated: true } : {}),
      ...counts,
    },
    ...rest,
  };
}

export const TENANT_TIMEOUT_S = 30;

export interface TenantFlags {
  serviceKey?: string;
  timeout: number;
  json?: boolean;
}

/** "24h", "90m", "7d", "2w" before now, or an ISO date/time (UTC unless it says otherwise); epoch ms. */
export function parseWhen(raw: string, flag: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)\s*(m|min|h|d|w)$/i.exec(raw.trim());
  if (rel) {
    const unit = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
      rel[2]!.toLowerCase() as 'm'
    ];
    return now - Number(rel[1]) * unit;
  }
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(raw.trim())
    ? Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(raw) || !/T/.test(raw) ? raw : `${raw}Z`)
    : NaN;
  if (Number.isNaN(iso))
    throw new UserError(
      `${flag} takes a duration before now (24h, 90m, 7d) or an ISO date (2026-11-24T08:00), not "${raw.slice(0, 40)}"`,
    );
  return iso;
}

/** The client of the key, with the one sentence any failure ends in, and the secrets kept out of it. */
async function withClient<T>(
  f: TenantFlags,
  run: (c: TenantClient, key: ServiceKey) => Promise<T>,
): Promise<T> {
  secondsOption()(String(f.timeout));
  const key = loadServiceKey(f.serviceKey);
  const client = new TenantClient(key, { timeoutMs: f.timeout * 1000 });
  try {
    return await run(client, key);
  } catch (e) {
    // Belt and braces: no sentence may carry a secret of the key, nor the token.
    if (e instanceof Error) e.message = withoutSecrets(e.message, secretsOf(key));
    throw e;
  } finally {
    await client.close();
  }
}

/** A progress line on a terminal's standard error, at most five times a second. */
function progressLine(): { update: (s: string) => void; clear: () => void } {
  const err = process.stderr;
  if (!err.isTTY) return { update: () => undefined, clear: () => undefined };
  let drawn = 0;
  let visible = false;
  return {
    update: (s) => {
      const now = performance.now();
      if (now - drawn < 200) return;
      drawn = now;
      err.write(`\r${s.slice(0, (err.columns || 100) - 1)}\x1b[K`);
      visible = true;
    },
    clear: () => {
      if (visible) err.write('\r\x1b[K');
      visible = false;
    },
  };
}

export async function tenantFailuresCommand(
  f: TenantFlags & {
    since: string;
    until?: string;
    iflow?: string;
    status?: string;
    max: number;
    jsonl?: boolean;
    markdown?: boolean;
    progress?: boolean;
    kb?: string[];
  },
): Promise<void> {
  if ([f.json, f.jsonl, f.markdown].filter(Boolean).length > 1)
    throw new UserError('choose one of --json, --jsonl and --markdown');
  const since = parseWhen(f.since, '--since');
  const until = f.until !== undefined ? parseWhen(f.until, '--until') : undefined;
  if (until !== undefined && until < since) throw new UserError('--until is before --since');
  const statuses = (f.status ?? DEFAULT_STATUSES.join(','))
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const bad = statuses.find((s) => !(MPL_STATUSES as readonly string[]).includes(s));
  if (bad || !statuses.length)
    throw new UserError(
      `--status takes ${MPL_STATUSES.join(', ')} (comma-separated), not "${printable((bad ?? '').slice(0, 30))}"${
        bad && closestName(bad, MPL_STATUSES) ? `; did you mean ${closestName(bad, MPL_STATUSES)}?` : ''
      }`,
    );
  const kb = await loadKb({ dirs: f.kb ?? [] });
  const bar = f.progress !== false ? progressLine() : { update: () => undefined, clear: () => undefined };
  /** The messages whose error text could not be read, for --json (standard error has them all). */
  const { problems, onProblem } = problemSink(!!f.json, () => bar.clear());
  await withClient(f, async (client) => {
    const r = await tenantFailures(kb, client, {
      since,
      ...(until !== undefined ? { until } : {}),
      statuses,
      ...(f.iflow ? { iflow: f.iflow } : {}),
      maxMessages: f.max,
      onProblem,
      onProgress: (p) =>
        bar.update(
          p.phase === 'messages'
            ? `messages ${p.done.toLocaleString('en-US')}${p.total !== undefined ? ` of ${p.total.toLocaleString('en-US')}` : ''}`
            : `error texts ${p.done.toLocaleString('en-US')} of ${(p.total ?? 0).toLocaleString('en-US')}`,
        ),
      ...(f.jsonl
        ? {
            onIncident: (inc) => {
              if (!process.stdout.write(`${jsonText(incidentJson(inc))}\n`))
                return new Promise<void>((done) => process.stdout.once('drain', done));
            },
          }
        : {}),
    });
    bar.clear();
    const window = `${new Date(since).toISOString().slice(0, 16)}Z … ${until !== undefined ? `${new Date(until).toISOString().slice(0, 16)}Z` : 'now'}`;
    r.scan.source =
      `Read ${plural(r.messages, `${statuses.join('/')} message`)} of ${client.host} (${window}) and ${plural(r.texts, 'error text')} (${r.distinct.toLocaleString('en-US')} distinct) in ${r.scan.seconds.toFixed(1)} s.` +
      (r.truncated ? ` Only the newest ${f.max.toLocaleString('en-US')} were read (--max).` : '') +
      (r.unread ? ` ${plural(r.unread, 'error text')} could not be read.` : '');
    if (f.json) process.stdout.write(`${jsonText(failuresJson(client.host, r, kb, problems), 2)}\n`);
    else if (f.markdown) process.stdout.write(scanMarkdown(r.scan, kb));
    else if (!f.jsonl) process.stdout.write(fitText(renderScan(r.scan, kb, colorsFor(process.stdout))));
    process.exitCode = r.scan.grouper.incidents ? 1 : 0;
  });
}

/**
 * What `probe --tenant` takes from the tenant, with the service key (--service-key FILE or
 * $LINKDOCTOR_SERVICE_KEY), each request bounded by --timeout: the keystore as the trust store,
 * downloaded on the fly; for an inbound http(s) URL (a sender calls the tenant) also the deployed
 * endpoints, so that a 404 names the closest one. Throws UserError as every tenant command does.
 */
export async function tenantForProbe(
  f: Pick<TenantFlags, 'serviceKey' | 'timeout'> & { direction?: Direction },
  target: string,
): Promise<{ store: TrustStore; deployed?: { endpoints: DeployedEndpoint[]; tenant: string } }> {
  const t = parseTarget(target);
  const inbound = (f.direction ?? defaultDirection(t)) === 'inbound' && /^https?$/.test(t.scheme);
  // The tenant's API gets the tenant commands' bound, not the probe's shorter one (default 10 s).
  return withClient({ ...f, timeout: Math.max(f.timeout, TENANT_TIMEOUT_S) }, async (client) => {
    const { store } = await tenantTrustStore(client);
    if (!inbound) return { store };
    const endpoints = endpointsOf(await deployedArtifacts(client));
    return { store, deployed: { endpoints, tenant: client.host } };
  });
}

/** The deployed artifacts as a table: name, status, version, deployed on, inbound URLs. */
function artifactsTable(artifacts: DeployedArtifact[], c: Colors): string {
  const head = ['INTEGRATION FLOW', 'STATUS', 'VERSION', 'DEPLOYED ON', 'ENDPOINTS'];
  const rows: { cells: string[]; error: boolean }[] = [];
  for (const a of artifacts) {
    const urls = a.endpoints.map((e) => printable(e.url));
    rows.push({
      cells: [
        printable(a.name),
        printable(a.status || '-'),
        printable(a.version ?? '-'),
        date(a.deployedOn),
        urls[0] ?? '-',
      ],
      error: a.status === 'ERROR',
    });
    for (const u of urls.slice(1)) rows.push({ cells: ['', '', '', '', u], error: false });
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[], error = false) =>
    cells
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        // Red as the monitor shows an artifact in error.
        return i === 1 && error ? c.red(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  return [c.bold(line(head)), ...rows.map((r) => line(r.cells, r.error))].join('\n');
}

/** The object `tenant endpoints --json` prints (and GET /api/tenant/endpoints answers); times in ISO 8601. */
export function endpointsJson(tenant: string, artifacts: DeployedArtifact[]) {
  const row = (a: DeployedArtifact) => ({
    ...a,
    ...(a.deployedOn !== undefined ? { deployedOn: new Date(a.deployedOn).toISOString() } : {}),
  });
  return {
    tenant,
    artifacts: artifacts.map(row),
    errors: artifacts.filter((a) => a.status === 'ERROR').map((a) => a.id),
  };
}

/**
 * `tenant endpoints`: the deployed integration flows (IntegrationRuntimeArtifacts: status, version,
 * deployment errors) and their inbound URLs (ServiceEndpoints). Exit 1 when one is in status ERROR.
 */
export async function tenantEndpointsCommand(f: TenantFlags): Promise<void> {
  await withClient(f, async (client) => {
    const artifacts = await deployedArtifacts(client);
    const failed = artifacts.filter((a) => a.status === 'ERROR');
    process.exitCode = failed.length ? 1 : 0;
    if (f.json) {
      process.stdout.write(`${jsonText(endpointsJson(client.host, artifacts), 2)}\n`);
      return;
    }
    const c = colorsFor(process.stdout);
    const urls = artifacts.reduce((n, a) => n + a.endpoints.length, 0);
    const out = [
      c.bold(
        `deployed integration flows of tenant ${client.host} (${artifacts.length}, ${plural(urls, 'inbound URL')})`,
      ),
      artifactsTable(artifacts, c),
      '',
    ];
    for (const a of failed)
      out.push(
        `${c.red('✖')} ${printable(a.name)} is in status ERROR${
          a.error
            ? `; its deployment error:\n${a.error
                .split('\n')
                .map((l) => `    ${l}`)
                .join('\n')}`
            : ' (the tenant gives no deployment error)'
        }`,
      );
    if (!failed.length) out.push(`${c.green('✔')} No deployed artifact is in status ERROR.`);
    process.stdout.write(`${fitText(out.join('\n'))}\n`);
  });
}

const date = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString().slice(0, 10));

/**
 * The Keystore Monitor's columns (monitoring-tools.md §B): alias, type, valid until and days left on
 * the entry's line, its subject and issuer (whole names, often longer than a column) indented below
 * it, so that the table keeps its shape at any width.
 */
function keystoreTable(entries: KeystoreEntry[], c: Colors, now: number): string {
  const head = ['ALIAS', 'TYPE', 'VALID UNTIL', 'DAYS LEFT'];
  const cells = entries.map((e) => {
    const days = e.validUntil !== undefined ? daysUntil(e.validUntil, now) : undefined;
    return [
      printable(e.alias),
      printable(e.type),
      date(e.validUntil),
      days === undefined ? '-' : days < 0 ? 'expired' : `${days}d`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (row: string[], days?: number) =>
    row
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        // Red when expired, as the Keystore Monitor shows it.
        return i === 3 && days !== undefined
          ? days < 0
            ? c.red(padded)
            : days < 30
              ? c.yellow(padded)
              : padded
          : padded;
      })
      .join('  ')
      .trimEnd();
  return [
    c.bold(line(head)),
    ...entries.flatMap((e, i) => [
      line(cells[i]!, e.validUntil !== undefined ? daysUntil(e.validUntil, now) : undefined),
      ...(e.subject ? [c.dim(`  subject ${printable(e.subject)}`)] : []),
      ...(e.issuer ? [c.dim(`  issuer  ${printable(e.issuer)}`)] : []),
    ]),
  ].join('\n');
}

/** The object `tenant keystore --json` prints (and GET /api/tenant/keystore answers); times in ISO 8601. */
export function keystoreJson(
  host: string,
  days: number,
  entries: KeystoreEntry[],
  now: number,
  exported?: { file: string; added: number; present: number },
): object {
  const row = (e: KeystoreEntry) => ({
    ...e,
    ...(e.validFrom !== undefined ? { validFrom: new Date(e.validFrom).toISOString() } : {}),
    ...(e.validUntil !== undefined
      ? { validUntil: new Date(e.validUntil).toISOString(), daysLeft: daysUntil(e.validUntil, now) }
      : {}),
    ...(e.lastModified !== undefined ? { lastModified: new Date(e.lastModified).toISOString() } : {}),
  });
  const expiring = entries.filter((e) => e.validUntil !== undefined && daysUntil(e.validUntil, now) < days);
  return {
    tenant: host,
    days,
    entries: entries.map(row),
    expiring: expiring.map((e) => e.alias),
    ...(exported ? { exported } : {}),
  };
}

export async function tenantKeystoreCommand(
  f: TenantFlags & { days: number; export?: string; passwordEnv?: string },
): Promise<void> {
  const password = f.passwordEnv ? secretFromEnv(f.passwordEnv, 'store password') : undefined;
  await withClient(f, async (client) => {
    const now = Date.now();
    const entries = await keystoreEntries(client);
    const expiring = entries.filter(
      (e) => e.validUntil !== undefined && daysUntil(e.validUntil, now) < f.days,
    );
    let exported: { file: string; added: number; present: number } | undefined;
    if (f.export) {
      const { store } = await tenantTrustStore(client, entries);
      const { results } = await addTrustedCerts(
        f.export,
        store.entries.map((e) => e.cert),
        password,
      );
      exported = {
        file: f.export,
        added: results.filter((r) => r.status === 'added').length,
        present: results.filter((r) => r.status === 'present').length,
      };
    }
    process.exitCode = expiring.length ? 1 : 0;
    if (f.json) {
      process.stdout.write(`${jsonText(keystoreJson(client.host, f.days, entries, now, exported), 2)}\n`);
      return;
    }
    const c = colorsFor(process.stdout);
    const out = [
      c.bold(`keystore of tenant ${client.host} (${plural(entries.length, 'entry', 'entries')})`),
      keystoreTable(entries, c, now),
      '',
    ];
    if (expiring.length)
      out.push(
        `${c.red('✖')} ${expiring.length} of ${plural(entries.length, 'entry', 'entries')} expire${expiring.length === 1 ? 's' : ''} within ${plural(f.days, 'day')}: ${expiring.map((e) => `${printable(e.alias)} (${daysUntil(e.validUntil!, now) < 0 ? `expired ${date(e.validUntil)}` : date(e.validUntil)})`).join(', ')}`,
      );
    else out.push(`${c.green('✔')} No entry expires within ${f.days} days.`);
    if (exported)
      out.push(
        `Wrote ${plural(exported.added, 'certificate')} to ${printable(exported.file)}${exported.present ? ` (${exported.present} already there)` : ''}: linkdoctor probe URL --trust ${printable(exported.file)}`,
      );
    process.stdout.write(`${fitText(out.join('\n'))}\n`);
  });
}
