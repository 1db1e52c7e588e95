// After a TLS handshake that the server ended with handshake_failure or protocol_version: which of
// the versions the platform speaks (TLS 1.2 and 1.3 only, see the knowledge base's
// tls-handshake-failure sources) the server accepts when each is offered alone. A bounded follow-up
// of the failed tls step: its finding joins that step's detail, and the tls finding's `versions`.
import { connect, type TLSSocket } from 'node:tls';
import { sniName } from '../trust/fetch.js';
import type { Signal, TlsVersionTry } from '../types.js';
import type { PlannedStep, ProbeContext } from './run.js';
import type { StepRecord } from './step.js';
import { alertOf } from './tls.js';

/** The versions the platform speaks, each tried alone. */
const VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

/** The alerts after which the versions are tried: no agreement on version or parameters. */
const AGREEMENT_ALERTS = /^(?:handshake_failure|protocol_version|insufficient_security)$/;

/** Whether a failed step is a tls step the server ended with one of AGREEMENT_ALERTS. */
export const endedByAgreementAlert = (failed: StepRecord): boolean =>
  failed.name === 'tls' &&
  failed.signals.some((s) => s.type === 'tls.alert' && AGREEMENT_ALERTS.test(s.value));

/**
 * One handshake offering only `version`, bounded by `signal`: the suite the server chose, or why it
 * refused (its alert, or the error's code). The protocol and suite are read while the socket is
 * open (Node 20 crashed on reading them from a closed one, see tls.ts); the socket is then closed.
 */
function tryVersion(
  host: string,
  port: number,
  servername: string | undefined,
  version: (typeof VERSIONS)[number],
  signal: AbortSignal,
): Promise<TlsVersionTry> {
  return new Promise((resolve) => {
    const late = { version, accepted: false, detail: 'no answer in time' };
    if (signal.aborted) return resolve(late);
    const socket: TLSSocket = connect({
      host,
      port,
      ...(servername ? { servername } : {}),
      minVersion: version,
      maxVersion: version,
      // Only the version is asked here; the chain was judged by the tls step.
      rejectUnauthorized: false,
    });
    let done = false;
    const finish = (r: TlsVersionTry) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = () => finish(late);
    signal.addEventListener('abort', onAbort);
    socket.once('secureConnect', () => {
      const suite = socket.getCipher()?.standardName;
      finish({ version, accepted: true, ...(suite ? { detail: suite } : {}) });
    });
    socket.once('error', (e: NodeJS.ErrnoException) =>
      finish({
        version,
        accepted: false,
        detail: alertOf(e) ? `alert ${alertOf(e)}` : (e.code ?? e.message).slice(0, 80),
      }),
    );
  });
}

/** "TLS 1.2" for "TLSv1.2". */
const named = (v: string) => v.replace('TLSv', 'TLS ');

/** The sentence of what the tries found. */
export function versionsSentence(tries: TlsVersionTry[]): string {
  const yes = tries.filter((t) => t.accepted);
  const no = tries.filter((t) => !t.accepted);
  const refused = no.map((t) => `${named(t.version)} (${t.detail ?? 'refused'})`).join(' nor ');
  if (!yes.length)
    return `offered alone, neither ${refused}: the server accepts neither version the platform speaks, with the suites this client offers`;
  const accepted = yes.map((t) => `${named(t.version)}${t.detail ? ` (${t.detail})` : ''}`).join(' and ');
  return no.length
    ? `offered alone, the server accepts ${accepted}, not ${refused.replace(' nor ', ' or ')}`
    : `offered alone, the server accepts ${accepted}: each alone works, the two offered together did not`;
}

/**
 * The follow-up step: after a tls step ended with an agreement alert, a handshake per version
 * (at the same time, each bounded by the step's signal). It reports `tls.versions` (the accepted
 * versions, comma-separated, or `none`) and records the tries in the tls finding.
 */
export function tlsVersionsStep(ctx: ProbeContext): PlannedStep {
  return {
    name: 'tls-versions',
    afterFailure: endedByAgreementAlert,
    run: async (signal) => {
      // The failed handshake's socket is closed by now; a new connection waits for the next turn.
      await new Promise((r) => setImmediate(r));
      const { target, opts } = ctx;
      const servername = sniName(target.host, opts.tls.servername);
      const tries = await Promise.all(
        VERSIONS.map((v) => tryVersion(ctx.addresses[0]!, target.port, servername, v, signal)),
      );
      if (ctx.result.tls) ctx.result.tls.versions = tries;
      const accepted = tries.filter((t) => t.accepted).map((t) => t.version);
      const signals: Signal[] = [{ type: 'tls.versions', value: accepted.join(',') || 'none' }];
      return { ok: true, detail: versionsSentence(tries), signals };
    },
  };
}
