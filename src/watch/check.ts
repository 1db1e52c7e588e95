// Checks the targets of an inventory: each one is the same `probe` as `linkdoctor probe` runs, with its
// module's options, bounded in concurrency overall and per host. What a target's result says in a
// line (status, days until the first certificate expires, host key) is summed up here once, for the
// reports, the history and the metrics alike.
import type { Kb } from '../kb/load.js';
import { probe } from '../probe/run.js';
import { parseTarget } from '../probe/target.js';
import { redactUrls } from '../redact.js';
import type { ProbeResult } from '../types.js';
import type { InventoryTarget, Module } from './inventory.js';
import type { ModuleOptions } from './options.js';

/** What a check found for one target, in the few facts a line, a metric or a change needs. */
export interface TargetSummary {
  /** The last HTTP status the probe received. */
  status?: number;
  /** The earliest notAfter of the chain the server sent (ISO 8601) and the whole days left until it. */
  certExpiry?: string;
  certDaysLeft?: number;
  /** The leaf certificate's SHA-256 fingerprint and issuer DN: a change of either is a rotation. */
  certSha256?: string;
  certIssuer?: string;
  /** The SSH host key, as OpenSSH prints it (SHA256:...), with its type. */
  hostKey?: string;
  hostKeyType?: string;
  /** The first step that failed. */
  failedStep?: string;
  /** The top diagnosis of the failure: the knowledge-base entry, and its cause when the probe told it. */
  diagnosis?: { id: string; title: string; cause?: string; confidence: number };
  /**
   * The steps that passed with a warning (ProbeStep.warning: known_hosts not checked, the login not
   * tested, deprecated algorithms only), as `step: sentence`.
   */
  warnings?: string[];
}

/** One target checked. */
export interface CheckOutcome {
  target: InventoryTarget;
  /** When the check started (ISO 8601). */
  at: string;
  ok: boolean;
  /** The probe's result; absent when the module's options could not be built (`error` says why). */
  result?: ProbeResult;
  /** Why the target fails when no diagnosis says it: the module's error, an unexpected status. */
  error?: string;
  summary: TargetSummary;
  /** Wall time of the probe, in milliseconds. */
  ms: number;
}

/** The facts of a probe result a line needs. */
export function summarize(r: ProbeResult): TargetSummary {
  const s: TargetSummary = {};
  // The status of the request as configured (after redirects), not of the probe's own experiments.
  const http = r.http as { status?: number; exchanges?: { status: number }[] } | undefined;
  const status = http?.status ?? http?.exchanges?.[0]?.status;
  if (status !== undefined) s.status = status;
  const chain = r.tls?.chain ?? [];
  if (chain.length) {
    const first = chain.reduce((a, b) => (Date.parse(b.notAfter) < Date.parse(a.notAfter) ? b : a));
    s.certExpiry = first.notAfter;
    s.certDaysLeft = first.daysLeft;
    s.certSha256 = chain[0]!.sha256;
    s.certIssuer = chain[0]!.issuer;
  }
  if (r.ssh?.hostKey) {
    s.hostKey = r.ssh.hostKey.sha256;
    s.hostKeyType = r.ssh.hostKey.type;
  }
  const failed = r.steps.find((st) => st.ok === false);
  if (failed) s.failedStep = failed.name;
  const warnings = r.steps.filter((st) => st.ok && st.warning).map((st) => `${st.name}: ${st.warning}`);
  if (warnings.length) s.warnings = warnings;
  const d = r.diagnoses[0];
  if (d)
    s.diagnosis = {
      id: d.id,
      title: d.title,
      confidence: d.confidence,
      ...(d.cause ? { cause: d.cause.title } : {}),
    };
  return s;
}

/**
 * Whether a probe result is a success for its module: the probe's own verdict, or, when the module
 * sets `valid_status_codes`, every step before http passed and the HTTP status is one of them (a 401
 * can be the expected answer of a health check). `error` says why a probe that passed does not count.
 */
export function verdict(
  m: Module,
  result: ProbeResult,
  summary: TargetSummary = summarize(result),
): { ok: boolean; error?: string } {
  const valid = m.valid_status_codes;
  if (!valid || summary.status === undefined) return { ok: result.ok };
  const ok = valid.includes(summary.status) && result.steps.every((s) => s.name === 'http' || s.ok !== false);
  return !ok && result.ok
    ? { ok, error: `status ${summary.status} is not one of ${valid.join(', ')} (valid_status_codes)` }
    : { ok };
}

/**
 * Probes one target with its module's options. Never throws: a module that cannot be used (its trust
 * store does not open) is the target's `error`. `valid_status_codes`, when the module sets them,
 * decide whether the HTTP status is a success (a 401 can be the expected answer of a health check).
 */
export async function checkTarget(kb: Kb, t: InventoryTarget, options: ModuleOptions): Promise<CheckOutcome> {
  const at = new Date().toISOString();
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let result: ProbeResult;
  try {
    result = await probe(kb, await options.optionsFor(t.module, t.requestUrl));
  } catch (e) {
    return { target: t, at, ok: false, error: redactUrls((e as Error).message), summary: {}, ms: ms() };
  }
  const summary = summarize(result);
  const { ok, error } = verdict(t.module, result, summary);
  if (ok && !result.ok) {
    delete summary.failedStep;
    delete summary.diagnosis;
  }
  return { target: t, at, ok, result, ...(error ? { error } : {}), summary, ms: ms() };
}

/** The limits of a check run. */
export interface CheckLimits {
  /** Probes at once, overall. */
  concurrency: number;
  /** Probes at once against one host (its name or address, whatever the port). */
  perHost: number;
}

/**
 * Checks every target, at most `concurrency` at once and `perHost` against one host, and calls
 * `onDone` as each one ends. Resolves to the outcomes in the inventory's order.
 */
export async function checkAll(
  kb: Kb,
  targets: InventoryTarget[],
  options: ModuleOptions,
  limits: CheckLimits,
  onDone?: (o: CheckOutcome, done: number) => void,
): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = new Array(targets.length);
  const hostOf = targets.map((t) => parseTarget(t.requestUrl).host.toLowerCase());
  const busy = new Map<string, number>();
  const waiting = targets.map((_, i) => i);
  let done = 0;
  return new Promise((resolveAll) => {
    if (!targets.length) return resolveAll([]);
    let running = 0;
    const pump = () => {
      while (running < limits.concurrency) {
        const k = waiting.findIndex((i) => (busy.get(hostOf[i]!) ?? 0) < limits.perHost);
        if (k < 0) return;
        const i = waiting.splice(k, 1)[0]!;
        const host = hostOf[i]!;
        busy.set(host, (busy.get(host) ?? 0) + 1);
        running++;
        void checkTarget(kb, targets[i]!, options).then((o) => {
          outcomes[i] = o;
          running--;
          busy.set(host, busy.get(host)! - 1);
          // Counted apart from the call: `onDone?.(o, ++done)` skips its arguments, the count too, without onDone.
          done++;
          onDone?.(o, done);
          if (done === targets.length) resolveAll(outcomes);
          else pump();
        });
      }
    };
    pump();
  });
}
