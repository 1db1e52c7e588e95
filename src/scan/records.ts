// The incidents of structured inputs: the records of a message processing log export (OData JSON,
// JSON lines, or the older XML .mpl) or of a HAR file, each held up as a candidate.
import { harCandidate } from './har.js';
import type { Candidate, Report } from './incident.js';
import { jsonRecords, MAX_STRING } from './json.js';
import { isMpl, mplCandidate, mplXmlRecords } from './mpl.js';

/** The first chunks of `chunks` until one has a byte that is not blank, and the whole stream again. */
async function firstByte(
  chunks: AsyncIterable<Buffer>,
): Promise<{ first: number | undefined; all: AsyncIterable<Buffer> }> {
  const it = chunks[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let first: number | undefined;
  let done = false;
  while (first === undefined) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    seen.push(r.value);
    // A UTF-8 byte order mark is not the start.
    const text = r.value.toString('latin1').replace(/^\xef\xbb\xbf/, '');
    const at = text.search(/\S/);
    if (at !== -1) first = text.charCodeAt(at);
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* seen;
    if (!done) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { first, all: all() };
}

/**
 * The entity of an OData v2 single-entity answer (`GET MessageProcessingLogs('<guid>')` answers
 * `{"d": {MessageGuid, Status, ...}}`, ../shared/platform/monitoring-tools.md §C), else the record.
 */
function entityOf(rec: Record<string, unknown>): Record<string, unknown> {
  const d = rec.d;
  return !isMpl(rec) && d !== null && typeof d === 'object' && !Array.isArray(d)
    ? (d as Record<string, unknown>)
    : rec;
}

/**
 * The candidates of a structured input: `har` entries, or `mpl` records (XML when the input starts
 * with `<`, else JSON). Records that are no MPL are reported (the first three) and skipped; when
 * records were read and none is an MPL, that the input holds none is reported as `incomplete`.
 */
export async function* recordCandidates(
  chunks: AsyncIterable<Buffer>,
  file: string,
  format: 'mpl' | 'har',
  report: Report,
): AsyncGenerator<Candidate> {
  const { first, all } = await firstByte(chunks);
  const records =
    format === 'mpl' && first === 0x3c ? mplXmlRecords(all, file, report) : jsonRecords(all, file, report);
  let foreign = 0;
  let read = 0;
  for await (const { value, place } of records) {
    read++;
    const rec =
      format === 'mpl' ? entityOf(value as Record<string, unknown>) : (value as Record<string, unknown>);
    if (format === 'har') {
      const c = harCandidate(rec, place, report);
      if (c) yield c;
    } else if (!isMpl(rec)) {
      if (++foreign <= 3)
        report({
          place,
          message: 'not a message processing log (no MessageGuid, Status or IntegrationFlowName): skipped',
        });
    } else {
      const c = mplCandidate(rec, place);
      // Its error text was cut (JSON strings and XML values are kept to 64 KB): said, as a text
      // log's over-long line is, and scanned as far as it was read.
      if (c && Buffer.byteLength(c.text) >= MAX_STRING)
        report({ place, message: 'an error text of more than 64 KB: only its first 64 KB was read' });
      if (c) yield c;
    }
  }
  if (format === 'mpl' && read && foreign === read)
    report({
      place: { file },
      message: `${read === 1 ? 'its one record is not' : `none of its ${read} records is`} a message processing log: nothing was scanned`,
      incomplete: true,
    });
}
