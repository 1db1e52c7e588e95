// Required literals of a regular expression: a set of strings such that every match of the
// expression contains at least one of them (case-folded). This is what lets scan look for a few
// hundred literals in one pass instead of running hundreds of patterns over every line (the
// technique of RE2's prefilter and of code search engines).
//
// Only the JavaScript syntax the knowledge base uses (no `u` or `v` flag) is understood; anything
// else makes the expression "unfilterable", which is always safe: it is then run in full.

/**
 * A word boundary (`\b`) at the start or end of a literal; stripped from the middle. DEL: no
 * literal holds it (a pattern's DEL is taken as any character), and JSON writes it as itself, where a
 * control character costs an escape to write and to parse in every cache that holds literals.
 */
export const BOUNDARY = '\u007f';

/** Small exact languages are multiplied out (`unauthori[sz]ed` → two strings) up to this size. */
const MAX_EXACT = 32;
/** A class of at most this many characters is expanded as alternatives. */
const MAX_CLASS = 4;

/** How many sets of required literals (clauses) are kept per node for requiredClauses. */
const MAX_CLAUSES = 3;
/** requiredClauses keeps a set beyond the first only up to this many literals. */
const MAX_EXTRA_SIZE = 16;

/**
 * What is known of a node: `exact`, the finite set of strings it matches (lower-case, ASCII), when
 * small; `req`, strings one of which every match contains; null when nothing is known; `all`, up to
 * MAX_CLAUSES such sets (clauses), every one of which every match meets.
 */
interface Info {
  exact: Set<string> | null;
  req: Set<string> | null;
  all: Set<string>[];
}

const ANY: Info = { exact: null, req: null, all: [] };
const EMPTY: Info = { exact: new Set(['']), req: null, all: [] };

class Unsupported extends Error {}

/** The score of a literal set as a filter: its shortest literal, without boundary marks. */
function strength(set: Set<string> | null): number {
  if (!set || set.size === 0) return 0;
  let min = Infinity;
  for (const s of set) min = Math.min(min, s.replaceAll(BOUNDARY, '').length);
  return min;
}

function better(a: Set<string> | null, b: Set<string> | null): Set<string> | null {
  const sa = strength(a);
  const sb = strength(b);
  if (sa !== sb) return sa > sb ? a : b;
  return (a?.size ?? Infinity) <= (b?.size ?? Infinity) ? a : b;
}

/** Boundary marks mean something at the ends of a literal only. */
function tidy(s: string): string {
  const core = s.replaceAll(BOUNDARY, '');
  if (!core) return '';
  return (s.startsWith(BOUNDARY) ? BOUNDARY : '') + core + (s.endsWith(BOUNDARY) ? BOUNDARY : '');
}

/**
 * The strongest of `sets` (nulls and empty sets dropped), at most MAX_CLAUSES, strongest first; a
 * set that holds another kept set is implied by it and dropped.
 */
function strongest(sets: (Set<string> | null)[]): Set<string>[] {
  const sorted = sets
    .filter((x): x is Set<string> => !!x && x.size > 0)
    .sort((a, b) => strength(b) - strength(a) || a.size - b.size);
  const out: Set<string>[] = [];
  for (const set of sorted) {
    if (out.length === MAX_CLAUSES) break;
    if (!out.some((kept) => [...kept].every((l) => set.has(l)))) out.push(set);
  }
  return out;
}

/** A node's best requirement: its `req`, else its exact set as one (null when neither holds). */
const reqOf = (info: Info): Set<string> | null => info.req ?? (info.exact ? asReq(info.exact) : null);

/** A node's requirements as clauses: its `req` (or exact set) and its other clauses. */
const clausesOf = (info: Info): Set<string>[] => strongest([reqOf(info), ...info.all]);

function product(a: Set<string>, b: Set<string>): Set<string> | null {
  if (a.size * b.size > MAX_EXACT) return null;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}

/** An exact set as a requirement: usable only if none of its strings is empty. */
function asReq(exact: Set<string>): Set<string> | null {
  const out = new Set<string>();
  for (const s of exact) {
    const t = tidy(s);
    if (!t) return null;
    out.add(t);
  }
  return out;
}

/** A sequence: runs of exact parts are multiplied out; the best requirement of any part holds. */
function concat(parts: Info[]): Info {
  let req: Set<string> | null = null;
  let run: Set<string> | null = new Set(['']);
  let whole = true;
  // Every part's requirement holds of a match, not only the best one: kept for requiredClauses.
  const clauses: (Set<string> | null)[] = [];
  for (const p of parts) {
    const next: Set<string> | null = p.exact && run ? product(run, p.exact) : null;
    if (next) {
      run = next;
      continue;
    }
    whole = false;
    if (run) {
      const r = asReq(run);
      clauses.push(r);
      req = better(req, r);
    }
    run = p.exact;
    req = better(req, p.req);
    clauses.push(p.req, ...p.all);
  }
  if (whole) return { exact: run, req: asReq(run!), all: [] };
  if (run) {
    const r = asReq(run);
    clauses.push(r);
    req = better(req, r);
  }
  return { exact: null, req, all: strongest(clauses) };
}

function alternate(branches: Info[]): Info {
  if (branches.every((b) => b.exact)) {
    const exact = new Set<string>();
    for (const b of branches) for (const s of b.exact!) exact.add(s);
    if (exact.size <= MAX_EXACT) return { exact, req: asReq(exact), all: [] };
  }
  const req = new Set<string>();
  for (const b of branches) {
    const r = reqOf(b);
    if (!r) return ANY;
    for (const s of r) req.add(s);
  }
  // A match meets one branch, so it meets the union of one clause of each branch: the k-th
  // strongest of each (a branch with fewer gives its weakest again).
  const lists = branches.map(clausesOf);
  const all: Set<string>[] = [];
  for (let k = 1; k < Math.max(...lists.map((l) => l.length)); k++) {
    const union = new Set<string>();
    for (const l of lists) for (const s of l[Math.min(k, l.length - 1)]!) union.add(s);
    all.push(union);
  }
  return { exact: null, req, all: strongest(all) };
}

function repeat(info: Info, min: number, max: number): Info {
  if (min === 0) {
    // x? is x or nothing; x* and the like say nothing.
    if (max === 1 && info.exact && info.exact.size < MAX_EXACT)
      return { exact: new Set([...info.exact, '']), req: null, all: [] };
    return ANY;
  }
  if (min === 1 && max === 1) return info;
  return { exact: null, req: reqOf(info), all: info.all };
}

const lower = (c: string) => (c >= 'A' && c <= 'Z' ? c.toLowerCase() : c);

/** One character as an Info: ASCII only, so that case folding is exact. */
function char(c: string): Info {
  return c.charCodeAt(0) < 127 ? { exact: new Set([lower(c)]), req: null, all: [] } : ANY;
}

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Info {
    const info = this.alternation();
    if (this.i < this.src.length) throw new Unsupported(`unexpected ${this.src[this.i]}`);
    return info;
  }

  private peek(): string | undefined {
    return this.src[this.i];
  }

  private alternation(): Info {
    const branches = [this.sequence()];
    while (this.peek() === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return branches.length === 1 ? branches[0]! : alternate(branches);
  }

  private sequence(): Info {
    const parts: Info[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.atom();
      parts.push(this.quantified(atom));
    }
    return concat(parts);
  }

  private quantified(atom: Info): Info {
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return atom; // a literal brace in non-unicode mode
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] ? Number(m[3]) : Infinity;
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    if (this.peek() === '?') this.i++; // lazy: same language
    return repeat(atom, min, max);
  }

  private atom(): Info {
    const c = this.src[this.i++]!;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return this.charClass();
      case '.':
        return ANY;
      case '^':
      case '$':
        return EMPTY;
      case '\\':
        return this.escape();
      default:
        return char(c);
    }
  }

  private group(): Info {
    let lookaround = false;
    if (this.src.startsWith('?:', this.i)) this.i += 2;
    else if (/^\?<?[=!]/.test(this.src.slice(this.i, this.i + 3))) {
      lookaround = true;
      this.i += this.src[this.i + 1] === '<' ? 3 : 2;
    } else if (this.src.startsWith('?<', this.i)) {
      const end = this.src.indexOf('>', this.i);
      if (end === -1) throw new Unsupported('bad group name');
      this.i = end + 1;
    } else if (this.peek() === '?') throw new Unsupported('unknown group');
    const inner = this.alternation();
    if (this.src[this.i++] !== ')') throw new Unsupported('unclosed group');
    // A lookaround consumes nothing: it adds no literal and removes none.
    return lookaround ? EMPTY : inner;
  }

  private escape(): Info {
    const c = this.src[this.i++];
    if (c === undefined) throw new Unsupported('trailing backslash');
    if (c === 'b') return { exact: new Set([BOUNDARY]), req: null, all: [] };
    if (c === 'B') return EMPTY;
    if (/[dDwWsS]/.test(c)) return ANY;
    if (/[1-9k]/.test(c)) throw new Unsupported('backreference');
    if (c === 'x' || c === 'u' || c === 'c') {
      // \xHH, \uHHHH, \cX: rare in patterns; skipped over and taken as any character.
      this.i += { x: 2, u: 4, c: 1 }[c];
      return ANY;
    }
    const control: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v' };
    return char(control[c] ?? c);
  }

  /** Reads one class member: a character, or null for a class escape (\d, \w, ...). */
  private classChar(): string | null {
    const c = this.src[this.i++]!;
    if (c !== '\\') return c;
    const e = this.src[this.i++];
    if (e === undefined) throw new Unsupported('trailing backslash');
    if (e === 'x' || e === 'u' || e === 'c') {
      this.i += { x: 2, u: 4, c: 1 }[e];
      return null;
    }
    if (/[dDwWsSbB0-9]/.test(e)) return null;
    return { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v' }[e] ?? e;
  }

  private charClass(): Info {
    const negated = this.peek() === '^';
    if (negated) this.i++;
    const chars = new Set<string>();
    let wide = false;
    while (this.i < this.src.length && this.peek() !== ']') {
      const from = this.classChar();
      if (this.peek() === '-' && this.i + 1 < this.src.length && this.src[this.i + 1] !== ']') {
        this.i++;
        const to = this.classChar();
        if (from === null || to === null || to.charCodeAt(0) - from.charCodeAt(0) >= MAX_CLASS) wide = true;
        else
          for (let k = from.charCodeAt(0); k <= to.charCodeAt(0); k++)
            chars.add(lower(String.fromCharCode(k)));
      } else if (from === null) wide = true;
      else chars.add(lower(from));
    }
    if (this.src[this.i++] !== ']') throw new Unsupported('unclosed class');
    if (negated || wide || chars.size === 0 || chars.size > MAX_CLASS) return ANY;
    if ([...chars].some((ch) => ch.charCodeAt(0) >= 127)) return ANY;
    return { exact: chars, req: null, all: [] };
  }
}

/**
 * The literals one of which every match of `source` (compiled case-insensitively) contains,
 * lower-case, with BOUNDARY marking a word boundary at either end; null when there is no such
 * set worth searching for (a literal shorter than `minLength`).
 */
export function requiredLiterals(source: string, minLength = 3): string[] | null {
  const info = parsed(source);
  const req = info && reqOf(info);
  if (!req || strength(req) < minLength) return null;
  return [...req];
}

/**
 * Up to MAX_CLAUSES sets of literals (lower-case, BOUNDARY at an end marking a word boundary), every
 * one of which holds of every match of `source` (compiled case-insensitively): each match contains
 * a literal of each set. Strongest first, the first as good as requiredLiterals'. `PKIX path
 * (building|validation) failed` gives [["pkix path "], [" failed"]]: a text with "pkix path" and no
 * "failed" is ruled out without running the pattern. null when no set is worth testing (a literal
 * shorter than `minLength`).
 */
export function requiredClauses(source: string, minLength = 3): string[][] | null {
  const info = parsed(source);
  const req = info && reqOf(info);
  if (!req || strength(req) < minLength) return null;
  // A set beyond the first is worth its place in the cache (parsed at every start) only when small.
  const more = strongest([req, ...info.all]).filter(
    (c) => c !== req && strength(c) >= minLength && c.size <= MAX_EXTRA_SIZE,
  );
  return [req, ...more].map((c) => [...c]);
}

const isWordChar = (c: string) => /\w/.test(c);

/**
 * `literal` (requiredClauses') as diagnose's pre-test searches it: BOUNDARY also between each two
 * of its characters of which one is a word character ([A-Za-z0-9_]) and the other not, a boundary
 * wherever the literal occurs. The pre-test marks every word boundary of a text the same way
 * (lowerText in diagnose/match.ts), so the literal occurs in the marked text exactly where it
 * occurs in the text with a word boundary at each end that carries BOUNDARY.
 */
export function markedLiteral(literal: string): string {
  let out = '';
  for (let i = 0; i < literal.length; i++) {
    const c = literal[i]!;
    const before = literal[i - 1];
    if (before !== undefined && before !== BOUNDARY && c !== BOUNDARY && isWordChar(before) !== isWordChar(c))
      out += BOUNDARY;
    out += c;
  }
  return out;
}

/** The parsed pattern, or null for syntax this parser does not follow (then nothing is required). */
function parsed(source: string): Info | null {
  try {
    return new Parser(source).parse();
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
}
