// The tls step: the handshake the platform would make, the chain exactly as the server sent it,
// judged against the chosen trust store (not Node's), and the client-certificate exchange.
import type { X509Certificate } from 'node:crypto';
import {
  connect,
  createSecureContext,
  type ConnectionOptions,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { connect as tcpConnect, isIP } from 'node:net';
import { certInfo, subjectDn } from '../trust/cert.js';
import { judgeChain, trustedBy } from '../trust/chain.js';
import { isolatedTlsOptions, peerChain } from '../trust/fetch.js';
import type { TrustStore } from '../trust/store.js';
import type { Signal, TlsFinding, TlsVerdict } from '../types.js';
import { NOT_TLS } from '../errors.js';
import { describeError, errorSignals, type StepOutcome, watchSocket } from './step.js';
import type { Target } from './target.js';
import { inspectCertificateRequest } from './tls-hello.js';

/** A client certificate to present: PKCS#12, or PEM certificate chain and key. Never printed. */
export interface ClientIdentity {
  label: string;
  pfx?: Buffer;
  passphrase?: string;
  cert?: string;
  key?: string;
}

export interface TlsOptions {
  store: TrustStore;
  identity?: ClientIdentity;
  servername?: string;
  timeoutMs: number;
}

/** How long to wait after the handshake for a TLS 1.3 server to refuse the client certificate. */
const POST_HANDSHAKE_MS = 400;

/** The alert name in an OpenSSL error ("tlsv13 alert certificate required" → certificate_required). */
export function alertOf(e: Error): string | undefined {
  const m = /(?:sslv3|tlsv1\d?|ssl|tls) alert ([a-z ]+?)(?::|$)/i.exec(e.message);
  return m?.[1]?.trim().toLowerCase().replace(/ /g, '_');
}

const CLIENT_CERT_ALERTS = new Set([
  'certificate_required',
  'bad_certificate',
  'unknown_ca',
  'certificate_unknown',
  'access_denied',
  'unsupported_certificate',
  'certificate_expired',
  'certificate_revoked',
]);

interface Handshake {
  socket?: TLSSocket;
  /** What the handshake established, read at once: a late refusal closes the socket. */
  chain?: X509Certificate[];
  protocol?: string;
  cipher?: string;
  error?: NodeJS.ErrnoException;
  /** The error came after the handshake completed (a TLS 1.3 server refusing the client certificate). */
  late?: boolean;
}

/**
 * The real handshake. `waitForLate` decides, once the handshake is done, whether to wait a moment
 * for a TLS 1.3 server to refuse the client certificate (it does so after its Finished message).
 */
function handshake(
  opts: ConnectionOptions,
  waitForLate: Promise<boolean>,
  signal: AbortSignal,
): Promise<Handshake> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ error: Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }) });
    // Our own TCP socket under the TLS one: it counts the bytes the server sent (a TLSSocket's
    // bytesRead stays 0), so a timeout can tell a silent server from one that stalled mid-handshake.
    const raw = tcpConnect({ host: opts.host!, port: opts.port! });
    watchSocket(signal, raw);
    const socket = connect({ ...opts, socket: raw });
    let secured = false;
    const abort = () => {
      socket.destroy();
      raw.destroy();
    };
    const done = (h: Handshake) => {
      signal.removeEventListener('abort', abort);
      resolve(h);
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.once('secureConnect', async () => {
      secured = true;
      const seen = {
        chain: peerChain(socket),
        protocol: socket.getProtocol() ?? undefined,
        cipher: socket.getCipher()?.standardName,
      };
      let late: NodeJS.ErrnoException | undefined;
      socket.once('error', (e) => (late = e));
      socket.once(
        'close',
        () =>
          (late ??= Object.assign(new Error('the server closed the connection right after the handshake'), {
            code: 'ECONNRESET',
          })),
      );
      if (await waitForLate) await new Promise((r) => setTimeout(r, POST_HANDSHAKE_MS));
      done(late ? { socket, ...seen, error: late, late: true } : { socket, ...seen });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!secured) done({ error });
    });
    socket.once('close', () => {
      if (!secured)
        done({
          error: Object.assign(new Error('the server closed the connection during the TLS handshake'), {
            code: 'ECONNRESET',
          }),
        });
    });
  });
}

/** The TLS context without a client certificate, made once per process. */
let plainContext: SecureContext | undefined;
/** The TLS contexts of client identities, made once per identity object (one per module of an inventory). */
const identityContexts = new WeakMap<ClientIdentity, SecureContext>();

/**
 * The connection options for a handshake that verifies nothing itself (the probe judges the chain
 * against its own store), with one TLS context per identity reused across probes: making a context
 * parses the CA and the client certificate, which costs more than the rest of a loopback handshake.
 */
function contextOptions(identity: ClientIdentity | undefined): ConnectionOptions {
  const own = identity
    ? { pfx: identity.pfx, passphrase: identity.passphrase, cert: identity.cert, key: identity.key }
    : {};
  try {
    let context = identity ? identityContexts.get(identity) : plainContext;
    if (!context) {
      context = createSecureContext({ ...isolatedTlsOptions(), ...own });
      if (identity) identityContexts.set(identity, context);
      else plainContext = context;
    }
    // The identity's fields stay beside the context (Node ignores them then): the http step reads
    // them to know whether a client certificate was presented.
    return { ...own, secureContext: context, rejectUnauthorized: false };
  } catch {
    // A context Node cannot make: the handshake makes it again and fails with its own error.
    return { ...isolatedTlsOptions(), ...own };
  }
}

export async function tlsStep(
  t: Target,
  address: string,
  o: TlsOptions,
  out: { finding?: TlsFinding; connect?: ConnectionOptions },
  signal: AbortSignal,
): Promise<StepOutcome> {
  const servername = o.servername ?? (isIP(t.host) ? undefined : t.host);
  const context = contextOptions(o.identity);
  const options: ConnectionOptions = {
    ...context,
    host: address,
    port: t.port,
    ...(servername ? { servername } : {}),
    rejectUnauthorized: false,
  };
  out.connect = { ...context, ...(servername ? { servername } : {}), rejectUnauthorized: false };

  // The raw TLS 1.2 hello (for the CA names) and the real handshake run side by side.
  const inspecting = inspectCertificateRequest(address, t.port, {
    ...(servername ? { servername } : {}),
    timeoutMs: o.timeoutMs,
    signal,
  });
  const [request, h] = await Promise.all([
    inspecting,
    handshake(
      options,
      inspecting.then((r) => r.requested !== false || !!o.identity),
      signal,
    ),
  ]);
  const signals: Signal[] = [];
  const sentences: string[] = [];
  const verdicts: TlsVerdict[] = [];
  const alert = h.error ? alertOf(h.error) : undefined;
  if (alert) signals.push({ type: 'tls.alert', value: alert });

  if (h.error && !h.late && !alert) {
    h.socket?.destroy();
    // OpenSSL's "unexpected message" before the handshake: a record that no TLS server sends first.
    const garbage =
      h.error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
      NOT_TLS.test(h.error.message) ||
      /ssl3_read_bytes:unexpected message/.test(h.error.message);
    if (garbage)
      signals.push(
        { type: 'net.error', value: 'garbage' },
        { type: 'tls.verdict', value: 'handshake-failed' },
      );
    else signals.push(...errorSignals(h.error), { type: 'tls.verdict', value: 'handshake-failed' });
    const detail = garbage
      ? `${t.host}:${t.port} does not speak TLS (its answer is not a TLS handshake)`
      : `the TLS handshake failed: ${describeError(h.error, `${t.host}:${t.port}`)}`;
    // The code on the line that says "handshake" lets the knowledge base tell a reset in the handshake.
    const code = h.error.code ? ` (${h.error.code})` : '';
    return { ok: false, detail, signals, text: `${detail}${code}\n${h.error.message}` };
  }

  const { chain = [], protocol, cipher } = h;
  h.socket?.destroy();

  // Without an alert, a server that closes right after the handshake refused the client certificate
  // (Node's own TLS servers do this); with one, the alert says so.
  const closedAfter = h.late && !alert && (request.requested !== false || !!o.identity);
  if ((alert && CLIENT_CERT_ALERTS.has(alert)) || closedAfter) {
    const why = alert ? `alert ${alert}` : 'it closed the connection right after the handshake';
    const v: TlsVerdict = o.identity ? 'client-cert-rejected' : 'client-cert-required';
    verdicts.push(v);
    sentences.push(
      o.identity
        ? `the server refused the client certificate ${o.identity.label} (${why})`
        : `the server requires a client certificate and none was presented (${why})`,
    );
  } else if (alert) {
    verdicts.push('handshake-failed');
    sentences.push(
      `the server ended the handshake with the alert ${alert}: no protocol version or cipher suite in common, or it wants something this client did not send`,
    );
  }

  const judged = chain.length ? judgeChain({ sent: chain, store: o.store, host: t.host }) : undefined;
  if (judged) {
    verdicts.push(...judged.verdicts);
    sentences.push(...judged.sentences);
  }
  for (const v of verdicts) signals.push({ type: 'tls.verdict', value: v });
  const leaf = chain[0];
  if (leaf)
    signals.push(
      { type: 'cert.subject', value: subjectDn(leaf) },
      { type: 'cert.issuer', value: certInfo(leaf).issuer },
    );

  const presented = !!o.identity;
  const refused = verdicts.includes('client-cert-rejected') || verdicts.includes('client-cert-required');
  out.finding = {
    ...(protocol ? { protocol } : {}),
    ...(cipher ? { cipher } : {}),
    chain: chain.map(certInfo),
    trusted: judged?.trusted ?? false,
    ...(judged?.anchor ? { anchor: judged.anchor } : {}),
    ...(judged?.missing ? { missing: judged.missing } : {}),
    verdicts,
    ...(sentences.length ? { sentences } : {}),
    store: o.store.label,
    ...(request.requested !== undefined ? { clientCertRequested: request.requested } : {}),
    acceptableCAs: request.caNames,
    ...(presented ? { clientCertAccepted: !refused } : {}),
  };
  const failing = verdicts.filter((v) => v !== 'weak-key');
  const ok = failing.length === 0;
  const summary = `${protocol ?? 'TLS'}${cipher ? ` ${cipher}` : ''}`;
  const detail = ok
    ? `${summary}, chain trusted by ${trustedBy(o.store, judged?.anchor)}${verdicts.includes('weak-key') ? ` (warning: ${sentences.join('; ')})` : ''}${presented ? ', client certificate accepted' : ''}`
    : (sentences[0] ?? 'the handshake failed');
  return { ok, detail, signals, text: sentences.join('\n') };
}
