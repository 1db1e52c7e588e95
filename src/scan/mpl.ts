// Cloud Integration message processing logs, as the OData API returns them (`d.results` entries,
// or one per line): a failed message is an incident, and its error text is what gets diagnosed.
import type { Candidate, Place } from './incident.js';
import { redact } from '../redact.js';
import { parseTime } from './text.js';

/** Final or stuck states that mean the message did not get through. */
const FAILED = new Set(['FAILED', 'RETRY', 'ESCALATED', 'ABANDONED']);
/** Where exports put the error text (the API's ErrorInformation/$value, fetched and inlined). */
const ERROR_FIELDS = [
  'ErrorText',
  'ErrorInformation',
  'ErrorMessage',
  'Error',
  'LastError',
  'LastErrorMessage',
];
const NESTED_TEXT = ['$value', 'value', 'Text', 'ErrorText', 'Message'];

type Rec = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);

function errorText(rec: Rec): string | undefined {
  for (const f of ERROR_FIELDS) {
    const v = rec[f];
    if (str(v)) return str(v);
    if (v && typeof v === 'object')
      for (const n of NESTED_TEXT) if (str((v as Rec)[n])) return str((v as Rec)[n]);
  }
  return undefined;
}

/** "/Date(1765786792442)/" or an ISO string, as epoch ms. */
function odataTime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(v);
  return m ? Number(m[1]) : parseTime(v);
}

export function isMpl(rec: Rec): boolean {
  return 'MessageGuid' in rec || 'IntegrationFlowName' in rec || ('Status' in rec && 'LogStart' in rec);
}

/**
 * The record as a candidate, or null when the message went through and carries no error text.
 * `noText`: the headline of a failed message without error text, after its status (an export's
 * wording by default; `tenant failures` says the tenant's).
 */
export function mplCandidate(rec: Rec, place: Place, noText?: string): Candidate | null {
  const status = str(rec.Status)?.toUpperCase();
  const text = errorText(rec);
  const failing = status && FAILED.has(status) ? `status ${status}` : undefined;
  if (!text && !failing) return null;
  const artifact = rec.IntegrationArtifact as Rec | undefined;
  const iflow = str(rec.IntegrationFlowName) ?? str(artifact?.Name) ?? str(artifact?.Id);
  const guid = str(rec.MessageGuid);
  const at = odataTime(rec.LogEnd) ?? odataTime(rec.LogStart);
  const headline = text?.split('\n').find((l) => l.trim());
  const message = headline
    ? redact(headline.trim()).slice(0, 300)
    : `${status}: ${noText ?? "the export has no error text (it is at MessageProcessingLogs('<id>')/ErrorInformation/$value)"}`;
  return {
    text: text ?? '',
    place,
    message,
    ...(at !== undefined ? { at, time: new Date(at).toISOString() } : {}),
    ...(failing ? { failing } : {}),
    ...(iflow ? { iflow } : {}),
    ...(guid ? { messageGuid: guid } : {}),
  };
}
