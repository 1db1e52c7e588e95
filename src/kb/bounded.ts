// Bounds the open-ended repetitions of a regular expression, so that no input can make it
// backtrack without end: `\s*` becomes `\s{0,16}`, `.+` becomes `.{1,300}`, `[^;]*` becomes
// `[^;]{0,300}`. V8's engine backtracks; overlapping open repetitions (`HTTP[\s_-]*...\s*...\s*`)
// cost seconds on a few kilobytes of spaces. With every repetition of a single character class
// bounded, a failed attempt at one position costs at most the product of a few small bounds, and a
// text is read in time linear in its length. Real error texts never put more than 16 blanks, or
// 300 characters of one class, where a pattern expects a gap.
//
// Why our own code and not RE2 (the `re2` package): it builds from source here (6 minutes per
// install without network access to its prebuilt binaries) and runs no lookaround, which the
// knowledge base and the signal reader use; bounding repetitions keeps V8's engine and the syntax.

/** How far a run of blanks, or of word characters, may reach. */
const BLANKS = 16;
const WORD = 64;
/** How far any other single-class run may reach (a gap between two words, a URL, a DN value). */
const RUN = 300;
/** How often a group may repeat (`(?:[a-z]+\.)+` over a Java package name; `(?:word )*`). */
const GROUP = 32;

/**
 * Rewrites `source` (JavaScript regular-expression syntax, no `u`/`v` flag) with the open
 * repetitions of single-character atoms (`\s`, `\S`, `\w`, `\W`, `\d`, `.`, a class `[...]`) and
 * of groups bounded. A literal character keeps its quantifier (`a+` cannot overlap a neighbour).
 * The result matches the same texts as long as no run exceeds its bound. Never throws: what it
 * does not understand it copies.
 */
export function boundRepetitions(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const atom = atomAt(source, i);
    i += atom.length;
    const q = source[i];
    if ((q === '*' || q === '+') && (single(atom) || atom === ')')) {
      out += `${atom}{${q === '*' ? 0 : 1},${atom === ')' ? GROUP : bound(atom)}}`;
      i++;
    } else out += atom;
  }
  return out;
}

/** The atom of `source` at `i`: an escape (`\\s`, `\\.`), a whole class `[...]`, or one character. */
function atomAt(source: string, i: number): string {
  const c = source[i]!;
  if (c === '\\') return source.slice(i, i + 2);
  if (c !== '[') return c;
  // A class runs to its first unescaped `]` (a `]` right after `[` or `[^` is a member).
  let j = i + 1;
  if (source[j] === '^') j++;
  if (source[j] === ']') j++;
  while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
  return source.slice(i, j + 1);
}

/**
 * The first repeated group of `source` that can split one text into its iterations in many ways,
 * or undefined. Bounding cannot save such a group: `(?:\\w+\\s?)+` tries every way of cutting a long
 * word into up to 32 pieces, which never ends. A repeated group is safe when its body holds a
 * required character that none of its runs can match (`(?:[a-z]+\\.)+`: each iteration ends at a
 * dot), or no run at all. Conservative: a body with an alternation and a run counts as ambiguous. `flags` as the pattern is compiled with (`i` matters).
 */
export function ambiguousRepetition(source: string, flags = 'i'): string | undefined {
  for (const { group, body } of repeatedGroups(source, 2)) if (!delimited(body, flags)) return group;
  return undefined;
}

/**
 * The first repeated group of `source` with an alternation, in its body at any depth, whose
 * alternatives can match the same character first or one of which can match nothing (`(\\w|\\d)+`:
 * both take a digit; `(a|a?)+`; `([a-z]|[a-c])+`), with the two alternatives that overlap; or
 * undefined. Each iteration can then take either, so a text of n such characters can be cut in 2^n
 * ways, and bounding the group to 32 iterations still leaves 2^32. Conservative: alternatives that
 * start alike and part later (`(?:ab|ac)+`) count too. `flags` as the pattern is compiled with.
 */
export function overlappingAlternatives(
  source: string,
  flags = 'i',
): { group: string; alternatives: [string, string] } | undefined {
  // Repeated often only: a few iterations ({0,2}) cut a text in a few ways only, whatever overlaps.
  for (const { group, body } of repeatedGroups(source, 10))
    for (const alternation of alternationsIn(body)) {
      const firsts = alternation.map((b) => firstOf(b, flags));
      for (let a = 0; a < firsts.length; a++)
        for (let b = a + 1; b < firsts.length; b++)
          if (firsts[a]!.nullable || firsts[b]!.nullable || firsts[a]!.chars.some((x, c) => x && firsts[b]!.chars[c]))
            return { group, alternatives: [alternation[a]!, alternation[b]!] };
    }
  return undefined;
}

/**
 * Each group of `source` under a repeating quantifier (`*`, `+`, `{n,}`, or `{n,m}` with m at least
 * `least`), innermost first: the group with its quantifier, and its body without the group's own
 * `?:`, lookaround or name.
 */
function* repeatedGroups(source: string, least: number): Generator<{ group: string; body: string }> {
  const opens: number[] = [];
  for (let i = 0; i < source.length; ) {
    const atom = atomAt(source, i);
    if (atom === '(') opens.push(i);
    i += atom.length;
    if (atom !== ')') continue;
    const start = opens.pop() ?? 0;
    const bound = source[i] === '{' ? /^\{\d+,(\d*)\}/.exec(source.slice(i)) : null;
    const quantifier =
      source[i] === '*' || source[i] === '+'
        ? source[i]
        : bound && (bound[1] === '' || Number(bound[1]) >= least)
          ? bound[0]
          : undefined;
    if (quantifier)
      yield {
        group: source.slice(start, i) + quantifier,
        body: source.slice(start + 1, i - 1).replace(/^\?(?:[:=!]|<[=!]|<\w+>)/, ''),
      };
  }
}

/** The alternations of `body` and of every group in it, each as its list of alternatives (2 or more). */
function alternationsIn(body: string): string[][] {
  const found: string[][] = [];
  const split = (text: string) => {
    const branches: string[] = [];
    let depth = 0;
    let from = 0;
    for (let i = 0; i < text.length; ) {
      const atom = atomAt(text, i);
      if (atom === '(') depth++;
      else if (atom === ')') depth--;
      else if (atom === '|' && depth === 0) {
        branches.push(text.slice(from, i));
        from = i + 1;
      }
      i += atom.length;
    }
    branches.push(text.slice(from));
    if (branches.length > 1) found.push(branches);
  };
  split(body);
  const opens: number[] = [];
  for (let i = 0; i < body.length; ) {
    const atom = atomAt(body, i);
    if (atom === '(') opens.push(i);
    i += atom.length;
    if (atom !== ')' || !opens.length) continue;
    const start = opens.pop()!;
    const inner = body.slice(start + 1, i - 1);
    if (!/^\?<?[=!]/.test(inner)) split(inner.replace(/^\?(?:[:]|<\w+>)/, ''));
  }
  return found;
}

/** The Latin-1 characters an alternative can begin with, and whether it can match nothing at all. */
function firstOf(seq: string, flags: string): { chars: boolean[]; nullable: boolean } {
  const chars = new Array<boolean>(256).fill(false);
  for (let i = 0; i < seq.length; ) {
    let atom = atomAt(seq, i);
    let sub: { chars: boolean[]; nullable: boolean } | undefined;
    if (atom === '(') {
      let depth = 0;
      let j = i;
      do {
        const a = atomAt(seq, j);
        if (a === '(') depth++;
        else if (a === ')') depth--;
        j += a.length;
      } while (depth > 0 && j < seq.length);
      atom = seq.slice(i, j);
      const inner = atom.slice(1, -1);
      // A lookaround matches no character: it neither starts nor ends the alternative.
      sub = /^\?<?[=!]/.test(inner)
        ? { chars: new Array<boolean>(256).fill(false), nullable: true }
        : alternativesFirst(inner.replace(/^\?(?:[:]|<\w+>)/, ''), flags);
    }
    i += atom.length;
    const q = seq[i];
    const quantifier = q === '*' || q === '+' || q === '?' ? q : q === '{' ? (/^\{\d+(?:,\d*)?\}/.exec(seq.slice(i))?.[0] ?? '') : '';
    i += quantifier.length;
    if (seq[i] === '?' && quantifier) i++;
    const optional = quantifier === '*' || quantifier === '?' || /^\{0[,}]/.test(quantifier);
    if (!sub && /^[\^$]$|^\\[bB]$/.test(atom)) continue;
    if (!sub) {
      let re: RegExp | undefined;
      try {
        re = new RegExp(`^(?:${atom === '.' ? '[^\\n]' : atom})$`, flags.replace(/[gy]/g, ''));
      } catch {
        re = undefined;
      }
      sub = { chars: Array.from({ length: 256 }, (_, c) => !re || re.test(String.fromCharCode(c))), nullable: false };
    }
    sub.chars.forEach((x, c) => x && (chars[c] = true));
    if (!optional && !sub.nullable) return { chars, nullable: false };
  }
  return { chars, nullable: true };
}

/** firstOf over the alternatives of a group's body: their characters together; nullable if any is. */
function alternativesFirst(body: string, flags: string): { chars: boolean[]; nullable: boolean } {
  const chars = new Array<boolean>(256).fill(false);
  let nullable = false;
  let depth = 0;
  let from = 0;
  const add = (branch: string) => {
    const f = firstOf(branch, flags);
    f.chars.forEach((x, c) => x && (chars[c] = true));
    nullable ||= f.nullable;
  };
  for (let i = 0; i < body.length; ) {
    const atom = atomAt(body, i);
    if (atom === '(') depth++;
    else if (atom === ')') depth--;
    else if (atom === '|' && depth === 0) {
      add(body.slice(from, i));
      from = i + 1;
    }
    i += atom.length;
  }
  add(body.slice(from));
  return { chars, nullable };
}

/** The runs (atoms that may repeat) and the required single characters of a group's body. */
interface BodyAtoms {
  runs: RegExp[];
  required: RegExp[];
  /** An alternation: which branch matches is open, so nothing is surely required. */
  alternation: boolean;
}

/** Reads a body from `i` up to its closing parenthesis (or the end); returns where it stopped. */
function collect(body: string, i: number, flags: string, into: BodyAtoms, optional: boolean, repeated: boolean): number {
  while (i < body.length) {
    let atom = atomAt(body, i);
    if (atom === ')') return i + 1;
    let inner: BodyAtoms | undefined;
    if (atom === '(') {
      inner = { runs: [], required: [], alternation: false };
      const prefix = /^\(\?(?:[:=!]|<[=!]|<\w+>)?/.exec(body.slice(i))![0];
      const lookaround = /^\(\?<?[=!]/.test(prefix);
      const end = collect(body, i + prefix.length, flags, inner, false, false);
      atom = body.slice(i, end);
      if (lookaround) inner = { runs: [], required: [], alternation: false };
    }
    i += atom.length;
    const q = body[i];
    const quantifier = q === '*' || q === '+' || q === '?' ? q : q === '{' ? (/^\{\d+(?:,\d*)?\}/.exec(body.slice(i))?.[0] ?? '') : '';
    i += quantifier.length;
    const min = quantifier === '' || quantifier === '+' ? 1 : Number(/^\{(\d+)/.exec(quantifier)?.[1] ?? 0);
    const max =
      quantifier === '' || quantifier === '?'
        ? 1
        : /^\{\d+\}$/.test(quantifier)
          ? min
          : Number(/,(\d+)\}$/.exec(quantifier)?.[1] ?? Infinity);
    if (atom === '|') into.alternation = true;
    if (inner) {
      // A group's atoms count as the group is quantified: repeated, all are runs; optional, none is required.
      const many = repeated || max > 1;
      into.runs.push(...inner.runs, ...(many ? inner.required : []));
      if (!many && !optional && min >= 1 && !inner.alternation) into.required.push(...inner.required);
      into.alternation ||= inner.alternation && inner.runs.length > 0;
      continue;
    }
    if (/^[|^$]$|^\\[bB]$/.test(atom)) continue;
    const re = new RegExp(`^${atom === '.' ? '[^\\n]' : atom}$`, flags.replace(/[gy]/g, ''));
    if (repeated || max > 1) into.runs.push(re);
    else if (!optional && min >= 1) into.required.push(re);
  }
  return i;
}

/** Whether a group's body has a required character that none of its runs can match. */
function delimited(body: string, flags: string): boolean {
  const atoms: BodyAtoms = { runs: [], required: [], alternation: false };
  collect(body, 0, flags, atoms, false, false);
  if (!atoms.runs.length) return true;
  if (atoms.alternation) return false;
  // Disjoint over Latin-1: what real patterns' runs and delimiters are made of.
  const chars = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c));
  return atoms.required.some((d) => chars.every((c) => !d.test(c) || atoms.runs.every((r) => !r.test(c))));
}

/** The bound of a run of one atom: blanks short, words longer, anything else a line's worth. */
function bound(atom: string): number {
  if (atom === '\\s' || (atom.startsWith('[') && !atom.startsWith('[^') && /\\s| /.test(atom))) return BLANKS;
  return /^\\[wWdD]$/.test(atom) ? WORD : RUN;
}

/** A single-character atom whose run can be long: an escape class, `.`, or a bracket class. */
function single(atom: string): boolean {
  return atom === '.' || /^\\[sSwWdD]$/.test(atom) || (atom.startsWith('[') && atom.endsWith(']'));
}

const boundedOf = new WeakMap<RegExp, RegExp>();

/**
 * `re` with its open repetitions bounded (boundRepetitions), same flags; made on first use and
 * kept. Callers bound where they run a pattern, not where they define it: a cold `diagnose` then
 * bounds only the few patterns its text may match (bounding all of the reader's and cues' patterns
 * at start cost about 32 M instructions, callgrind, of a 3-line text's 270 M beyond Node's start).
 */
export function bounded(re: RegExp): RegExp {
  let b = boundedOf.get(re);
  if (!b) boundedOf.set(re, (b = new RegExp(boundRepetitions(re.source), re.flags)));
  return b;
}
