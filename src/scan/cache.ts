// Diagnoses of events already seen. Real logs repeat the same few failures thousands of times,
// each with its own time, thread, message id or correlation id; diagnosing each again costs far more
// than reading it. An event's key is its text with those parts masked, and the verdict of the first
// event of a key serves every later one: the knowledge base's symptoms, the reader's signals and
// cues do not read a thread number, a UUID, a message id or a long hex id, nor a log line's leading
// timestamp unless a literal of theirs starts in it (the seconds of "10:00:22" are port 22 to
// out-sftp's `:22`): then the time stays in the key. Numbers that may mean something (a status, a
// port, an error code) and hosts stay in the key. test/scan-cache.test.ts holds a cached scan
// against a plain one on every kind of event.
import type { Diagnosis, Facts } from '../types.js';
import { TIMESTAMP } from './text.js';

/** What the knowledge base said of an event: not an incident (null), or its diagnoses and facts. */
export type Verdict = { top?: Diagnosis; also: string[]; facts: Facts } | null;

/** Parts of an event's text that differ from one occurrence of a failure to the next. */
const VOLATILE: [RegExp, string][] = [
  // A thread of a pool: [http-nio-8080-exec-12], [pool-3-thread-7], [Camel (ctx) thread #12 - x].
  [/\[([A-Za-z][\w.$ -]{0,80}?[-#])\d{1,6}\]/g, '[$1\u0000n]'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '\u0000u'],
  // Cloud Integration's message ids (MPL ID): "AGk_xKgivsDaGSUpuvz-eEFzhKZO".
  [/(?<![\w-])AG[\w-]{26}(?![\w-])/g, '\u0000m'],
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b/gi, '\u0000h'],
];

/**
 * The key of an event: why it is failing, and its text without the volatile parts. `keepsTime`
 * (given the length of the leading timestamp): whether the time must stay in the key because a
 * symptom may read it (Prefilter.readsBefore).
 */
export function eventKey(text: string, failing?: string, keepsTime?: (length: number) => boolean): string {
  const stamp = TIMESTAMP.exec(text);
  let key = stamp && !keepsTime?.(stamp[0].length) ? text.slice(stamp[0].length) : text;
  for (const [re, to] of VOLATILE) key = key.replace(re, to);
  return `${failing ?? ''}\u0000${key}`;
}

/** Keys (UTF-16 units) the cache holds at most, summed: bounds its memory whatever the log. */
const MAX_KEY_CHARS = 4 << 20;
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
    this.chars += key.length;
    for (const k of this.map.keys()) {
      if (this.chars <= this.maxChars) break;
      this.map.delete(k);
      this.chars -= k.length;
    }
  }

  get size(): number {
    return this.map.size;
  }
}
