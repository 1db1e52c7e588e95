// The entities linkdoctor reads, as the tenant's JSON carries them, and the queries that fetch them.
// Every shape names its section of tenant-api.md (which cites the platform's specs and clients).
import { printable } from '../report/printable.js';

type Rec = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * Edm.DateTime in JSON: "/Date(1765786792442)/" (epoch ms, UTC), tenant-api.md §3; the XML form and
 * some exports carry ISO strings. Returns epoch ms, or undefined.
 */
export function odataDate(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(v);
  if (m) return Number(m[1]);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * A datetime literal for $filter: `datetime'2024-05-01T00:00:00'`, read by the tenant as UTC; a `Z`
 * suffix is not interpreted correctly (tenant-api.md §3, SAP docs query-options-99f4b70.md).
 */
export function datetimeLiteral(ms: number): string {
  return `datetime'${new Date(ms).toISOString().slice(0, 19)}'`;
}

/** A string literal for $filter: quotes doubled, as OData V2 wants. */
export const quoted = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** MPL Status values (tenant-api.md §8.1, SAP docs message-status-733a57b.md). */
export const MPL_STATUSES = [
  'COMPLETED',
  'PROCESSING',
  'RETRY',
  'ESCALATED',
  'FAILED',
  'CANCELLED',
  'DISCARDED',
  'ABANDONED',
] as const;

/** One message processing log: the fields linkdoctor uses (tenant-api.md §8.1, real CF example). */
export interface Mpl {
  messageGuid: string;
  status: string;
  /** IntegrationFlowName, else IntegrationArtifact.Name/Id. */
  iflow?: string;
  sender?: string;
  receiver?: string;
  logStart?: number;
  logEnd?: number;
  /** The monitor's link to this message (AlternateWebLink). */
  link?: string;
  /** The record as the tenant sent it. */
  raw: Rec;
}

export function mplOf(r: Rec): Mpl | undefined {
  const guid = str(r.MessageGuid);
  if (!guid) return undefined;
  const art = (
    r.IntegrationArtifact && typeof r.IntegrationArtifact === 'object' ? r.IntegrationArtifact : {}
  ) as Rec;
  const iflow = str(r.IntegrationFlowName) ?? str(art.Name) ?? str(art.Id);
  const logStart = odataDate(r.LogStart);
  const logEnd = odataDate(r.LogEnd);
  return {
    messageGuid: guid,
    status: str(r.Status) ?? '',
    ...(iflow ? { iflow } : {}),
    ...(str(r.Sender) ? { sender: str(r.Sender)! } : {}),
    ...(str(r.Receiver) ? { receiver: str(r.Receiver)! } : {}),
    ...(logStart !== undefined ? { logStart } : {}),
    ...(logEnd !== undefined ? { logEnd } : {}),
    ...(str(r.AlternateWebLink) ? { link: str(r.AlternateWebLink)! } : {}),
    raw: r,
  };
}

/**
 * The MPL query of a window: `Status eq 'X' or ...`, `LogEnd ge datetime'...'`, `LogStart le ...`,
 * `IntegrationFlowName eq '...'` (tenant-api.md §8.1 query rules, monitoring-tools.md §C filters),
 * newest first (`LogEnd desc`, an allowed $orderby), `$inlinecount=allpages` for the total.
 */
export function mplQuery(o: { since: number; until?: number; statuses: string[]; iflow?: string }): string {
  const parts = [
    `(${o.statuses.map((s) => `Status eq ${quoted(s)}`).join(' or ')})`,
    `LogEnd ge ${datetimeLiteral(o.since)}`,
    ...(o.until !== undefined ? [`LogStart le ${datetimeLiteral(o.until)}`] : []),
    ...(o.iflow ? [`IntegrationFlowName eq ${quoted(o.iflow)}`] : []),
  ];
  const q = new URLSearchParams({
    $filter: parts.join(' and '),
    $orderby: 'LogEnd desc',
    $inlinecount: 'allpages',
  });
  // URLSearchParams writes spaces as "+", which an OData server reads as a plus: %20 instead (§3).
  return `MessageProcessingLogs?${q.toString().replace(/\+/g, '%20')}`;
}

/** The error text's path: `MessageProcessingLogs('<guid>')/ErrorInformation/$value`, text/plain (§8.1). */
export const errorTextPath = (guid: string) =>
  `MessageProcessingLogs(${encodeURIComponent(quoted(guid))})/ErrorInformation/$value`;

/** One keystore entry (tenant-api.md §8.5; monitoring-tools.md §B columns of the Keystore Monitor). */
export interface KeystoreEntry {
  alias: string;
  /** The alias as hex of its UTF-8 bytes, upper case: the entity's key (§3 keys, §8.5). */
  hexalias: string;
  /** "Key Pair" or "Certificate" (§8.5), sometimes other words for SSH keys. */
  type: string;
  keyType?: string;
  keySize?: number;
  validFrom?: number;
  validUntil?: number;
  subject?: string;
  issuer?: string;
  owner?: string;
  lastModified?: number;
  fingerprintSha256?: string;
}

/** Hex of the alias's UTF-8 bytes, upper case ("my alias" → 6D7920616C696173), tenant-api.md §3. */
export const hexAlias = (alias: string) => Buffer.from(alias, 'utf8').toString('hex').toUpperCase();

export function keystoreEntryOf(r: Rec): KeystoreEntry | undefined {
  const alias = str(r.Alias);
  if (!alias) return undefined;
  const n = (v: unknown) =>
    typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
  const validFrom = odataDate(r.ValidNotBefore);
  const validUntil = odataDate(r.ValidNotAfter);
  const lastModified = odataDate(r.LastModifiedTime);
  const keySize = n(r.KeySize);
  return {
    alias,
    hexalias: (str(r.Hexalias) ?? hexAlias(alias)).toUpperCase(),
    type: str(r.Type) ?? '',
    ...(str(r.KeyType) ? { keyType: str(r.KeyType)! } : {}),
    ...(keySize !== undefined ? { keySize } : {}),
    ...(validFrom !== undefined ? { validFrom } : {}),
    ...(validUntil !== undefined ? { validUntil } : {}),
    ...(str(r.SubjectDN) ? { subject: str(r.SubjectDN)! } : {}),
    ...(str(r.IssuerDN) ? { issuer: str(r.IssuerDN)! } : {}),
    ...(str(r.Owner) ? { owner: str(r.Owner)! } : {}),
    ...(lastModified !== undefined ? { lastModified } : {}),
    ...(str(r.FingerprintSha256) ? { fingerprintSha256: str(r.FingerprintSha256)! } : {}),
  };
}

/** The certificate of an entry, PEM (for a key pair its public certificate): §8.5 downloads. */
export const certificatePath = (hexalias: string) => `KeystoreEntries('${hexalias}')/Certificate/$value`;

/** A deployed artifact (tenant-api.md §8.2). Status: STARTED, STARTING, STOPPING, ERROR. */
export interface RuntimeArtifact {
  id: string;
  name: string;
  version?: string;
  type?: string;
  status: string;
  deployedBy?: string;
  deployedOn?: number;
}

export function runtimeArtifactOf(r: Rec): RuntimeArtifact | undefined {
  const id = str(r.Id);
  if (!id) return undefined;
  const on = odataDate(r.DeployedOn);
  return {
    id,
    name: str(r.Name) ?? id,
    ...(str(r.Version) ? { version: str(r.Version)! } : {}),
    ...(str(r.Type) ? { type: str(r.Type)! } : {}),
    status: str(r.Status) ?? '',
    ...(str(r.DeployedBy) ? { deployedBy: str(r.DeployedBy)! } : {}),
    ...(on !== undefined ? { deployedOn: on } : {}),
  };
}

export const deployErrorPath = (id: string) =>
  `IntegrationRuntimeArtifacts(${encodeURIComponent(quoted(id))})/ErrorInformation/$value`;

/**
 * The deployment error's text from `IntegrationRuntimeArtifacts('<id>')/ErrorInformation/$value`
 * (tenant-api.md §8.2): the CF shape `{"message":{...,"subsytemPartName" (sic),"messageId"},
 * "parameter":[...]}` whose parameters may be JSON strings of `{"message","childMessageInstances":[{"message","parameters"}]}`;
 * Neo's `childInstances[].parameter`; an empty body, `{}` or a bare string. Printable.
 */
export function deployErrorText(body: string): string | undefined {
  const t = body.trim();
  if (!t) return undefined;
  let j: unknown;
  try {
    j = JSON.parse(t);
  } catch {
    return printable(t).slice(0, 2000);
  }
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 12 || out.length > 20) return;
    if (typeof v === 'string') {
      const s = v.trim();
      if (!s) return;
      if (s.startsWith('{')) {
        try {
          return walk(JSON.parse(s), depth + 1);
        } catch {
          // a string that only looks like JSON
        }
      }
      out.push(s);
      return;
    }
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    if (!v || typeof v !== 'object') return;
    const o = v as Rec;
    if (o.message && typeof o.message === 'object') {
      const m = o.message as Rec;
      if (str(m.messageText)) out.push(str(m.messageText)!);
      else if (str(m.messageId)) out.push(str(m.messageId)!);
    } else if (str(o.message)) out.push(str(o.message)!);
    for (const k of ['parameter', 'parameters', 'childMessageInstances', 'childInstances'])
      if (k in o) walk(o[k], depth + 1);
  };
  walk(j, 0);
  const text = [...new Set(out)].join('\n');
  return text ? printable(text).slice(0, 2000) : undefined;
}

/** A deployed inbound endpoint (tenant-api.md §8.3): the iFlow, its protocol and its URLs. */
export interface ServiceEndpoint {
  iflow: string;
  id: string;
  protocol?: string;
  urls: string[];
}

export function serviceEndpointOf(r: Rec): ServiceEndpoint | undefined {
  const name = str(r.Name);
  if (!name) return undefined;
  const eps = (r.EntryPoints as { results?: Rec[] } | undefined)?.results ?? [];
  return {
    iflow: name,
    id: str(r.Id) ?? name,
    ...(str(r.Protocol) ? { protocol: str(r.Protocol)! } : {}),
    urls: eps.map((e) => str(e.Url)).filter((u): u is string => !!u),
  };
}
