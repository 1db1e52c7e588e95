// The scan pipeline: inputs → readers (text, MPL, HAR) → candidate events → the same matcher as
// `diagnose` → incidents → groups. Inputs stream through; memory holds one block and the groups.
import { utf16Sentence } from '../utf16.js';
import { diagnose } from '../diagnose/match.js';
import type { Kb } from '../kb/load.js';
import { eventText, keepsTime, keyOf, type Verdict, VerdictCache } from './cache.js';

export { keepsTime };
import { Grouper } from './group.js';
import type { Candidate, Incident, Prepared, Problem, Report } from './incident.js';
import { type Format, InputError, type Opened, openInput, packedSentence, sizeOf } from './input.js';
import { mask } from './mask.js';
import { recordCandidates } from './records.js';
import { buildPrefilter, type Prefilter, type Selection } from './prefilter.js';
import { describeEvent, textCandidates } from './text.js';
import { WorkerPool, workerCount } from './workers.js';

/**
 * How sure a diagnosis must be for an event that is not failing (an INFO line, a message that went
 * through) to count as an incident: the knowledge base is written for error texts, and its
 * context symptoms alone (a host on port 22, an OData adapter) are not a problem in a log.
 */
export const LOG_MIN_CONFIDENCE = 0.5;

export interface Progress {
  file: string;
  /** Bytes read from disk (compressed, for gzip files) and their total when known. */
  bytes: number;
  total?: number;
  incidents: number;
}

/** An input that is no file: a stream and the name its places and progress go by (a server's upload). */
export interface NamedInput {
  name: string;
  stream: NodeJS.ReadableStream;
}

export interface ScanOptions {
  /** Files to read; "-" is standard input. */
  files: string[];
  /** What "-" reads (or no `files`, without `inputs`). */
  stdin?: NodeJS.ReadableStream;
  /**
   * Inputs that are streams, scanned one after the other after `files` (none of which, not even
   * standard input, is read then): a form's files as its parser hands them over, each once the one
   * before it was scanned. What a scan leaves unread of a stream (an input it refuses after its first
   * bytes) the caller must drain before the next one can come.
   */
  inputs?: AsyncIterable<NamedInput>;
  /** The name standard input goes by in places and progress (an upload's file name); "-" by default. */
  stdinName?: string;
  format?: Format;
  /** Called for each incident, in input order; awaited, so a slow consumer slows the scan down. */
  onIncident?: (incident: Incident) => void | Promise<void>;
  onProgress?: (p: Progress) => void;
  /** Called for each problem with the input, as it is found. */
  onProblem?: Report;
  /**
   * false: diagnose every event itself, without the cache of verdicts, and take every line with a
   * strong literal as a candidate's line, in one thread (for tests that compare).
   */
  cache?: boolean;
  /**
   * true: the lines of a large text log are found by worker threads while this one classifies
   * (src/scan/workers.ts); a server's scans leave it unset and stay in their thread.
   */
  threads?: boolean;
  /** Bytes of a text log handled at a time (for tests that cut events at block edges). */
  blockBytes?: number;
  /**
   * The most bytes the inputs may give together once decompressed (a server's upload cap: a 1 MB
   * gzip can inflate to 1 GB). Past it the scan stops and rejects with DecompressedTooLarge;
   * unbounded when absent (the CLI: the user's own files, read as a stream).
   */
  maxDecompressedBytes?: number;
}

/** An input that decompressed to more than ScanOptions.maxDecompressedBytes: the scan stopped there. */
export class DecompressedTooLarge extends Error {
  override name = 'DecompressedTooLarge';
  constructor(
    /** The cap passed, in bytes. */
    readonly cap: number,
  ) {
    super(`the input decompresses to more than ${cap} bytes`);
  }
}

export interface ScanResult {
  files: number;
  /** Bytes read from disk, and after decompression. */
  bytes: number;
  grouper: Grouper;
  problems: number;
  /** Inputs that could not be read at all. */
  unreadable: number;
  /** Inputs that end or break where they should not (a truncated export): read only in part. */
  incomplete?: number;
  seconds: number;
  prefilter: Pick<Prefilter, 'entries' | 'literals' | 'notes'>;
  /** Events whose verdict came from the cache (hits) and those diagnosed (misses); absent without the cache. */
  verdicts?: { hits: number; misses: number };
  /** Worker threads that found the lines of text logs (absent or 0: all in this thread). */
  workers?: number;
  /** What was read, when it was not files: replaces the report's "Scanned N inputs, MB" line. */
  source?: string;
}

/**
 * The verdict of a failing event that no entry of the knowledge base can diagnose: unknown. One
 * object for all of them, in the cache of verdicts and in their incidents (a log of distinct
 * unknown errors kept a new one per line in the cache).
 */
const UNKNOWN: Verdict = { also: [], facts: {} };

/**
 * The literals a scan of a text log with `kb` looks for to find incidents (Prefilter.strongLiterals):
 * plain text, case aside; a line that holds none of them is no incident's line.
 */
export function strongLiterals(kb: Kb): string[] {
  return buildPrefilter(kb, LOG_MIN_CONFIDENCE).strongLiterals();
}

/** What the knowledge base says of a candidate, given its selection: null when it is no incident. */
function judge(c: Candidate, { kb, best }: Selection): Verdict {
  // Diagnosing costs far more than selecting: only when a diagnosis could make or explain an incident.
  const worth = kb.entries.length > 0 && (c.failing !== undefined || best >= LOG_MIN_CONFIDENCE);
  if (!worth) return c.failing ? UNKNOWN : null;
  const result = diagnose(kb, { text: c.text });
  const top = result.diagnoses[0];
  if (!c.failing && !(top && top.confidence >= LOG_MIN_CONFIDENCE)) return null;
  // The cache keeps a verdict per failure seen (thousands at 1 GB): only what an incident shows.
  return {
    ...(top
      ? {
          top: {
            id: top.id,
            title: top.title,
            direction: top.direction,
            confidence: top.confidence,
            ...(top.cause ? { cause: top.cause } : {}),
          },
        }
      : {}),
    also: result.diagnoses.slice(1).map((d) => d.id),
    facts: result.facts,
  };
}

/**
 * Holds a candidate against the knowledge base: an incident, or null when it is none. The event is
 * judged by its text without times, threads and ids (eventText), with or without a `cache`: an
 * event whose key was seen before takes that event's verdict, which is the verdict it would get.
 */
export function classify(c: Candidate, pf: Prefilter, cache?: VerdictCache): Incident | null {
  const bytes = c.bytes ?? Buffer.from(c.text);
  // An event that is not failing needs an entry that can reach LOG_MIN_CONFIDENCE: most
  // candidates of a log are told apart here, with few patterns run and no key made. (Its judged
  // text holds no literal its own text does not: an event set aside here would be judged no incident.)
  const selection = c.failing === undefined ? pf.select(bytes, c.text, LOG_MIN_CONFIDENCE) : undefined;
  if (selection && selection.best < LOG_MIN_CONFIDENCE) return null;
  const prepared = c.message === undefined ? c.prepared : undefined;
  const text = prepared?.judged ?? eventText(c.text, keepsTime(pf, bytes));
  const key = cache ? keyOf(text, c.failing) : undefined;
  let verdict = key === undefined ? undefined : cache!.get(key);
  if (verdict === undefined) {
    const same = text === c.text;
    verdict = judge({ ...c, text }, (same && selection) || pf.select(same ? bytes : Buffer.from(text), text));
    if (key !== undefined) cache!.set(key, verdict);
  }
  if (!verdict) return null;
  const described: Prepared['described'] =
    c.message === undefined ? (prepared?.described ?? describeEvent(c.text)) : { message: c.message };
  // Made field by field, without the candidate's bytes and what was prepared: a rest pattern that
  // left those out (`{ bytes, prepared, ...rest }`) and two spreads took 5-8 µs an incident, a tenth
  // of a log of distinct unknown errors (attack S12).
  const inc: Incident = {
    text: c.text,
    place: c.place,
    message: described.message,
    also: verdict.also,
    facts: verdict.facts,
    masked: prepared?.masked ?? mask(described.message),
  };
  const time = described.time ?? c.time;
  const at = described.at ?? c.at;
  if (time !== undefined) inc.time = time;
  if (at !== undefined) inc.at = at;
  if (c.failing !== undefined) inc.failing = c.failing;
  if (c.host !== undefined) inc.host = c.host;
  if (c.iflow !== undefined) inc.iflow = c.iflow;
  if (c.messageGuid !== undefined) inc.messageGuid = c.messageGuid;
  if (verdict.top) inc.diagnosis = verdict.top;
  return inc;
}

/**
 * The fields of a Candidate that classify copies into its incident (or leaves out: bytes, prepared):
 * a field added to Candidate and not to classify does not compile here.
 */
const _everyField: Record<
  Exclude<
    keyof Candidate,
    | 'text'
    | 'place'
    | 'message'
    | 'time'
    | 'at'
    | 'failing'
    | 'host'
    | 'iflow'
    | 'messageGuid'
    | 'bytes'
    | 'prepared'
  >,
  never
> = {};

export async function scan(kb: Kb, opts: ScanOptions): Promise<ScanResult> {
  const started = performance.now();
  const pf = buildPrefilter(kb, LOG_MIN_CONFIDENCE);
  const cache = opts.cache === false ? undefined : new VerdictCache();
  const grouper = new Grouper();
  const files = opts.files.length ? opts.files : opts.inputs ? [] : ['-'];
  let problems = 0;
  let unreadable = 0;
  let incomplete = 0;
  let bytes = 0;
  let decoded = 0;
  const report: Report = (p: Problem) => {
    problems++;
    if (p.incomplete) incomplete++;
    opts.onProblem?.(p);
  };
  const sizes = await Promise.all(files.map((f) => sizeOf(f).catch(() => undefined)));
  const known = sizes.every((s) => s !== undefined);
  const total = known ? sizes.reduce<number>((a, s) => a + s!, 0) : undefined;
  const progress = (file: string) =>
    opts.onProgress?.({
      file,
      bytes,
      ...(total !== undefined ? { total } : {}),
      incidents: grouper.incidents,
    });

  const workers = opts.cache === false || !opts.threads ? 0 : workerCount(total);
  let pool: WorkerPool | undefined;
  let inputs = files.length;
  try {
    for (const file of files) await scanFile(file);
    if (opts.inputs)
      for await (const input of opts.inputs) {
        inputs++;
        await scanFile('-', input);
      }
  } finally {
    await pool?.close();
  }
  const verdicts = cache && { hits: cache.hits, misses: cache.misses };

  async function scanFile(file: string, stream?: NamedInput): Promise<void> {
    const name = stream?.name ?? (file === '-' ? (opts.stdinName ?? '-') : file);
    let opened: Opened | undefined;
    try {
      await sizeOf(file);
      const cap = opts.maxDecompressedBytes;
      const input = (opened = await openInput(
        file,
        stream?.stream ?? opts.stdin ?? process.stdin,
        (n) => {
          bytes += n;
          progress(name);
        },
        cap !== undefined ? { maxInflated: cap - decoded } : {},
      ));
      // UTF-16 with a byte order mark was read as UTF-8 (openInput); without one it is named.
      if (input.sniffed.startsWith('utf16') && !opts.format)
        throw new InputError(utf16Sentence(input.sniffed as 'utf16'));
      if (
        (input.sniffed === 'zip' ||
          input.sniffed === 'bzip2' ||
          input.sniffed === 'xz' ||
          input.sniffed === 'zstd') &&
        !opts.format
      )
        throw new InputError(packedSentence(input.sniffed, name));
      if (input.sniffed === 'binary' && !opts.format)
        throw new InputError('is neither a text log, a JSON export nor gzip data: skipped');
      if (input.sniffed === 'html' && !opts.format)
        throw new InputError(
          `is an HTML page${input.title ? ` ("${input.title}")` : ''}, not a log or an export (a login page saved instead of the API's answer?): nothing was scanned`,
        );
      if (input.sniffed === 'json' && !opts.format)
        throw new InputError(
          'is JSON but neither a message processing log export (d.results, MessageGuid) nor a HAR file: nothing was scanned (--format text reads it as a text log)',
        );
      const format = opts.format ?? (input.sniffed as Format);
      const start = decoded;
      // The bound bites when the inflater ahead of the scan passes it, or the scan itself does.
      const past = () => cap !== undefined && (decoded > cap || input.inflatesPast?.() === true);
      async function* counted(): AsyncGenerator<Buffer> {
        for await (const chunk of input.chunks) {
          decoded += chunk.length;
          if (past()) throw new DecompressedTooLarge(cap!);
          yield chunk;
        }
        if (past()) throw new DecompressedTooLarge(cap!);
      }
      if (format === 'text' && workers > 0)
        pool ??= new WorkerPool(workers, pf.linesSpec, LOG_MIN_CONFIDENCE);
      async function* incidents(): AsyncGenerator<Incident> {
        const candidates =
          format === 'text'
            ? textCandidates(counted(), name, pf, report, LOG_MIN_CONFIDENCE, {
                precise: opts.cache !== false,
                ...(opts.blockBytes ? { block: opts.blockBytes } : {}),
                // Events made and prepared by the workers, classified here, in input order.
                ...(pool ? { events: pool.events, ahead: pool.ahead, alloc: pool.alloc } : {}),
              })
            : recordCandidates(counted(), name, format, report);
        for await (const c of candidates) {
          const incident = classify(c, pf, cache);
          if (incident) yield incident;
        }
      }
      let damage: string | undefined;
      try {
        for await (const incident of incidents()) {
          grouper.add(incident);
          await opts.onIncident?.(incident);
        }
        damage = input.damage?.();
      } catch (e) {
        if (e instanceof DecompressedTooLarge) throw e;
        // A read error or corrupt gzip data: what was read until then counts.
        report({
          place: { file: name, offset: decoded - start },
          message: `${input.gzip ? 'gzip data is damaged' : 'reading stopped'} (${(e as Error).message}): the rest is not scanned`,
        });
      }
      // A gzip input cut off or damaged: what was decompressed before it was scanned, the result is
      // partial; when nothing was, the input could not be read at all.
      if (damage) {
        const read = decoded - start;
        if (!read) throw new InputError(`${damage}: nothing could be decompressed`);
        report({
          place: { file: name, offset: read },
          message: `${damage}: the ${read} bytes decompressed before it were scanned, the rest is missing`,
          incomplete: true,
        });
      }
    } catch (e) {
      if (!(e instanceof InputError) && !(e as NodeJS.ErrnoException).code) throw e;
      unreadable++;
      report({
        place: { file: name },
        message: e instanceof InputError ? e.message : `cannot read it (${(e as Error).message})`,
      });
    } finally {
      opened?.close();
    }
  }
  return {
    files: inputs,
    bytes: decoded,
    grouper,
    problems,
    unreadable,
    incomplete,
    seconds: (performance.now() - started) / 1000,
    prefilter: { entries: pf.entries, literals: pf.literals, notes: pf.notes },
    workers: pool ? workers : 0,
    ...(verdicts ? { verdicts } : {}),
  };
}
