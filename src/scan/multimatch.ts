// Finds any of many literals in bytes in one pass: an Aho-Corasick automaton turned into a DFA over
// byte classes, so that each byte costs two table reads whether there are 50 literals or 5,000.
// ASCII letters match either case, unless the literal starts with EXACT_CASE; a BOUNDARY at either
// end of a literal asks for a word boundary.
import { BOUNDARY } from '../kb/literals.js';

/** Marks a literal (at its start) whose letters must match in case too. */
export const EXACT_CASE = '\u0002';

const isWord = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;

interface Literal {
  /** Lower-case; `exact` holds the bytes as written when case counts. */
  bytes: Buffer;
  exact?: Buffer;
  left: boolean;
  right: boolean;
}

/** Called for a literal found at [start, end); returns where to search on (`end` to go on as if nothing happened), -1 to stop. */
export type OnHit = (start: number, id: number, end: number) => number;

export class MultiMatcher {
  /** Byte → class; bytes that occur in no literal share class 0. */
  private readonly cls = new Uint8Array(256);
  private readonly width: number;
  /**
   * delta[state + class] → next state, pre-multiplied by `width`, and negative when that state
   * ends a literal, so that the hot loop tests acceptance with one comparison.
   */
  private readonly delta: Int32Array;
  /** For each accepting state, the literals that end there (by index). */
  private readonly outputs = new Map<number, number[]>();
  private readonly lits: Literal[];

  constructor(literals: string[]) {
    this.lits = literals.map((lit) => {
      const exact = lit.startsWith(EXACT_CASE);
      const l = exact ? lit.slice(1) : lit;
      const core = l.replaceAll(BOUNDARY, '');
      return {
        bytes: Buffer.from(core.toLowerCase(), 'latin1'),
        ...(exact ? { exact: Buffer.from(core, 'latin1') } : {}),
        left: l.startsWith(BOUNDARY),
        right: l.length > 1 && l.endsWith(BOUNDARY),
      };
    });
    let width = 1;
    for (const l of this.lits)
      for (const b of l.bytes)
        if (!this.cls[b]) {
          this.cls[b] = width;
          if (b >= 0x61 && b <= 0x7a) this.cls[b - 0x20] = width;
          width++;
        }
    if (width > 256) throw new Error('too many byte classes');
    this.width = width;

    // The trie, in the table that becomes the DFA; its size is the number of distinct prefixes.
    const sorted = [...new Set(this.lits.map((l) => l.bytes.toString('latin1')))].sort();
    let states = 1;
    sorted.forEach((s, i) => {
      const prev = sorted[i - 1] ?? '';
      let common = 0;
      while (common < s.length && s[common] === prev[common]) common++;
      states += s.length - common;
    });
    const table = new Int32Array(states * width).fill(-1);
    const ends = new Map<number, number[]>();
    let used = 1;
    this.lits.forEach((l, id) => {
      let s = 0;
      for (const b of l.bytes) {
        const at = s * width + this.cls[b]!;
        if (table[at] === -1) table[at] = used++;
        s = table[at]!;
      }
      ends.set(s, [...(ends.get(s) ?? []), id]);
    });

    // Failure links breadth first, filling the missing transitions from the failure state's.
    const fail = new Int32Array(states);
    const queue = new Int32Array(states);
    let head = 0;
    let tail = 0;
    for (let c = 0; c < width; c++) {
      if (table[c] === -1) table[c] = 0;
      else queue[tail++] = table[c]!;
    }
    while (head < tail) {
      const s = queue[head++]!;
      const inherited = ends.get(fail[s]!);
      if (inherited) ends.set(s, [...(ends.get(s) ?? []), ...inherited]);
      for (let c = 0; c < width; c++) {
        const t = table[s * width + c]!;
        const via = table[fail[s]! * width + c]!;
        if (t === -1) table[s * width + c] = via;
        else {
          fail[t] = via;
          queue[tail++] = t;
        }
      }
    }
    for (let i = 0; i < table.length; i++) {
      const t = table[i]!;
      table[i] = ends.has(t) ? -t * width : t * width;
    }
    for (const [s, ids] of ends) this.outputs.set(s * width, ids);
    this.delta = table;
  }

  /** Calls `onHit` for each literal found in `buf[from, to)`, in order of their ends. */
  scan(buf: Uint8Array, from: number, to: number, onHit: OnHit): void {
    const { delta, cls } = this;
    let s = 0;
    for (let i = from; i < to; i++) {
      s = delta[s + cls[buf[i]!]!]!;
      if (s >= 0) continue;
      s = -s;
      for (const id of this.outputs.get(s)!) {
        const start = this.confirmed(buf, i, id, from, to);
        if (start < 0) continue;
        const resume = onHit(start, id, i + 1);
        if (resume < 0) return;
        if (resume > i + 1) {
          i = resume - 1;
          s = 0;
          break;
        }
      }
    }
  }

  /** Every literal found in `buf[from, to)`, by index. */
  found(buf: Uint8Array, from: number, to: number): Set<number> {
    const ids = new Set<number>();
    this.scan(buf, from, to, (_start, id, end) => {
      ids.add(id);
      return end;
    });
    return ids;
  }

  /** Where literal `id`, ending at `i`, begins, if its case and word boundaries hold; else -1. */
  private confirmed(buf: Uint8Array, i: number, id: number, from: number, to: number): number {
    const l = this.lits[id]!;
    const start = i + 1 - l.bytes.length;
    // Outside the searched range counts as a non-word character, as at the ends of a text.
    const before = start > from ? isWord(buf[start - 1]!) : false;
    const after = i + 1 < to ? isWord(buf[i + 1]!) : false;
    if (l.exact && Buffer.compare(l.exact, buf.subarray(start, i + 1)) !== 0) return -1;
    if (l.left && isWord(buf[start]!) === before) return -1;
    if (l.right && isWord(buf[i]!) === after) return -1;
    return start;
  }
}
