// Plain-text logs: finds the events worth diagnosing without decoding or splitting the whole input.
// The prefilter runs over raw blocks of bytes; only around its hits are lines joined into events
// (a line without its own timestamp, a stack frame, a "Caused by" belongs to the event above it)
// and decoded. Over-long lines are cut, binary garbage is skipped; both are reported with their place.
import type { Candidate, Place, Report } from './incident.js';
import type { EventChecks, Prefilter } from './prefilter.js';
import { ERROR_LEVELS } from './prefilter.js';
import { redact } from '../redact.js';
import { TIMESTAMP } from '../diagnose/log-entries.js';
import { removeCsi } from '../diagnose/match.js';
import { eventText, keepsTime } from './cache.js';
import { mask } from './mask.js';

/** Bytes handed to the prefilter (or a worker) at a time, by default. */
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

/**
 * The first `bytes` bytes of the line at buf[p, end) as latin1, where its time and level are read:
 * a coloured log's line (`\x1b[2m2026-11-24 08:01:00\x1b[0m \x1b[31mERROR\x1b[0m`, as `docker
 * logs` and CI logs give) without its CSI sequences (removeCsi), so that it
 * reads as the plain line does. A line without ESC costs one search of its head.
 */
function headOf(buf: Buffer, p: number, end: number, bytes: number): string {
  const head = buf.toString('latin1', p, Math.min(end, p + bytes));
  if (!head.includes('\x1b')) return head;
  return removeCsi(buf.toString('latin1', p, Math.min(end, p + 4 * bytes))).slice(0, bytes);
}

/** Whether the line at `p` (ending by `to`) begins an event. */
export function startsEvent(buf: Buffer, p: number, to: number, timestamped: boolean): boolean {
  const nl = buf.indexOf(10, p);
  const head = headOf(buf, p, nl < 0 || nl > to ? to : nl, HEAD_BYTES);
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

/**
 * A text candidate with what its classification reads of its text alone worked out (Prepared): in
 * a worker thread, so that the scan's thread only looks its verdict up. `pf`: the prefilter's
 * readsBefore (eventChecksOf makes it from a LinesSpec).
 */
export function prepareEvent(c: Candidate, pf: Pick<EventChecks, 'readsBefore'>): Candidate {
  const described = describeEvent(c.text);
  const judged = eventText(c.text, keepsTime(pf, c.bytes ?? Buffer.from(c.text)));
  return { ...c, prepared: { judged, described, masked: mask(described.message) } };
}

/**
 * A candidate as a worker thread hands it over: its bytes as their offsets [start, end) in the
 * block (none when its text is not its bytes: a coloured event).
 */
export type SentCandidate = Omit<Candidate, 'bytes'> & { span?: [number, number] };

/** The lines of a block where an incident may be (Prefilter.lines): starts and numbers, and its newlines. */
export interface Found {
  hits: number[];
  lines: number;
}

/** Finds the lines of buf[0, to) where an incident may be, in this thread (a worker runs the same). */
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

/** A stretch of binary data: input byte offsets, and the line it starts on (0-based in its block). */
export interface Garbage {
  start: number;
  end: number;
  line: number;
}

/**
 * What one block gives: events (candidates, or incidents when a worker classified them) whose
 * place's line is counted from the block's first line (0-based), binary stretches, and the
 * block's number of newlines.
 */
export interface BlockResult<T> {
  events: T[];
  garbage: Garbage[];
  lines: number;
}

/** Where a block is and how to read it. */
export interface BlockContext {
  file: string;
  /** Byte offset of the block in the input. */
  base: number;
  timestamped: boolean;
  pf: Pick<Prefilter, 'bound' | 'findPatterns'>;
  threshold: number;
}

/** Whether the first lines of a block start with timestamps (then a timestamp starts an event). */
export function decideMode(buf: Buffer, to: number): boolean {
  let lines = 0;
  let stamped = 0;
  for (let p = 0; p < to && lines < 50;) {
    const nl = buf.indexOf(10, p);
    const end = nl < 0 || nl > to ? to : nl;
    if (end > p) {
      lines++;
      if (TIMESTAMP.test(headOf(buf, p, end, HEAD_BYTES))) stamped++;
    }
    p = end + 1;
  }
  return stamped > 0 && stamped * 5 >= lines;
}

/**
 * The candidate of buf[from, to), or null for an event that is not failing and whose literals
 * cannot make an incident (Prefilter.bound): most candidates of a log, told apart before their
 * text is decoded. A coloured event is read without its CSI sequences, colours (its level,
 * time and message as in the plain log); its text is then not its bytes, which it goes without.
 */
function candidate(
  buf: Buffer,
  from: number,
  to: number,
  place: Place,
  { pf, threshold }: BlockContext,
): Candidate | null {
  const level = LEVEL.exec(headOf(buf, from, to, LEVEL_BYTES))?.[1];
  const error = level !== undefined && ERROR_LEVELS.includes(level.toLowerCase());
  if (!error && level !== undefined && pf.bound(buf, from, to) < threshold - 1e-9) return null;
  const raw = buf.toString('utf8', from, to);
  const plain = removeCsi(raw);
  const text = bounded(plain.trimEnd());
  const failing = error
    ? `level ${level!.toUpperCase()}`
    : !level && EXCEPTION.test(text)
      ? 'exception'
      : undefined;
  return {
    text,
    ...(plain === raw ? { bytes: buf.subarray(from, to) } : {}),
    place,
    ...(failing ? { failing } : {}),
  };
}

/**
 * The candidates of buf[0, to): whole lines, events that do not go on past `to`, found around the
 * lines of `found` (findLines), and the binary stretches in it.
 */
export function blockEvents(
  buf: Buffer,
  to: number,
  found: Found,
  ctx: BlockContext,
): BlockResult<Candidate> {
  const { file, base } = ctx;
  let { hits } = found;
  const isHead = (p: number) => startsEvent(buf, p, to, ctx.timestamped);
  const lineEnd = (p: number) => {
    const nl = buf.indexOf(10, p);
    return nl < 0 || nl >= to ? to : nl;
  };
  const lineStart = (p: number) => (p <= 0 ? 0 : buf.lastIndexOf(10, p - 1) + 1);

  if (ctx.pf.findPatterns.length) {
    // Strong patterns without literals: run over the text, their lines merged with the hits.
    const more: number[] = [];
    const str = buf.toString('utf8', 0, to);
    for (const re of ctx.pf.findPatterns) {
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
    for (
      let nl = buf.indexOf(10, lo ? hits[2 * lo - 2]! : 0);
      nl !== -1 && nl < p;
      nl = buf.indexOf(10, nl + 1)
    )
      n++;
    return n;
  };

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
  const garbage: Garbage[] = [];
  const noteGarbage = (from: number, end: number) =>
    garbage.push({ start: base + from, end: base + end, line: lineAt(from) });

  const events: Candidate[] = [];
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
    const place = { file, line: hits[h + 1]! - back, offset: base + head };
    const c = candidate(buf, head, end, place, ctx);
    if (c) events.push(c);
    done = end + 1;
  }
  for (; b < binary.length; b++) if (binary[b]![0] >= done) noteGarbage(binary[b]![0], binary[b]![1]);
  return { events, garbage, lines: found.lines };
}

/** Handles a block: its events (with places counted from the block's first line) and binary stretches. */
export type BlockHandler<T> = (
  buf: Buffer,
  to: number,
  ctx: Omit<BlockContext, 'pf' | 'threshold'>,
) => BlockResult<T> | Promise<BlockResult<T>>;

export interface TextOptions<T> {
  /** false: every line with a strong literal is a candidate's line, as Prefilter.find says (for tests that compare). */
  precise?: boolean;
  /** Handles each block (in a worker: src/scan/workers.ts); in this thread, giving candidates, by default. */
  handle?: BlockHandler<T>;
  /** How many blocks may be handled ahead of the one whose events are yielded. */
  ahead?: number;
  /**
   * Makes a buffer for blocks (a SharedArrayBuffer's, for workers); a few are made and used again
   * for block after block, a block's once its events were yielded and the next block is made.
   */
  alloc?: (size: number) => Buffer;
  /** Bytes read into a block before it is handled (4 MB; smaller in tests, to cut events at block edges). */
  block?: number;
}

/**
 * Reads one text input; yields the candidate events, reports what is wrong with it. An event that
 * is not failing and cannot reach `threshold` (the confidence that makes such an event an
 * incident, LOG_MIN_CONFIDENCE) by its literals is not yielded.
 */
export function textCandidates(
  chunks: AsyncIterable<Buffer>,
  file: string,
  pf: Prefilter,
  report: Report,
  threshold = 0.5,
  opts: Omit<TextOptions<Candidate>, 'handle'> & {
    /**
     * Makes the candidates of a block elsewhere (a worker thread: WorkerPool.events), prepared
     * (prepareEvent) and with their bytes as offsets in it; findLines and blockEvents here by default.
     */
    events?: (
      buf: Buffer,
      to: number,
      ctx: Omit<BlockContext, 'pf' | 'threshold'>,
    ) => Promise<BlockResult<SentCandidate>>;
  } = {},
): AsyncGenerator<Candidate> {
  const precise = opts.precise ?? true;
  const { events, ...rest } = opts;
  return textEvents<Candidate>(chunks, file, report, {
    ...rest,
    handle: (buf, to, ctx) =>
      events
        ? events(buf, to, ctx).then((r) => ({
            ...r,
            events: r.events.map(({ span, ...c }) =>
              span ? { ...c, bytes: buf.subarray(span[0], span[1]) } : c,
            ),
          }))
        : blockEvents(buf, to, findLines(pf.lines, buf, to, ctx.timestamped, precise), {
            ...ctx,
            pf,
            threshold,
          }),
  });
}

/**
 * Reads one text input in blocks cut at an event's start, handled by `opts.handle` (up to
 * `opts.ahead` at a time), and yields their events in input order; reports what is wrong with it.
 */
export async function* textEvents<T extends { place: Place }>(
  chunks: AsyncIterable<Buffer>,
  file: string,
  report: Report,
  opts: TextOptions<T> & Required<Pick<TextOptions<T>, 'handle'>>,
): AsyncGenerator<T> {
  let carry: Buffer = Buffer.alloc(0);
  /** Byte offset of carry[0] in the input. */
  let next = 0;
  /** The number of the line the next block to yield starts with. */
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

  // Blocks are made in a few buffers used again and again: a new one per block was garbage that the
  // collector (a worker's, for shared ones) freed late, and its pages were mapped anew each time.
  const make = opts.alloc ?? ((size: number) => Buffer.allocUnsafeSlow(size));
  const capacity = ((opts.block ?? BLOCK) * 3) >> 1;
  /** Whole buffers free to use. */
  const spare: Buffer[] = [];
  /** Buffers of blocks whose events were all yielded: free once what is carried over is copied. */
  const used: Buffer[] = [];

  /** The parts as one block, in a buffer of the pool (of opts.alloc's, when given). */
  function concat(parts: Buffer[]): Buffer {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const i = spare.findIndex((b) => b.length >= size);
    const out = (i >= 0 ? spare.splice(i, 1)[0]! : make(Math.max(size, capacity))).subarray(0, size);
    let at = 0;
    for (const p of parts) at += p.copy(out, at);
    // The blocks before this one are done with: what was carried over from them is copied.
    for (const b of used.splice(0)) if (spare.length < 4) spare.push(b);
    return out;
  }

  const jobs: { result: Promise<BlockResult<T>>; buf: Buffer }[] = [];

  /** The events of the oldest job, with their lines counted from the input's start. */
  async function* yieldOldest(): AsyncGenerator<T> {
    const job = jobs.shift()!;
    const { events, garbage: stretches, lines } = await job.result;
    const first = line;
    line += lines;
    for (const { start, end, line: at } of stretches) {
      if (garbage && start <= garbage.end + 1) garbage.end = Math.max(garbage.end, end);
      else {
        flushGarbage();
        garbage = { place: { file, line: first + at, offset: start }, start, end };
      }
    }
    for (const e of events) {
      e.place.line = first + (e.place.line ?? 0);
      yield e;
    }
    // Its events are used: its buffer may take another block once the next one is made.
    used.push(Buffer.from(job.buf.buffer, 0, job.buf.buffer.byteLength));
  }

  /** Takes the next chunks (and what was carried over) as one block, copied once, as a job. */
  async function* take(parts: Buffer[], eof: boolean): AsyncGenerator<T> {
    let buf = concat(carry.length ? [carry, ...parts] : parts);
    if (cut) buf = skipLong(buf);
    if (cut) return;
    let to = eof ? buf.length : buf.lastIndexOf(10) + 1;
    if (to === 0 && buf.length > MAX_LINE) {
      // One line longer than MAX_LINE so far: read its start, skip the rest as it comes. The jobs
      // before it are done first: its place needs their lines counted.
      while (jobs.length) yield* yieldOldest();
      cut = { place: { file, line, offset: next }, bytes: buf.length };
      timestamped ??= decideMode(buf, MAX_LINE);
      jobs.push({
        result: Promise.resolve(opts.handle(buf, MAX_LINE, { file, base: next, timestamped })),
        buf,
      });
      yield* yieldOldest();
      next += buf.length;
      carry = Buffer.alloc(0);
      return;
    }
    if (!eof && to > 0) {
      // Keep the last event for the next block: it may go on there.
      let tail = to;
      const stop = Math.max(0, to - MAX_EVENT_BYTES);
      do {
        tail = tail <= 1 ? 0 : buf.lastIndexOf(10, tail - 2) + 1;
        // Back over a run of empty lines byte by byte: none starts an event (a block ending in
        // 1 MB of them held each against startsEvent: 1.6 s CPU for a 10 MB file of newlines).
        while (tail > stop && buf[tail] === 10 && (tail === 1 || buf[tail - 2] === 10)) tail--;
      } while (tail > stop && !startsEvent(buf, tail, to, (timestamped ??= decideMode(buf, to))));
      if (tail > 0) to = tail;
      else if (buf.length < MAX_EVENT_BYTES) to = 0;
    }
    if (to > 0) {
      timestamped ??= decideMode(buf, to);
      jobs.push({ result: Promise.resolve(opts.handle(buf, to, { file, base: next, timestamped })), buf });
      // Up to `ahead` blocks are handled while the oldest one's events are yielded.
      while (jobs.length > (opts.ahead ?? 0)) yield* yieldOldest();
    }
    next += to;
    carry = buf.subarray(to);
  }

  const pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    pending.push(chunk);
    size += chunk.length;
    if (size < (opts.block ?? BLOCK)) continue;
    yield* take(pending.splice(0), false);
    size = 0;
  }
  yield* take(pending, true);
  while (jobs.length) yield* yieldOldest();
  if (cut) reportCut(cut);
  flushGarbage();
}
