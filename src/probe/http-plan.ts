// The steps of an http(s) probe after dns and tcp: tls (for https), then http.
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { OAuthFinding, TlsFinding } from '../types.js';
import { httpStep, type HttpFinding } from './http.js';
import { oauthStep } from './oauth.js';
import type { PlannedStep, ProbeContext } from './run.js';
import { tlsStep } from './tls.js';
import { tlsVersionsStep } from './tls-versions.js';

export function httpPlan(ctx: ProbeContext): PlannedStep[] {
  const { target, opts } = ctx;
  const tlsOut: { finding?: TlsFinding; connect?: ConnectionOptions; socket?: TLSSocket } = {};
  // One connection: the tcp step's socket carries the handshake, and the first request goes on it.
  ctx.keepSocket = true;
  const http: HttpFinding = { exchanges: [], redirects: [], notes: [] };
  const steps: PlannedStep[] = [];
  if (target.scheme === 'https')
    steps.push({
      name: 'tls',
      run: (signal) =>
        tlsStep(
          target,
          ctx.addresses[0]!,
          { ...opts.tls, timeoutMs: opts.timeoutMs },
          tlsOut,
          signal,
          ctx.socket,
        ).finally(() => {
          if (tlsOut.finding) ctx.result.tls = tlsOut.finding;
          // The handshaken socket replaces the raw one (which it wraps); a failed handshake closed both.
          ctx.socket = tlsOut.socket;
        }),
    });
  // After handshake_failure or protocol_version: which version the server accepts alone.
  if (target.scheme === 'https') steps.push(tlsVersionsStep(ctx));
  const oauth: { token?: string; finding?: OAuthFinding } = {};
  if (opts.oauth) {
    const spec = opts.oauth;
    steps.push({
      name: 'oauth',
      run: (signal) =>
        oauthStep(spec, opts.tls.store, oauth, signal).finally(() => {
          if (oauth.finding) ctx.result.oauth = oauth.finding;
        }),
    });
  }
  steps.push({
    name: 'http',
    // Several requests may go out (redirects, the CSRF experiments, the 411 retry): each has the
    // timeout as its own bound, and together they have what is left of the probe's budget.
    boundMs: Infinity,
    run: (signal) => {
      const connection = ctx.socket;
      ctx.socket = undefined;
      return httpStep(
        {
          ...opts.http,
          url: target.url,
          timeoutMs: opts.timeoutMs,
          store: opts.tls.store,
          // A little inside the step's bound, so that the step can say which request it stopped.
          deadline: ctx.deadline - Math.min(250, opts.timeoutMs / 10),
          ...(tlsOut.connect ? { tls: tlsOut.connect } : {}),
          ...(oauth.token ? { auth: { bearer: oauth.token } } : {}),
          ...(connection ? { connection } : {}),
        },
        http,
        signal,
      ).finally(() => {
        connection?.destroy();
        if (http.exchanges.length) ctx.result.http = { ...http };
      });
    },
  });
  return steps;
}
