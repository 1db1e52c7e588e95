// The entries of a log: a line that begins with a timestamp begins an entry, the lines after it
// without their own (a stack frame, a "Caused by", a wrapped message) belong to it. scan cuts its
// events with the same TIMESTAMP; diagnose reads a pasted log's facts from the failing entry.

/** A timestamp at the start of a line, as logs write them (group 1: the time itself). */
export const TIMESTAMP = new RegExp(
  '^(?:<\\d{1,3}>\\d?\\s?)?[[(#"]?(?:2\\.0 ?#)?(' +
    [
      '\\d{4}[-/ ]\\d{2}[-/ ]\\d{2}[T ]\\d{1,2}:\\d{2}(?::\\d{2}(?:[.,:]\\d{1,9})?)?(?:\\s?(?:Z|[+-]\\d{2}:?\\d{2}))?',
      '\\d{1,2}[./-]\\d{1,2}[./-]\\d{2,4}[ T,]+\\d{1,2}:\\d{2}(?::\\d{2}(?:[.,]\\d{1,9})?)?',
      '[A-Z][a-z]{2},? [ \\d]?\\d,? (?:\\d{4} )?\\d{1,2}:\\d{2}:\\d{2}(?: [AP]M)?',
      '\\d{2}:\\d{2}:\\d{2}[.,]\\d{3}',
    ].join('|') +
    ')',
);

/**
 * A clock time's digits ("1:05", "10:00"): every form of TIMESTAMP holds one. A line without one
 * is no entry's start, and this small pattern tells so without TIMESTAMP, whose compiling cost a
 * cold `diagnose` of a stack trace (no timestamp at all) about 4 M instructions (callgrind).
 */
const CLOCK = /\d:\d\d/;

/** How far into a line its timestamp is looked for, in characters. */
const HEAD_CHARS = 64;

/** One entry of a log: text offsets [start, end). */
export interface LogEntry {
  start: number;
  end: number;
}

/**
 * The entries of a log text, in order: each begins at a line with a timestamp (TIMESTAMP); lines
 * before the first such line form an entry of their own. Undefined when fewer than two lines carry
 * a timestamp: a message or a stack trace is one entry, not a log. Linear in the text's length.
 */
export function logEntries(text: string): LogEntry[] | undefined {
  const starts: number[] = [];
  for (let p = 0; p < text.length;) {
    const nl = text.indexOf('\n', p);
    const end = nl < 0 ? text.length : nl;
    const head = text.slice(p, Math.min(end, p + HEAD_CHARS));
    if (CLOCK.test(head) && TIMESTAMP.test(head)) starts.push(p);
    p = end + 1;
  }
  if (starts.length < 2) return undefined;
  if (starts[0] !== 0) starts.unshift(0);
  return starts.map((start, i) => ({ start, end: starts[i + 1] ?? text.length }));
}
