// The tls step: the handshake the platform would make, the chain exactly as the server sent it,
// judged against the chosen trust store (not Node's), and the client-certificate exchange.
import { X509Certificate } from 'node:crypto';
import {
  connect,
  createSecureContext,
  TLSSocket,
  type ConnectionOptions,
  type SecureContext,
} from 'node:tls';
import { connect as tcpConnect, Socket } from 'node:net';
import { certInfo, subjectDn } from '../trust/cert.js';
import { judgeChain, trustedBy } from '../trust/chain.js';
import { isolatedTlsOptions, parsedCertificates, peerChain, sniName } from '../trust/fetch.js';
import { readPkcs12 } from '../trust/pkcs12.js';
import { readPem } from '../trust/store.js';
import type { TrustStore } from '../trust/store.js';
import type { CertInfo, Signal, TlsFinding, TlsVerdict } from '../types.js';
import { hostPort, NOT_TLS } from '../errors.js';
import { describeError, errorSignals, type StepOutcome, watchSocket } from './step.js';
import type { Target } from './target.js';
import type { CertificateRequestInfo } from './tls-hello.js';
import { greetingProtocol, wrongScheme } from './sniff.js';
import { HandshakeTap, keepServerSecret, readFlight, type ServerFlight } from './tls-tap.js';

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

/** What one handshake gave (handshake()): the socket, when there is one, is the caller's to destroy. */
export interface Handshake {
  socket?: TLSSocket;
  /** What the handshake established, read at once: a late refusal closes the socket. */
  chain?: X509Certificate[];
  /** Certificates the server sent that are on no path from its own (an unrelated or wrong intermediate). */
  offPath?: X509Certificate[];
  protocol?: string;
  cipher?: string;
  /** Whether the server asked for a client certificate, read from this handshake's own bytes. */
  request: CertificateRequestInfo;
  error?: NodeJS.ErrnoException;
  /** The error came after the handshake completed (a TLS 1.3 server refusing the client certificate). */
  late?: boolean;
  /**
   * The first bytes the server sent a handshake that failed (at most 512): an SSH identification, an
   * SMTP or FTP greeting or a plain HTTP server's 400 names a wrong scheme (sniff.ts).
   */
  first?: Buffer;
}

/**
 * The real handshake, over `raw` (the tcp step's connected socket) or a connection of its own. Once
 * it is done, when the server asked for a client certificate or one was presented, it waits a moment
 * for a TLS 1.3 server to refuse the certificate (it does so after its Finished message).
 */
export function handshake(
  opts: ConnectionOptions,
  raw: Socket | undefined,
  presenting: boolean,
  signal: AbortSignal,
): Promise<Handshake> {
  return new Promise((resolve) => {
    const unknown = (why: string): CertificateRequestInfo => ({ caNames: [], unknownBecause: why });
    if (signal.aborted)
      return resolve({
        request: unknown('the step ran out of time'),
        error: Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }),
      });
    // A TCP socket of our own under the TLS one: it counts the bytes the server sent (a TLSSocket's
    // bytesRead stays 0), so a timeout can tell a silent server from one that stalled mid-handshake;
    // the tap between them keeps the server's handshake bytes for the CertificateRequest.
    const tcp = raw ?? tcpConnect({ host: opts.host!, port: opts.port! });
    watchSocket(signal, tcp);
    const tap = new HandshakeTap(tcp);
    const socket = connect({ ...opts, socket: tap });
    const keys = keepServerSecret(socket);
    // Read once, while the socket is open: Node 20 crashes (SIGSEGV) on getProtocol()/getCipher()
    // of a TLS socket closed after a failed handshake.
    let read: (ServerFlight & { protocol?: string; first?: Buffer }) | undefined;
    const flight = () => {
      if (read) return read;
      const protocol = socket.destroyed ? undefined : (socket.getProtocol() ?? undefined);
      const suite = socket.destroyed ? undefined : socket.getCipher()?.standardName;
      read = {
        ...readFlight(tap.received, protocol, suite, keys.secret),
        protocol,
        first: tap.received?.subarray(0, 512),
      };
      tap.stop();
      keys.secret = undefined;
      return read;
    };
    const requestOf = () => flight().request;
    let secured = false;
    const abort = () => socket.destroy();
    const done = (h: Handshake) => {
      signal.removeEventListener('abort', abort);
      resolve(h);
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.once('secureConnect', async () => {
      secured = true;
      // The chain from the flight's own Certificate message when it could be read (a certificate
      // seen before is not parsed again), else from the socket.
      const { request, certificates } = flight();
      const chain = peerChain(socket, certificates);
      const onPath = new Set(chain.map((c) => c.fingerprint256));
      const offPath = parsedCertificates(certificates).filter((c) => !onPath.has(c.fingerprint256));
      const seen = {
        chain,
        ...(offPath.length ? { offPath } : {}),
        protocol: socket.getProtocol() ?? undefined,
        cipher: socket.getCipher()?.standardName,
        request,
      };
      let late: NodeJS.ErrnoException | undefined;
      const onError = (e: NodeJS.ErrnoException) => (late ??= e);
      const onClose = () =>
        (late ??= Object.assign(new Error('the server closed the connection right after the handshake'), {
          code: 'ECONNRESET',
        }));
      socket.once('error', onError);
      socket.once('close', onClose);
      if (seen.request.requested !== false || presenting)
        await new Promise((r) => setTimeout(r, POST_HANDSHAKE_MS));
      socket.off('error', onError);
      socket.off('close', onClose);
      done(late ? { socket, ...seen, error: late, late: true } : { socket, ...seen });
    });
    // Kept for the socket's whole life: an error while no step reads it (between the tls and the
    // http step) must not become an uncaught one; the step that uses the socket sees it then.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (secured) return;
      const { request, certificates, protocol, first } = flight();
      // A TLS 1.2 server's certificates travel in the clear: kept when the handshake ends in an alert.
      const sent = protocol === 'TLSv1.3' ? [] : parsedCertificates(certificates);
      done({ error, request, first, ...(sent.length ? { chain: sent } : {}) });
      socket.destroy();
    });
    socket.once('close', () => {
      if (!secured)
        done({
          request: requestOf(),
          first: flight().first,
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

/** What each identity presents, read once (see presentedCertificates). */
const presentedBy = new WeakMap<ClientIdentity, { leaf?: X509Certificate; all: X509Certificate[] }>();

/**
 * The certificate Node presents for `identity` (read from the identity's own TLS context, so it is
 * the one the server gets), and every certificate the identity holds (its chain: PEM blocks or
 * PKCS#12 bags). Empty when the identity cannot be read; never throws.
 */
export function presentedCertificates(identity: ClientIdentity): {
  leaf?: X509Certificate;
  all: X509Certificate[];
} {
  let p = presentedBy.get(identity);
  if (p) return p;
  let leaf: X509Certificate | undefined;
  let all: X509Certificate[] = [];
  try {
    const context = contextOptions(identity).secureContext;
    if (context) {
      const socket = new TLSSocket(new Socket(), { secureContext: context, isServer: false });
      leaf = socket.getX509Certificate();
      socket.destroy();
    }
    all = identity.pfx
      ? readPkcs12(identity.pfx, identity.passphrase ?? '', identity.label).map((e) => e.cert)
      : identity.cert
        ? readPem(identity.cert, identity.label)
        : [];
  } catch {
    // What cannot be read is not described; the handshake tells its own error.
  }
  p = { ...(leaf ? { leaf } : {}), all: leaf ? [leaf, ...all] : all };
  presentedBy.set(identity, p);
  return p;
}

/** A DN compared as the server's CA list and a certificate spell it: case and blanks aside. */
const sameDn = (a: string, b: string) =>
  a.replace(/\s+/g, '').toLowerCase() === b.replace(/\s+/g, '').toLowerCase();

/** Days within which a client certificate's end is a warning, as `check` warns of a server's. */
const CLIENT_CERT_WARN_DAYS = 30;

/**
 * What is wrong with the client certificate presented, before the server says a word: expired or not
 * yet valid, or issued by none of the CAs the server names (`caNames`, the CertificateRequest's list;
 * an empty list names none). `problems` are sentences the knowledge base reads as the causes they are
 * ("client certificate expired", "does not trust the client certificate"); `warning` is an end within
 * CLIENT_CERT_WARN_DAYS days.
 */
export function clientCertProblems(
  identity: ClientIdentity,
  info: CertInfo,
  all: readonly X509Certificate[],
  caNames: readonly string[],
): { problems: string[]; warning?: string } {
  const problems: string[] = [];
  const who = `${identity.label}: ${info.subject}, issued by ${info.issuer}`;
  const day = (iso: string) => iso.slice(0, 10);
  if (info.daysLeft < 0)
    problems.push(`the client certificate expired on ${day(info.notAfter)} (${who}): renew the key pair`);
  else if (Date.parse(info.notBefore) > Date.now())
    problems.push(`the client certificate is not valid before ${day(info.notBefore)} (${who})`);
  if (caNames.length) {
    const names = all.flatMap((c) => [certInfo(c).subject, certInfo(c).issuer]);
    if (!caNames.some((ca) => names.some((n) => sameDn(ca, n))))
      problems.push(
        `the server does not trust the client certificate's CA: ${identity.label} is issued by ${info.issuer}, which is not among the CA names the server accepts (${caNames.join('; ')})`,
      );
  }
  const warning =
    !problems.length && info.daysLeft <= CLIENT_CERT_WARN_DAYS
      ? `the client certificate ${identity.label} (${info.subject}) expires in ${info.daysLeft} day${info.daysLeft === 1 ? '' : 's'}, on ${day(info.notAfter)}: renew the key pair before then`
      : undefined;
  return { problems, ...(warning ? { warning } : {}) };
}

/**
 * The tls step: one handshake, over `raw` (the tcp step's connected socket) when given, else over a
 * connection of its own. `out.connect` receives the options for further connections (redirects);
 * with `raw`, `out.socket` receives the handshaken socket when the step passes, for the http step to
 * send its request on (the caller destroys it); otherwise the socket is closed here.
 */
export async function tlsStep(
  t: Target,
  address: string,
  o: TlsOptions,
  out: { finding?: TlsFinding; connect?: ConnectionOptions; socket?: TLSSocket },
  signal: AbortSignal,
  raw?: Socket,
): Promise<StepOutcome> {
  const servername = sniName(t.host, o.servername);
  const context = contextOptions(o.identity);
  const options: ConnectionOptions = {
    ...context,
    host: address,
    port: t.port,
    ...(servername ? { servername } : {}),
    rejectUnauthorized: false,
  };
  out.connect = { ...context, ...(servername ? { servername } : {}), rejectUnauthorized: false };

  const h = await handshake(options, raw, !!o.identity, signal);
  const { request } = h;
  const signals: Signal[] = [];
  const sentences: string[] = [];
  const verdicts: TlsVerdict[] = [];
  const alert = h.error ? alertOf(h.error) : undefined;

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
    // What the server sent instead names a wrong scheme (https:// to an SSH port): read from this
    // handshake's own bytes, no second connection.
    const found = h.first?.length ? greetingProtocol(h.first) : undefined;
    const wrong = found && wrongScheme(t, found);
    if (wrong) signals.push(wrong.signal);
    const detail = wrong
      ? wrong.sentence
      : garbage
        ? `${hostPort(t.host, t.port)} does not speak TLS (its answer is not a TLS handshake)`
        : `the TLS handshake failed: ${describeError(h.error, hostPort(t.host, t.port))}`;
    // The code on the line that says "handshake" lets the knowledge base tell a reset in the handshake.
    const code = h.error.code ? ` (${h.error.code})` : '';
    return { ok: false, detail, signals, text: `${detail}${code}\n${h.error.message}` };
  }

  const { chain = [], offPath = [], protocol, cipher } = h;

  // Without an alert, a server that closes right after the handshake refused the client certificate
  // (Node's own TLS servers do this); with one, the alert says so.
  const closedAfter = h.late && !alert && (request.requested !== false || !!o.identity);
  // A TLS 1.2 server that asked for a client certificate and then ended the handshake with
  // handshake_failure: version and suite were agreed (its whole flight came), so it refused what the
  // client sent next, the certificate or its absence (OpenSSL's -Verify does this; TLS 1.3 has
  // certificate_required for it).
  const afterRequest = alert === 'handshake_failure' && !h.late && request.requested === true;
  // The bare handshake_failure read as the client-certificate refusal it is here is not passed on
  // as an alert signal: the knowledge base reads that one as "no common version or cipher suite".
  if (alert && !afterRequest) signals.push({ type: 'tls.alert', value: alert });
  if ((alert && CLIENT_CERT_ALERTS.has(alert)) || closedAfter || afterRequest) {
    const why = afterRequest
      ? 'alert handshake_failure right after it asked for one'
      : alert
        ? `alert ${alert}`
        : 'it closed the connection right after the handshake';
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

  // The certificate presented, described, and what is wrong with it before the server says a word
  // (expired, from a CA the server does not name): the cause of a refusal, else a warning.
  const mine = o.identity ? presentedCertificates(o.identity) : undefined;
  const mineInfo = mine?.leaf ? certInfo(mine.leaf) : undefined;
  const own =
    o.identity && mine && mineInfo
      ? clientCertProblems(o.identity, mineInfo, mine.all, request.caNames)
      : undefined;
  if (own && verdicts.includes('client-cert-rejected')) sentences.push(...own.problems);

  const judged = chain.length
    ? judgeChain({ sent: [...chain, ...offPath], store: o.store, host: t.host })
    : undefined;
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
    ...(offPath.length ? { offPath: offPath.map(certInfo) } : {}),
    trusted: judged?.trusted ?? false,
    ...(judged?.anchor ? { anchor: judged.anchor } : {}),
    ...(judged?.missing ? { missing: judged.missing } : {}),
    verdicts,
    ...(sentences.length ? { sentences } : {}),
    store: o.store.label,
    ...(request.requested !== undefined ? { clientCertRequested: request.requested } : {}),
    acceptableCAs: request.caNames,
    ...(presented ? { clientCertAccepted: !refused } : {}),
    ...(mineInfo ? { clientCert: mineInfo } : {}),
    ...(own?.problems.length ? { clientCertProblems: own.problems } : {}),
  };
  const failing = verdicts.filter((v) => v !== 'weak-key');
  const ok = failing.length === 0;
  if (ok && raw && !h.error && h.socket) out.socket = h.socket;
  else h.socket?.destroy();
  const summary = `${protocol ?? 'TLS'}${cipher ? ` ${cipher}` : ''}`;
  const detail = ok
    ? `${summary}, chain trusted by ${trustedBy(o.store, judged?.anchor)}${verdicts.includes('weak-key') ? ` (warning: ${sentences.join('; ')})` : ''}${presented ? ', client certificate accepted' : ''}`
    : (sentences[0] ?? 'the handshake failed');
  // A presented certificate with a problem the server did not (yet) refuse, or near its end, is a warning.
  // So is a weak key or signature in the chain (the step passes: Java may still take it).
  const warning = ok
    ? [
        ...(verdicts.includes('weak-key') ? sentences : []),
        ...(own ? [...own.problems, ...(own.warning ? [own.warning] : [])] : []),
      ]
        .map((w) => (w.endsWith('.') ? w : `${w}.`))
        .join(' ')
    : '';
  return { ok, detail, signals, text: sentences.join('\n'), ...(warning ? { warning } : {}) };
}
