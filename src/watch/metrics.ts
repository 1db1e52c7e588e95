// A probe result in the Prometheus text format, with blackbox_exporter's metric names where they mean
// the same thing (so that its dashboards and alert rules work), plus what it lacks: the diagnosis,
// its cause and the failing step. Rendered with prom-client, one registry per probe.
import { Gauge, Registry } from 'prom-client';
import type { ProbeResult } from '../types.js';
import { summarize } from './check.js';

/** Seconds since the epoch of an ISO time. */
const epoch = (iso: string) => Date.parse(iso) / 1000;

/** blackbox_exporter's `probe_tls_version_info` values: "TLS 1.3" for Node's "TLSv1.3". */
const tlsVersion = (p: string) => p.replace(/^TLSv/, 'TLS ');

/**
 * The metrics of one probe, as blackbox_exporter's /probe answers: `probe_success`,
 * `probe_duration_seconds`, `probe_dns_lookup_time_seconds`, `probe_http_status_code`,
 * `probe_http_ssl`, `probe_http_redirects`, `probe_ssl_earliest_cert_expiry`,
 * `probe_ssl_last_chain_expiry_timestamp_seconds`, `probe_ssl_last_chain_info`,
 * `probe_tls_version_info`; and linkdoctor's own `linkdoctor_probe_diagnosis{id,cause,step}`,
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
  const dns = r.steps.find((st) => st.name === 'dns');
  if (dns?.ok !== null && dns)
    gauge('probe_dns_lookup_time_seconds', 'Returns the time taken for probe dns lookup in seconds').set(
      dns.ms / 1000,
    );
  if (r.http) {
    gauge('probe_http_status_code', 'Response HTTP status code').set(s.status ?? 0);
    gauge('probe_http_ssl', 'Indicates if SSL was used for the final redirect').set(
      new URL(r.target).protocol === 'https:' ? 1 : 0,
    );
    const redirects = (r.http as { redirects?: string[] }).redirects ?? [];
    gauge('probe_http_redirects', 'The number of redirects').set(redirects.length);
  }
  const tls = r.tls;
  if (tls?.chain.length) {
    const earliest = Math.min(...tls.chain.map((c) => epoch(c.notAfter)));
    gauge('probe_ssl_earliest_cert_expiry', 'Returns last SSL chain expiry in unixtime').set(earliest);
    gauge('probe_ssl_last_chain_expiry_timestamp_seconds', 'Returns last SSL chain expiry in timestamp').set(
      earliest,
    );
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
