// TLS that a protocol starts on its own connection (SMTP STARTTLS, FTP AUTH TLS, or the implicit TLS
// of smtps:// and ftps:// as the protocol client opens it): the chain the server sent on that very
// socket, judged against the same trust store as the https probe, in the same TlsFinding.
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { certInfo, subjectDn } from '../trust/cert.js';
import { judgeChain, trustedBy } from '../trust/chain.js';
import { isolatedTlsOptions, peerChain, sniName } from '../trust/fetch.js';
import type { TrustStore } from '../trust/store.js';
import type { Signal, TlsFinding } from '../types.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';
import { alertOf } from './tls.js';

/** Options for the protocol client's handshake: nothing of Node's store may complete the chain; SNI for a name. */
export function upgradeOptions(host: string, servername?: string): ConnectionOptions {
  const name = sniName(host, servername);
  return { ...isolatedTlsOptions(), ...(name ? { servername: name } : {}) };
}

/** Judges the chain of a socket that completed its handshake; `how` names it (STARTTLS, AUTH TLS). */
export function judgeSocket(
  socket: TLSSocket,
  host: string,
  store: TrustStore,
  how: string,
  out: { finding?: TlsFinding },
): StepOutcome {
  const chain = peerChain(socket);
  const protocol = socket.getProtocol() ?? undefined;
  const cipher = socket.getCipher()?.standardName;
  const judged = judgeChain({ sent: chain, store, host });
  const signals: Signal[] = judged.verdicts.map((v) => ({ type: 'tls.verdict', value: v }));
  const leaf = chain[0];
  if (leaf)
    signals.push(
      { type: 'cert.subject', value: subjectDn(leaf) },
      { type: 'cert.issuer', value: certInfo(leaf).issuer },
    );
  out.finding = {
    ...(protocol ? { protocol } : {}),
    ...(cipher ? { cipher } : {}),
    chain: chain.map(certInfo),
    trusted: judged.trusted,
    ...(judged.anchor ? { anchor: judged.anchor } : {}),
    ...(judged.missing ? { missing: judged.missing } : {}),
    verdicts: judged.verdicts,
    ...(judged.sentences.length ? { sentences: judged.sentences } : {}),
    store: store.label,
    acceptableCAs: [],
  };
  const ok = judged.verdicts.every((v) => v === 'weak-key');
  const summary = `${how}: ${protocol ?? 'TLS'}${cipher ? ` ${cipher}` : ''}`;
  const { sentences } = judged;
  const detail = ok
    ? `${summary}, chain trusted by ${trustedBy(store, judged.anchor)}${sentences.length ? ` (warning: ${sentences.join('; ')})` : ''}`
    : `${how}: ${sentences[0]}`;
  return { ok, detail, signals, text: sentences.join('\n') };
}

/** A handshake that failed after the protocol agreed to TLS. */
export function handshakeFailed(e: NodeJS.ErrnoException, where: string, how: string): StepOutcome {
  const alert = alertOf(e);
  const signals: Signal[] = [
    ...(alert ? [{ type: 'tls.alert', value: alert }] : errorSignals(e)),
    { type: 'tls.verdict', value: 'handshake-failed' },
  ];
  const detail = `the TLS handshake after ${how} failed: ${alert ? `alert ${alert}` : describeError(e, where)}`;
  return { ok: false, detail, signals, text: `${detail}\n${e.message}` };
}
