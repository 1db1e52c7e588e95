// Cloud Integration message processing logs, as the OData API returns them (`d.results` entries,
// or one per line) or as the older XML export (.mpl) holds them: a failed message is an incident,
// and its error text is what gets diagnosed.
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser } from 'saxes';
import type { Candidate, Place, Report } from './incident.js';
import { redact } from '../redact.js';
import { MAX_STRING, pageProblem } from './json.js';
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

/**
 * The header properties of an XML `.mpl` export that make a record, by their MPL names (the
 * Monitor's Logs view: ContextName is the iFlow, OverallStatus the status, LastError the error).
 * Source: ../shared/platform/monitoring-tools.md, section C.
 */
const XML_FIELDS: Record<string, string> = {
  MessageGuid: 'MessageGuid',
  ContextName: 'IntegrationFlowName',
  OverallStatus: 'Status',
  StartTime: 'LogStart',
  StopTime: 'LogEnd',
  LastError: 'LastError',
  IntermediateError: 'ErrorMessage',
  CorrelationId: 'CorrelationId',
};
/** Characters kept of one property value (the Monitor itself cuts them at 1000). */
const XML_VALUE_MAX = MAX_STRING;
/** Properties read per record (a record with more is still read; the rest are not kept). */
const XML_ENTRIES_MAX = 10_000;

const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/**
 * The message processing logs of an XML input, one record each in the shape of the OData JSON
 * (`MessageGuid`, `IntegrationFlowName`, `Status`, `LogStart`, `LogEnd`, `LastError`,
 * `IntegrationArtifact: {Id, Name}`), so that mplCandidate reads every format alike:
 * - the OData API's Atom XML, its default format when JSON is not asked for
 *   (../shared/platform/tenant-api.md §3): a `<feed>` of `<entry>`s (or one `<entry>`), each with
 *   `<content><m:properties><d:MessageGuid>…` and complex properties such as
 *   `<d:IntegrationArtifact><d:Name>…`; a `m:null="true"` property is absent, and the properties of
 *   an expanded navigation (`<link><m:inline><entry>`) are not the entry's own;
 * - the older export (`.mpl`: `<ns2:local><mplId>…</mplId><properties><entry><key><name>ContextName
 *   </name>…</key><value>…</value></entry>…`), one record per element that holds an `mplId`.
 * Streaming (saxes), in constant memory per record. The first XML error ends the reading: it is
 * reported with its line and the number of records read before it, as `incomplete`.
 */
export async function* mplXmlRecords(
  chunks: AsyncIterable<Buffer>,
  file: string,
  report: Report,
): AsyncGenerator<{ value: Rec; place: Place }> {
  const parser = new SaxesParser({ position: true });
  const decoder = new StringDecoder('utf8');
  const path: string[] = [];
  let out: { value: Rec; place: Place }[] = [];
  let records = 0;
  let record: { depth: number; rec: Rec; place: Place; entries: number } | undefined;
  let entry: { name: string; value: string; in?: 'name' | 'value' } | undefined;
  let mplId: string | undefined;
  let broken: { message: string; line: number } | undefined;
  /** An Atom feed or entry was read: an empty feed is an empty answer, not a foreign document. */
  let atom = false;
  /** The Atom property being read (`<d:Status>`), and the part of a complex one (`<d:Name>` of `<d:IntegrationArtifact>`). */
  let prop: { name: string; value: string; null: boolean; parts?: Rec } | undefined;
  let part: { name: string; value: string } | undefined;
  /** The feed's `<link rel="next">` and `<m:count>` (`$inlinecount=allpages`): a page of a longer answer. */
  let next: string | undefined;
  let count: string | undefined;

  parser.on('opentag', (tag) => {
    const name = localName(tag.name);
    path.push(name);
    if (path.length === 1 && (name === 'feed' || name === 'entry')) atom = true;
    if (atom && path.length === 2 && path[0] === 'feed') {
      if (name === 'link' && tag.attributes.rel === 'next') next = '<link rel="next">';
      else if (name === 'count') count = '';
    }
    // An Atom entry of the feed (or the document's one entry): a record, its depth the entry's.
    if (
      atom &&
      !record &&
      name === 'entry' &&
      (path.length === 1 || (path.length === 2 && path[0] === 'feed'))
    ) {
      record = {
        depth: path.length,
        rec: {},
        place: { file, line: parser.line, record: records },
        entries: 0,
      };
      return;
    }
    if (atom && record) {
      // <entry><content><m:properties><d:X><d:Part>: X three levels below the entry, a part four.
      const at = path.length - record.depth;
      if (at === 3 && path.at(-2) === 'properties' && path.at(-3) === 'content')
        prop = { name, value: '', null: tag.attributes['m:null'] === 'true' };
      else if (at === 4 && prop) part = { name, value: '' };
      return;
    }
    if (name === 'mplId' && !record && path.length >= 2) {
      record = {
        depth: path.length - 1,
        rec: {},
        place: { file, line: parser.line, record: records },
        entries: 0,
      };
      mplId = '';
    }
    if (!record) return;
    if (name === 'entry') entry = { name: '', value: '' };
    else if (entry && name === 'name' && path.at(-2) === 'key') entry.in = 'name';
    else if (entry && name === 'value' && path.at(-2) === 'entry') entry.in = 'value';
  });
  parser.on('text', (text) => {
    if (count !== undefined && path.length === 2 && path[1] === 'count') {
      if (count.length < 20) count += text;
    } else if (part) {
      if (part.value.length < XML_VALUE_MAX) part.value += text;
    } else if (prop) {
      if (prop.value.length < XML_VALUE_MAX) prop.value += text;
    } else if (mplId !== undefined && path.at(-1) === 'mplId') mplId += text;
    else if (entry?.in === 'name') entry.name += text;
    else if (entry?.in === 'value' && entry.value.length < XML_VALUE_MAX) entry.value += text;
  });
  parser.on('closetag', (tag) => {
    // After the first error nothing more is taken: the records before it are what was read.
    if (broken) return;
    const name = localName(tag.name);
    path.pop();
    if (!record) return;
    if (atom) {
      const at = path.length - record.depth;
      if (part && at === 3) {
        (prop!.parts ??= {})[part.name] = part.value.slice(0, XML_VALUE_MAX);
        part = undefined;
      } else if (prop && at === 2) {
        if (!prop.null && ++record.entries <= XML_ENTRIES_MAX)
          record.rec[prop.name] = prop.parts ?? prop.value.slice(0, XML_VALUE_MAX);
        prop = undefined;
      }
    } else if (name === 'mplId' && mplId !== undefined) {
      record.rec.mplId = mplId.trim();
      mplId = undefined;
    } else if ((name === 'name' || name === 'value') && entry) entry.in = undefined;
    else if (name === 'entry' && entry) {
      const field = XML_FIELDS[entry.name.trim()];
      // The header's properties come first; a step's property of the same name does not replace them.
      if (field && record.rec[field] === undefined && ++record.entries <= XML_ENTRIES_MAX)
        record.rec[field] = entry.value.slice(0, XML_VALUE_MAX);
      entry = undefined;
    }
    if (path.length === record.depth - 1) {
      const { rec, place } = record;
      rec.MessageGuid ??= rec.mplId;
      out.push({ value: rec, place });
      records++;
      record = undefined;
    }
  });
  parser.on('error', (e) => {
    broken ??= {
      message: e.message.replace(/^(?:[^:\n]*:)?\d+:\d+: /, '').replace(/\.$/, ''),
      line: parser.line,
    };
  });

  const stop = (where: string) =>
    report({
      place: { file, line: broken!.line },
      message: `the XML ${where} (${broken!.message}): ${records} ${records === 1 ? 'record was' : 'records were'} read before it, the rest is not scanned`,
      incomplete: true,
    });
  for await (const chunk of chunks) {
    parser.write(decoder.write(chunk));
    yield* out;
    out = [];
    if (broken) return stop('breaks off');
  }
  parser.write(decoder.end());
  parser.close();
  yield* out;
  if (broken)
    stop(/unclosed|unexpected end/i.test(broken.message) ? 'ends early, a truncated file' : 'breaks off');
  else if (!records && !atom)
    report({
      place: { file },
      message: 'is XML without a message processing log (no element holds an mplId): nothing was scanned',
      incomplete: true,
    });
  else {
    const total = count?.trim();
    const paged = pageProblem(file, records, next, total && /^\d+$/.test(total) ? Number(total) : undefined);
    if (paged) report(paged);
  }
}
