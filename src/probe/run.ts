// Runs the steps of a probe in order: dns, tcp, then the steps of the URL's protocol (tls and http
// for https; ssh for sftp; smtp; ftp). The first failing step ends the run, the ones after it say
// they did not run, and every signal the steps saw goes to the same matcher as a pasted error text.
import { diagnose } from '../diagnose/match.js';
import type { Kb } from '../kb/load.js';
import type { Socket } from 'node:net';
import type { Direction, ProbeResult, ProbeStep, Signal, TlsFinding, TlsVerdict } from '../types.js';
import { httpPlan } from './http-plan.js';
import { dnsStep, tcpStep, type Resolve } from './net.js';
import { notRun, runStep, type StepOutcome, type StepRecord } from './step.js';
import { defaultDirection, parseTarget, type Target } from './target.js';
import type { TlsOptions } from './tls.js';
import type { HttpSpec } from './http.js';
import type { OAuthSpec } from './oauth.js';
import { ftpPlan, type FtpOptions } from './ftp.js';
import { smtpPlan, type SmtpOptions } from './smtp.js';
import { sshPlan, type SshOptions } from './ssh.js';
import { schemeStep } from './sniff.js';
import { redactUrls } from '../redact.js';

export interface ProbeOptions {
  target: string;
  direction?: Direction;
  /** Bound of each step (and of each request of the http step). */
  timeoutMs: number;
  /**
   * Bound of the whole probe, when it is not BUDGET_TIMEOUTS × timeoutMs: the exporter's, from
   * Prometheus's scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) less a margin.
   */
  budgetMs?: number;
  tls: Omit<TlsOptions, 'timeoutMs'>;
  http: Omit<HttpSpec, 'url' | 'tls' | 'store' | 'timeoutMs' | 'deadline'>;
  ssh?: SshOptions;
  /** OAuth2 client credentials: the token is fetched in a step of its own, before the http step. */
  oauth?: OAuthSpec;
  smtp?: SmtpOptions;
  ftp?: FtpOptions;
  /**
   * How the dns step resolves the target's name (default: the system's resolver). A caller that
   * checked the name's addresses before the probe passes the record of that one resolution, so that
   * the probe connects to exactly the addresses checked (see pinResolution in src/probe/net.ts).
   */
  resolve?: Resolve;
  /** Called with each step as it ends (or is skipped), in order: for a caller that shows progress. */
  onStep?: (step: ProbeStep) => void;
  /**
   * The caller's cancel (a server's client that hung up): once it fires, the running step is aborted
   * (its sockets and timers released), no other step runs, and probe() rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** What the steps of one run share: the target, the options, and the findings they fill in. */
export interface ProbeContext {
  target: Target;
  opts: ProbeOptions;
  direction: Direction;
  addresses: string[];
  /** performance.now() by which the whole probe ends: its total budget. */
  deadline: number;
  /**
   * Set by a plan whose steps go on over the tcp step's connection (http, https): the tcp step keeps
   * its socket in `socket`, and each step after it takes it over (tls handshakes on it, http sends
   * on the handshaken one), so that a probe makes one connection. Whatever is left is closed at the end.
   */
  keepSocket?: boolean;
  socket?: Socket;
  /** The protocol parts of the result (tls, http, ...), filled in by the steps. */
  result: Omit<ProbeResult, 'target' | 'direction' | 'ok' | 'steps' | 'diagnoses' | 'signals'>;
}

export interface PlannedStep {
  name: string;
  run: (signal: AbortSignal) => Promise<StepOutcome>;
  /** Bound of the step when it is not the per-step timeout (a step that sends several requests). */
  boundMs?: number;
  /**
   * Set for a step that explains an earlier failure (the SMTP port advice): it runs only after a
   * failed step for which this returns true, and what it finds joins that step's detail and signals.
   */
  afterFailure?: (failed: StepRecord) => boolean;
}

/** The protocol steps after dns and tcp, by URL scheme. */
export type Plan = (ctx: ProbeContext) => PlannedStep[];
const PLANS: Record<string, Plan> = {
  https: httpPlan,
  http: httpPlan,
  sftp: sshPlan,
  ssh: sshPlan,
  smtp: smtpPlan,
  smtps: smtpPlan,
  ftp: ftpPlan,
  ftps: ftpPlan,
};

/**
 * The whole probe's budget, in timeouts: room for every step of the longest plan at its own bound
 * (sftp with --write-test), so that only a peer that stalls one request after another meets it.
 */
export const BUDGET_TIMEOUTS = 10;

/** How much longer than the budget a step that watches the deadline itself may take to end (runPlan). */
const SELF_BOUND_GRACE_MS = 150;

export async function probe(kb: Kb, opts: ProbeOptions): Promise<ProbeResult> {
  const target = parseTarget(opts.target);
  const direction = opts.direction ?? defaultDirection(target);
  const budgetMs = opts.budgetMs ?? opts.timeoutMs * BUDGET_TIMEOUTS;
  const deadline = performance.now() + budgetMs;
  const ctx: ProbeContext = { target, opts, direction, addresses: [], deadline, result: {} };
  const own = PLANS[target.scheme]!(ctx);
  const plan: PlannedStep[] = [
    { name: 'dns', run: () => dnsStep(target.host, ctx, opts.resolve) },
    ...own,
    // A first protocol step that failed: does the port speak another protocol (a wrong scheme)?
    schemeStep(ctx, own[0]?.name),
  ];
  const keep = ctx.keepSocket ? (s: Socket) => (ctx.socket = s) : undefined;
  plan.splice(1, 0, { name: 'tcp', run: (signal) => tcpStep(ctx.addresses, target.port, signal, keep) });
  try {
    return await runPlan(kb, ctx, plan, budgetMs);
  } finally {
    ctx.socket?.destroy();
  }
}

/**
 * Which certificate an `expired` chain verdict is about, as the `tls.expired` signal: `leaf`, the
 * server's own certificate is past its notAfter; `chain`, an intermediate or root it sent is. The
 * probe knows it, so the diagnosis names that cause rather than listing both.
 */
export function expirySignals(tls: TlsFinding | undefined, now = Date.now()): Signal[] {
  if (!tls?.verdicts.includes('expired') || !tls.chain[0]) return [];
  const leafExpired = Date.parse(tls.chain[0].notAfter) < now;
  return [{ type: 'tls.expired', value: leafExpired ? 'leaf' : 'chain' }];
}

/** Runs the steps of `plan` within the budget and diagnoses the first failure. */
async function runPlan(
  kb: Kb,
  ctx: ProbeContext,
  plan: PlannedStep[],
  budgetMs: number,
): Promise<ProbeResult> {
  const { opts, deadline, target, direction } = ctx;
  /** A step's bound: its own, or what is left of the budget. */
  const boundOf = (step: PlannedStep) =>
    Math.min(step.boundMs ?? opts.timeoutMs, deadline - performance.now());
  /**
   * The bound runStep enforces: a step that watches the deadline itself (boundMs Infinity: the http
   * step's requests) gets SELF_BOUND_GRACE_MS more, so that its own sentence of what the server did
   * wins over the hard stop's.
   */
  const hardBoundOf = (step: PlannedStep, bound: number) =>
    step.boundMs === Infinity ? bound + SELF_BOUND_GRACE_MS : bound;
  const spent = `the probe's total time (${budgetMs / 1000} s${opts.budgetMs === undefined ? `, ${BUDGET_TIMEOUTS} × --timeout` : ''}) ran out`;

  const steps: StepRecord[] = [];
  const push = (record: StepRecord) => {
    steps.push(record);
    const { name, ok, ms, warning } = record;
    opts.onStep?.({ name, ok, ms, detail: redactUrls(record.detail), ...(warning ? { warning } : {}) });
  };
  let failed: StepRecord | undefined;
  const cancel = opts.signal;
  for (const step of plan) {
    cancel?.throwIfAborted();
    if (step.afterFailure) {
      if (failed && step.afterFailure(failed) && boundOf(step) > 0) {
        const found = await runStep(step.name, boundOf(step), step.run, undefined, cancel);
        if (found.detail) failed.detail += `; ${found.detail}`;
        if (found.text) failed.text = `${failed.text ?? failed.detail}\n${found.text}`;
        failed.signals.push(...found.signals);
      }
      continue;
    }
    if (failed) {
      push(notRun(step.name, `${failed.name} failed`));
      continue;
    }
    const bound = boundOf(step);
    if (bound <= 0) {
      // The steps before took the whole budget, each within its own bound: a slow peer.
      failed = {
        ...notRun(step.name, spent),
        ok: false,
        signals: [
          { type: 'net.error', value: 'slow' },
          { type: 'net.error', value: 'budget' },
        ],
      };
      push(failed);
      continue;
    }
    const record = await runStep(
      step.name,
      hardBoundOf(step, bound),
      step.run,
      bound < (step.boundMs ?? opts.timeoutMs) ? spent : undefined,
      cancel,
    );
    cancel?.throwIfAborted();
    push(record);
    if (!record.ok) failed = record;
  }
  cancel?.throwIfAborted();

  // A client certificate refused at the HTTP level (nginx's 400) is still the TLS finding's verdict.
  const tls = ctx.result.tls;
  const refused = steps
    .flatMap((s) => s.signals)
    .find((s) => s.type === 'tls.verdict' && s.value.startsWith('client-cert'));
  if (refused && tls) {
    if (!tls.verdicts.includes(refused.value as TlsVerdict)) tls.verdicts.push(refused.value as TlsVerdict);
    if (tls.clientCertAccepted !== undefined) {
      tls.clientCertAccepted = false;
      // The handshake took the certificate; the answer refused it: the tls line must not say accepted.
      const tlsRecord = steps.find((s) => s.name === 'tls' && s.ok);
      if (tlsRecord)
        tlsRecord.detail = tlsRecord.detail.replace(
          ', client certificate accepted',
          ', client certificate sent (then refused in the HTTP answer)',
        );
    }
  }
  // Why the presented certificate was refused, when the probe knows it (expired, a CA the server does
  // not name): the diagnosis reads it beside the failing step's own text.
  const why = refused && failed && failed.name !== 'tls' ? (tls?.clientCertProblems ?? []) : [];

  const signals: Signal[] = [
    { type: 'host', value: target.host },
    { type: 'port', value: String(target.port) },
    ...steps.flatMap((s) => s.signals),
    ...expirySignals(tls),
  ];
  if (ctx.addresses[0]) ctx.result.address = ctx.addresses[0];
  const failedText = failed ? [failed.text ?? failed.detail, ...why].join('\n') : '';
  const found = failed ? diagnose(kb, { signals, text: failedText, direction }) : undefined;
  // What a URL carries as a secret (?access_token=, &sig=) is shown nowhere: the target, the requests,
  // the signals and the diagnoses' facts and evidence hold it masked (the requests used it whole).
  return withUrlSecretsMasked({
    target: target.url.href,
    direction,
    ok: !failed,
    steps: steps.map(({ name, ok, ms, detail, warning }) => ({
      name,
      ok,
      ms,
      detail,
      ...(warning ? { warning } : {}),
    })),
    ...ctx.result,
    diagnoses: found?.diagnoses ?? [],
    signals: found?.signals ?? signals,
  });
}

/**
 * `value` with every string in it (in arrays and plain objects, changed in place where a string
 * changes: the knowledge base's shared objects never do) passed through redactUrls: a URL's secret query parameters and password masked wherever the result shows a URL.
 */
function withUrlSecretsMasked<T>(value: T): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactUrls(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = walk(v[i]);
        if (x !== v[i]) v[i] = x;
      }
    } else if (v && typeof v === 'object') {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Object.prototype || proto === null)
        for (const [k, x] of Object.entries(v)) {
          const y = walk(x);
          if (y !== x) (v as Record<string, unknown>)[k] = y;
        }
    }
    return v;
  };
  return walk(value) as T;
}
