// Finds any of many literals in bytes in one pass: an Aho-Corasick automaton run as a DFA over
// byte classes, so that each byte costs two table reads whether there are 50 literals or 5,000.
// The DFA is lazy (as in RE2): the trie and its failure links are built up front, each other
// transition on first use. A knowledge base's 4,000 literals make 44,000 states of 58 classes;
// filling all 2.6 million transitions took a third of a 4 MB scan, a log uses a few thousand.
// ASCII letters match either case, unless the literal starts with EXACT_CASE; a BOUNDARY at either
// end of a literal asks for a word boundary.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BOUNDARY } from '../kb/literals.js';

/** Marks a literal (at its start) whose letters must match in case too. */
export const EXACT_CASE = '\u0002';

/**
 * A transition not computed yet. Transitions are stored as state × width + 1 (negated when the
 * state ends a literal), so that no real one is 0 and the table needs no filling: its pages are
 * mapped by the first write, and rows of states a log never reaches cost nothing.
 */
const UNKNOWN = 0;
/**
 * In a matcher made `forLines`, the transition on a newline from every state: back to the root,
 * counted by scanLines. No real transition is -1 (an accepting one is at most -(width + 1)).
 */
const NEWLINE = -1;

const isWord = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;

/** How far back a CSI sequence's start is looked for from its final byte (ESC [ 38;2;255;255;255 m). */
const MAX_CSI = 32;

/**
 * Whether buf[i] is the final byte of a CSI sequence that starts at or after `from` (ESC [, then
 * parameter bytes 0x30-0x3f and intermediate bytes 0x20-0x2f, then a final byte 0x40-0x7e): the
 * `m` of a colour's "\x1b[31m" is no letter of the word after it ("\x1b[31mERROR" is the word
 * ERROR). Reads at most MAX_CSI bytes back; nothing is allocated.
 */
function endsSequence(buf: Uint8Array, i: number, from: number): boolean {
  const b = buf[i]!;
  if (b < 0x40 || b > 0x7e) return false;
  for (let j = i - 1; j > from && j >= i - MAX_CSI; j--) {
    const c = buf[j]!;
    if (c === 0x5b) return buf[j - 1] === 0x1b;
    if (c < 0x20 || c > 0x3f) return false;
  }
  return false;
}

interface Literal {
  /** Lower-case (one byte per character, as latin1); `exact` holds the bytes as written when case counts. */
  text: string;
  exact?: Buffer;
  left: boolean;
  right: boolean;
}

/** What MultiMatcher.cached keeps of an automaton: its byte classes, trie, failure links and outputs. */
interface Built {
  width: number;
  cls: Uint8Array;
  parent: Int32Array;
  edge: Uint8Array;
  fail: Int32Array;
  /** Accepting state (pre-multiplied) → literals that end there. */
  outputs: Map<number, number[]>;
}

/** Bump when the saved form, or what the constructor makes of the literals, changes. */
const SAVED_VERSION = 3;
const MAGIC = 0x4c444d4d; // "LDMM"
/** Saved automata kept in the cache folder (one per knowledge base a user scans with). */
const MAX_SAVED = 6;

/** The saved form: Int32 header (magic, version, width, states, outputs, ids), Int32 arrays, then bytes. */
function encode(b: Built): Buffer {
  const states = b.fail.length;
  const ids = [...b.outputs.values()].reduce((n, l) => n + l.length, 0);
  const ints = new Int32Array(6 + 2 * states + 2 * b.outputs.size + ids);
  ints.set([MAGIC, SAVED_VERSION, b.width, states, b.outputs.size, ids]);
  let at = 6;
  ints.set(b.parent, at);
  ints.set(b.fail, (at += states));
  at += states;
  let id = at + 2 * b.outputs.size;
  for (const [state, list] of b.outputs) {
    ints[at++] = state;
    ints[at++] = list.length;
    ints.set(list, id);
    id += list.length;
  }
  return Buffer.concat([Buffer.from(ints.buffer), Buffer.from(b.cls), Buffer.from(b.edge)]);
}

/** The saved form read back; null when it is not one (another version, a truncated file). */
function decode(file: Buffer): Built | null {
  if (file.length < 24) return null;
  // A copy, aligned for the Int32Array views.
  const bytes = new Uint8Array(file);
  const head = new Int32Array(bytes.buffer, 0, 6);
  const [magic, version, width, states, outs, ids] = head as unknown as number[];
  const intBytes = 4 * (6 + 2 * states! + 2 * outs! + ids!);
  if (magic !== MAGIC || version !== SAVED_VERSION || bytes.length !== intBytes + 256 + states!) return null;
  const ints = new Int32Array(bytes.buffer, 0, intBytes / 4);
  const outputs = new Map<number, number[]>();
  let at = 6 + 2 * states!;
  let id = at + 2 * outs!;
  for (let k = 0; k < outs!; k++, at += 2) {
    outputs.set(ints[at]!, Array.from(ints.subarray(id, id + ints[at + 1]!)));
    id += ints[at + 1]!;
  }
  return {
    width: width!,
    parent: ints.subarray(6, 6 + states!),
    fail: ints.subarray(6 + states!, 6 + 2 * states!),
    outputs,
    cls: bytes.subarray(intBytes, intBytes + 256),
    edge: bytes.subarray(intBytes + 256),
  };
}

/** Called for a literal found at [start, end); returns where to search on (`end` to go on as if nothing happened), -1 to stop. */
export type OnHit = (start: number, id: number, end: number) => number;

/**
 * Called by scanLines for a literal found at [start, end) on the line that starts at `lineStart`,
 * the `line`-th newline-ended line of the range (0-based). Returns true to take the line (the scan
 * goes on at the next line), false to go on searching it.
 */
export type OnLineHit = (lineStart: number, line: number, start: number, id: number, end: number) => boolean;

/**
 * The innermost loop, on its own so that it is small and compiled early (a scan's whole loop, with
 * what it calls for a hit, ran for half of a 4 MB log in V8's baseline code while its optimized
 * code was compiled, ~0.6 G instructions): runs the DFA from state `s` over buf[i, to) while its
 * transitions are known and accept nothing, counting newlines (a `forLines` matcher's NEWLINE) in
 * at[1] and where the last line starts in at[2]. Returns the index of the byte it stopped at (`to`
 * at the end), with the state before it in at[0].
 */
function run(
  delta: Int32Array,
  cls: Uint8Array,
  buf: Uint8Array,
  i: number,
  to: number,
  s: number,
  at: Int32Array,
): number {
  let line = at[1]!;
  let lineStart = at[2]!;
  for (; i < to; i++) {
    const next = delta[s + cls[buf[i]!]!]!;
    if (next > 0) {
      s = next - 1;
      continue;
    }
    if (next !== NEWLINE) break;
    line++;
    lineStart = i + 1;
    s = 0;
  }
  at[0] = s;
  at[1] = line;
  at[2] = lineStart;
  return i;
}

export class MultiMatcher {
  /** Byte → class; bytes that occur in no literal share class 0. */
  private readonly cls = new Uint8Array(256);
  private readonly width: number;
  /**
   * delta[state + class] → next state, pre-multiplied by `width`, plus 1, and negative when that
   * state ends a literal, so that the hot loop tests acceptance with one comparison; UNKNOWN until
   * first used (see `step`). Only the rows of states a text reaches are ever written, so only their
   * pages cost memory: 300 entries' 15,000 literals make 200,000 states (48 MB of rows).
   */
  private readonly delta: Int32Array;
  /** The trie's edges (as `delta` would hold them), in a hash table keyed by state + class + 1. */
  private readonly gotoKeys: Int32Array;
  private readonly gotoValues: Int32Array;
  private readonly gotoShift: number;
  /** Failure link of each state (plain state numbers). */
  private readonly fail: Int32Array;
  /** For each accepting state (pre-multiplied), the literals that end there (by index). */
  private readonly outputs: Map<number, number[]>;
  private readonly lits: Literal[];
  /** The outputs scanLines reports (reportLines). */
  private lineOutputs: Map<number, number[]>;
  /** What `run` leaves: the state it stopped in, and (scanLines) the lines counted and where the last one starts. */
  private readonly at = new Int32Array(3);
  /** The same for `scan` (a scanLines' onHit may scan; no scan's onHit scans again). */
  private readonly atScan = new Int32Array(3);
  /** Each trie state's parent and the class of the edge from it (what `save` keeps of the trie). */
  private readonly parent: Int32Array;
  private readonly edge: Uint8Array;

  /**
   * `forLines`: a newline gets a class of its own (no literal may hold one), so that scanLines
   * counts lines in the same pass as it looks for literals. `built`: the trie as `cached` read it.
   */
  constructor(
    literals: string[],
    private readonly forLines = false,
    built?: Built,
  ) {
    this.lits = literals.map((lit) => {
      const exact = lit.startsWith(EXACT_CASE);
      const l = exact ? lit.slice(1) : lit;
      const core = l.replaceAll(BOUNDARY, '');
      return {
        text: core.toLowerCase(),
        ...(exact ? { exact: Buffer.from(core, 'latin1') } : {}),
        left: l.startsWith(BOUNDARY),
        right: l.length > 1 && l.endsWith(BOUNDARY),
      };
    });
    let width = 1;
    for (const l of this.lits)
      for (let k = 0; k < l.text.length; k++) {
        const b = l.text.charCodeAt(k) & 0xff;
        if (!this.cls[b]) {
          this.cls[b] = width;
          if (b >= 0x61 && b <= 0x7a) this.cls[b - 0x20] = width;
          width++;
        }
      }
    if (forLines) {
      if (this.cls[10]) throw new Error('a literal holds a newline');
      this.cls[10] = width++;
    }
    if (width > 256) throw new Error('too many byte classes');
    this.width = width;
    const fits =
      built && built.width === width && built.cls.every((c, b) => c === this.cls[b]) ? built : undefined;
    // At most one state per byte of the literals.
    let states = 1;
    if (fits) states = fits.fail.length;
    else for (const l of this.lits) states += l.text.length;
    let bits = 4;
    while (1 << bits < 2 * states) bits++;
    this.gotoKeys = new Int32Array(1 << bits);
    this.gotoValues = new Int32Array(1 << bits);
    this.gotoShift = 32 - bits;

    if (fits) {
      // The trie and its failure links as a process before made them (MultiMatcher.cached).
      const { parent, edge, fail, outputs } = fits;
      for (let t = 1; t < states; t++)
        this.setGoto(parent[t]! * width + edge[t]!, (outputs.has(t * width) ? -1 : 1) * (t * width + 1));
      this.fail = fail;
      this.outputs = outputs;
      this.parent = parent;
      this.edge = edge;
    } else {
      // The trie; each state's parent, the class of the edge from it and its depth, to visit it by depth.
      const parent = new Int32Array(states);
      const edge = new Uint8Array(states);
      const depth = new Int32Array(states);
      const ends = new Map<number, number[]>();
      let used = 1;
      let deepest = 0;
      this.lits.forEach((l, id) => {
        let s = 0;
        for (let k = 0; k < l.text.length; k++) {
          const c = this.cls[l.text.charCodeAt(k) & 0xff]!;
          const at = s * width + c;
          let next = this.getGoto(at);
          if (next === UNKNOWN) {
            parent[used] = s;
            edge[used] = c;
            depth[used] = depth[s]! + 1;
            deepest = Math.max(deepest, depth[used]!);
            next = used++ * width + 1;
            this.setGoto(at, next);
          }
          s = ((next - 1) / width) | 0;
        }
        const e = ends.get(s);
        if (e) e.push(id);
        else ends.set(s, [id]);
      });
      // States renumbered by depth (a counting sort), so that the shallow ones, which a text
      // reaches most, have neighbouring rows in `delta` (fewer pages touched); and a state's
      // failure link is reached through shallower states only, whose links and outputs are final
      // by then.
      const first = new Int32Array(deepest + 2);
      for (let t = 1; t < used; t++) first[depth[t]! + 1]!++;
      for (let d = 1; d <= deepest + 1; d++) first[d]! += first[d - 1]!;
      const renumbered = new Int32Array(used);
      for (let t = 1; t < used; t++) renumbered[t] = 1 + first[depth[t]!]!++;
      this.parent = new Int32Array(used);
      this.edge = new Uint8Array(used);
      for (let t = 1; t < used; t++) {
        this.parent[renumbered[t]!] = renumbered[parent[t]!]!;
        this.edge[renumbered[t]!] = edge[t]!;
      }
      const endsBefore = [...ends];
      ends.clear();
      for (const [t, ids] of endsBefore) ends.set(renumbered[t]!, ids);
      this.gotoKeys.fill(0);
      for (let t = 1; t < used; t++) this.setGoto(this.parent[t]! * width + this.edge[t]!, t * width + 1);
      this.fail = new Int32Array(used);
      for (let t = 1; t < used; t++) {
        const p = this.parent[t]!;
        const c = this.edge[t]!;
        let f = 0;
        if (p !== 0) {
          // The longest proper suffix of t's string that is in the trie: along p's failure links.
          let g = this.fail[p]!;
          let next = this.getGoto(g * width + c);
          while (next === UNKNOWN && g !== 0) {
            g = this.fail[g]!;
            next = this.getGoto(g * width + c);
          }
          f = next === UNKNOWN ? 0 : ((Math.abs(next) - 1) / width) | 0;
        }
        this.fail[t] = f;
        const inherited = ends.get(f);
        if (inherited) ends.set(t, [...(ends.get(t) ?? []), ...inherited]);
        // The edge into t now says whether t ends a literal.
        if (ends.has(t)) this.setGoto(p * width + c, -(t * width + 1));
      }
      this.outputs = new Map();
      for (const [st, ids] of ends) this.outputs.set(st * width, ids);
    }
    this.lineOutputs = this.outputs;
    // The DFA, filled on first use; the root goes back to itself on every class that starts no
    // literal (root edges are filled from the trie by `step`).
    this.delta = new Int32Array(this.fail.length * width);
    for (let c = 0; c < width; c++) if (this.getGoto(c) === UNKNOWN) this.delta[c] = 1;
    if (forLines) this.delta[this.cls[10]!] = NEWLINE;
  }

  /** The trie edge stored for state + class `at` (UNKNOWN: none). */
  private getGoto(at: number): number {
    const key = at + 1;
    const mask = this.gotoKeys.length - 1;
    for (let h = Math.imul(key, 0x9e3779b1) >>> this.gotoShift; ; h = (h + 1) & mask) {
      const k = this.gotoKeys[h]!;
      if (k === key) return this.gotoValues[h]!;
      if (k === 0) return UNKNOWN;
    }
  }

  private setGoto(at: number, value: number): void {
    const key = at + 1;
    const mask = this.gotoKeys.length - 1;
    for (let h = Math.imul(key, 0x9e3779b1) >>> this.gotoShift; ; h = (h + 1) & mask) {
      const k = this.gotoKeys[h]!;
      if (k === key || k === 0) {
        this.gotoKeys[h] = key;
        this.gotoValues[h] = value;
        return;
      }
    }
  }

  /**
   * The matcher of `literals`, its trie and failure links read from `dir` when a process before
   * saved them for the same literals (building them is most of a small scan's start: 100-150 ms
   * for the knowledge base's 4,000 literals), else built and saved there in the background. A
   * folder that cannot be read or written only costs the building.
   */
  static cached(literals: string[], forLines: boolean, dir: string): MultiMatcher {
    const key = createHash('sha1')
      .update(`${SAVED_VERSION} ${forLines}\u0000${literals.join('\u0000')}`)
      .digest('hex')
      .slice(0, 20);
    const file = join(dir, `scan-automaton-${key}.bin`);
    let built: Built | null = null;
    try {
      built = decode(readFileSync(file));
    } catch {
      // not saved yet
    }
    const m = new MultiMatcher(literals, forLines, built ?? undefined);
    if (!built) m.save(dir, file);
    return m;
  }

  /** Writes what `cached` reads back, atomically and in the background; keeps the newest MAX_SAVED. */
  private save(dir: string, file: string): void {
    const data = encode({
      width: this.width,
      cls: this.cls,
      parent: this.parent,
      edge: this.edge,
      fail: this.fail,
      outputs: this.outputs,
    });
    import('../fs-write.js')
      .then(async ({ writeFileAtomic }) => {
        mkdirSync(dir, { recursive: true });
        await writeFileAtomic(file, data, { mode: 0o644 });
        const saved = readdirSync(dir)
          .filter((f) => /^scan-automaton-[0-9a-f]+\.bin$/.test(f))
          .map((f) => ({ f, at: statSync(join(dir, f)).mtimeMs }))
          .sort((a, b) => b.at - a.at);
        for (const { f } of saved.slice(MAX_SAVED)) unlinkSync(join(dir, f));
      })
      .catch(() => {
        // a read-only cache folder: built again next time
      });
  }

  /** The transition of plain state `s` on class `c` (as stored in the table), computed and kept on first use. */
  private step(s: number, c: number): number {
    const at = s * this.width + c;
    let next = this.delta[at]!;
    if (next === UNKNOWN) {
      next = this.getGoto(at);
      if (next === UNKNOWN) next = this.step(this.fail[s]!, c);
      this.delta[at] = next;
    }
    return next;
  }

  /** Calls `onHit` for each literal found in `buf[from, to)`, in order of their ends. */
  scan(buf: Uint8Array, from: number, to: number, onHit: OnHit): void {
    const { delta, cls, width, atScan: at } = this;
    let s = 0;
    for (let i = from; i < to; i++) {
      i = run(delta, cls, buf, i, to, s, at);
      if (i >= to) return;
      s = at[0]!;
      const c = cls[buf[i]!]!;
      let next = delta[s + c]!;
      if (next === UNKNOWN) next = this.step((s / width) | 0, c);
      if (next > 0 || next === NEWLINE) {
        s = next > 0 ? next - 1 : 0;
        continue;
      }
      s = -next - 1;
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

  /**
   * Looks for the literals in buf[from, to), which starts a line, counting lines as it goes: the
   * hot loop of a scan, one table read per byte and nothing allocated. Calls `onHit` for each
   * literal found (case and word boundaries confirmed); returns the number of newlines in the range.
   * Only for a matcher made `forLines`.
   */
  scanLines(buf: Buffer, from: number, to: number, onHit: OnLineHit): number {
    const { delta, cls, width, at } = this;
    let s = 0;
    at[1] = 0;
    at[2] = from;
    for (let i = from; i < to; i++) {
      i = run(delta, cls, buf, i, to, s, at);
      if (i >= to) break;
      s = at[0]!;
      let next = delta[s + cls[buf[i]!]!]!;
      if (next === UNKNOWN) {
        next = this.step((s / width) | 0, cls[buf[i]!]!);
        if (next > 0) {
          s = next - 1;
          continue;
        }
        if (next === NEWLINE) {
          at[1]!++;
          at[2] = i + 1;
          s = 0;
          continue;
        }
      }
      s = -next - 1;
      const ids = this.lineOutputs.get(s);
      if (!ids) continue;
      for (const id of ids) {
        const start = this.confirmed(buf, i, id, from, to);
        if (start < 0 || !onHit(at[2]!, at[1]!, start, id, i + 1)) continue;
        // The line is taken: on at its newline, which the loop counts.
        const nl = buf.indexOf(10, i + 1);
        if (nl < 0 || nl >= to) return at[1]!;
        i = nl - 1;
        s = 0;
        break;
      }
    }
    return at[1]!;
  }

  /**
   * The literals scanLines reports (by index; all by default): the others cost it no more than a
   * table read where they end.
   */
  reportLines(only: (id: number) => boolean): void {
    this.lineOutputs = new Map();
    for (const [s, ids] of this.outputs) {
      const kept = ids.filter(only);
      if (kept.length) this.lineOutputs.set(s, kept);
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
    const start = i + 1 - l.text.length;
    // Outside the searched range counts as a non-word character, as at the ends of a text; so does
    // the end of a terminal control sequence (a coloured log's "\x1b[31mERROR").
    const before = start > from ? isWord(buf[start - 1]!) && !endsSequence(buf, start - 1, from) : false;
    const after = i + 1 < to ? isWord(buf[i + 1]!) : false;
    if (l.exact && Buffer.compare(l.exact, buf.subarray(start, i + 1)) !== 0) return -1;
    if (l.left && isWord(buf[start]!) === before) return -1;
    if (l.right && isWord(buf[i]!) === after) return -1;
    return start;
  }
}
