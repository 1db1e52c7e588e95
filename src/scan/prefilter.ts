// The prefilter: which events of a large input can be incidents at all, and which entries of the
// knowledge base can match each of them, found with one pass over the bytes whatever the size of
// the knowledge base. Built from the loaded entries' own symptoms, so a user's --kb entries count.
//
// It never loses a diagnosis: an entry is reported only when symptoms worth MIN_CONFIDENCE match
// (src/diagnose/match.ts), so it is enough to look for the literals of its symptoms that are not
// too weak to reach it together ("triggers"). `against` and direction only ever lower a confidence.
import { CUES } from '../diagnose/cues.js';
import { MIN_CONFIDENCE } from '../diagnose/match.js';
import type { CompiledEntry, CompiledSymptom, Kb } from '../kb/load.js';
import type { SIGNAL_TYPES } from '../types.js';
import { BOUNDARY, requiredLiterals } from './literals.js';
import { MultiMatcher } from './multimatch.js';

/** Longer literals add states, not selectivity: a 12-byte prefix is as rare as the whole. */
const MAX_LITERAL = 12;

/** Log levels that make an event an incident whatever its text. */
export const ERROR_LEVELS = [
  'error',
  'err',
  'severe',
  'fatal',
  'crit',
  'critical',
  'alert',
  'emerg',
  'panic',
];

/**
 * Text that every signal of a type read from text contains, as a pattern (after the readers of
 * src/diagnose/signals.ts and cues.ts); null for the types only probes report.
 */
const SIGNAL_TEXT: Record<keyof typeof SIGNAL_TYPES, string | null> = {
  'http.status': null, // by its codes, see statusLiterals
  'http.method': '\\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\\b',
  exception: 'Exception|Error|Fault',
  'icm.code': 'ICM_HTTP_',
  'icm.rc': 'NIE[A-Z]|connect to \\S+ failed',
  'ssl.error': 'SSSLERR_',
  'ni.error': '\\bNIE[A-Z]',
  'tls.alert': 'alert',
  'tls.code':
    'UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO|CERT_HAS_EXPIRED|CERT_NOT_YET|ERR_TLS_|ERR_SSL_|ERR_CERT_',
  errno:
    '\\bE(?:CONNREFUSED|CONNRESET|TIMEDOUT|SOCKETTIMEDOUT|NOTFOUND|HOSTUNREACH|NETUNREACH|PIPE|PROTO|AI_AGAIN|CONNABORTED|AUTH)\\b',
  marker: '\\]\\[',
  url: '://',
  host: '[a-z0-9]\\.[a-z0-9]|\\b(?:host|connect)',
  port: ':\\d|\\bport',
  'cert.subject': 'subject|owner',
  'cert.issuer': 'issuer|issued by',
  reporter: null, // by the cues that name a reporter
  direction: null, // by the cues that say a direction
  'net.error': null,
  'tls.verdict': null,
  'http.csrf': null,
  'http.auth': null,
  'http.redirect': null,
  'ssh.hostkey': null,
  'ssh.auth': null,
  'ssh.algorithms': null,
  'smtp.port': null,
  'smtp.starttls': null,
  'smtp.auth': null,
};

/** Reason phrases the status reader takes as a status on their own (signals.ts, context `reason`). */
const REASON_ALONE: Record<number, string> = {
  401: 'unauthori[sz]ed|unathorized',
  403: 'forbidden',
  404: 'not\\s+found',
  407: 'proxy\\s+authentication\\s+required',
  411: 'length\\s+required',
  502: 'bad\\s+gateway',
  503: 'service\\s+unavailable',
  504: 'gateway\\s+time-?out',
};

/** Value types whose value is a verbatim piece of the text (case aside). */
const VERBATIM = new Set([
  'exception',
  'icm.code',
  'ssl.error',
  'ni.error',
  'tls.code',
  'errno',
  'marker',
  'url',
  'http.method',
  'cert.subject',
  'cert.issuer',
  'host',
  'port',
]);

/** How a symptom shows in text: literals, a pattern without usable literals, or not at all. */
type Trigger = { literals: string[] } | { pattern: string } | null;

function fromPattern(source: string, minLength = 3): Trigger {
  const literals = requiredLiterals(source, minLength);
  return literals ? { literals } : { pattern: source };
}

function statusCodes(s: CompiledSymptom): number[] {
  const codes: number[] = [];
  for (let c = 100; c < 600; c++) if (!s.valueRe || s.valueRe.test(String(c))) codes.push(c);
  return codes;
}

function statusLiterals(codes: number[]): Trigger {
  const literals = codes.map((c) => `${BOUNDARY}${c}${BOUNDARY}`);
  for (const c of codes) if (REASON_ALONE[c]) literals.push(...requiredLiterals(REASON_ALONE[c], 3)!);
  return { literals };
}

function cueTrigger(s: CompiledSymptom, field: 'reporter' | 'direction'): Trigger {
  const cues = CUES.filter((c) => c[field] !== undefined && (!s.valueRe || s.valueRe.test(c[field]!)));
  if (!cues.length) return null;
  const sources = cues.map((c) => `(?:${c.re.source})`).join('|');
  return fromPattern(sources);
}

export function triggerOf(s: CompiledSymptom): Trigger {
  if (s.re) return fromPattern(s.pattern!);
  const type = s.signalType as keyof typeof SIGNAL_TYPES;
  if (type === 'http.status') return statusLiterals(statusCodes(s));
  if (type === 'reporter' || type === 'direction') return cueTrigger(s, type);
  const text = SIGNAL_TEXT[type];
  if (text === null || text === undefined) return null;
  if (s.value !== undefined && VERBATIM.has(type)) {
    const literals = requiredLiterals(s.value);
    if (literals) return { literals };
  }
  if (s.value !== undefined && type === 'tls.alert') {
    // The reader writes "unknown ca" as unknown_ca.
    const literals = requiredLiterals(s.value.replaceAll('_', '[_ ]'));
    if (literals) return { literals };
  }
  return fromPattern(text, 2);
}

/**
 * The symptoms of an entry worth looking for: all but the weakest, which cannot reach `threshold`
 * together.
 */
function triggersOf(
  entry: CompiledEntry,
  threshold: number,
): { symptom: CompiledSymptom; trigger: Trigger }[] {
  const inText = entry.match
    .map((symptom) => ({ symptom, trigger: triggerOf(symptom) }))
    .filter((t) => t.trigger !== null)
    .sort((a, b) => a.symptom.weight - b.symptom.weight);
  let none = 1;
  let skip = 0;
  for (const t of inText) {
    none *= 1 - t.symptom.weight;
    if (1 - none >= threshold - 1e-9) break;
    skip++;
  }
  return inText.slice(skip);
}

/** Literals to look for, each with the entries it stands for, and the patterns that have none. */
class TriggerSet {
  private readonly literals = new Map<string, Set<number>>();
  readonly patterns = new Map<string, Set<number>>();

  add(trigger: NonNullable<Trigger>, entry: number | null): void {
    if ('pattern' in trigger) {
      if (!this.patterns.has(trigger.pattern)) this.patterns.set(trigger.pattern, new Set());
      if (entry !== null) this.patterns.get(trigger.pattern)!.add(entry);
      return;
    }
    for (const lit of trigger.literals) {
      const core = lit.replaceAll(BOUNDARY, '');
      // Cut from the end, keeping a leading boundary: the trailing one no longer applies.
      const l =
        core.length > MAX_LITERAL
          ? (lit.startsWith(BOUNDARY) ? BOUNDARY : '') + core.slice(0, MAX_LITERAL)
          : lit;
      if (!this.literals.has(l)) this.literals.set(l, new Set());
      if (entry !== null) this.literals.get(l)!.add(entry);
    }
  }

  matcher(): { matcher: MultiMatcher; entriesOf: number[][]; size: number } {
    const keys = [...this.literals.keys()];
    return {
      matcher: new MultiMatcher(keys),
      entriesOf: keys.map((k) => [...this.literals.get(k)!]),
      size: keys.length,
    };
  }

  compiledPatterns(): { re: RegExp; entries: number[] }[] {
    return [...this.patterns].map(([source, entries]) => ({
      re: new RegExp(source, 'gim'),
      entries: [...entries],
    }));
  }
}

export interface Prefilter {
  /** Finds the spots of raw bytes where an incident may be: error words and strong symptoms. */
  find: MultiMatcher;
  /** Strong symptoms without a literal to look for: run over the text itself (slower; see `notes`). */
  findPatterns: RegExp[];
  /** Number of entries, and of literals looked for. */
  entries: number;
  literals: number;
  /** What a user should know: the patterns that slow a scan down. */
  notes: string[];
  /** The part of the knowledge base that can match this event: the same diagnoses, fewer patterns to run. */
  kbFor(bytes: Uint8Array, text: string): Kb;
}

/** Words that make an event a candidate whatever the knowledge base holds. */
const FAILURE_WORDS = [...ERROR_LEVELS, 'exception', 'caused by'];

/**
 * `logConfidence`: how sure a diagnosis must be for an event that is not failing (an INFO line,
 * say) to count as an incident; events are found by the symptoms that can reach it.
 */
export function buildPrefilter(kb: Kb, logConfidence: number): Prefilter {
  const strong = new TriggerSet();
  const any = new TriggerSet();
  const notes: string[] = [];
  kb.entries.forEach((entry, i) => {
    for (const { trigger } of triggersOf(entry, logConfidence)) strong.add(trigger!, i);
    for (const { symptom, trigger } of triggersOf(entry, MIN_CONFIDENCE)) {
      any.add(trigger!, i);
      if ('pattern' in trigger!)
        notes.push(
          `${entry.id}: ${symptom.pattern !== undefined ? `pattern "${symptom.pattern}"` : `signal ${symptom.signal}`} ` +
            'has no literal text to look for, so scan runs it over every line (slower)',
        );
    }
  });
  for (const word of FAILURE_WORDS) strong.add({ literals: [`${BOUNDARY}${word}${BOUNDARY}`] }, null);
  const found = strong.matcher();
  const select = any.matcher();
  const selectPatterns = any.compiledPatterns();
  return {
    find: found.matcher,
    findPatterns: strong.compiledPatterns().map((p) => p.re),
    entries: kb.entries.length,
    literals: found.size,
    notes,
    kbFor(bytes, text) {
      const chosen = new Set<number>();
      for (const id of select.matcher.found(bytes, 0, bytes.length))
        for (const e of select.entriesOf[id]!) chosen.add(e);
      for (const p of selectPatterns) {
        p.re.lastIndex = 0;
        if (p.re.test(text)) for (const e of p.entries) chosen.add(e);
      }
      return { entries: kb.entries.filter((_, i) => chosen.has(i)), byId: kb.byId };
    },
  };
}
