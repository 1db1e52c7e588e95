// Loads the knowledge base: the built-in kb/ folder plus any folders a user adds (--kb DIR).
// Entries are YAML files; validated entries are cached as JSON keyed by the files' names, sizes
// and mtimes, so a warm load is one JSON.parse (a few ms) and never imports yaml or zod.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { READER_PATTERNS } from '../diagnose/signals.js';
import { FileReadError, readRegularFileSync } from '../fs-read.js';
import { ambiguousRepetition, boundRepetitions, overlappingAlternatives } from './bounded.js';
import { type Entry, SIGNAL_TYPES, type Symptom } from '../types.js';

/** Bump when the cached form of entries changes. */
const CACHE_VERSION = 8;

/**
 * The reader's pattern sources, part of the cache's fingerprint so that their cached literals are
 * computed again when one changes. The text itself, not a hash of it: a hash loop in JavaScript
 * over 20 KB got optimized on a background thread at every cold start (8 ms of compiling, seen with
 * --trace-opt); a native join and string compare cost nothing.
 */
const READER_SOURCES = READER_PATTERNS.map((re) => re.source).join('\n');

/** The package folder: the nearest folder above this module with linkdoctor's package.json (src/ and the bundle differ in depth). */
export const PACKAGE_ROOT = (() => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'kb'))) return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the linkdoctor package folder');
  }
})();
export const BUILTIN_KB = join(PACKAGE_ROOT, 'kb');

export interface KbProblem {
  file: string;
  /** 1-based line (and column, for a YAML syntax error) in the file, when the problem has a place there. */
  line?: number;
  column?: number;
  field?: string;
  message: string;
}

/** A knowledge base that cannot be used; its message lists every problem, one per line. */
export class KbError extends Error {
  constructor(readonly problems: KbProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

/** `file:line: field: message`, as compilers (and `check`'s inventory problems) print one. */
export function formatProblem(p: KbProblem): string {
  const at = p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : '';
  return `${p.file}${at}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export interface CompiledSymptom extends Symptom {
  /** The pattern, compiled on first read (absent for status and signal symptoms). */
  readonly re?: RegExp;
  /**
   * Sets of literals (lower-case; DEL marks a word boundary: markedLiteral in kb/literals.ts): every
   * text the pattern matches holds one literal of each set, a cheap test before the regex
   * (requiredClauses in kb/literals.ts).
   */
  literals?: string[][];
  signalType?: string;
  /** The signal's value a status or signal symptom requires, compiled on first read. */
  readonly valueRe?: RegExp;
}

export interface CompiledEntry extends Entry {
  match: CompiledSymptom[];
  unless: CompiledSymptom[];
}

export interface Kb {
  entries: CompiledEntry[];
  byId: Map<string, CompiledEntry>;
  /** For each reader pattern, the literals one of which every match holds (null: run it always); absent: run all. */
  readerLiterals?: Map<RegExp, string[][] | null>;
}

/** Far above any entry (the largest built-in one is under 30 KB): a bound on what is read of one. */
const MAX_ENTRY_BYTES = 1 << 20;

/** Lists the entry files of a folder, sorted so that loading is deterministic. */
export function entryFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A file, a FIFO or a device where the folder was expected: readdir refuses it without opening it.
    const message =
      code === 'ENOTDIR' ? 'is not a folder (give the folder that holds the entries)' : `cannot read the folder (${code})`;
    throw new KbError([{ file: dir, message }]);
  }
  // join(dir, name) is the folder's joined prefix and the name (a name has no separator and is no
  // dot segment): joined once, not per file. Forty-odd joins made Node's path normalizer hot, and
  // a cold `diagnose` paid about 12 M instructions for TurboFan compiling it (callgrind).
  const prefix = join(dir, 'x').slice(0, -1);
  return names
    .filter((n) => /\.ya?ml$/i.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => prefix + n);
}

/**
 * Parses and validates every entry file of a folder; returns the good entries and every problem,
 * each with its line in the file when it has a field there, and `lineOf` to place problems found
 * later (kb lint's examples) the same way.
 */
export async function readEntries(dir: string): Promise<{
  entries: Entry[];
  problems: KbProblem[];
  /** Gives a problem of a file read here the line of its field (unchanged when none). */
  placed: (p: KbProblem) => KbProblem;
}> {
  const [{ parseDocument, LineCounter }, { entrySchema, entryIssue, issuePath, valueAt }, { lineAt, fieldPath }] =
    await Promise.all([import('yaml'), import('./schema.js'), import('../yaml-lines.js')]);
  const entries: Entry[] = [];
  const problems: KbProblem[] = [];
  const docs = new Map<string, (path: readonly PropertyKey[], key?: string) => number | undefined>();
  const placed = (p: KbProblem): KbProblem => {
    const lineOf = docs.get(p.file);
    if (p.line || !lineOf) return p;
    const line = lineOf(p.field ? fieldPath(p.field) : []);
    return line ? { ...p, line } : p;
  };
  for (const file of entryFiles(dir)) {
    // A FIFO, a device, a folder or an oversized file among the entries is a problem of that file,
    // as a YAML error is: the others are still read, so that `kb lint` lists every problem at once.
    let text: string;
    try {
      text = readRegularFileSync(file, { what: 'knowledge-base entry', maxBytes: MAX_ENTRY_BYTES }).toString('utf8');
    } catch (e) {
      if (!(e instanceof FileReadError)) throw e;
      problems.push({ file, message: e.predicate });
      continue;
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
    const error = doc.errors[0];
    if (error) {
      const msg = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      const [line, column] = error.linePos ? [error.linePos[0].line, error.linePos[0].col] : [];
      problems.push({ file, ...(line ? { line, column } : {}), message: `not valid YAML: ${msg}` });
      continue;
    }
    docs.set(file, (path, key) => lineAt(doc, lines, path, key));
    let data: unknown;
    try {
      // yaml refuses aliases that would expand past its limit (an "alias bomb").
      data = doc.toJS();
    } catch (e) {
      problems.push({ file, message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    // Told whether or not the rest of the entry is valid.
    const id = valueAt(data, ['id']);
    const stem = basename(file).replace(/\.ya?ml$/i, '');
    if (typeof id === 'string' && id !== stem)
      problems.push({ file, field: 'id', message: `id "${id}" differs from the file name` });
    const parsed = entrySchema.safeParse(data);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        for (const one of entryIssue(issue, valueAt(data, issue.path))) {
          const line = lineAt(doc, lines, one.path, one.key);
          problems.push({
            file,
            ...(line ? { line } : {}),
            field: issuePath(one.key === undefined ? one.path : [...one.path, one.key]) || '(entry)',
            message: one.message,
          });
        }
      continue;
    }
    const entry: Entry = { ...parsed.data, file };
    problems.push(...regexProblems(entry), ...causeReferenceProblems(entry));
    entries.push(entry);
  }
  // Each file's problems in its line order, as a compiler lists them (the file's own first).
  const order = new Map<string, number>();
  for (const p of problems) if (!order.has(p.file)) order.set(p.file, order.size);
  const at = (p: KbProblem) => order.get(p.file)! * 2 ** 32 + (p.line ?? 0);
  return { entries, problems: problems.map(placed).sort((a, b) => at(a) - at(b)), placed };
}

function regexProblems(entry: Entry): KbProblem[] {
  const problems: KbProblem[] = [];
  const lists = [
    ['symptoms', entry.symptoms],
    ['against', entry.against ?? []],
  ] as const;
  for (const [name, list] of lists)
    list.forEach((s, i) => {
      if (s.signal !== undefined && !(s.signal in SIGNAL_TYPES))
        problems.push({
          file: entry.file ?? entry.id,
          field: `${name}[${i}].signal`,
          message: `unknown signal type "${s.signal}" (known: ${Object.keys(SIGNAL_TYPES).join(', ')})`,
        });
      for (const key of ['pattern', 'value'] as const) {
        const src = s[key];
        if (src === undefined) continue;
        let re: RegExp;
        try {
          re = new RegExp(src, 'i');
        } catch (e) {
          problems.push({
            file: entry.file ?? entry.id,
            field: `${name}[${i}].${key}`,
            message: `not a valid regular expression: ${(e as Error).message}`,
          });
          continue;
        }
        if (re.test(''))
          problems.push({
            file: entry.file ?? entry.id,
            field: `${name}[${i}].${key}`,
            message: 'matches the empty string, so it would match every input',
          });
        const ambiguous = ambiguousRepetition(src);
        if (ambiguous)
          problems.push({
            file: entry.file ?? entry.id,
            field: `${name}[${i}].${key}`,
            message:
              `the repeated group ${ambiguous} can cut one text into its repetitions in very many ways, so a long ` +
              `text would keep the matcher busy without end: give each repetition a character its runs cannot ` +
              `match, as in (?:[a-z]+\\.)+`,
          });
        const overlap = ambiguous ? undefined : overlappingAlternatives(src);
        if (overlap)
          problems.push({
            file: entry.file ?? entry.id,
            field: `${name}[${i}].${key}`,
            message:
              `the repeated group ${overlap.group} has alternatives that can match the same text (${overlap.alternatives[0] || 'nothing'} and ` +
              `${overlap.alternatives[1] || 'nothing'}), so it can cut one text into its repetitions in very many ways and a long text ` +
              `would keep the matcher busy without end: make the alternatives start with different characters, or use one ` +
              `class, as in [\\w-]+`,
          });
      }
    });
  return problems;
}

/** Every `cause` of a symptom and every `for` of a fix or check names a cause of the entry, once. */
function causeReferenceProblems(entry: Entry): KbProblem[] {
  const file = entry.file ?? entry.id;
  const problems: KbProblem[] = [];
  const ids = new Set<string>();
  entry.causes.forEach((c, i) => {
    if (c.id === undefined) return;
    if (ids.has(c.id)) problems.push({ file, field: `causes[${i}].id`, message: `"${c.id}" names two causes` });
    ids.add(c.id);
  });
  const known = () => (ids.size ? `known: ${[...ids].join(', ')}` : 'the entry names no cause');
  entry.symptoms.forEach((s, i) => {
    if (s.cause !== undefined && !ids.has(s.cause))
      problems.push({ file, field: `symptoms[${i}].cause`, message: `no cause "${s.cause}" (${known()})` });
  });
  (entry.against ?? []).forEach((s, i) => {
    if (s.cause !== undefined)
      problems.push({ file, field: `against[${i}].cause`, message: 'negative evidence names no cause' });
  });
  for (const [list, items] of [
    ['fixes', entry.fixes],
    ['checks', entry.checks],
  ] as const)
    items.forEach((x, i) =>
      x.for?.forEach((id, j) => {
        if (!ids.has(id)) problems.push({ file, field: `${list}[${i}].for[${j}]`, message: `no cause "${id}" (${known()})` });
      }),
    );
  return problems;
}

function cacheFile(dir: string): string {
  if (resolve(dir) === BUILTIN_KB) return join(PACKAGE_ROOT, 'dist', 'kb.cache.json');
  const home = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const key = resolve(dir).replace(/[^\w.-]+/g, '_').replace(/^_/, '').slice(-120);
  return join(home, 'linkdoctor', `kb-${key}.json`);
}

/** Names, sizes and mtimes of the files: cheap to compute and compare (no hashing on the hot path). */
function fingerprint(files: string[]): string {
  return [
    READER_SOURCES, CACHE_VERSION, ...files.map((f) => {
    const st = statSync(f);
    return `${f}:${st.size}:${st.mtimeMs}`;
  })].join('\n');
}

/**
 * JSON with every character beyond ASCII written as a \\u escape (DEL, the literals' BOUNDARY, stays). The knowledge base quotes texts in
 * other languages; one such character makes Node decode the whole 0.5 MB cache as two-byte UTF-8,
 * which a cold `diagnose` pays for (about 5 ms of its start, measured).
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Per entry, the required literals of its symptoms and `against` patterns (null: none worth testing). */
export interface EntryLiterals {
  match: (string[][] | null)[];
  unless: (string[][] | null)[];
}

/** The sets of required literals of a pattern's source, marked (requiredClauses, markedLiteral; null: none worth testing). */
async function patternLiterals(): Promise<(source: string) => string[][] | null> {
  const { requiredClauses, markedLiteral } = await import('./literals.js');
  return (source) => requiredClauses(source)?.map((clause) => clause.map(markedLiteral)) ?? null;
}

async function literalsOf(entries: Entry[]): Promise<EntryLiterals[]> {
  const literals = await patternLiterals();
  const of = (s: Symptom) => literals(s.pattern ?? '');
  return entries.map((e) => ({ match: e.symptoms.map(of), unless: (e.against ?? []).map(of) }));
}

/**
 * The fields of an entry that only a shown diagnosis, `kb show` and lint read. The cache keeps
 * them out of its JSON: a cold `diagnose` parses the matching data only, and an entry's guidance
 * when it is first read (see CacheFile).
 */
const GUIDANCE = ['summary', 'causes', 'checks', 'fixes', 'references', 'decide', 'examples'] as const;
type Guidance = Pick<Entry, (typeof GUIDANCE)[number]>;

/** An entry as the cache's JSON holds it: the matching data only. */
type CachedEntry = Omit<Entry, keyof Guidance>;

/** The entry's matching data, and its guidance as one JSON text. */
function toCached(entry: Entry): { cached: CachedEntry; guidance: string } {
  const cached: Record<string, unknown> = {};
  const guidance: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) ((GUIDANCE as readonly string[]).includes(k) ? guidance : cached)[k] = v;
  return { cached: cached as CachedEntry, guidance: asciiJson(guidance) };
}

/** The entry with its guidance fields as enumerable getters that parse `guidance()` once. */
function fromCached(entry: CachedEntry, guidance: () => string): Entry {
  let parsed: Guidance | undefined;
  const read = () => (parsed ??= JSON.parse(guidance()) as Guidance);
  for (const k of GUIDANCE)
    Object.defineProperty(entry, k, { get: () => read()[k], enumerable: true, configurable: true });
  return entry as Entry;
}

interface Loaded {
  entries: Entry[];
  literals: EntryLiterals[];
  /** The required literals of the reader's patterns (READER_PATTERNS order), cached with the entries. */
  reader: (string[][] | null)[];
}

/**
 * The cache file: a line of JSON (the fingerprint, the entries' matching data, the literals, and
 * the length of each entry's guidance text), then each entry's guidance as a line of JSON of its
 * own, in the entries' order; every line ends in a line break. ASCII throughout (asciiJson), so that
 * a JSON text never holds a line break and latin1 decodes the file exactly. A cold `diagnose` parses
 * the first line only: the guidance, more than half of the file, was parsed as strings at every
 * start, and is now sliced out of the text when read.
 */
type CacheFile = Omit<Loaded, 'entries'> & { fingerprint: string; entries: CachedEntry[]; guidance: number[] };

/** The cache file's text for `loaded` (see CacheFile). */
function cacheText(fingerprint: string, loaded: Loaded): string {
  const parts = loaded.entries.map(toCached);
  const head: CacheFile = {
    fingerprint,
    ...loaded,
    entries: parts.map((p) => p.cached),
    guidance: parts.map((p) => p.guidance.length),
  };
  return [asciiJson(head), ...parts.map((p) => p.guidance)].map((line) => `${line}\n`).join('');
}

/** The entries of a cache file's text when its fingerprint is `fingerprint`; else undefined. Throws on a malformed text. */
function fromCacheText(text: string, fingerprint: string): Loaded | undefined {
  const headEnd = text.indexOf('\n');
  const head = JSON.parse(text.slice(0, headEnd)) as CacheFile;
  if (head.fingerprint !== fingerprint) return undefined;
  const starts: number[] = [];
  let at = headEnd + 1;
  for (const length of head.guidance) {
    starts.push(at);
    at += length + 1;
  }
  // A file cut short or grown: rebuilt, never a getter that fails later.
  if (head.guidance.length !== head.entries.length || at !== text.length) throw new Error('malformed cache');
  const entries = head.entries.map((e, i) => fromCached(e, () => text.slice(starts[i], starts[i]! + head.guidance[i]!)));
  return { entries, literals: head.literals, reader: head.reader };
}

/** Required literals of the reader's own patterns: code, not data, but cached beside the entries. */
async function readerLiteralsOf(): Promise<(string[][] | null)[]> {
  const literals = await patternLiterals();
  return READER_PATTERNS.map((re) => literals(re.source));
}

/** Entries of one folder: from the cache when the files have not changed, else parsed and validated. */
async function loadDir(dir: string): Promise<Loaded> {
  const files = entryFiles(dir);
  const fp = fingerprint(files);
  const cache = cacheFile(dir);
  try {
    // Written as ASCII (asciiJson): latin1 decodes it exactly, and faster than UTF-8.
    const cached = fromCacheText(readFileSync(cache, 'latin1'), fp);
    if (cached) return cached;
  } catch {
    // no cache yet, or an unreadable one: rebuild it below
  }
  const { entries, problems } = await readEntries(dir);
  if (problems.length) throw new KbError(problems);
  const loaded = { entries, literals: await literalsOf(entries), reader: await readerLiteralsOf() };
  try {
    mkdirSync(dirname(cache), { recursive: true });
    // Exclusive random temp name: a symlink planted in a shared cache folder is never followed.
    const { writeFileAtomic } = await import('../fs-write.js');
    await writeFileAtomic(cache, cacheText(fp, loaded), { mode: 0o644 });
  } catch {
    // a read-only install still works, only without the cache
  }
  return loaded;
}

function compileSymptom(s: Symptom, literals?: string[][] | null): CompiledSymptom {
  if (s.pattern !== undefined) {
    // Compiled on first use: with the literal pre-test most patterns never run, and a cold
    // `diagnose` would otherwise pay to parse every one of them.
    // A getter in the literal, not defineProperty: the object keeps a fast shape.
    let re: RegExp | undefined;
    const source = s.pattern;
    return {
      ...s,
      ...(literals ? { literals } : {}),
      get re() {
        return (re ??= new RegExp(boundRepetitions(source), 'gi'));
      },
    };
  }
  // A status symptom's codes or a signal symptom's value, compiled on first use too: most of them
  // are never tried against a signal.
  const status = s.status === undefined ? undefined : Array.isArray(s.status) ? s.status : [s.status];
  const signalType = status ? 'http.status' : s.signal;
  const value = status ? status.join('|') : s.value;
  if (value === undefined) return { ...s, signalType };
  let re: RegExp | undefined;
  return {
    ...s,
    signalType,
    get valueRe() {
      return (re ??= new RegExp(`^(?:${value})$`, status ? '' : 'i'));
    },
  };
}

/** Compiles entries for the matcher; with `literals`, patterns are tried only where one can match. */
export function compileEntries(entries: Entry[], literals?: EntryLiterals[]): Kb {
  const compiled: CompiledEntry[] = entries.map((e, i) =>
    // Descriptors, not a spread: a cached entry's guidance getters stay unread (fromCached).
    Object.assign(Object.defineProperties({}, Object.getOwnPropertyDescriptors(e)) as Entry, {
      match: e.symptoms.map((s, j) => compileSymptom(s, literals?.[i]?.match[j])),
      unless: (e.against ?? []).map((s, j) => compileSymptom(s, literals?.[i]?.unless[j])),
    }),
  );
  return { entries: compiled, byId: new Map(compiled.map((e) => [e.id, e])) };
}

/** Checks that no id is defined twice across the folders. */
export function duplicateIds(entries: Entry[]): KbProblem[] {
  const seen = new Map<string, string>();
  const problems: KbProblem[] = [];
  for (const e of entries) {
    const first = seen.get(e.id);
    if (first) problems.push({ file: e.file ?? e.id, field: 'id', message: `"${e.id}" is already defined in ${first}` });
    else seen.set(e.id, e.file ?? e.id);
  }
  return problems;
}

/** The knowledge base: the built-in entries (unless `builtin` is false) and those of `dirs`. */
export async function loadKb(opts: { dirs?: string[]; builtin?: boolean } = {}): Promise<Kb> {
  const dirs = [...(opts.builtin === false ? [] : [BUILTIN_KB]), ...(opts.dirs ?? [])];
  const entries: Entry[] = [];
  const literals: EntryLiterals[] = [];
  let reader: (string[][] | null)[] | undefined;
  for (const dir of dirs) {
    const loaded = await loadDir(dir);
    entries.push(...loaded.entries);
    literals.push(...loaded.literals);
    reader ??= loaded.reader;
  }
  const dups = duplicateIds(entries);
  if (dups.length) throw new KbError(dups);
  const kb = compileEntries(entries, literals);
  if (reader?.length === READER_PATTERNS.length)
    kb.readerLiterals = new Map(READER_PATTERNS.map((re, i) => [re, reader[i] ?? null]));
  return kb;
}
