// The matcher: holds the signals of one incident (read from text, or observed by a probe) against
// the knowledge base and returns ranked diagnoses with the evidence that decided them.
import type { CompiledEntry, CompiledSymptom, Kb } from '../kb/load.js';
import type {
  Cause,
  DiagnoseResult,
  Diagnosis,
  Direction,
  DirectionFinding,
  Entry,
  Evidence,
  InferredDirection,
  Signal,
} from '../types.js';
import { extractSignals, factsOf, logReader, maskTimeFractions } from './signals.js';

/** Below this a match is noise, not a diagnosis. */
export const MIN_CONFIDENCE = 0.3;
/** How many diagnoses an answer lists at most. */
const MAX_DIAGNOSES = 5;
/** How far the other direction's cues pull an entry down: opposite and certain = x0.4. */
const DIRECTION_PULL = 0.6;

export interface Incident {
  /** The error text, when the incident was read from text. */
  text?: string;
  /** Signals observed directly (by a probe); the text's own signals are added to them. */
  signals?: Signal[];
  /** The direction, when the caller knows it (a probe does). */
  direction?: Direction;
}

const combine = (weights: number[]) => 1 - weights.reduce((p, w) => p * (1 - w), 1);

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function spanEvidence(
  text: string,
  start: number,
  end: number,
  kind: Evidence['kind'],
  means?: string,
): Evidence {
  return {
    text: text.slice(start, end),
    start,
    end,
    line: lineOf(text, start),
    kind,
    ...(means ? { means } : {}),
  };
}

/**
 * Whether the text can hold what a pattern requires: `may(clauses)` is true when the text holds one
 * literal of each set (see CompiledSymptom.literals); false rules the pattern out unrun.
 */
export interface LowerText {
  may: (clauses: string[][]) => boolean;
}

/** From this length on, each literal's answer is remembered: a search through a 4 MB text costs more than the memory. */
const BIG_TEXT = 64 * 1024;

/** Trigrams are hashed into a bit set of at most this many bits (512 KB): a false hit costs one search, never a wrong answer. */
const TRIGRAM_BITS = 1 << 22;
/** Bits of the trigram set per character of a shorter text (about one bit in 16 set), and the fewest. */
const BITS_PER_CHAR = 16;
const MIN_TRIGRAM_BITS = 1 << 10;

const trigram = (s: string, i: number) =>
  Math.imul(s.charCodeAt(i), 0x9e3779b1) ^ Math.imul(s.charCodeAt(i + 1), 0x85ebca6b) ^ s.charCodeAt(i + 2);

/** Every word boundary (`\b`, around [A-Za-z0-9_]) of a text, as a regular expression finds them. */
const WORD_BOUNDARY = /\b/g;

/**
 * A test that is false only when `lower` cannot contain `literal`: all of the literal's trigrams
 * must be in the text's bit set. A false hit costs one search, never a wrong answer.
 */
function trigramTest(lower: string): (literal: string) => boolean {
  // A bit set, not a Set of numbers: filling a Set with a 4 MB text's trigrams took longer than the
  // patterns.
  let bits = MIN_TRIGRAM_BITS;
  while (bits < TRIGRAM_BITS && bits < lower.length * BITS_PER_CHAR) bits *= 2;
  const mask = bits - 1;
  const grams = new Uint8Array(bits >> 3);
  for (let i = 0; i + 2 < lower.length; i++) {
    const g = trigram(lower, i) & mask;
    grams[g >> 3]! |= 1 << (g & 7);
  }
  return (l) => {
    for (let i = 0; i + 2 < l.length; i++) {
      const g = trigram(l, i) & mask;
      if (!(grams[g >> 3]! & (1 << (g & 7)))) return false;
    }
    return true;
  };
}

/**
 * Short texts a process searches directly before it uses trigrams: until this code is compiled,
 * hashing runs interpreted and costs more than the native searches it saves (a cold `diagnose` of a
 * 3-line trace: 23 M instructions more, 3%, callgrind, session 11).
 */
const COLD_TEXTS = 16;
let textsSeen = 0;

/**
 * The literal pre-test of `text` (any length): `may(clauses)` with a pattern's cached clauses
 * (CompiledSymptom.literals) is false only when the pattern cannot match the text. A literal is
 * searched for only when all its trigrams are in the text (after the first COLD_TEXTS short texts).
 * Never throws.
 */
export function lowerText(text: string): LowerText {
  // DEL (BOUNDARY of kb/literals.ts) at every word boundary of the text, judged on the text itself as
  // a pattern judges it: the cached literals carry it where a `\b` stands and between a word
  // character and another one (markedLiteral), so a literal is found only where its boundaries
  // hold ("get" of `\bGET\b` not in "target") with one plain search.
  const lower = text.replace(WORD_BOUNDARY, '\u007f').toLowerCase();
  // A knowledge base holds a thousand or more literals, a diagnosis asks about 500 of them, 20 or
  // so present: searching the text for each took half of a scan's diagnosis (~0.3 ms of a 430
  // character event, session 11); most fail on their first trigram.
  const possible = lower.length >= BIG_TEXT || ++textsSeen > COLD_TEXTS ? trigramTest(lower) : null;
  let has = possible ? (l: string) => possible(l) && lower.includes(l) : (l: string) => lower.includes(l);
  if (lower.length >= BIG_TEXT) {
    const search = has;
    const seen = new Map<string, boolean>();
    has = (l) => {
      let found = seen.get(l);
      if (found === undefined) seen.set(l, (found = search(l)));
      return found;
    };
  }
  return {
    may: (clauses) => {
      for (const clause of clauses) if (!clause.some(has)) return false;
      return true;
    },
  };
}

/**
 * A negation right before a failure word: "not expired", "has not been revoked", "never failed",
 * "isn't unauthorized". Such a phrase says the failure did NOT happen, so a symptom found in it
 * is not evidence. Only failure words are negated here: "could not connect" or "not found" are
 * failures themselves, and a symptom that names them keeps them.
 */
const NEGATED_FAILURE =
  /\b(?:not|never|no longer|without|isn't|wasn't|hasn't|haven't|aren't|weren't|didn't|doesn't)\s+(?:(?:yet|been|be|an?|any|ever)\s+){0,2}(?:expir|revok|invalid|fail|refus|reject|denied|untrust|unauthori[sz]|forbidden|mismatch|timed out|unreachable|unavailable|blocked|locked)/gi;

/**
 * A negation right before an exception's or error's name: "No SSLHandshakeException occurred",
 * "completed without a javax.net.ssl.SSLException", "not a ConnectException". The name is what
 * symptoms match, so the phrase says that failure did NOT happen. Only names that end in Exception
 * or Error (a class, or the word itself): "no route to host" is a failure.
 */
const NEGATED_EXCEPTION =
  /\b(?:no|not an?|without(?: an?| any)?|never an?)\s+(?:[\w$]+\.){0,8}[\w$]{0,80}(?:Exception|Error)\b/gi;

/** How far before a match a negation is looked for ("not <match>"), in characters. */
const NEGATION_REACH = 24;

/**
 * Whether the span [start, end) of `text` holds a failure word (or an exception's name) that the
 * text negates: the failure word lies in the span and a negation stands right before it (in the
 * span or just before it).
 * Used for every pattern symptom and every span-carrying signal, so a "valid and not expired"
 * certificate never counts as an expired one, whichever entry's symptom matched it.
 */
export function negatedSpan(text: string, start: number, end: number): boolean {
  const from = Math.max(0, start - NEGATION_REACH);
  const window = text.slice(from, end);
  for (const re of [NEGATED_FAILURE, NEGATED_EXCEPTION]) {
    re.lastIndex = 0;
    for (let m = re.exec(window); m; m = re.exec(window))
      if (from + m.index + m[0].length > start) return true;
  }
  return false;
}

/** How many matches of one pattern are tried when the first ones are negated. */
const MAX_NEGATED_TRIES = 8;

/** Evidence of one symptom, and where it was found: signal index, or for a pattern the signals' count plus its offset. */
type Found = Evidence & { at: number };

function findSymptom(
  s: CompiledSymptom,
  text: string,
  shown: string,
  lower: LowerText,
  signals: Signal[],
  kind: Evidence['kind'],
): Found | null {
  if (s.pattern !== undefined) {
    // Most patterns cannot match most texts: a substring test spares compiling and running them.
    if (s.literals && !lower.may(s.literals)) return null;
    const re = s.re!;
    re.lastIndex = 0;
    for (let tries = 0; tries < MAX_NEGATED_TRIES; tries++) {
      const m = re.exec(text);
      if (!m) return null;
      const end = m.index + m[0].length;
      if (!negatedSpan(text, m.index, end))
        return { ...spanEvidence(shown, m.index, end, kind, s.means), at: signals.length + m.index };
      if (m[0].length === 0) re.lastIndex++;
    }
    return null;
  }
  const at = signals.findIndex(
    (x) =>
      x.type === s.signalType &&
      (!s.valueRe || s.valueRe.test(x.value)) &&
      !(x.start !== undefined && x.end !== undefined && text && negatedSpan(text, x.start, x.end)),
  );
  if (at < 0) return null;
  const sig = signals[at]!;
  if (sig.start !== undefined && sig.end !== undefined && text)
    return { ...spanEvidence(shown, sig.start, sig.end, kind, s.means), at };
  return {
    text: sig.detail ? `${sig.value} (${sig.detail})` : sig.value,
    kind,
    ...(s.means ? { means: s.means } : {}),
    at,
  };
}

/**
 * Where a text quotes the response body of a call: after "Response body:", "error payload =",
 * "responseContent:", or "Response:" / "body:" right before JSON, XML or HTML. A body runs to the
 * end of its line and over the lines after it up to a blank line, a stack frame, a "Caused by", a
 * timestamped line or a line that starts with an exception's class name.
 */
const BODY_MARKER =
  /\b(?:response|error|reply)[ _-]?(?:body|payload|content|entity)\b["']?[ \t]{0,16}(?:is|was)?[ \t]{0,16}[:=]|\b(?:response|body)["']?[ \t]{0,4}[:=][ \t]{0,4}(?=[{<[])/gi;
const BODY_LITERALS = [['body', 'payload', 'content', 'entity', 'response']];
const BODY_ENDS =
  /^[ \t]*$|^\s+at |^\s*Caused by\b|^\s*\[?\d{4}-\d\d-\d\d|^\s*(?:[a-z][\w$]*\.){1,12}[A-Z][\w$]*(?:Exception|Error)\b/;
/** Lines a quoted body runs over at most. */
const MAX_BODY_LINES = 64;
/** Weight left to a symptom read inside a quoted body, for an entry that does not explain the call's status. */
const QUOTED_WEIGHT = 0.2;

/** The [start, end) spans of `text` that quote a response body (see BODY_MARKER); none when it quotes none. */
function quotedBodies(text: string, lower: LowerText): [number, number][] {
  if (!lower.may(BODY_LITERALS)) return [];
  const spans: [number, number][] = [];
  BODY_MARKER.lastIndex = 0;
  for (let m = BODY_MARKER.exec(text); m; m = BODY_MARKER.exec(text)) {
    const start = m.index + m[0].length;
    let end = text.indexOf('\n', start);
    for (let lines = 0; end !== -1 && lines < MAX_BODY_LINES; lines++) {
      const next = text.indexOf('\n', end + 1);
      if (BODY_ENDS.test(text.slice(end + 1, next === -1 ? text.length : next))) break;
      end = next;
    }
    if (end === -1) end = text.length;
    spans.push([start, end]);
    BODY_MARKER.lastIndex = Math.max(end, BODY_MARKER.lastIndex);
  }
  return spans;
}

const within = (spans: [number, number][], at: number | undefined) =>
  at !== undefined && spans.some(([a, b]) => at >= a && at < b);

/**
 * The quoted bodies of a call that got an HTTP status read outside them (the receiver answered, so
 * its name resolved, the connection opened and the TLS handshake worked) and that name a host the
 * call did not go to: what such a body says is the receiver's own call's trouble, and explains that
 * status at most. A body that names no other host (a missing header, a validation error) is the
 * receiver's answer to this very request, and keeps its weight. None when no status was read outside.
 */
function answeredBodies(text: string, lower: LowerText, signals: Signal[]): [number, number][] {
  const bodies = quotedBodies(text, lower);
  if (!bodies.length) return bodies;
  const answered = signals.some((s) => s.type === 'http.status' && !within(bodies, s.start));
  if (!answered) return [];
  const called = new Set(
    signals.filter((s) => s.type === 'host' && !within(bodies, s.start)).map((s) => s.value),
  );
  return bodies.filter(([a, b]) =>
    signals.some((s) => s.type === 'host' && within([[a, b]], s.start) && !called.has(s.value)),
  );
}

interface DirectionScores {
  inbound: number;
  outbound: number;
  finding: DirectionFinding;
}

function directionOf(incident: Incident, signals: Signal[], text: string): DirectionScores {
  if (incident.direction) {
    const forced = incident.direction;
    return {
      inbound: forced === 'inbound' ? 1 : 0,
      outbound: forced === 'outbound' ? 1 : 0,
      finding: {
        inferred: forced,
        evidence: [{ text: `--direction ${forced}`, kind: 'direction', means: 'given by the caller' }],
      },
    };
  }
  const cues = signals.filter((s) => s.type === 'direction');
  const score = (d: Direction) => combine(cues.filter((c) => c.value === d).map((c) => c.weight ?? 0));
  const inbound = score('inbound');
  const outbound = score('outbound');
  const inferred: InferredDirection =
    inbound - outbound >= 0.25 ? 'inbound' : outbound - inbound >= 0.25 ? 'outbound' : 'unknown';
  const evidence = cues
    .filter((c) => inferred === 'unknown' || c.value === inferred)
    .map((c) => spanEvidence(text, c.start!, c.end!, 'direction', `${c.value}: ${c.detail}`));
  return { inbound, outbound, finding: { inferred, evidence } };
}

function evaluate(
  entry: CompiledEntry,
  text: string,
  shown: string,
  lower: LowerText,
  signals: Signal[],
  dir: DirectionScores,
  bodies: [number, number][],
): Diagnosis | null {
  const evidence: Evidence[] = [];
  const weights: number[] = [];
  const causeWeights = new Map<string, { weights: number[]; at: number }>();
  const matched: { s: CompiledSymptom; found: Found }[] = [];
  for (const s of entry.match) {
    const found = findSymptom(s, text, shown, lower, signals, 'symptom');
    if (found) matched.push({ s, found });
  }
  if (!matched.length) return null;
  // A call that got a status: the body it quotes explains that status at most. An entry whose own
  // status symptom holds outside the body explains it; another one's evidence from the body weighs little.
  const explains =
    !bodies.length || matched.some(({ s, found }) => s.status !== undefined && !within(bodies, found.start));
  for (const { s, found } of matched) {
    const { at, ...ev } = found;
    const quoted = !explains && within(bodies, ev.start);
    const weight = quoted ? s.weight * QUOTED_WEIGHT : s.weight;
    const shownEv = quoted
      ? {
          ...ev,
          means: `in the response body the receiver sent: its own trouble, not the tenant's${ev.means ? `; ${ev.means}` : ''}`,
        }
      : ev;
    evidence.push(s.cause ? { ...shownEv, cause: s.cause } : shownEv);
    weights.push(weight);
    if (s.cause) {
      const c = causeWeights.get(s.cause) ?? { weights: [], at };
      causeWeights.set(s.cause, { weights: [...c.weights, weight], at: Math.min(c.at, at) });
    }
  }
  let confidence = combine(weights);
  for (const s of entry.unless) {
    const found = findSymptom(s, text, shown, lower, signals, 'against');
    if (found) {
      const { at: _at, ...ev } = found;
      evidence.push(ev);
      confidence *= 1 - s.weight;
    }
  }
  if (entry.direction !== 'any') {
    const same = dir[entry.direction];
    const opposite = dir[entry.direction === 'inbound' ? 'outbound' : 'inbound'];
    confidence *= 1 - DIRECTION_PULL * Math.max(0, opposite - same);
    if (same > opposite)
      evidence.push(...dir.finding.evidence.filter((e) => e.means?.startsWith(entry.direction)));
  }
  if (confidence < MIN_CONFIDENCE) return null;
  const cause = namedCause(entry, causeWeights);
  return {
    id: entry.id,
    title: entry.title,
    direction: entry.direction,
    // Text is never proof: a perfect score would claim more than a pattern can know.
    confidence: Math.min(0.99, Math.round(confidence * 100) / 100),
    ...(entry.seed !== undefined ? { seed: entry.seed } : {}),
    summary: entry.summary,
    ...(cause ? { cause: { id: cause.id!, title: cause.title ?? cause.id! } } : {}),
    evidence,
    facts: {},
    ...guidanceFor(entry, cause?.id),
    references: entry.references,
  };
}

/**
 * The cause whose own symptoms weigh most; on a tie the one seen first (a probe lists its most
 * specific verdict first, a text its first line first). Undefined when no cause's symptom matched.
 */
function namedCause(
  entry: CompiledEntry,
  found: Map<string, { weights: number[]; at: number }>,
): Cause | undefined {
  let best: { cause: Cause; score: number; at: number } | undefined;
  for (const cause of entry.causes) {
    const f = cause.id ? found.get(cause.id) : undefined;
    if (!f) continue;
    const score = combine(f.weights);
    if (!best || score > best.score + 1e-9 || (Math.abs(score - best.score) <= 1e-9 && f.at < best.at))
      best = { cause, score, at: f.at };
  }
  return best?.cause;
}

/** Rank of advice for a cause: 0 its own, 1 what applies to every cause, 2 another cause's. */
export const rankFor = (causeId: string | undefined, x: { for?: string[] }) =>
  !x.for ? 1 : causeId && x.for.includes(causeId) ? 0 : 2;

/**
 * An entry's causes, fixes and checks as a diagnosis gives them: the named cause's own first.
 * Without a named cause the entry's order is kept. The sort is stable, so authors' order holds within a rank.
 */
export function guidanceFor(
  entry: Pick<Entry, 'causes' | 'fixes' | 'checks'>,
  causeId: string | undefined,
): Pick<Diagnosis, 'causes' | 'fixes' | 'checks'> {
  const ordered = <T extends { for?: string[] }>(xs: T[]) =>
    causeId ? [...xs].sort((a, b) => rankFor(causeId, a) - rankFor(causeId, b)) : xs;
  return {
    causes: [...entry.causes]
      .sort((a, b) => (causeId ? Number(b.id === causeId) - Number(a.id === causeId) : 0))
      .map((c) => c.text),
    fixes: ordered(entry.fixes).map((f) => f.text),
    checks: ordered(entry.checks).map(({ for: _for, sources: _sources, ...check }) => check),
  };
}

function decideNote(kb: Kb, diagnoses: Diagnosis[], finding: DirectionFinding): string | undefined {
  if (finding.inferred !== 'unknown') return undefined;
  const top = diagnoses.slice(0, 3);
  const inbound = top.find((d) => d.direction === 'inbound');
  const outbound = top.find((d) => d.direction === 'outbound');
  if (!inbound || !outbound) return undefined;
  const own = kb.byId.get(diagnoses[0]!.id)?.decide;
  return (
    own ??
    `The text does not say which way the call went. If a sender system got this error calling the tenant, it is ` +
      `${inbound.id}; if an integration flow's message processing log shows it for a call to a receiver, it is ` +
      `${outbound.id}.`
  );
}

/**
 * CSI sequences as 7-bit text writes them: ESC [, parameter and intermediate bytes, a final byte
 * (`\x1b[31m` colours, `\x1b[K` erasing a line, cursor moves): what a coloured log holds.
 */
// eslint-disable-next-line no-control-regex
const CSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;

/**
 * Terminal control sequences (CSI; OSC titles and links, ESC ] ...; other ESC sequences; the C1
 * CSI U+009B) and the other control characters except tab, newline and CR, each replaced by as
 * many spaces: a log or a paste with colour codes reads like the plain text
 * ("\x1b[31mjavax.net.ssl..." names javax.net.ssl..., not "mjavax" or net.ssl...), and every offset
 * into the text stays where it was.
 */
const CONTROLS = new RegExp(
  `${CSI.source}|\\x1b\\][^\\x07\\x1b\\n]{0,512}(?:\\x07|\\x1b\\\\)?|\\x1b[ -/]*[0-~]?|\\x9b[0-?]*[ -/]*[@-~]|[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]`,
  'g',
);

/**
 * `text` without its CSI sequences (colours, erasing, cursor moves: see CSI), as the log would read
 * had its writer not coloured it (`docker logs`, `kubectl logs`, CI logs): scan reads a coloured
 * log's times, levels and messages from this. The same string when it has none. Other sequences
 * (an OSC title or link, the C1 CSI) and control characters stay: they are no colouring, and
 * printable() shows them, --json keeps them escaped.
 */
export function removeCsi(text: string): string {
  CSI.lastIndex = 0;
  return CSI.test(text) ? text.replace(CSI, '') : text;
}

/** `text` with its control sequences blanked (see CONTROLS); the same string when it has none. */
export function blankControls(text: string): string {
  CONTROLS.lastIndex = 0;
  return CONTROLS.test(text) ? text.replace(CONTROLS, (m) => ' '.repeat(m.length)) : text;
}

/**
 * Where in the text the evidence that decided a diagnosis lies: the starts of its symptoms found in
 * the text (none for evidence a probe observed). factsOf reads a log's facts from the entry there.
 */
const decidingPlaces = (d: Diagnosis | undefined): number[] =>
  (d?.evidence ?? []).flatMap((e) => (e.kind === 'symptom' && e.start !== undefined ? [e.start] : []));

/** Diagnoses one incident: its text and/or observed signals, against the knowledge base. */
export function diagnose(kb: Kb, incident: Incident): DiagnoseResult {
  // The text is read with its control sequences blanked (same length): "\x1b[31mjavax.net..." names
  // javax.net..., not net.... Evidence and signal details quote `shown`, the original, at the same
  // offsets, so a report still shows what was there (printable() makes it visible, never acting).
  // The milliseconds of a clock time are read as zeros: never a status (maskTimeFractions).
  const shown = incident.text ?? '';
  const text = maskTimeFractions(blankControls(shown));
  const lower = lowerText(text);
  const reader = kb.readerLiterals;
  const may = (re: RegExp) => {
    const lits = reader?.get(re);
    return !lits || lower.may(lits);
  };
  const signals = [...(incident.signals ?? []), ...(text ? extractSignals(text, may, shown) : [])];
  const dir = directionOf(incident, signals, shown);
  const bodies = text ? answeredBodies(text, lower, signals) : [];
  const ranked = kb.entries
    .map((e) => evaluate(e, text, shown, lower, signals, dir, bodies))
    .filter((d): d is Diagnosis => d !== null)
    .sort(
      (a, b) =>
        b.confidence - a.confidence ||
        (a.seed === undefined ? 1 : 0) - (b.seed === undefined ? 1 : 0) ||
        a.id.localeCompare(b.id),
    )
    .slice(0, MAX_DIAGNOSES);
  // The facts are the tenant's call's: not the host, method or exception of the receiver's own call its body quotes.
  const own = bodies.length ? signals.filter((s) => !within(bodies, s.start)) : signals;
  // Each diagnosis's facts are those of its own evidence's entry in a log (another flow's failure
  // has its own host); a text that is no log has one set of facts for all.
  const log = ranked.length && text ? logReader(own, text) : undefined;
  const factsFor = (d: Diagnosis | undefined) => {
    const at = decidingPlaces(d);
    return factsOf(own, at.length ? { text, at } : undefined, log);
  };
  const shared = log ? undefined : factsFor(ranked[0]);
  const diagnoses = ranked.map((d) => ({ ...d, facts: shared ?? factsFor(d) }));
  const facts = diagnoses[0]?.facts ?? factsFor(undefined);
  const decide = decideNote(kb, diagnoses, dir.finding);
  return { diagnoses, signals, facts, direction: { ...dir.finding, ...(decide ? { decide } : {}) } };
}
