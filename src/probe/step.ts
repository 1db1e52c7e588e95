// What every probe step shares: a bound in time, and the way it reports what it saw.
import type { ProbeStep, Signal } from '../types.js';

export { describeError } from '../errors.js';

/** What one step found: its verdict, a one-line detail, and the signals it hands to the matcher. */
export interface StepOutcome {
  ok: boolean;
  detail: string;
  signals?: Signal[];
  /** Text the step observed (an error message, a response's status line and body) for the matcher's patterns. */
  text?: string;
  /** A step that passed without judging all it is for, or only with a warning: why (ProbeStep.warning). */
  warning?: string;
}

export interface StepRecord extends ProbeStep {
  signals: Signal[];
  text?: string;
}

/** The sockets each running step reads from, by the step's AbortSignal (watchSocket). */
const watched = new WeakMap<AbortSignal, { bytesRead: number }[]>();

/**
 * Tells the step's bound which socket the step reads from, so that a timeout can say whether the
 * peer said nothing (`silent`) or began and then stalled (`slow`). TLS and protocol clients hide
 * the bytes they consumed; the raw socket under them counts them (`bytesRead`).
 */
export function watchSocket(signal: AbortSignal, socket: { bytesRead: number }): void {
  const list = watched.get(signal);
  if (list) list.push(socket);
  else watched.set(signal, [socket]);
}

/** A step that did not finish in time: its own sentence, and the `net.error` verdict it stands for. */
export class StepTimeout extends Error {
  constructor(
    readonly verdict: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What a step's timeout says about the peer: a name server that did not answer, a connect that got
 * no answer, or (in any step after the connect: TLS, HTTP, SSH, SMTP ...) a server that took the
 * connection and then said nothing.
 */
function timeoutVerdict(step: string): string {
  return step === 'dns' ? 'dns-timeout' : step === 'tcp' ? 'timeout' : 'silent';
}

/** A step's timeout as an outcome: silent, or slow when the peer had begun to answer (watchSocket). */
function timedOut(name: string, timeoutMs: number, signal: AbortSignal): StepOutcome {
  const seconds = Math.round(timeoutMs) / 1000;
  const bytes = (watched.get(signal) ?? []).reduce((n, s) => n + (s.bytesRead || 0), 0);
  const verdict = timeoutVerdict(name);
  if (bytes > 0 && verdict === 'silent')
    return {
      ok: false,
      detail: `the server sent ${bytes} bytes, then nothing more within ${seconds} s (a server that trickles or stalls)`,
      signals: [{ type: 'net.error', value: 'slow' }],
      text: `${name}: the server sent ${bytes} bytes and stalled: read timed out after ${Math.round(timeoutMs)} ms`,
    };
  return {
    ok: false,
    detail: `no answer within ${seconds} s`,
    signals: [{ type: 'net.error', value: verdict }],
    text: `${name}: timed out after ${Math.round(timeoutMs)} ms`,
  };
}

/** The abort reason once a step has ended: an AbortError, as the platform's own. */
const STEP_ENDED = Object.assign(new Error('the step ended'), { name: 'AbortError' });

/**
 * Runs one step with a hard bound. The step gets an AbortSignal and must release its sockets when
 * it fires; whatever it does, the step ends by `timeoutMs` with a timeout verdict. `budgetSpent` is
 * the sentence for a bound that is the rest of the probe's total budget rather than the step's own:
 * the verdict is still what the peer did (silent, slow, no connection), with a `net.error` budget
 * signal and that sentence beside it. `cancel`: the caller's signal; once it fires, the step is aborted
 * and ends at once ("cancelled").
 */
export async function runStep(
  name: string,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<StepOutcome>,
  budgetSpent?: string,
  cancel?: AbortSignal,
): Promise<StepRecord> {
  const started = performance.now();
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // The caller's `cancel` (a client that hung up) ends the step at once, as its bound would.
  let onCancel: (() => void) | undefined;
  const cancelled = cancel
    ? new Promise<StepOutcome>((resolve) => {
        onCancel = () => {
          ctl.abort();
          resolve({ ok: false, detail: 'cancelled: the probe was stopped' });
        };
        if (cancel.aborted) onCancel();
        else cancel.addEventListener('abort', onCancel, { once: true });
      })
    : undefined;
  const bound = new Promise<StepOutcome>((resolve) => {
    timer = setTimeout(() => {
      // Read what the peer sent before the abort closes the step's sockets.
      const outcome = timedOut(name, timeoutMs, ctl.signal);
      // Cut by the probe's total time (Prometheus's scrape timeout): what the peer did until then
      // is still the reason (silent, stalled, no connection), the budget is why it ended there.
      if (budgetSpent) {
        outcome.detail += `; stopped there: ${budgetSpent}`;
        outcome.signals!.push({ type: 'net.error', value: 'budget' });
        outcome.text += `\n${name}: ${budgetSpent}`;
      }
      ctl.abort();
      resolve(outcome);
    }, timeoutMs);
  });
  let outcome: StepOutcome;
  try {
    outcome = await Promise.race([fn(ctl.signal), bound, ...(cancelled ? [cancelled] : [])]);
  } catch (e) {
    outcome =
      e instanceof StepTimeout
        ? {
            ok: false,
            detail: e.message,
            signals: [{ type: 'net.error', value: e.verdict }],
            text: e.message,
          }
        : { ok: false, detail: (e as Error).message, text: (e as Error).message };
  } finally {
    clearTimeout(timer);
    if (onCancel) cancel?.removeEventListener('abort', onCancel);
    // Releases what the step left listening; one reason for all (a new DOMException with its stack
    // for every step of every probe cost more than some steps).
    ctl.abort(STEP_ENDED);
  }
  const ms = Math.round(performance.now() - started);
  return {
    name,
    ok: outcome.ok,
    ms,
    detail: outcome.detail,
    ...(outcome.ok && outcome.warning ? { warning: outcome.warning } : {}),
    signals: outcome.signals ?? [],
    ...(outcome.text ? { text: outcome.text } : {}),
  };
}

export function notRun(name: string, why: string): StepRecord {
  return { name, ok: null, ms: 0, detail: `not run: ${why}`, signals: [] };
}

const NET_VERDICTS: Record<string, string> = {
  ENOTFOUND: 'dns-not-found',
  EAI_AGAIN: 'dns-timeout',
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ECONNABORTED: 'reset',
};

/** The signals of a socket error: its errno, and the network verdict it stands for. */
export function errorSignals(e: NodeJS.ErrnoException): Signal[] {
  const signals: Signal[] = [];
  if (e.code) signals.push({ type: e.code.startsWith('E') ? 'errno' : 'tls.code', value: e.code });
  const verdict = e.code ? NET_VERDICTS[e.code] : undefined;
  if (verdict) signals.push({ type: 'net.error', value: verdict });
  return signals;
}
