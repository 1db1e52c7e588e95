// Diagnoses of events already seen. Real logs repeat the same few failures thousands of times,
// each with its own time, thread, message id or correlation id; diagnosing each again costs far more
// than reading it. An event is judged by its text with those parts replaced by `x`s (eventText):
// a thread number, a UUID, a message id, a hex id standing alone, and the digits of a log line's leading
// timestamp unless a literal of the knowledge base starts in it (the seconds of "10:00:22" are port
// 22 to out-sftp's `:22`: then the time stays). Its key is that text and why it is failing, so the
// verdict of the first event of a key is, by construction, the verdict of every later one: no pattern
// of the knowledge base or the reader can read an id that the key leaves out (a UUID's "401" once
// made a cached scan differ from a plain one). Numbers that may mean something (a status, a port, an
// error code) and hosts stay. test/scan-cache.test.ts holds a cached scan against a plain one on
// every kind of event.
import type { Facts } from '../types.js';
import type { IncidentDiagnosis } from './incident.js';
import { TIMESTAMP } from '../diagnose/log-entries.js';
import { statusReadings } from '../diagnose/signals.js';
import type { EventChecks } from './prefilter.js';

/** What the knowledge base said of an event: not an incident (null), or its diagnoses and facts. */
export type Verdict = { top?: IncidentDiagnosis; also: string[]; facts: Facts } | null;

/**
 * Parts of an event's text that differ from one occurrence of a failure to the next, and their
 * stand-ins: `x`s, as many as the part has letters and digits for a UUID and an MPL id, one for a
 * thread's number, sixteen for a long hex id (of any length), eight for a short one.
 */
const VOLATILE: [RegExp, string][] = [
  // A thread of a pool: [http-nio-8080-exec-12], [pool-3-thread-7], [Camel (ctx) thread #12 - x].
  [/\[([A-Za-z][\w.$ -]{0,80}?[-#])\d{1,6}\]/g, '[$1x]'],
  [
    /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi,
    'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx',
  ],
  // Cloud Integration's message ids (MPL ID): "AGk_xKgivsDaGSUpuvz-eEFzhKZO".
  [/(?<![\w-])AG[\w-]{26}(?![\w-])/g, `AG${'x'.repeat(26)}`],
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b/gi, 'x'.repeat(16)],
  // A short hex id standing alone (8 to 15 hex digits, a digit and a letter among them): a message
  // or job id ("for message 6d3af7e9:"), a Java identity hash ("[B@6d3af739"). Not a host's label
  // ("a1b2c3d4.example.com"), an OpenSSL code ("error:0A00010B:SSL routines"), a Windows code
  // ("0x80090325") or a number (SAP note 13336604): a symptom may read those.
  [/(?<![\w.:/-])(?=[0-9a-f]{0,14}\d)(?=[0-9a-f]{0,14}[a-f])[0-9a-f]{8,15}(?![\w./-]|:\w)/gi, 'x'.repeat(8)],
];

/**
 * Whether an event's leading timestamp (its first `length` characters) must stay in the text it is
 * judged by; `judged(keep)` gives that text with the time kept or its digits masked (made once).
 */
export type KeepsTime = (length: number, judged: (keep: boolean) => string) => boolean;

/**
 * Whether an event (its bytes) keeps its leading time in the text it is judged by: when a symptom
 * may read it (Prefilter.readsBefore), a status code's literal only when the status reader reads
 * something else there than in the text with the time masked (it never reads a time's milliseconds,
 * see maskTimeFractions, and most times hold some status code's literal).
 */
export function keepsTime(pf: Pick<EventChecks, 'readsBefore'>, bytes: Uint8Array): KeepsTime {
  return (length, judged) =>
    pf.readsBefore(
      bytes,
      length,
      () => JSON.stringify(statusReadings(judged(true))) !== JSON.stringify(statusReadings(judged(false))),
    );
}

/**
 * The text an event is judged by: its text with the volatile parts (thread numbers, UUIDs, MPL ids,
 * hex ids) replaced by `x`s (VOLATILE), and its leading timestamp's digits too (the timestamp
 * keeps its length: the evidence of a diagnosis stays where it is in the event's own text) unless
 * `keepsTime` says a symptom may read the time (Prefilter.readsBefore). Two events with the same
 * text here get the same diagnoses: nothing a pattern could read is left out of it.
 */
export function eventText(text: string, keepsTime?: KeepsTime): string {
  const stamp = TIMESTAMP.exec(text);
  if (!stamp) return volatile(text);
  const made: (string | undefined)[] = [];
  const judged = (keep: boolean) =>
    (made[keep ? 1 : 0] ??= volatile(
      keep ? text : stamp[0].replace(/\d/g, 'x') + text.slice(stamp[0].length),
    ));
  return judged(keepsTime?.(stamp[0].length, judged) ?? false);
}

function volatile(text: string): string {
  for (const [re, to] of VOLATILE) text = text.replace(re, to);
  return text;
}

/** The key of an event: why it is failing, and the text it is judged by (eventText). */
export function eventKey(text: string, failing?: string, keepsTime?: KeepsTime): string {
  return keyOf(eventText(text, keepsTime), failing);
}

/** The key of an event already reduced to the text it is judged by. */
export const keyOf = (judged: string, failing?: string): string => `${failing ?? ''}\u0000${judged}`;

/** Keys (UTF-16 units) the cache holds at most, summed: bounds its memory whatever the log. */
const MAX_KEY_CHARS = 4 << 20;
/**
 * What an entry costs besides its key's characters, counted as characters of the bound: the Map's
 * slot, the key's string headers and the verdict (about 200 bytes with a diagnosis' own object).
 * With short keys the entries cost more than their characters: a log of 100,000 distinct one-line
 * failures filled the cache with 56,000 entries of ~75 characters, ~35 MB of the scan's peak.
 */
const ENTRY_CHARS = 128;
/** Events longer than this are not cached (a runaway trace is rarely repeated byte for byte). */
const MAX_KEY = 16 * 1024;

/** A bounded cache of verdicts, least recently used out first (a Map keeps insertion order). */
export class VerdictCache {
  private readonly map = new Map<string, Verdict>();
  private chars = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxChars = MAX_KEY_CHARS) {}

  get(key: string): Verdict | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Most recently used: to the end of the order.
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, v: Verdict): void {
    if (key.length > MAX_KEY || this.map.has(key)) return;
    this.map.set(key, v);
    this.chars += key.length + ENTRY_CHARS;
    if (this.chars <= this.maxChars) return;
    // The least recently used out, down to 7/8 of the bound at once: a Map's iteration walks over
    // the entries deleted before it until the table is rebuilt, so one key out per new one walked
    // the whole cache each time once it was full (1.25 s of a 6 MB log of distinct failures).
    const target = this.maxChars - (this.maxChars >> 3);
    for (const k of this.map.keys()) {
      if (this.chars <= target) break;
      this.map.delete(k);
      this.chars -= k.length + ENTRY_CHARS;
    }
  }

  get size(): number {
    return this.map.size;
  }
}
