// Plain-text logs: finds the events worth diagnosing without decoding or splitting the whole input.
// The prefilter runs over raw blocks of bytes; only around its hits are lines joined into events
// (a line without its own timestamp, a stack frame, a "Caused by" belongs to the event above it)
// and decoded. Over-long lines are cut, binary garbage is skipped; both are reported with their place.
import type { Candidate, Place, Report } from './incident.js';
import type { Prefilter } from './prefilter.js';
import { ERROR_LEVELS } from './prefilter.js';
import { redact } from './mask.js';

/** Bytes handed to the prefilter at a time. */
const BLOCK = 1 << 20;
/** A line longer than this is cut: its first MAX_LINE bytes are read, the rest skipped. */
export const MAX_LINE = 1 << 20;
/** An event stops growing here (a runaway stack trace, a file without timestamps). */
const MAX_EVENT_BYTES = 1 << 20;
/** What the matcher reads of an event at most; stack frames go first when it is longer. */
const MAX_EVENT_CHARS = 64 * 1024;
/** How far into a line its timestamp and level are looked for. */
const HEAD_BYTES = 64;
const LEVEL_BYTES = 200;

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
const ISO =
  /^(\d{4})[-/ ](\d{2})[-/ ](\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,:](\d{1,3}))?)?\d*\s?(Z|[+-]\d{2}:?\d{2})?/;
/** Lines that continue a stack trace in a log without timestamps. */
const CONTINUATION = /^(?:\s|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames omitted)|at\s)/;
const LEVEL = new RegExp(
  `(?:^|[\\s\\[|<"'=:#(])(TRACE|DEBUG|FINEST|FINER|FINE|CONFIG|INFO|NOTICE|WARN|WARNING|${ERROR_LEVELS.join('|')})(?=$|[\\s\\]|>"',:#)])`,
  'i',
);
const EXCEPTION = /(?:^|\s)(?:[\w$]+\.)*[\w$]*(?:Exception|Error)(?::|$)|^Caused by:/m;
const FRAME = /^\s+(?:at \S|\.\.\. \d+ )/;

/** Epoch milliseconds of an ISO-like time; a time without a zone is taken as UTC. */
export function parseTime(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms, zone] = m;
  let at = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +(s ?? 0), +(ms ?? '0').padEnd(3, '0'));
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    at -= sign * (+digits.slice(0, 2) * 60 + +digits.slice(2)) * 60_000;
  }
  return Number.isNaN(at) ? undefined : at;
}

/** Keeps what the matcher needs of an over-long event: stack frames go first, then the middle. */
function bounded(text: string): string {
  if (text.length <= MAX_EVENT_CHARS) return text;
  const lean = text
    .split('\n')
    .filter((l) => !FRAME.test(l))
    .join('\n');
  if (lean.length <= MAX_EVENT_CHARS) return lean;
  const tail = MAX_EVENT_CHARS / 4;
  return `${lean.slice(0, MAX_EVENT_CHARS - tail)}\n…\n${lean.slice(-tail)}`;
}

const isControl = (b: number) =>
  (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f;

/** A line of binary data rather than text: a NUL byte, or more than 10% control bytes. */
function isBinary(buf: Buffer, from: number, to: number): boolean {
  let control = 0;
  for (let i = from; i < to; i++) {
    const b = buf[i]!;
    if (b === 0) return true;
    if (isControl(b)) control++;
  }
  return control * 10 > to - from;
}

/** Whether the line at `p` (ending by `to`) begins an event. */
export function startsEvent(buf: Buffer, p: number, to: number, timestamped: boolean): boolean {
  const nl = buf.indexOf(10, p);
  const head = buf.toString('latin1', p, Math.min(nl < 0 || nl > to ? to : nl, p + HEAD_BYTES));
  return timestamped ? TIMESTAMP.test(head) : head.trim() !== '' && !CONTINUATION.test(head);
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** The headline of a log event: its first line without the timestamp, secrets removed; and its time. */
export function describeEvent(text: string): { message: string; time?: string; at?: number } {
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  const stamp = TIMESTAMP.exec(first);
  const time = stamp?.[1];
  const at = time ? parseTime(time) : undefined;
  return {
    message: redact((stamp ? first.slice(stamp[0].length) : first).trim()).slice(0, 300),
    ...(time ? { time } : {}),
    ...(at !== undefined ? { at } : {}),
  };
}

/** The lines of a block where an incident may be (Prefilter.lines): starts and numbers, and its newlines. */
export interface Found {
  hits: number[];
  lines: number;
}

/** Finds the lines of buf[0, to) where an incident may be: in this thread, or in a worker. */
export type LineFinder = (buf: Buffer, to: number, timestamped: boolean) => Found | Promise<Found>;

export interface TextOptions {
  /** false: every line with a strong literal is a candidate's line, as Prefilter.find says (for tests that compare). */
  precise?: boolean;
  /** Where lines are found (workers: src/scan/workers.ts); in this thread by default. */
  finder?: LineFinder;
  /** How many blocks may be searched ahead of the one whose candidates are handled. */
  ahead?: number;
  /** Blocks are made in this (a SharedArrayBuffer's, for workers). */
  alloc?: (size: number) => Buffer;
}

/** Finds the lines of buf[0, to) in this thread (a worker runs the same, src/scan/worker.ts). */
export function findLines(
  lines: Prefilter['lines'],
  buf: Buffer,
  to: number,
  timestamped: boolean,
  precise: boolean,
): Found {
  const hits: number[] = [];
  const n = lines(buf, 0, to, hits, precise, (p) => startsEvent(buf, p, to, timestamped));
  return { hits, lines: n };
}

/**
 * Reads one text input; yields the candidate events, reports what is wrong with it. An event that
 * is not failing and cannot reach `threshold` (the confidence that makes such an event an
 * incident, LOG_MIN_CONFIDENCE) by its literals is not yielded.
 */
export async function* textCandidates(
  chunks: AsyncIterable<Buffer>,
  file: string,
  pf: Prefilter,
  report: Report,
  threshold = 0.5,
  opts: TextOptions = {},
): AsyncGenerator<Candidate> {
  let carry: Buffer = Buffer.alloc(0);
  /** Byte offset of carry[0] in the input. */
  let next = 0;
  /** Byte offset of the block being handled, and the number of the line it starts with. */
  let base = 0;
  let line = 1;
  /** Inside an over-long line: discarding up to its end. */
  let cut: { place: Place; bytes: number } | null = null;
  /** A log whose events start with a timestamp; else stack-trace shapes tell events apart. */
  let timestamped: boolean | undefined;
  /** Binary data not yet reported (byte offsets), so that one stretch is one report. */
  let garbage: { place: Place; start: number; end: number } | null = null;

  const flushGarbage = () => {
    if (!garbage) return;
    report({
      place: garbage.place,
      message: `binary data (${garbage.end - garbage.start} bytes) skipped: not text`,
    });
    garbage = null;
  };

  function decideMode(buf: Buffer, to: number): boolean {
    let lines = 0;
    let stamped = 0;
    for (let p = 0; p < to && lines < 50;) {
      const nl = buf.indexOf(10, p);
      const end = nl < 0 || nl > to ? to : nl;
      if (end > p) {
        lines++;
        if (TIMESTAMP.test(buf.toString('latin1', p, Math.min(end, p + HEAD_BYTES)))) stamped++;
      }
      p = end + 1;
    }
    return stamped > 0 && stamped * 5 >= lines;
  }

  /**
   * Candidates of buf[0, to): whole lines, events that do not go on past `to`. `hits`: the start
   * and number (0-based from buf[0]) of each line where an incident may be, in order; `lines`: the
   * number of newlines in buf[0, to).
   */
  function region(buf: Buffer, to: number, hits: number[], lines: number): Candidate[] {
    timestamped ??= decideMode(buf, to);
    const mode = timestamped;
    const isHead = (p: number) => startsEvent(buf, p, to, mode);
    const lineEnd = (p: number) => {
      const nl = buf.indexOf(10, p);
      return nl < 0 || nl >= to ? to : nl;
    };
    const lineStart = (p: number) => (p <= 0 ? 0 : buf.lastIndexOf(10, p - 1) + 1);
    const first = line;

    if (pf.findPatterns.length) {
      // Strong patterns without literals: run over the text, their lines merged with the hits.
      const more: number[] = [];
      const str = buf.toString('utf8', 0, to);
      for (const re of pf.findPatterns) {
        let chars = 0;
        let bytes = 0;
        re.lastIndex = 0;
        for (let m = re.exec(str); m; m = re.exec(str)) {
          bytes += Buffer.byteLength(str.slice(chars, m.index));
          chars = m.index;
          more.push(lineStart(bytes));
          const nl = str.indexOf('\n', m.index);
          if (nl < 0) break;
          re.lastIndex = nl + 1;
        }
      }
      const starts = [...new Set([...hits.filter((_, i) => i % 2 === 0), ...more])].sort((a, b) => a - b);
      hits = [];
      let n = 0;
      let at = 0;
      for (const p of starts) {
        for (let nl = buf.indexOf(10, at); nl !== -1 && nl < p; nl = buf.indexOf(10, nl + 1)) n++;
        at = p;
        hits.push(p, n);
      }
    }

    // Line numbers of places away from the hits (binary data): counted from the nearest hit before.
    const lineAt = (p: number) => {
      let lo = 0;
      let hi = hits.length / 2;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (hits[2 * mid]! <= p) lo = mid + 1;
        else hi = mid;
      }
      let n = lo ? hits[2 * lo - 1]! : 0;
      for (let nl = buf.indexOf(10, lo ? hits[2 * lo - 2]! : 0); nl !== -1 && nl < p; nl = buf.indexOf(10, nl + 1)) n++;
      return first + n;
    };
    const placeAt = (p: number): Place => ({ file, line: lineAt(p), offset: base + p });

    // Binary stretches: found by their NUL bytes, widened over neighbouring binary lines.
    const binary: [number, number][] = [];
    for (let z = buf.indexOf(0); z !== -1 && z < to;) {
      let from = lineStart(z);
      while (from > 0 && isBinary(buf, lineStart(from - 1), from - 1)) from = lineStart(from - 1);
      let end = lineEnd(z);
      while (end < to && isBinary(buf, end + 1, lineEnd(end + 1))) end = lineEnd(end + 1);
      binary.push([from, end]);
      z = end >= to ? -1 : buf.indexOf(0, end);
    }
    let b = 0;
    const noteGarbage = (from: number, end: number) => {
      if (garbage && base + from <= garbage.end + 1) garbage.end = Math.max(garbage.end, base + end);
      else {
        flushGarbage();
        garbage = { place: placeAt(from), start: base + from, end: base + end };
      }
    };

    const out: Candidate[] = [];
    let done = 0;
    for (let h = 0; h < hits.length; h += 2) {
      const hit = hits[h]!;
      if (hit < done) continue;
      while (b < binary.length && binary[b]![1] < hit) {
        const [from, end] = binary[b++]!;
        if (from >= done) noteGarbage(from, end);
      }
      if (b < binary.length && binary[b]![0] <= hit) continue;
      if (isBinary(buf, hit, lineEnd(hit))) {
        noteGarbage(hit, lineEnd(hit));
        done = lineEnd(hit) + 1;
        continue;
      }
      const floor = Math.max(done, hit - MAX_EVENT_BYTES);
      let head = hit;
      let back = 0;
      while (head > floor && !isHead(head)) {
        const prev = lineStart(head - 1);
        if (prev < floor) break;
        head = prev;
        back++;
      }
      let end = lineEnd(hit);
      while (end < to && end - head < MAX_EVENT_BYTES && !isHead(end + 1)) {
        const next = lineEnd(end + 1);
        if (isBinary(buf, end + 1, next)) break;
        end = next;
      }
      const at = first + hits[h + 1]! - back;
      const c = candidate(buf, head, end, () => ({ file, line: at, offset: base + head }));
      if (c) out.push(c);
      done = end + 1;
    }
    for (; b < binary.length; b++) if (binary[b]![0] >= done) noteGarbage(binary[b]![0], binary[b]![1]);
    line = first + lines;
    return out;
  }

  /**
   * The candidate of buf[from, to), or null for an event that is not failing and whose literals
   * cannot make an incident (Prefilter.bound): most candidates of a log, told apart before their
   * text is decoded.
   */
  function candidate(buf: Buffer, from: number, to: number, place: () => Place): Candidate | null {
    const level = LEVEL.exec(buf.toString('latin1', from, Math.min(to, from + LEVEL_BYTES)))?.[1];
    const error = level !== undefined && ERROR_LEVELS.includes(level.toLowerCase());
    if (!error && level !== undefined && pf.bound(buf, from, to) < threshold - 1e-9) return null;
    const text = bounded(buf.toString('utf8', from, to).trimEnd());
    const failing = error
      ? `level ${level!.toUpperCase()}`
      : !level && EXCEPTION.test(text)
        ? 'exception'
        : undefined;
    return { text, bytes: buf.subarray(from, to), place: place(), ...(failing ? { failing } : {}) };
  }

  const reportCut = (c: { place: Place; bytes: number }) =>
    report({ place: c.place, message: `a line of ${mb(c.bytes)}: only its first ${mb(MAX_LINE)} was read` });

  /** Handles the bytes before the first newline of a block while an over-long line is being skipped. */
  function skipLong(block: Buffer): Buffer {
    const nl = block.indexOf(10);
    if (nl < 0) {
      cut!.bytes += block.length;
      next += block.length;
      return Buffer.alloc(0);
    }
    cut!.bytes += nl;
    reportCut(cut!);
    cut = null;
    line++;
    next += nl + 1;
    return block.subarray(nl + 1);
  }

  /** The parts as one block (in a buffer of opts.alloc's, when given). */
  function concat(parts: Buffer[]): Buffer {
    if (!opts.alloc) return Buffer.concat(parts);
    const out = opts.alloc(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) at += p.copy(out, at);
    return out;
  }

  /** A block cut at an event's start, with its lines where an incident may be (being) found. */
  interface Job {
    buf: Buffer;
    to: number;
    /** Byte offset of buf[0] in the input. */
    at: number;
    found: Found | Promise<Found>;
  }
  const jobs: Job[] = [];
  const precise = opts.precise ?? true;
  const find: LineFinder = opts.finder ?? ((buf, to, mode) => findLines(pf.lines, buf, to, mode, precise));

  /** The candidates of a job, once its lines are found: jobs are taken in input order. */
  async function* run(job: Job): AsyncGenerator<Candidate> {
    const { hits, lines } = await job.found;
    base = job.at;
    yield* region(job.buf, job.to, hits, lines);
  }

  /** Takes the next chunks (and what was carried over) as one block, copied once, as jobs. */
  async function* take(chunks: Buffer[], eof: boolean): AsyncGenerator<Candidate> {
    let buf = chunks.length === 1 && !carry.length ? chunks[0]! : concat([carry, ...chunks]);
    if (cut) buf = skipLong(buf);
    if (cut) return;
    let to = eof ? buf.length : buf.lastIndexOf(10) + 1;
    if (to === 0 && buf.length > MAX_LINE) {
      // One line longer than MAX_LINE so far: read its start, skip the rest as it comes. The jobs
      // before it are done first: its place needs their lines counted.
      while (jobs.length) yield* run(jobs.shift()!);
      cut = { place: { file, line, offset: next }, bytes: buf.length };
      timestamped ??= decideMode(buf, MAX_LINE);
      const found = findLines(pf.lines, buf, MAX_LINE, timestamped, precise);
      yield* run({ buf, to: MAX_LINE, at: next, found });
      next += buf.length;
      carry = Buffer.alloc(0);
      return;
    }
    if (!eof && to > 0) {
      // Keep the last event for the next block: it may go on there.
      let tail = to;
      const stop = Math.max(0, to - MAX_EVENT_BYTES);
      do tail = tail <= 1 ? 0 : buf.lastIndexOf(10, tail - 2) + 1;
      while (tail > stop && !startsEvent(buf, tail, to, (timestamped ??= decideMode(buf, to))));
      if (tail > 0) to = tail;
      else if (buf.length < MAX_EVENT_BYTES) to = 0;
    }
    if (to > 0) {
      timestamped ??= decideMode(buf, to);
      jobs.push({ buf, to, at: next, found: find(buf, to, timestamped) });
      // Up to `ahead` blocks are being searched while the oldest one's candidates are handled.
      while (jobs.length > (opts.ahead ?? 0)) yield* run(jobs.shift()!);
    }
    next += to;
    carry = buf.subarray(to);
  }

  const pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    pending.push(chunk);
    size += chunk.length;
    if (size < BLOCK) continue;
    yield* take(pending.splice(0), false);
    size = 0;
  }
  yield* take(pending, true);
  while (jobs.length) yield* run(jobs.shift()!);
  if (cut) reportCut(cut);
  flushGarbage();
}
