// The one vocabulary of linkdoctor: knowledge-base entries, signals, diagnoses.
// Readers and probes produce Signals; the matcher holds them against Entries and returns Diagnoses.

/** Seen from the integration tenant: inbound = a sender calls the tenant; outbound = the tenant calls a receiver. */
export type Direction = 'inbound' | 'outbound';
/** An entry may apply to either direction (a DNS failure is a DNS failure). */
export type EntryDirection = Direction | 'any';
/** What the reader could tell about who called whom. */
export type InferredDirection = Direction | 'unknown';

/** A signature that recognises an entry: a pattern over the text, or a typed signal. */
export interface Symptom {
  /** Regular expression over the input text (case-insensitive). */
  pattern?: string;
  /** Shorthand for `signal: http.status` with this value. */
  status?: number | number[];
  /** A signal type (`http.status`, `tls.alert`, `tls.verdict`, ...) ... */
  signal?: string;
  /** ... and, optionally, a regular expression its value must match in full. */
  value?: string;
  /** How strongly this symptom alone points at the entry, in (0,1]. */
  weight: number;
  /** What the symptom means, shown beside the evidence. */
  means?: string;
  /** The id of the entry's cause this symptom tells (`host-key-changed`); absent when it tells no cause apart. */
  cause?: string;
}

/**
 * One cause of an entry. An entry with more than one cause names each (`id`, `title`) and tells them
 * apart by symptoms tagged with the cause's id; the matcher then names the cause it recognised.
 */
export interface Cause {
  /** Lower-case words joined by hyphens, unique within the entry: `login-refused`. */
  id?: string;
  /** A few words shown as the cause of a diagnosis: "Login refused". */
  title?: string;
  /** The cause in full, as "Likely causes" lists it. */
  text: string;
  /** Texts for which the entry must be the top diagnosis and this its cause (checked by `kb lint`). */
  examples?: string[];
  /** Where the statement comes from (guidance only: the matcher never reads it). */
  sources?: Source[];
}

/**
 * Where a statement of the knowledge base comes from: `seed` (the entry's row of SAP's
 * troubleshooting table "Troubleshooting Sender/Receiver Systems"), `inference` (no source states
 * it), a page read (`title` as the page names itself, `url`), or an SAP note by number.
 */
export type Source = 'seed' | 'inference' | { title: string; url: string } | { note: string; title?: string };

/** A step to fix the issue; `for` lists the causes it fixes (absent: it applies to every cause). */
export interface Fix {
  text: string;
  for?: string[];
  /** Where the step comes from. */
  sources?: Source[];
}

export interface Check {
  text: string;
  /** The probe step that confirms it, where one applies (tls, http, ssh, smtp, ...). */
  probe?: string;
  /** The causes this check confirms (absent: every cause); only in the knowledge base, never in a diagnosis. */
  for?: string[];
  /** Where the check comes from; only in the knowledge base, never in a diagnosis. */
  sources?: Source[];
}

export interface Reference {
  title: string;
  url: string;
  /** SAP note or KBA number, when the reference is one. */
  note?: string;
}

/** One known issue of the knowledge base, as authored in kb/<id>.yaml. */
export interface Entry {
  id: string;
  title: string;
  direction: EntryDirection;
  /** Row number in SAP's troubleshooting table, for the 22 seed entries. */
  seed?: number;
  summary: string;
  symptoms: Symptom[];
  /** Negative evidence: each match lowers the confidence by its weight. */
  against?: Symptom[];
  causes: Cause[];
  checks: Check[];
  fixes: Fix[];
  references: Reference[];
  /** What tells this entry apart from its look-alikes (its twin of the other direction, say). */
  decide?: string;
  examples: { match: string[]; noMatch: string[] };
  /** File the entry was loaded from (set by the loader). */
  file?: string;
}

/**
 * Signal types, with the values probes report. Text readers produce the first group; probes add
 * verdicts of their steps so that an observed failure meets the same entries as a reported one.
 */
export const SIGNAL_TYPES = {
  'http.status': 'an HTTP status code: 401, 403, ...',
  'http.method': 'the HTTP method of the failing call',
  exception: 'a Java/.NET exception class (detail: its message)',
  'icm.code': 'an SAP ICM error code: ICM_HTTP_CONNECTION_FAILED, ...',
  'icm.rc':
    'an ABAP HTTP client\'s return code for a failed connect ("HTTP error 411 occured: ... NIECONN_REFUSED")',
  'ssl.error': 'an SAP CommonCryptoLib error: SSSLERR_PEER_CERT_UNTRUSTED, ...',
  'ni.error': 'an SAP NI (network interface) error: NIECONN_REFUSED, ...',
  'tls.alert':
    'a TLS alert: handshake_failure, unknown_ca, bad_certificate, certificate_required, protocol_version, ...',
  'tls.code': 'an OpenSSL/Node TLS error code: UNABLE_TO_GET_ISSUER_CERT_LOCALLY, CERT_HAS_EXPIRED, ...',
  errno: 'a socket error code: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ECONNRESET, ...',
  marker: 'a Cloud Integration log marker: [CAMEL][IFLOW][POLL_FAILED], ...',
  url: 'a URL',
  host: 'a host name or address',
  port: 'a port number',
  'cert.subject': 'a certificate subject DN',
  'cert.issuer': 'a certificate issuer DN',
  reporter: 'the component that printed the error',
  direction: 'a cue for inbound or outbound',
  'http.location':
    "a redirect's Location header: sign-in (an identity provider's sign-in or authorize endpoint, src/sign-in.ts) | elsewhere",
  // Probe verdicts.
  'net.error':
    'probe: dns-not-found | dns-timeout | refused | timeout | reset | unreachable | closed | silent | slow | garbage | not-http | budget',
  'tls.verdict':
    'probe: untrusted | incomplete-chain | self-signed | expired | not-yet-valid | hostname-mismatch | weak-key | handshake-failed | client-cert-required | client-cert-rejected',
  'http.csrf': 'probe: required | invalid | cookies-not-kept',
  'http.auth': 'probe: the WWW-Authenticate scheme a 401 asked for: basic | bearer | negotiate | ...',
  'http.credentials': 'probe: none (a 401 answered a request that carried no credentials)',
  'http.redirect':
    'probe: loop | too-many | not-followed (no redirect may be followed) | no-location (a 3xx without a Location) | token-url (the OAuth token URL redirects)',
  'http.page':
    "probe: sign-in (the answer is an identity provider's sign-in page, or an HTML form with a password field: src/sign-in.ts)",
  'http.withheld':
    'probe: cross-origin (a redirect led to another origin, the credentials were not sent there, and that origin refused the request: 401 or 403)',
  'tls.versions':
    'probe: after handshake_failure or protocol_version, the versions the server accepts offered alone: TLSv1.2 | TLSv1.3 | TLSv1.2,TLSv1.3 | none',
  'tls.expired':
    "probe: leaf | chain (which certificate is past its end date: the server's own, or an intermediate or root of its chain)",
  'probe.status':
    'probe: the HTTP status the probe itself received from the endpoint (a fact, not a reading of text)',
  'ssh.hostkey': 'probe: changed | unknown | revoked',
  'ssh.auth': 'probe: refused',
  'ssh.algorithms': 'probe: no-common',
  'smtp.port': 'probe: blocked (port 25 unreachable while 587 or 465 answers)',
  'smtp.starttls': 'probe: required | missing | broken',
  'smtp.auth': 'probe: refused',
  'http.endpoint':
    "probe --tenant: what the tenant's deployed endpoints say of a 404: case | wrong-url | wrong-host | not-deployed",
  'net.protocol':
    "probe: what a port speaks when it is not what the URL's scheme expects: ssh | smtp | smtp-tls | ftp | ftp-tls | tls | http | pop3 | imap (detail: the URL to use)",
} as const;

/** One observed fact, with where it was seen. */
export interface Signal {
  /** e.g. http.status, exception, icm.code, ssl.error, tls.alert, errno, marker, url, host, port, reporter, direction */
  type: string;
  value: string;
  /** Span of the input text it was read from, when it came from text. */
  start?: number;
  end?: number;
  /** Extra detail: a status's reason phrase, what a direction cue means, ... */
  detail?: string;
  /** For direction cues: how strongly the cue says its direction, in (0,1]. */
  weight?: number;
}

export interface Evidence {
  /** The exact text of the input that matched, or the signal's value when it came from a probe. */
  text: string;
  start?: number;
  end?: number;
  /** 1-based line of the input where the span starts. */
  line?: number;
  means?: string;
  /** `symptom` raises the confidence, `against` lowers it, `direction` moved it by direction. */
  kind: 'symptom' | 'against' | 'direction';
  /** The id of the entry's cause this evidence tells, when it tells one. */
  cause?: string;
}

/** The facts pulled out of the input that a user acts on. */
export interface Facts {
  host?: string;
  port?: number;
  url?: string;
  status?: number;
  method?: string;
  exception?: string;
  code?: string;
  alert?: string;
  errno?: string;
  certificateSubject?: string;
  certificateIssuer?: string;
  reporter?: string;
}

export interface Diagnosis {
  id: string;
  title: string;
  direction: EntryDirection;
  confidence: number;
  seed?: number;
  summary: string;
  /** The cause the evidence names, when the entry has named causes and a symptom of one matched. */
  cause?: { id: string; title: string };
  evidence: Evidence[];
  facts: Facts;
  /** The entry's causes in full, the named cause first. */
  causes: string[];
  /** The checks, those of the named cause first, then those for every cause, then the rest. */
  checks: Check[];
  /** The fixes in the same order as the checks. */
  fixes: string[];
  references: Reference[];
}

export interface DirectionFinding {
  inferred: InferredDirection;
  evidence: Evidence[];
  /** When the text cannot tell and both directions are offered: what would decide. */
  decide?: string;
}

export interface DiagnoseResult {
  diagnoses: Diagnosis[];
  signals: Signal[];
  facts: Facts;
  direction: DirectionFinding;
}

/** One certificate, as a probe or a trust-store listing shows it. */
export interface CertInfo {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter (negative when expired). */
  daysLeft: number;
  /** DNS names and IP addresses of the subjectAltName extension. */
  sans: string[];
  /** rsa, ec, ed25519, ... */
  keyType: string;
  keyBits?: number;
  curve?: string;
  /** e.g. sha256WithRSAEncryption, ecdsa-with-SHA384 */
  signatureAlgorithm: string;
  /** Colon-separated upper-case hex, as keytool and the Keystore Monitor show it. */
  sha256: string;
  sha1: string;
  selfSigned: boolean;
  ca: boolean;
  /** Where the issuer's certificate can be downloaded (Authority Information Access, CA Issuers). */
  issuerUrl?: string;
}

/** The verdicts a chain can get; also the values of the `tls.verdict` signal. */
export type TlsVerdict =
  | 'untrusted'
  | 'incomplete-chain'
  | 'self-signed'
  | 'expired'
  | 'not-yet-valid'
  | 'hostname-mismatch'
  | 'weak-key'
  | 'handshake-failed'
  | 'client-cert-required'
  | 'client-cert-rejected';

/** The entry of a trust store that anchors a chain (a keystore's alias: the tenant's, a JKS's, ...). */
export interface TrustAnchor {
  alias: string;
  subject: string;
  sha256: string;
  /** When the anchor itself expires (ISO 8601): a chain is valid only as long as its anchor. */
  notAfter?: string;
}

/** The judgement of a server's chain against a trust store, for one host name. */
export interface ChainJudgement {
  trusted: boolean;
  /** Every problem found, worst first; empty when all is well. */
  verdicts: TlsVerdict[];
  /**
   * The certificate that would complete the path to a trusted root, when one is missing: its subject,
   * the certificate that needs it, where to download it (AIA), and, when the server sent it (a root
   * at the top of its chain), its issuer and SHA-256 fingerprint (colon hex, as keytool prints it).
   */
  missing?: { subject: string; neededBy: string; url?: string; issuer?: string; sha256?: string };
  /** The store entry the path ends in (the trust anchor): its alias, subject and SHA-256 fingerprint. */
  anchor?: TrustAnchor;
  /** The path from the leaf to the trust anchor, when one was found. */
  path: CertInfo[];
  /** One readable sentence per problem, in the order of `verdicts`. */
  sentences: string[];
}

/** What the TLS step saw. */
export interface TlsFinding {
  protocol?: string;
  cipher?: string;
  /** The chain as the server sent it, leaf first. */
  chain: CertInfo[];
  /** The certificates the server sent besides, on no path from its own (an unrelated or wrong intermediate). */
  offPath?: CertInfo[];
  trusted: boolean;
  /** The store entry that anchors the chain, when it is trusted. */
  anchor?: TrustAnchor;
  missing?: ChainJudgement['missing'];
  verdicts: TlsVerdict[];
  /** One readable sentence per problem found (the step's detail is the first; the report lists the others). */
  sentences?: string[];
  /** Which trust store judged the chain. */
  store: string;
  /** Did the server ask for a client certificate, and which CA names it accepts (as openssl s_client lists them). */
  clientCertRequested?: boolean;
  acceptableCAs: string[];
  /** Whether the server took the client certificate presented with --client-cert. */
  clientCertAccepted?: boolean;
  /** The client certificate presented (the one Node's TLS context sends), described as the chain's are. */
  clientCert?: CertInfo;
  /**
   * What is wrong with it before the server answers (expired, not yet valid, from a CA the server does
   * not name), one sentence each: the cause of a refusal, else the tls step's warning.
   */
  clientCertProblems?: string[];
  /**
   * After the server ended the handshake with handshake_failure or protocol_version: each version
   * the platform speaks (TLS 1.2, 1.3), offered alone, and what the server did (src/probe/tls-versions.ts).
   */
  versions?: TlsVersionTry[];
}

/** One handshake offering a single TLS version: accepted (with the suite chosen) or refused (why). */
export interface TlsVersionTry {
  version: 'TLSv1.2' | 'TLSv1.3';
  accepted: boolean;
  /** The suite the server chose, or its alert ("alert protocol_version") or the error's code. */
  detail?: string;
}

export interface ProbeStep {
  name: string;
  /** null: the step did not run, because an earlier one failed. */
  ok: boolean | null;
  ms: number;
  /** What the step saw, in one line. */
  detail: string;
  /**
   * Set on a step that passed without judging what it is there for (known_hosts not checked, the
   * login not tested) or only with a warning (algorithms the platform's SSH client agrees on only with
   * a box ticked; plain FTP or SMTP without STARTTLS: nothing encrypted): why it is no plain pass, in
   * one sentence. The one decision of the `!` mark: probe's text, check's line and the web UI read it.
   */
  warning?: string;
}

/** What the smtp probe saw; server texts exactly as the server sent them. */
export interface SmtpFinding {
  /** The greeting (220 ...). */
  banner?: string;
  /** The EHLO answer's lines after the first, as listed: the capabilities before any TLS. */
  ehlo: string[];
  /** The capabilities listed again after STARTTLS. */
  ehloAfterTls?: string[];
  /** How TLS comes in: STARTTLS offered or not, or implicit (smtps://). */
  starttls?: 'offered' | 'not-offered' | 'implicit';
  /** The server refused MAIL FROM before STARTTLS with a demand for TLS. */
  starttlsRequired?: boolean;
  /** The AUTH mechanisms of the EHLO answer the login would use (after TLS when there is TLS), as listed. */
  authMechanisms: string[];
  login?: 'accepted' | 'refused';
  /** The replies to MAIL FROM and RCPT TO (--from, --to); no message is ever sent. */
  envelope?: string[];
  /** When the port did not answer: the submission ports tried instead. */
  alternatives?: { port: number; protection: 'STARTTLS' | 'SMTPS'; answered: boolean; detail: string }[];
  /** The commands and replies, in order (`-v` prints them); AUTH and its answers masked. */
  dialogue?: DialogueLine[];
}

/**
 * One line of a text protocol's conversation (SMTP, FTP), as `curl -v` shows it: `>` what the probe
 * sent, `<` what the server answered; `step` is the probe step it belongs to. Credentials (AUTH,
 * PASS and their answers) are masked; at most a few hundred lines are kept.
 */
export interface DialogueLine {
  step: string;
  dir: '>' | '<';
  text: string;
}

/** What the ftp probe saw. */
export interface FtpFinding {
  /** The greeting (220 ...). */
  banner?: string;
  /** The FEAT answer's lines, as listed. */
  features: string[];
  /** TLS on the control connection: explicit (AUTH TLS), implicit (ftps://) or none. */
  tls?: 'explicit' | 'implicit' | 'none';
  user?: string;
  login?: 'accepted' | 'refused';
  /** The passive-mode reply that opened the data connection (227/229 ...). */
  passive?: string;
  path: string;
  /** The first entries of the listing. */
  listing?: { name: string; type: 'file' | 'directory' | 'link' | 'unknown'; size: number }[];
  entries?: number;
  /** --write-test: the temporary file that was uploaded and removed. */
  writeTest?: { file: string; ok: boolean; detail: string };
  /** The commands and replies of the control connection, in order (`-v`); PASS masked. */
  dialogue?: DialogueLine[];
}

/** What the ssh probe saw (sftp:// and ssh://). */
export interface SshFinding {
  /** The server's identification line (SSH-2.0-...). */
  banner?: string;
  /** By kind: what the server offers, what this probe agreed on, what a JSch-like client can agree on. */
  algorithms?: Record<
    'kex' | 'serverHostKey' | 'cipher' | 'mac',
    { offered: string[]; agreed?: string; jsch: 'ok' | 'deprecated' | 'none'; jschPicks?: string }
  >;
  /** The key the server showed; `line` is its known_hosts line. */
  hostKey?: { type: string; sha256: string; md5: string; line: string };
  /** The key held against --known-hosts (absent without the flag); revoked: an @revoked line holds it. */
  knownHosts?: 'match' | 'changed' | 'unknown' | 'revoked';
  /** The @revoked line holding the server's key. */
  revokedLine?: number;
  /** @cert-authority lines naming this host (CA keys; host certificates are not checked). */
  certAuthorities?: { line: number; type: string; sha256: string }[];
  knownHostsFile?: string;
  /** The file's lines for this host and key type: the stored key when it changed. */
  storedKeys?: { line: number; type: string; sha256: string }[];
  /** Other key types the file holds for this host. */
  otherKeyTypes?: string[];
  /** Lines holding this very key under another host name. */
  sameKeyElsewhere?: { line: number; hosts: string }[];
  /** The methods the server offers for logging in (publickey, password, keyboard-interactive, ...). */
  authMethods?: string[];
  login?: { user: string; ok: boolean; method?: string; refused: string[] };
  sftp?: { path: string; realPath?: string; entries?: number; writeTest?: { file: string; ok: boolean } };
}

/** What the OAuth2 token endpoint answered, without the token. */
export interface OAuthFinding {
  tokenUrl: string;
  status?: number;
  tokenType?: string;
  expiresIn?: number;
  /** From the token itself, when it is a JWT: the scopes and the client it was issued to. */
  scopes?: string[];
  clientId?: string;
  error?: string;
}

export interface ProbeResult {
  target: string;
  direction: Direction;
  ok: boolean;
  steps: ProbeStep[];
  /** The address the probe connects to (the first the name resolved to), once the dns step found one. */
  address?: string;
  tls?: TlsFinding;
  http?: Record<string, unknown>;
  oauth?: OAuthFinding;
  smtp?: SmtpFinding;
  ftp?: FtpFinding;
  ssh?: SshFinding;
  diagnoses: Diagnosis[];
  signals: Signal[];
}
