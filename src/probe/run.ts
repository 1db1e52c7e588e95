// Runs the steps of a probe in order (dns, tcp, tls, http); the first failing step ends the run,
// the ones after it say they did not run, and every signal the steps saw goes to the same matcher
// as a pasted error text.
import { diagnose } from '../diagnose/match.js';
import type { Kb } from '../kb/load.js';
import type { Direction, ProbeResult, Signal, TlsFinding, TlsVerdict } from '../types.js';
import { httpStep, type HttpFinding, type HttpSpec } from './http.js';
import { dnsStep, type Resolved, tcpStep } from './net.js';
import { notRun, runStep, type StepRecord } from './step.js';
import { defaultDirection, parseTarget } from './target.js';
import { tlsStep, type TlsOptions } from './tls.js';

export interface ProbeOptions {
  target: string;
  direction?: Direction;
  /** Bound of each step. */
  timeoutMs: number;
  tls: Omit<TlsOptions, 'timeoutMs'>;
  http: Omit<HttpSpec, 'url' | 'tls'>;
}

export async function probe(kb: Kb, opts: ProbeOptions): Promise<ProbeResult> {
  const t = parseTarget(opts.target);
  const direction = opts.direction ?? defaultDirection(t);
  const resolved: Resolved = { addresses: [] };
  const tlsOut: { finding?: TlsFinding; connect?: HttpSpec['tls'] } = {};
  const httpOut: HttpFinding = { exchanges: [], redirects: [], notes: [] };
  const plan: [string, (signal: AbortSignal) => ReturnType<typeof dnsStep>][] = [
    ['dns', () => dnsStep(t.host, resolved)],
    ['tcp', (signal) => tcpStep(resolved.addresses, t.port, signal)],
  ];
  if (t.scheme === 'https')
    plan.push([
      'tls',
      (signal) =>
        tlsStep(t, resolved.addresses[0]!, { ...opts.tls, timeoutMs: opts.timeoutMs }, tlsOut, signal),
    ]);
  plan.push([
    'http',
    (signal) =>
      httpStep(
        { ...opts.http, url: t.url, ...(tlsOut.connect ? { tls: tlsOut.connect } : {}) },
        httpOut,
        signal,
      ),
  ]);

  const steps: StepRecord[] = [];
  let failed: StepRecord | undefined;
  for (const [name, fn] of plan) {
    if (failed) {
      steps.push(notRun(name, `${failed.name} failed`));
      continue;
    }
    // The http step may send several requests (redirects, CSRF, the 411 retry): each has the bound.
    const bound = name === 'http' ? opts.timeoutMs * (3 + opts.http.maxRedirects) : opts.timeoutMs;
    const step = await runStep(name, bound, fn);
    steps.push(step);
    if (!step.ok) failed = step;
  }

  // A client certificate refused at the HTTP level (nginx's 400) is still the TLS finding's verdict.
  const refused = steps
    .flatMap((s) => s.signals)
    .find((s) => s.type === 'tls.verdict' && s.value.startsWith('client-cert'));
  if (refused && tlsOut.finding) {
    if (!tlsOut.finding.verdicts.includes(refused.value as TlsVerdict))
      tlsOut.finding.verdicts.push(refused.value as TlsVerdict);
    if (tlsOut.finding.clientCertAccepted !== undefined) tlsOut.finding.clientCertAccepted = false;
  }
  const signals: Signal[] = [
    { type: 'host', value: t.host },
    { type: 'port', value: String(t.port) },
    ...steps.flatMap((s) => s.signals),
  ];
  const result = failed
    ? diagnose(kb, { signals, text: failed.text ?? failed.detail, direction })
    : undefined;
  return {
    target: t.url.href,
    direction,
    ok: !failed,
    steps: steps.map(({ name, ok, ms, detail }) => ({ name, ok, ms, detail })),
    ...(tlsOut.finding ? { tls: tlsOut.finding } : {}),
    ...(httpOut.exchanges.length ? { http: { ...httpOut } } : {}),
    diagnoses: result?.diagnoses ?? [],
    signals: result?.signals ?? signals,
  };
}
