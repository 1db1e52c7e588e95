// A probe result in the Prometheus text format, with blackbox_exporter's metric names where they mean
// the same thing (so that its dashboards and alert rules work), plus what it lacks: the diagnosis,
// its cause and the failing step. Rendered with prom-client, one registry per probe.
import { isIPv6 } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { HttpFinding } from '../probe/http.js';
import type { ProbeResult } from '../types.js';
import { summarize } from './check.js';

/**
 * blackbox_exporter's `probe_ip_addr_hash`: FNV-1a (32 bits) of the address's bytes, 4 for IPv4 and
 * 16 for IPv6, so that the same address gives the same value in both exporters.
 */
export function ipHash(address: string): number {
  // An IPv4-mapped IPv6 address is hashed as its IPv4 address (Go's To4()).
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const bytes = v4 ? v4.split('.').map(Number) : ipv6Bytes(address);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** The 16 bytes of an IPv6 address ("::1", "fe80::1%eth0", "::ffff:1.2.3.4"). */
function ipv6Bytes(address: string): number[] {
  let a = address.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [, b1, b2, b3, b4] = v4.map(Number);
    a = `${a.slice(0, v4.index)}${((b1! << 8) | b2!).toString(16)}:${((b3! << 8) | b4!).toString(16)}`;
  }
  const [head = '', tail] = a.split('::');
  const parts = (x: string) => (x ? x.split(':') : []);
  const groups =
    tail === undefined
      ? parts(head)
      : [
          ...parts(head),
          ...Array<string>(8 - parts(head).length - parts(tail).length).fill('0'),
          ...parts(tail),
        ];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** The HTTP date formats (RFC 9110 §5.6.7) that Go's http.ParseTime reads, as blackbox_exporter does. */
const HTTP_DATES = [
  /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/, // IMF-fixdate
  /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} [A-Z]{3}$/, // RFC 850
];
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** Milliseconds since the epoch of an HTTP date (Last-Modified); NaN for anything else. */
export function httpDate(text: string): number {
  const t = text.trim();
  if (HTTP_DATES.some((re) => re.test(t))) return Date.parse(t);
  // asctime has no zone: it is UTC (Date.parse would read it as local time).
  return ASCTIME.test(t) ? Date.parse(`${t} GMT`) : NaN;
}

/** Seconds since the epoch of an ISO time. */
const epoch = (iso: string) => Date.parse(iso) / 1000;

/** blackbox_exporter's `probe_tls_version_info` values: "TLS 1.3" for Node's "TLSv1.3". */
const tlsVersion = (p: string) => p.replace(/^TLSv/, 'TLS ');

/**
 * The metrics of one probe, as blackbox_exporter's /probe answers (its prober/http.go, utils.go,
 * tls.go): `probe_success`, `probe_duration_seconds`, `probe_dns_lookup_time_seconds`,
 * `probe_ip_protocol`, `probe_ip_addr_hash`, `probe_http_duration_seconds{phase}` (resolve, connect,
 * tls, processing, transfer; millisecond resolution), `probe_http_status_code`, `probe_http_version`,
 * `probe_http_content_length` (-1 without the header), `probe_http_last_modified_timestamp_seconds`
 * (when the answer has a Last-Modified date), `probe_http_ssl` (of the last request),
 * `probe_http_redirects`, `probe_ssl_earliest_cert_expiry`,
 * `probe_ssl_last_chain_expiry_timestamp_seconds` (a trusted chain, its anchor included),
 * `probe_ssl_last_chain_info`, `probe_tls_version_info`, `probe_tls_cipher_info`; and linkdoctor's own `linkdoctor_probe_diagnosis{id,cause,step}`,
 * `linkdoctor_probe_failed_step{step}`, `linkdoctor_probe_step_duration_seconds{step}`,
 * `linkdoctor_probe_step_success{step}` and `linkdoctor_ssh_host_key_info{type,sha256}`.
 * `ok` overrides the probe's own verdict (a module's valid_status_codes).
 */
export async function probeMetrics(r: ProbeResult, durationMs: number, ok = r.ok): Promise<string> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const s = summarize(r);
  gauge('probe_success', 'Displays whether or not the probe was a success').set(ok ? 1 : 0);
  gauge('probe_duration_seconds', 'Returns how long the probe took to complete in seconds').set(
    durationMs / 1000,
  );
  const step = (name: string) => r.steps.find((st) => st.name === name);
  const dns = step('dns');
  if (dns?.ok !== null && dns)
    gauge('probe_dns_lookup_time_seconds', 'Returns the time taken for probe dns lookup in seconds').set(
      dns.ms / 1000,
    );
  if (r.address) {
    const v6 = isIPv6(r.address);
    gauge('probe_ip_protocol', 'Specifies whether probe ip protocol is IP4 or IP6').set(v6 ? 6 : 4);
    gauge(
      'probe_ip_addr_hash',
      "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
    ).set(ipHash(r.address));
  }
  const scheme = new URL(r.target).protocol;
  const http = r.http as HttpFinding | undefined;
  if (scheme === 'https:' || scheme === 'http:') {
    // blackbox_exporter's phases: the dns, tcp and tls steps, then the wait for the answer's head
    // (processing) and the rest of it (transfer), summed over the requests the http step sent.
    const phases = gauge(
      'probe_http_duration_seconds',
      'Duration of http request by phase, summed over all redirects',
      ['phase'],
    );
    const exchanges = http?.exchanges ?? [];
    const ran = (name: string) => (step(name)?.ok === null ? 0 : (step(name)?.ms ?? 0));
    if (dns?.ok !== null && dns) phases.set({ phase: 'resolve' }, dns.ms / 1000);
    phases.set({ phase: 'connect' }, ran('tcp') / 1000);
    phases.set({ phase: 'tls' }, ran('tls') / 1000);
    phases.set({ phase: 'processing' }, exchanges.reduce((n, e) => n + e.ms.firstByte, 0) / 1000);
    phases.set({ phase: 'transfer' }, exchanges.reduce((n, e) => n + e.ms.total - e.ms.firstByte, 0) / 1000);
  }
  if (http) {
    const last = http.exchanges.at(-1);
    gauge('probe_http_status_code', 'Response HTTP status code').set(s.status ?? 0);
    gauge('probe_http_ssl', 'Indicates if SSL was used for the final redirect').set(
      new URL(last?.url ?? r.target).protocol === 'https:' ? 1 : 0,
    );
    gauge('probe_http_redirects', 'The number of redirects').set(http.redirects.length);
    if (http.httpVersion)
      gauge('probe_http_version', 'Returns the version of HTTP of the probe response').set(
        Number(http.httpVersion),
      );
    const modified = http.lastModified ? httpDate(http.lastModified) : NaN;
    if (Number.isFinite(modified))
      gauge(
        'probe_http_last_modified_timestamp_seconds',
        'Returns the Last-Modified HTTP response header in unixtime',
      ).set(Math.floor(modified / 1000));
    const length = Number(last?.headers['content-length'] ?? NaN);
    gauge('probe_http_content_length', 'Length of http content response').set(
      Number.isInteger(length) ? length : -1,
    );
  }
  const tls = r.tls;
  if (tls?.chain.length) {
    const earliest = Math.min(...tls.chain.map((c) => epoch(c.notAfter)));
    gauge('probe_ssl_earliest_cert_expiry', 'Returns last SSL chain expiry in unixtime').set(earliest);
    // blackbox_exporter's: the earliest expiry in the verified chain, its anchor in the trust store
    // included; only for a chain the store trusts.
    if (tls.trusted)
      gauge(
        'probe_ssl_last_chain_expiry_timestamp_seconds',
        'Returns last SSL chain expiry in timestamp',
      ).set(Math.min(earliest, tls.anchor?.notAfter ? epoch(tls.anchor.notAfter) : Infinity));
    const leaf = tls.chain[0]!;
    gauge('probe_ssl_last_chain_info', 'Contains SSL leaf certificate information', [
      'fingerprint_sha256',
      'subject',
      'issuer',
      'subjectalternative',
      'serialnumber',
    ]).set(
      {
        fingerprint_sha256: leaf.sha256.replace(/:/g, '').toLowerCase(),
        subject: leaf.subject,
        issuer: leaf.issuer,
        subjectalternative: leaf.sans.join(','),
        serialnumber: leaf.serial,
      },
      1,
    );
    if (tls.protocol)
      gauge('probe_tls_version_info', 'Returns the TLS version used or NaN when unknown', ['version']).set(
        { version: tlsVersion(tls.protocol) },
        1,
      );
    if (tls.cipher)
      gauge('probe_tls_cipher_info', 'Returns the TLS cipher negotiated during handshake', ['cipher']).set(
        { cipher: tls.cipher },
        1,
      );
  }
  if (r.ssh?.hostKey)
    gauge('linkdoctor_ssh_host_key_info', 'The SSH host key the server showed', ['type', 'sha256']).set(
      { type: r.ssh.hostKey.type, sha256: r.ssh.hostKey.sha256 },
      1,
    );
  const stepSuccess = gauge(
    'linkdoctor_probe_step_success',
    'Whether each step of the probe succeeded (absent: not run)',
    ['step'],
  );
  const stepSeconds = gauge(
    'linkdoctor_probe_step_duration_seconds',
    'How long each step of the probe took',
    ['step'],
  );
  for (const st of r.steps) {
    if (st.ok === null) continue;
    stepSuccess.set({ step: st.name }, st.ok ? 1 : 0);
    stepSeconds.set({ step: st.name }, st.ms / 1000);
  }
  if (!ok) {
    if (s.failedStep)
      gauge('linkdoctor_probe_failed_step', 'The step of the probe that failed', ['step']).set(
        { step: s.failedStep },
        1,
      );
    if (s.diagnosis)
      gauge(
        'linkdoctor_probe_diagnosis',
        'Why the probe failed: the knowledge-base entry, its cause when the probe told it, and the failing step',
        ['id', 'cause', 'step'],
      ).set({ id: s.diagnosis.id, cause: s.diagnosis.cause ?? '', step: s.failedStep ?? '' }, 1);
  }
  return registry.metrics();
}
