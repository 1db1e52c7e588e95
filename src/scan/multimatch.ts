// Finds any of many literals in bytes in one pass: an Aho-Corasick automaton turned into a DFA over
// byte classes, so that each byte costs two table reads whether there are 50 literals or 5,000.
// ASCII letters match either case; a BOUNDARY at either end of a literal asks for a word boundary.
import { BOUNDARY } from './literals.js';

const isWord = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;

interface Literal {
  bytes: Buffer;
  left: boolean;
  right: boolean;
}

export class MultiMatcher {
  /** Byte → class; bytes that occur in no literal share class 0. */
  private readonly cls = new Uint8Array(256);
  private readonly width: number;
  /** delta[state + class] → next state; states are pre-multiplied by `width`. */
  private readonly delta: Int32Array;
  /** States from this one on end at least one literal (they are numbered last). */
  private readonly acceptFrom: number;
  /** For each accepting state, the indices of the literals that end there. */
  private readonly outputs = new Map<number, number[]>();
  private readonly lits: Literal[];

  constructor(literals: string[]) {
    const lits = (this.lits = literals.map((l) => {
      const left = l.startsWith(BOUNDARY);
      const right = l.length > 1 && l.endsWith(BOUNDARY);
      return { bytes: Buffer.from(l.replaceAll(BOUNDARY, '').toLowerCase(), 'latin1'), left, right };
    }));
    let classes = 1;
    for (const l of lits)
      for (const b of l.bytes)
        if (!this.cls[b]) {
          this.cls[b] = classes;
          if (b >= 0x61 && b <= 0x7a) this.cls[b - 0x20] = classes;
          classes++;
        }
    if (classes > 256) throw new Error('too many byte classes');
    this.width = classes;

    // The trie, then failure links breadth first; `ends` collects the literals each node ends.
    const next: Map<number, number>[] = [new Map()];
    const ends: number[][] = [[]];
    lits.forEach((l, id) => {
      let s = 0;
      for (const b of l.bytes) {
        const c = this.cls[b]!;
        let t = next[s]!.get(c);
        if (t === undefined) {
          t = next.length;
          next.push(new Map());
          ends.push([]);
          next[s]!.set(c, t);
        }
        s = t;
      }
      ends[s]!.push(id);
    });
    const n = next.length;
    const fail = new Int32Array(n);
    const dfa = new Int32Array(n * classes);
    const order: number[] = [0];
    for (let c = 0; c < classes; c++) {
      const t = next[0]!.get(c);
      dfa[c] = t ?? 0;
      if (t !== undefined) order.push(t);
    }
    for (let k = 1; k < order.length; k++) {
      const s = order[k]!;
      ends[s]!.push(...ends[fail[s]!]!);
      for (let c = 0; c < classes; c++) {
        const t = next[s]!.get(c);
        if (t === undefined) dfa[s * classes + c] = dfa[fail[s]! * classes + c]!;
        else {
          fail[t] = s === 0 ? 0 : dfa[fail[s]! * classes + c]!;
          dfa[s * classes + c] = t;
          order.push(t);
        }
      }
    }

    // Renumber: accepting states last, so that the hot loop tests acceptance with one comparison.
    const rank = new Int32Array(n);
    const plain = order.filter((s) => ends[s]!.length === 0);
    const accepting = order.filter((s) => ends[s]!.length > 0);
    [...plain, ...accepting].forEach((s, i) => (rank[s] = i));
    this.acceptFrom = plain.length * classes;
    this.delta = new Int32Array(n * classes);
    for (let s = 0; s < n; s++)
      for (let c = 0; c < classes; c++)
        this.delta[rank[s]! * classes + c] = rank[dfa[s * classes + c]!]! * classes;
    for (const s of accepting) this.outputs.set(rank[s]! * classes, ends[s]!);
  }

  /**
   * Calls `onHit(start)` for the first literal found at or after `from` (start = where it begins);
   * `onHit` returns where to go on searching (past the rest of a line, say), or -1 to stop.
   */
  scan(buf: Uint8Array, from: number, to: number, onHit: (start: number) => number): void {
    const { delta, cls, acceptFrom } = this;
    let s = 0;
    for (let i = from; i < to; i++) {
      s = delta[s + cls[buf[i]!]!]!;
      if (s < acceptFrom) continue;
      let start = -1;
      for (const id of this.outputs.get(s)!) if ((start = this.confirmed(buf, i, id, from, to)) >= 0) break;
      if (start < 0) continue;
      const resume = onHit(start);
      if (resume < 0) return;
      if (resume > i + 1) {
        i = resume - 1;
        s = 0;
      }
    }
  }

  /** Every literal found in `buf[from, to)`, by index. */
  found(buf: Uint8Array, from: number, to: number): Set<number> {
    const ids = new Set<number>();
    let s = 0;
    for (let i = from; i < to; i++) {
      s = this.delta[s + this.cls[buf[i]!]!]!;
      if (s >= this.acceptFrom)
        for (const id of this.outputs.get(s)!) if (this.confirmed(buf, i, id, from, to) >= 0) ids.add(id);
    }
    return ids;
  }

  /** Where literal `id`, ending at `i`, begins, if its word boundaries hold; else -1. */
  private confirmed(buf: Uint8Array, i: number, id: number, from: number, to: number): number {
    const l = this.lits[id]!;
    const start = i + 1 - l.bytes.length;
    // Outside the searched range counts as a non-word character, as at the ends of a text.
    const before = start > from ? isWord(buf[start - 1]!) : false;
    const after = i + 1 < to ? isWord(buf[i + 1]!) : false;
    if (l.left && isWord(buf[start]!) === before) return -1;
    if (l.right && isWord(buf[i]!) === after) return -1;
    return start;
  }
}
