// Judges a server's chain the way a Java client with a given trust store does: build the path from
// the leaf through what the server sent to any certificate of the store (an intermediate in the store
// anchors the path, as it does in a Cloud Integration keystore), then say everything that is wrong.
import { isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import type { ChainJudgement, TlsVerdict, TrustAnchor } from '../types.js';
import { certInfoAt, isSelfSigned, issued, notAfter, notBefore, subjectDn } from './cert.js';
import type { TrustStore } from './store.js';

/**
 * Paths longer than this are loops or abuse, not PKI; a Java client refuses a chain of more
 * certificates than this in the handshake (jdk.tls.maxCertificateChainLength, 10 by default).
 */
export const MAX_PATH = 10;
// The most specific explanation first: a missing intermediate or a self-signed certificate says why
// the chain is untrusted.
const VERDICT_ORDER: TlsVerdict[] = [
  'incomplete-chain',
  'self-signed',
  'untrusted',
  'expired',
  'not-yet-valid',
  'hostname-mismatch',
  'weak-key',
];

interface Path {
  certs: X509Certificate[];
  /** The store certificate the path ends in, when it reaches one. */
  anchor?: X509Certificate;
  /** The walk stopped at MAX_PATH with more issuers to go. */
  tooLong?: boolean;
}

/** A store's certificates by SHA-256 fingerprint, made once per store (a watch judges many chains against one). */
const indexes = new WeakMap<TrustStore, Map<string, X509Certificate>>();
function indexOf(store: TrustStore): Map<string, X509Certificate> {
  let index = indexes.get(store);
  if (!index) {
    index = new Map(store.entries.map((e) => [e.cert.fingerprint256, e.cert]));
    indexes.set(store, index);
  }
  return index;
}

/** Walks up from the leaf: a store certificate ends the walk (trusted); else the issuer the server sent. */
function buildPath(
  sent: X509Certificate[],
  store: X509Certificate[],
  inStore: Map<string, X509Certificate>,
): Path {
  const certs = [sent[0]!];
  for (;;) {
    const current = certs[certs.length - 1]!;
    const same = inStore.get(current.fingerprint256);
    if (same) return { certs, anchor: same };
    if (isSelfSigned(current)) return { certs };
    if (certs.length >= MAX_PATH) return { certs, tooLong: true };
    const fromStore = store.find((c) => issued(c, current));
    if (fromStore) return { certs: [...certs, fromStore], anchor: fromStore };
    const fromServer = sent.find((c) => !certs.includes(c) && issued(c, current));
    if (!fromServer) return { certs };
    certs.push(fromServer);
  }
}

/** What a client matches the host against: the SANs, or the CN when there are none. */
function namesCovered(leaf: X509Certificate, sans: string[]): string[] {
  if (sans.length) return sans;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
  return cn ? [cn] : [];
}

function matchesHost(leaf: X509Certificate, host: string): boolean {
  const ip = host.replace(/^\[|\]$/g, '');
  return isIP(ip) ? leaf.checkIP(ip) !== undefined : leaf.checkHost(host) !== undefined;
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The store entry holding `cert` (the first of that fingerprint), as the anchor of a chain. */
function anchorOf(store: TrustStore, cert: X509Certificate): TrustAnchor | undefined {
  const entry = store.entries.find((e) => e.cert.fingerprint256 === cert.fingerprint256);
  if (!entry) return undefined;
  const info = certInfoAt(cert, new Date());
  return { alias: entry.alias, subject: info.subject, sha256: cert.fingerprint256, notAfter: info.notAfter };
}

/** The store's label, and the entry that anchors the chain when the store's aliases mean something. */
export const trustedBy = (store: TrustStore, anchor?: TrustAnchor) =>
  `${store.label}${anchor && store.namesAnchor ? `, through its entry ${anchor.alias}` : ''}`;

export function judgeChain(opts: {
  /** The chain as the server sent it, leaf first. */
  sent: X509Certificate[];
  store: TrustStore;
  /** The host name (or IP address) the client connected to. */
  host: string;
  now?: Date;
}): ChainJudgement {
  const { sent, store, host } = opts;
  const now = opts.now ?? new Date();
  const leaf = sent[0];
  if (!leaf)
    return {
      trusted: false,
      verdicts: ['untrusted'],
      path: [],
      sentences: ['The server sent no certificate at all.'],
    };
  // Each verdict gets one entry of `sentences`; a second finding of the same kind joins it.
  const found = new Map<TlsVerdict, string>();
  const say = (v: TlsVerdict, sentence: string) =>
    found.set(v, found.has(v) ? `${found.get(v)} ${sentence}` : sentence);
  let missing: ChainJudgement['missing'];

  const path = buildPath(
    sent,
    store.entries.map((e) => e.cert),
    indexOf(store),
  );
  const addTo = store.addTo ?? 'the trust store';
  const infos = path.certs.map((c) => certInfoAt(c, now));
  const top = path.certs[path.certs.length - 1]!;
  const sentFingerprints = new Set(sent.map((c) => c.fingerprint256));
  const tooLong = sent.length > MAX_PATH || path.tooLong;

  if (tooLong) {
    // Not a missing certificate: the chain itself is beyond what a client walks.
    say(
      'untrusted',
      `The server sends ${sent.length} certificates${path.tooLong ? `, a chain longer than ${MAX_PATH}` : ''}: a Java client accepts at most ${MAX_PATH} in a chain (jdk.tls.maxCertificateChainLength) and refuses it as too long; configure the server to send only its certificate and its intermediates.`,
    );
  } else if (!path.anchor) {
    if (isSelfSigned(top)) {
      // The path ends in a root (or a self-signed leaf) that the store does not hold.
      const below = path.certs[path.certs.length - 2] ?? top;
      missing = {
        subject: subjectDn(top),
        neededBy: subjectDn(below),
        issuer: infos[infos.length - 1]!.issuer,
        sha256: top.fingerprint256,
      };
      if (top === leaf)
        say(
          'self-signed',
          `The server's certificate ${subjectDn(leaf)} is self-signed: no CA vouches for it, so a client trusts it only if the certificate itself is in its trust store.`,
        );
      say(
        'untrusted',
        store.refusal
          ? `${capital(store.refusal)}: add ${subjectDn(top)} (SHA-256 ${top.fingerprint256}) to ${addTo} if you trust it; ${store.label} does not hold this root the chain ends in.`
          : `${store.label} does not hold ${subjectDn(top)}, the root the chain ends in (SHA-256 ${top.fingerprint256}); add it to ${addTo} if you trust it.`,
      );
    } else {
      const info = infos[infos.length - 1]!;
      missing = {
        subject: info.issuer,
        neededBy: info.subject,
        ...(info.issuerUrl ? { url: info.issuerUrl } : {}),
      };
      const download = info.issuerUrl ? ` (download it from ${info.issuerUrl})` : '';
      say(
        'untrusted',
        store.refusal
          ? `${capital(store.refusal)}: add ${info.issuer}${download} to ${addTo}; ${info.subject} was issued by it, and neither the server sent it nor ${store.label} holds it.`
          : `No path to a certificate of ${store.label}: ${info.subject} was issued by ${info.issuer}, which neither the server sent nor the store holds; add ${info.issuer} to ${addTo}${download}.`,
      );
      // An end-entity certificate at the top: the server sent no intermediate at all, or only ones
      // that did not issue it (the wrong intermediate in its chain file: an old CA's, another site's).
      const onPath = new Set(path.certs.map((c) => c.fingerprint256));
      const offPath = sent.filter((c) => !onPath.has(c.fingerprint256));
      if (!top.ca)
        say(
          'incomplete-chain',
          offPath.length
            ? `The server sends ${offPath.map(subjectDn).join(' and ')} after its own certificate, but not the intermediate ${info.issuer} that issued it: its chain file holds the wrong intermediate; configure the server to send ${info.issuer} instead (or add that intermediate to ${addTo}).`
            : `The server sends only its own certificate, not the intermediate ${info.issuer} that issued it; configure the server to send its full chain (or add that intermediate to ${addTo}).`,
        );
    }
  } else if (!sentFingerprints.has(path.anchor.fingerprint256) && !isSelfSigned(path.anchor)) {
    say(
      'incomplete-chain',
      `The server does not send its intermediate ${subjectDn(path.anchor)}; the chain is trusted only because ${store.label} holds that intermediate, and clients without it will fail; configure the server to send its full chain.`,
    );
  }

  // Java does not check the validity of a trust anchor, only of the certificates above it.
  const checked = path.anchor ? path.certs.slice(0, -1) : path.certs;
  for (const cert of checked) {
    if (notAfter(cert) < now)
      say('expired', `${subjectDn(cert)} expired on ${notAfter(cert).toISOString().slice(0, 10)}.`);
    if (notBefore(cert) > now)
      say(
        'not-yet-valid',
        `${subjectDn(cert)} is not valid before ${notBefore(cert).toISOString().slice(0, 10)} (check the clocks too).`,
      );
  }

  if (!matchesHost(leaf, host)) {
    const names = namesCovered(leaf, infos[0]!.sans);
    say(
      'hostname-mismatch',
      `The certificate is not valid for ${host}: it covers ${names.length ? names.join(', ') : 'no host name at all'}.`,
    );
  }

  for (const info of infos) {
    const minimum = info.keyType.startsWith('rsa') ? 2048 : info.keyType === 'ec' ? 256 : 0;
    if (info.keyBits !== undefined && info.keyBits < minimum)
      say('weak-key', `${info.subject} has a weak ${info.keyBits}-bit ${info.keyType.toUpperCase()} key.`);
    // A root's own signature is never checked, so a SHA-1 root is harmless.
    if (!info.selfSigned && /^(md2|md5|sha1)With|-SHA1$/.test(info.signatureAlgorithm))
      say('weak-key', `${info.subject} is signed with ${info.signatureAlgorithm}, which clients reject.`);
  }

  const verdicts = VERDICT_ORDER.filter((v) => found.has(v));
  const anchor = path.anchor && !tooLong ? anchorOf(store, path.anchor) : undefined;
  return {
    trusted: !!path.anchor && !tooLong,
    ...(anchor ? { anchor } : {}),
    verdicts,
    ...(missing ? { missing } : {}),
    path: infos,
    sentences: verdicts.map((v) => found.get(v)!),
  };
}
