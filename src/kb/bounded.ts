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
    const c = source[i]!;
    let atom: string;
    if (c === '\\') {
      atom = source.slice(i, i + 2);
      i += 2;
    } else if (c === '[') {
      // A class runs to its first unescaped `]` (a `]` right after `[` or `[^` is a member).
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      atom = source.slice(i, j + 1);
      i = j + 1;
    } else {
      atom = c;
      i++;
    }
    const q = source[i];
    if ((q === '*' || q === '+') && (single(atom) || atom === ')')) {
      out += `${atom}{${q === '*' ? 0 : 1},${atom === ')' ? GROUP : bound(atom)}}`;
      i++;
    } else out += atom;
  }
  return out;
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
