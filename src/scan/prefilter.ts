// The prefilter: which events of a large input can be incidents at all, and which entries of the
// knowledge base can match each of them, found with one pass over the bytes whatever the size of
// the knowledge base. Built from the loaded entries' own symptoms, so a user's --kb entries count.
//
// It never loses a diagnosis. The matcher (src/diagnose/match.ts) reports an entry only when its
// matching symptoms combine to MIN_CONFIDENCE, and `against` and direction only ever lower that;
// so an event needs one of the symptoms that are not too weak to get there together ("triggers"),
// and every match of a symptom contains one of its required literals (literals.ts).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CUES } from '../diagnose/cues.js';
import { statusesIn } from '../diagnose/signals.js';
import { MIN_CONFIDENCE, removeCsi } from '../diagnose/match.js';
import type { CompiledEntry, CompiledSymptom, Kb } from '../kb/load.js';
import type { SIGNAL_TYPES } from '../types.js';
import { BOUNDARY, requiredLiterals } from '../kb/literals.js';
import { EXACT_CASE, MultiMatcher } from './multimatch.js';

/** Log levels that make an event an incident whatever its text. */
export const ERROR_LEVELS = [
  'error',
  'err',
  'severe',
  'fatal',
  'crit',
  'critical',
  'alert',
  'emerg',
  'panic',
];
/** Words that make an event a candidate whatever the knowledge base holds. */
const FAILURE_WORDS = [...ERROR_LEVELS, 'exception', 'caused by'];

/**
 * Text that every signal of a type read from text contains, as a pattern (after the readers of
 * src/diagnose/signals.ts and cues.ts); null for the types only probes report. A test holds the
 * knowledge base's own examples against this, so that a reader that changes is noticed.
 */
const SIGNAL_TEXT: Record<keyof typeof SIGNAL_TYPES, string | null> = {
  'http.status': null, // by its codes, see statusTrigger
  'http.method': '\\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\\b',
  exception: 'Exception|Error|Fault',
  'icm.code': 'ICM_HTTP_',
  'icm.rc': 'NIE[A-Z]|connect to \\S+ failed',
  'ssl.error': 'SSSLERR_',
  'ni.error': '\\bNIE[A-Z]',
  'tls.alert': 'alert',
  'tls.code':
    'UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO|CERT_HAS_EXPIRED|CERT_NOT_YET|ERR_TLS_|ERR_SSL_|ERR_CERT_',
  errno:
    '\\bE(?:CONNREFUSED|CONNRESET|TIMEDOUT|SOCKETTIMEDOUT|NOTFOUND|HOSTUNREACH|NETUNREACH|PIPE|PROTO|AI_AGAIN|CONNABORTED|AUTH)\\b',
  marker: '\\]\\[',
  url: '://',
  host: '[a-z0-9]\\.[a-z0-9]|\\b(?:host|connect)',
  port: ':\\d|\\bport',
  'cert.subject': 'subject|owner|depth=0',
  'cert.issuer': 'issuer|issued by',
  reporter: null, // by the cues that name a reporter
  direction: null, // by the cues that say a direction
  'http.location': 'location',
  'http.page': null,
  'net.error': null,
  'tls.verdict': null,
  'http.csrf': null,
  'http.auth': null,
  'http.credentials': null,
  'http.redirect': null,
  'http.withheld': null,
  'tls.expired': null,
  'tls.versions': null,
  'probe.status': null, // only a probe observes it
  'ssh.hostkey': null,
  'ssh.auth': null,
  'ssh.algorithms': null,
  'smtp.port': null,
  'smtp.starttls': null,
  'smtp.auth': null,
  'http.endpoint': null, // only probe --tenant observes it
  'net.protocol': null,
};

/**
 * Reason phrases the status reader takes as a status without its code (signals.ts, context
 * `reason`), as literals; those it reads capitalised only are matched in case (EXACT_CASE).
 */
const REASON_ALONE: Record<number, string[]> = {
  401: ['unauthori', 'unathorized'],
  403: ['forbidden'],
  404: [`${EXACT_CASE}Found`],
  407: ['authentication'],
  411: ['required'],
  502: [`${EXACT_CASE}Gateway`],
  503: ['unavailable'],
  504: [`${EXACT_CASE}Gateway`],
};

/** Value types whose value is a verbatim piece of the text (case aside). */
const VERBATIM = new Set([
  'exception',
  'icm.code',
  'ssl.error',
  'ni.error',
  'tls.code',
  'errno',
  'marker',
  'url',
  'http.method',
  'cert.subject',
  'cert.issuer',
  'host',
  'port',
]);

/** How a symptom shows in text: literals, a pattern without usable literals, or not at all (null). */
type Trigger = { literals: string[] } | { pattern: string } | null;

function fromPattern(source: string, minLength = 3): Trigger {
  const literals = requiredLiterals(source, minLength);
  return literals ? { literals } : { pattern: source };
}

function statusTrigger(s: CompiledSymptom): Trigger {
  const literals: string[] = [];
  for (let c = 100; c < 600; c++)
    if (!s.valueRe || s.valueRe.test(String(c)))
      literals.push(`${BOUNDARY}${c}${BOUNDARY}`, ...(REASON_ALONE[c] ?? []));
  return { literals: [...new Set(literals)] };
}

function cueTrigger(s: CompiledSymptom, field: 'reporter' | 'direction'): Trigger {
  const cues = CUES.filter((c) => c[field] !== undefined && (!s.valueRe || s.valueRe.test(c[field]!)));
  return cues.length ? fromPattern(cues.map((c) => `(?:${c.re.source})`).join('|')) : null;
}

/**
 * Triggers worked out before, by symptom (triggerKey), kept in the user's cache folder: working them
 * out parses every pattern of the knowledge base (requiredLiterals), which every scan's start, and
 * every worker's, would otherwise pay for. Bump TRIGGERS_VERSION when triggerOf's results change;
 * the reader's cue patterns, which cue triggers come from, are part of the version.
 */
const TRIGGERS_VERSION = '2';
const MAX_CACHED_TRIGGERS = 50_000;

/** The user's cache folder of linkdoctor (XDG_CACHE_HOME, else ~/.cache). */
function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'linkdoctor');
}

function triggersFile(): string {
  return join(cacheDir(), 'scan-triggers.json');
}

function triggersVersion(): string {
  return createHash('sha1')
    .update(TRIGGERS_VERSION)
    .update(
      JSON.stringify([SIGNAL_TEXT, REASON_ALONE, CUES.map((c) => [c.re.source, c.reporter, c.direction])]),
    )
    .digest('hex');
}

function triggerKey(s: CompiledSymptom): string {
  return JSON.stringify([
    s.pattern ?? null,
    s.signalType ?? null,
    s.value ?? null,
    s.valueRe?.source ?? null,
  ]);
}

/** The cached triggers, and a function that saves them when some were added (in the background). */
function cachedTriggers(): { get: (s: CompiledSymptom) => Trigger; save: () => void } {
  const version = triggersVersion();
  let known: Record<string, Trigger> = {};
  try {
    const file = JSON.parse(readFileSync(triggersFile(), 'latin1')) as {
      version: string;
      triggers: Record<string, Trigger>;
    };
    if (file.version === version) known = file.triggers;
  } catch {
    // none yet, or unreadable: worked out again
  }
  let added = 0;
  return {
    get(s) {
      const key = triggerKey(s);
      if (Object.hasOwn(known, key)) return known[key]!;
      added++;
      return (known[key] = triggerOf(s));
    },
    save() {
      if (!added) return;
      if (Object.keys(known).length > MAX_CACHED_TRIGGERS) known = {};
      const file = triggersFile();
      import('../fs-write.js')
        .then(async ({ writeFileAtomic }) => {
          mkdirSync(dirname(file), { recursive: true });
          await writeFileAtomic(
            file,
            JSON.stringify({ version, triggers: known }).replace(
              /[\u007f-\uffff]/g,
              (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
            ),
            { mode: 0o644 },
          );
        })
        .catch(() => {
          // a read-only home still scans, only without the cache
        });
    },
  };
}

export function triggerOf(s: CompiledSymptom): Trigger {
  if (s.pattern !== undefined) return fromPattern(s.pattern);
  const type = s.signalType as keyof typeof SIGNAL_TYPES;
  if (type === 'http.status') return statusTrigger(s);
  if (type === 'reporter' || type === 'direction') return cueTrigger(s, type);
  const text = SIGNAL_TEXT[type];
  if (!text) return null;
  // The tls.alert reader writes "unknown ca" as unknown_ca.
  const value =
    type === 'tls.alert' ? s.value?.replaceAll('_', '[_ ]') : VERBATIM.has(type) ? s.value : undefined;
  const literals = value === undefined ? null : requiredLiterals(value);
  return literals ? { literals } : fromPattern(text, 2);
}

/** How selective a trigger is: its shortest literal (a pattern without literals: 0). */
function selectivity(t: NonNullable<Trigger>): number {
  if ('pattern' in t) return 0;
  return Math.min(...t.literals.map((l) => l.replaceAll(BOUNDARY, '').replaceAll(EXACT_CASE, '').length));
}

interface Symptom {
  /** Index of its entry, and among the entry's symptoms. */
  entry: number;
  symptom: number;
  /** Index among all symptoms of the knowledge base. */
  index: number;
  weight: number;
  trigger: NonNullable<Trigger>;
  /** Whether the symptom may hold in a text, given the literals found in it. */
  test?: RegExp;
  /** A status symptom: the codes it wants (the reader's statuses of the text must include one). */
  status?: RegExp;
}

/**
 * The symptoms to look for so that no set of matching symptoms worth `threshold` goes unseen:
 * all but the least selective ones whose weights together stay under it.
 */
function triggers(symptoms: Symptom[], threshold: number): Symptom[] {
  const order = [...symptoms].sort(
    (a, b) => selectivity(a.trigger) - selectivity(b.trigger) || a.weight - b.weight,
  );
  let none = 1;
  let skip = 0;
  for (const s of order) {
    none *= 1 - s.weight;
    if (1 - none >= threshold - 1e-9) break;
    skip++;
  }
  return order.slice(skip);
}

export interface Selection {
  /** The entries that can match: diagnosing with them gives the same diagnoses as with all. */
  kb: Kb;
  /** An upper bound of the best confidence any entry can reach on the text. */
  best: number;
}

export interface Prefilter {
  /**
   * Calls `onHit` where an incident may be in raw bytes (an error word, a strong symptom); it
   * returns where to search on, or -1 to stop.
   */
  find(buf: Uint8Array, from: number, to: number, onHit: (start: number) => number): void;
  /**
   * The lines of buf[from, to) (from: a line start) where an incident may be, for the hot loop of a
   * text scan: pushes each one's start and number (0-based, counted from `from`) to `hits`, returns
   * the number of newlines in the range. With `precise`, a line whose only strong literals belong to
   * patterns that do not hold on it is left out: a pattern that may span lines only
   * when the line is an event of its own (`isHead`: whether a line starts an event). Without, every
   * line with a strong literal is a hit, as `find` says.
   */
  lines(
    buf: Buffer,
    from: number,
    to: number,
    hits: number[],
    precise: boolean,
    isHead?: (p: number) => boolean,
  ): number;
  /** What `lines` is made of, for a worker thread to make the same (linesOf). */
  linesSpec: LinesSpec;
  /** Strong symptoms without a literal to look for: run over the text itself (slower; see `notes`). */
  findPatterns: RegExp[];
  entries: number;
  /** Number of literals looked for. */
  literals: number;
  /**
   * The strong literals as plain text (without the automaton's word-boundary and exact-case marks,
   * each once): a line that holds none of them, in any case, is no incident's line. What `grep -F -i`
   * would have to look for to find every incident a scan finds (bench/scan.bench.mjs).
   */
  strongLiterals(): string[];
  /** What a user should know: the patterns that slow a scan down. */
  notes: string[];
  /**
   * The entries that can match an event, and how sure the best of them can be. With `need`: when
   * no entry can reach it, no entry and a `best` below it, found with as few patterns run as can be
   * (an event that is not failing needs LOG_MIN_CONFIDENCE to be an incident).
   */
  select(bytes: Uint8Array, text: string, need?: number): Selection;
  /**
   * An upper bound of `select`'s `best` for the event in bytes[from, to), from its literals alone:
   * no pattern is run and nothing is allocated. Most candidates of a log are lines with a literal
   * that cannot make an incident on its own; this tells them apart at the cost of one pass.
   */
  bound(bytes: Uint8Array, from?: number, to?: number): number;
  /**
   * Whether a symptom may read bytes[0, end): a literal of the knowledge base starts there (a port
   * pattern `:22` reads a time's seconds "10:00:22"). A status code's literal (",403" in a time's
   * milliseconds) means that only when the status reader reads something there: `statusReads` says
   * whether it does (without it, it is taken to).
   */
  readsBefore(bytes: Uint8Array, end: number, statusReads?: () => boolean): boolean;
}

/**
 * Whether a pattern (JavaScript syntax, flag i only) can match only within one line, so that
 * testing it on each line of a text says whether it holds on the text: nothing in it can match a
 * newline (`.` cannot; `\s`, `\W`, `\D` and a negated class without `\n` or `\s` can). Conservative:
 * an escape that might stand for a newline (`\x`, `\u`, `\c`, octal) is taken to.
 */
export function singleLine(source: string): boolean {
  if (/[\n\u2028\u2029]/.test(source)) return false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      if (/[sWDnxuc0-9]/.test(source[i + 1] ?? '')) return false;
      i++;
    } else if (c === '[') {
      const negated = source[i + 1] === '^';
      let body = '';
      for (i += negated ? 2 : 1; i < source.length && source[i] !== ']'; i++) {
        if (source[i] === '\\') body += source[i++];
        body += source[i];
      }
      if (negated ? !/\\[ns]/.test(body) : /\\[sWDnxuc0-9]/.test(body)) return false;
    }
  }
  return true;
}

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;

/**
 * Whether the digits buf[start, end) lie in the fraction of a clock time on the line from
 * `lineStart` ("10:00:01,403 ERROR"), as TIME_FRACTION of diagnose/signals.ts finds it (up to nine
 * fraction digits, not after a digit or `:`): the status reader reads those as zeros
 * (maskTimeFractions), so a status code's literal there is no status. Only where the line up to them
 * holds no ESC (a colour removed before the hour could join it to a digit). Nothing is allocated.
 */
export function inTimeFraction(
  buf: Uint8Array,
  lineStart: number,
  start: number,
  end: number,
  to: number,
): boolean {
  for (let i = start; i < end; i++) if (!isDigit(buf[i])) return false;
  let f = start;
  while (f > lineStart && isDigit(buf[f - 1])) f--;
  let e = end;
  while (e < to && isDigit(buf[e])) e++;
  // hh:mm:ss (the hour of one or two digits) and `.` or `,` before the fraction.
  const p = f - 1;
  if (e - f > 9 || p - 7 < lineStart || (buf[p] !== 0x2c && buf[p] !== 0x2e)) return false;
  if (!isDigit(buf[p - 1]) || !isDigit(buf[p - 2]) || buf[p - 3] !== 0x3a) return false;
  if (!isDigit(buf[p - 4]) || !isDigit(buf[p - 5]) || buf[p - 6] !== 0x3a || !isDigit(buf[p - 7]))
    return false;
  let h = p - 7;
  if (h > lineStart && isDigit(buf[h - 1])) h--;
  if (h > lineStart && (isDigit(buf[h - 1]) || buf[h - 1] === 0x3a)) return false;
  for (let i = lineStart; i < h; i++) if (buf[i] === 0x1b) return false;
  return true;
}

/**
 * The start of the first line at or after `p` (a line start) that holds more than spaces, tabs, CR,
 * VT and FF, or `to`: the lines before it are blank, and an event's text ends without them
 * (trimEnd). Nothing is allocated.
 */
export function pastBlankLines(buf: Uint8Array, p: number, to: number): number {
  let line = p;
  for (let i = p; i < to; i++) {
    const b = buf[i]!;
    if (b === 0x0a) line = i + 1;
    else if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0b && b !== 0x0c) return line;
  }
  return to;
}

/** What latin1 does not decode as UTF-8 would, and control bytes (a line of binary data is reported). */
const NOT_PLAIN = /[^\t\f\r\x20-\x7e]/;

/**
 * What a strong literal needs to mean something on its line: null when it means something wherever
 * it is (an error word, a signal such as an errno); else the patterns of its strong symptoms and the
 * statuses its status symptoms want (the status reader must read one of them on the line: a time's
 * milliseconds ",403" are no status), one of which must hold, and whether one of them may span
 * lines (then only a line that is an event of its own is told apart; the status reader's counts as
 * spanning).
 */
/** A strong literal's check: its patterns (indexes into LinesSpec.patterns), its status codes', and its index. */
type LineCheck = { patterns: number[]; statuses: RegExp[]; spanning: boolean; index: number } | null;

/** Marks a check that is a status symptom's codes (the source of its valueRe) among LinesSpec.patterns. */
const STATUS_CHECK = '\u0003';

/**
 * What Prefilter.lines needs, as plain data a worker thread can be given (structured-clone safe):
 * every literal (as MultiMatcher takes them), the patterns of the strong ones' checks, and per
 * literal its check: `undefined` for a weak literal, null for one that means something anywhere,
 * else the indexes of its patterns; `dir`, the cache folder the automaton is saved in.
 */
export interface LinesSpec {
  literals: string[];
  patterns: string[];
  checks: (number[] | null | undefined)[];
  dir: string;
  /**
   * What Prefilter.bound and readsBefore read, for a worker to make them (eventChecksOf): per
   * literal the symptoms it stands for (indexes into `weights` and `entryOf`, in the order found),
   * the symptoms without a literal (counted as if they held), per literal whether only status
   * symptoms stand for it, the longest literal's length and the number of entries.
   */
  literalSymptoms: number[][];
  unfiltered: number[];
  weights: number[];
  entryOf: number[];
  statusOnly: number[];
  longest: number;
  entries: number;
  /** Strong symptoms' patterns without a literal (Prefilter.findPatterns, as sources). */
  findPatterns: string[];
}

/** The parts of a prefilter a worker thread makes from a LinesSpec: what finds and tells apart events. */
export type EventChecks = Pick<Prefilter, 'bound' | 'readsBefore'>;

/**
 * Prefilter.bound and Prefilter.readsBefore from what the spec says of the literals (in a worker
 * thread, or in the prefilter itself with its own matcher): nothing is allocated per call.
 */
export function eventChecksOf(spec: LinesSpec, matcher: () => MultiMatcher): EventChecks {
  const { literalSymptoms, unfiltered, weights, entryOf, statusOnly, longest } = spec;
  // bound(): the symptoms seen in this call (by a stamp, so that nothing is cleared or allocated per
  // call) and, per entry touched, the product of (1 - weight) of its symptoms seen.
  const seen = new Uint32Array(weights.length);
  const entrySeen = new Uint32Array(spec.entries);
  const none = new Float64Array(spec.entries);
  const touched: number[] = [];
  let stamp = 0;
  const touch = (s: number) => {
    if (seen[s] === stamp) return;
    seen[s] = stamp;
    const e = entryOf[s]!;
    if (entrySeen[e] !== stamp) {
      entrySeen[e] = stamp;
      none[e] = 1;
      touched.push(e);
    }
    none[e]! *= 1 - weights[s]!;
  };
  const onBoundHit = (_start: number, id: number, end: number) => {
    for (const s of literalSymptoms[id]!) touch(s);
    return end;
  };
  return {
    readsBefore(bytes, end, statusReads) {
      let reads = false;
      let status = false;
      // Literals that start in it and end after it count too: found in order of their ends, every
      // one that starts before `end` ends before end + longest.
      matcher().scan(bytes, 0, Math.min(bytes.length, end + longest), (start, id, stop) => {
        if (start >= end) return stop;
        if (statusOnly[id]) status = true;
        else reads = true;
        return reads ? -1 : stop;
      });
      return reads || (status && (statusReads?.() ?? true));
    },
    bound(bytes, from = 0, to = bytes.length) {
      if (++stamp === 0xffffffff) {
        seen.fill(0);
        entrySeen.fill(0);
        stamp = 1;
      }
      touched.length = 0;
      // A pattern without literals may hold: counted as if it did.
      for (const u of unfiltered) touch(u);
      matcher().scan(bytes, from, to, onBoundHit);
      let best = 0;
      for (const e of touched) best = Math.max(best, 1 - none[e]!);
      return best;
    },
  };
}

/** The matcher of a spec's literals that reports its strong ones to scanLines (read from its cache folder). */
export function linesMatcher(spec: LinesSpec): () => MultiMatcher {
  let own: MultiMatcher | undefined;
  return () => {
    if (own) return own;
    own = MultiMatcher.cached(spec.literals, true, spec.dir);
    own.reportLines((id) => spec.checks[id] !== undefined);
    return own;
  };
}

/**
 * Prefilter.lines from its spec (in a worker thread, or in the prefilter itself with its own
 * matcher): the automaton reports the strong literals only.
 */
export function linesOf(spec: LinesSpec, shared?: () => MultiMatcher): Prefilter['lines'] {
  const matcher = shared ?? linesMatcher(spec);
  const regexes = spec.patterns.map((p) =>
    p.startsWith(STATUS_CHECK) ? new RegExp(p.slice(1)) : new RegExp(p, 'i'),
  );
  const status = spec.patterns.map((p) => p.startsWith(STATUS_CHECK));
  const spans = spec.patterns.map((p, i) => status[i] || !singleLine(p));
  const checks = spec.checks.map((c, index): LineCheck | undefined =>
    c
      ? {
          patterns: c.filter((i) => !status[i]),
          statuses: c.filter((i) => status[i]).map((i) => regexes[i]!),
          spanning: c.some((i) => spans[i]),
          index,
        }
      : c,
  );
  // What is known of the line last read, by a stamp per line (nothing cleared or allocated per
  // line: with a Map and a Set cleared per line, `holds` was 7% of a scan's profile, and a scan of
  // 8 MB of the bench log took 2% more instructions): whether each pattern holds on it, which
  // checks failed there.
  const heldOn = new Int32Array(regexes.length);
  const heldValue = new Uint8Array(regexes.length);
  const failedOn = new Int32Array(checks.length);
  let stamp = 0;
  return (buf, from, to, hits, precise, isHead) => {
    // The line last read: a line often holds several strong literals ("connectivity.Tunnel").
    let at = -1;
    let nl = 0;
    let text = '';
    let statuses: string[] | undefined;
    // What is known of that line, each worked out once: whether a pattern holds, which checks
    // failed, whether it is plain and an event of its own. A line with N literals was otherwise
    // held N times against the same patterns over its whole length (quadratic: a 4 MB line of
    // "certificate ====" had not been scanned after 120 s).
    let notPlain: boolean | undefined;
    let isolated: boolean | undefined;
    // Whether the line before `p` ends its event: what follows it up to the next event is blank
    // lines at most (the event's text, trimmed, is the line's).
    const endsEvent = (p: number) => {
      const next = pastBlankLines(buf, p, to);
      return next >= to || isHead!(next);
    };
    const holds = (i: number) => {
      if (heldOn[i] === stamp) return heldValue[i] === 1;
      heldOn[i] = stamp;
      const h = regexes[i]!.test(text);
      heldValue[i] = h ? 1 : 0;
      return h;
    };
    return matcher().scanLines(buf, from, to, (lineStart, line, start, id, end) => {
      const check = checks[id];
      if (check === undefined) return false;
      if (precise && check) {
        // A status code's literal in a time's milliseconds (",403") is no status: this hit says
        // nothing, without the line's text and its statuses read (another status on the line is a
        // literal of its own).
        if (!check.patterns.length && inTimeFraction(buf, lineStart, start, end, to)) return false;
        if (at !== lineStart) {
          at = lineStart;
          nl = buf.indexOf(10, lineStart);
          if (nl < 0 || nl > to) nl = to;
          // As the event's text would end, were it this line alone; a coloured line as it reads
          // without its colours (its event's text is read so: text.ts, candidate).
          text = buf.toString('latin1', lineStart, nl).trimEnd();
          if (text.includes('\x1b')) text = removeCsi(text);
          statuses = undefined;
          if (++stamp === 0x7fffffff) {
            heldOn.fill(0);
            failedOn.fill(0);
            stamp = 1;
          }
          notPlain = undefined;
          isolated = undefined;
        }
        if (failedOn[check.index] === stamp) return false;
        if (
          !check.patterns.some(holds) &&
          !check.statuses.some((re) => (statuses ??= statusesIn(text)).some((c) => re.test(c))) &&
          // Not plain ASCII: latin1 is not what the matcher reads (UTF-8), so no telling here.
          !(notPlain ??= NOT_PLAIN.test(text)) &&
          (!check.spanning || (isolated ??= isHead !== undefined && isHead(lineStart) && endsEvent(nl + 1)))
        ) {
          failedOn[check.index] = stamp;
          return false;
        }
      }
      hits.push(lineStart, line);
      return true;
    });
  };
}

/**
 * `logConfidence`: how sure a diagnosis must be for an event that is not failing (an INFO line,
 * say) to count as an incident; events are found by the symptoms that can reach it.
 */
export function buildPrefilter(kb: Kb, logConfidence: number): Prefilter {
  /**
   * Each literal: the symptoms it stands for, whether finding it makes a candidate, and the patterns
   * of its strong symptoms that must hold on its line (null: it means something anywhere).
   */
  const literals = new Map<string, { symptoms: Symptom[]; strong: boolean; checks: string[] | null }>();
  /** `pattern`: what must hold on the line for the literal to mean something (a status symptom: its codes). */
  const add = (literal: string, symptom: Symptom | null, strong: boolean, pattern?: string) => {
    const l = literals.get(literal) ?? { symptoms: [], strong: false, checks: [] };
    if (symptom) l.symptoms.push(symptom);
    if (strong) {
      l.strong = true;
      if (pattern === undefined) l.checks = null;
      else l.checks?.push(pattern);
    }
    literals.set(literal, l);
  };
  const strongPatterns = new Set<string>();
  const unfiltered: { symptom: Symptom; re: RegExp }[] = [];
  const notes: string[] = [];
  let count = 0;
  const allSymptoms: Symptom[] = [];
  const cached = cachedTriggers();
  kb.entries.forEach((entry: CompiledEntry, i) => {
    const symptoms = entry.match
      .map((s, j): Symptom | null => {
        const trigger = cached.get(s);
        if (!trigger) return null;
        return {
          entry: i,
          symptom: j,
          index: count++,
          weight: s.weight,
          trigger,
          ...(s.pattern !== undefined ? { test: new RegExp(s.pattern, 'i') } : {}),
          ...(s.signalType === 'http.status' ? { status: s.valueRe ?? /^/ } : {}),
        };
      })
      .filter((s): s is Symptom => s !== null);
    allSymptoms.push(...symptoms);
    const strong = new Set(triggers(symptoms, logConfidence));
    for (const s of symptoms) {
      if ('literals' in s.trigger)
        for (const l of s.trigger.literals)
          add(
            l,
            s,
            strong.has(s),
            s.status ? STATUS_CHECK + s.status.source : entry.match[s.symptom]!.pattern,
          );
      else {
        if (strong.has(s)) strongPatterns.add(s.trigger.pattern);
        unfiltered.push({ symptom: s, re: new RegExp(s.trigger.pattern, 'i') });
        notes.push(
          `${entry.id}: /${s.trigger.pattern}/ has no literal text to look for, so scan runs it over every line (slower)`,
        );
      }
    }
  });
  cached.save();
  for (const word of FAILURE_WORDS) add(`${BOUNDARY}${word}${BOUNDARY}`, null, true);
  const meaning = [...literals.values()];
  const strongId = Uint8Array.from(meaning, (m) => (m.strong ? 1 : 0));
  /** Literals only status symptoms stand for (their codes and reason phrases). */
  const statusOnly = Uint8Array.from(meaning, (m) =>
    m.symptoms.length && m.symptoms.every((s) => s.status) ? 1 : 0,
  );
  const longest = Math.max(
    0,
    ...[...literals.keys()].map((l) => l.replaceAll(BOUNDARY, '').replaceAll(EXACT_CASE, '').length),
  );
  // One automaton for all literals, built (or read from the cache folder) on first use.
  const patternIndex = new Map<string, number>();
  const spec: LinesSpec = {
    literals: [...literals.keys()],
    checks: meaning.map((m) => {
      if (!m.strong) return undefined;
      if (!m.checks) return null;
      return [...new Set(m.checks)].map(
        (p) => patternIndex.get(p) ?? patternIndex.set(p, patternIndex.size).get(p)!,
      );
    }),
    patterns: [],
    dir: cacheDir(),
    literalSymptoms: meaning.map((m) => m.symptoms.map((s) => s.index)),
    unfiltered: unfiltered.map((u) => u.symptom.index),
    weights: [],
    entryOf: [],
    statusOnly: [...statusOnly],
    longest,
    entries: kb.entries.length,
    findPatterns: [...strongPatterns],
  };
  spec.patterns = [...patternIndex.keys()];
  for (const s of allSymptoms) {
    spec.weights[s.index] = s.weight;
    spec.entryOf[s.index] = s.entry;
  }
  let built: MultiMatcher | undefined;
  const matcher = () => {
    if (built) return built;
    built = MultiMatcher.cached(spec.literals, true, spec.dir);
    built.reportLines((id) => strongId[id] === 1);
    return built;
  };

  const checks = eventChecksOf(spec, matcher);

  return {
    find(buf, from, to, onHit) {
      matcher().scan(buf, from, to, (start, id, end) => (strongId[id] ? onHit(start) : end));
    },
    lines: linesOf(spec, matcher),
    linesSpec: spec,
    findPatterns: spec.findPatterns.map((p) => new RegExp(p, 'gim')),
    entries: kb.entries.length,
    literals: meaning.length,
    strongLiterals: () => [
      ...new Set(
        spec.literals
          .filter((_, id) => strongId[id] === 1)
          .map((l) => l.replaceAll(BOUNDARY, '').replaceAll(EXACT_CASE, ''))
          .filter((l) => l !== ''),
      ),
    ],
    notes,
    readsBefore: checks.readsBefore,
    bound: checks.bound,
    select(bytes, text, need) {
      // The symptoms whose literals are there; a pattern's own regex then says whether it holds.
      const present = new Set<Symptom>();
      for (const id of matcher().found(bytes, 0, bytes.length))
        for (const s of meaning[id]!.symptoms) present.add(s);
      for (const u of unfiltered) if (u.re.test(text)) present.add(u.symptom);
      const byEntry = new Map<number, Symptom[]>();
      for (const s of present) {
        const list = byEntry.get(s.entry);
        if (list) list.push(s);
        else byEntry.set(s.entry, [s]);
      }
      const held = new Map<Symptom, boolean>();
      let statuses: string[] | undefined;
      const holds = (s: Symptom) => {
        if (s.status) return (statuses ??= statusesIn(text)).some((c) => s.status!.test(c));
        if (!s.test) return true;
        let h = held.get(s);
        if (h === undefined) held.set(s, (h = s.test.test(text)));
        return h;
      };
      /** What an entry reaches at most if all its symptoms found by their literals hold. */
      const upper = (list: Symptom[]) => 1 - list.reduce((n, s) => n * (1 - s.weight), 1);
      if (need !== undefined) {
        // Whether any entry can reach `need`: each entry's patterns heaviest first, until what
        // holds reaches it or what may still hold cannot.
        let best = 0;
        let reached = false;
        for (const list of byEntry.values()) {
          if (upper(list) < need - 1e-9) {
            best = Math.max(best, upper(list));
            continue;
          }
          const order = [...list].sort((x, y) => y.weight - x.weight);
          const rest = new Float64Array(order.length + 1).fill(1);
          for (let i = order.length - 1; i >= 0; i--) rest[i] = rest[i + 1]! * (1 - order[i]!.weight);
          let sure = 1;
          let i = 0;
          for (; i < order.length; i++) {
            if (1 - sure >= need - 1e-9 || 1 - sure * rest[i]! < need - 1e-9) break;
            if (holds(order[i]!)) sure *= 1 - order[i]!.weight;
          }
          if (1 - sure >= need - 1e-9) {
            reached = true;
            break;
          }
          best = Math.max(best, 1 - sure * rest[i]!);
        }
        if (!reached) return { kb: { ...kb, entries: [] }, best };
      }
      // The entries that reach MIN_CONFIDENCE, their symptoms multiplied in the order found.
      let best = 0;
      const chosen: number[] = [];
      for (const [entry, list] of byEntry) {
        if (upper(list) < MIN_CONFIDENCE - 1e-9) {
          best = Math.max(best, upper(list));
          continue;
        }
        let n = 1;
        let any = false;
        for (const s of list)
          if (holds(s)) {
            n *= 1 - s.weight;
            any = true;
          }
        if (!any) continue;
        best = Math.max(best, 1 - n);
        if (1 - n >= MIN_CONFIDENCE - 1e-9) chosen.push(entry);
      }
      // In knowledge-base order, as diagnose would see them.
      const entries = chosen.sort((a, b) => a - b).map((i) => kb.entries[i]!);
      // The rest of the knowledge base as it is (the reader's literals spare diagnose most patterns).
      return { kb: { ...kb, entries }, best };
    },
  };
}
