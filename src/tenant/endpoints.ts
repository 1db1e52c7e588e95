// The tenant's deployed integration flows and their inbound URLs (tenant-api.md §8.2, §8.3), and which
// deployed endpoint an inbound URL means when it matches none (seed row 6: 404 from the runtime).
import { editDistance as distance } from '../cli/usage-error.js';
import { printable } from '../report/printable.js';
import type { Signal } from '../types.js';
import type { TenantClient } from './client.js';
import {
  deployErrorPath,
  deployErrorText,
  runtimeArtifactOf,
  serviceEndpointOf,
  type RuntimeArtifact,
  type ServiceEndpoint,
} from './entities.js';

/** A deployed artifact with its inbound URLs and, in status ERROR, its deployment error. */
export interface DeployedArtifact extends RuntimeArtifact {
  /** The URLs of its EntryPoints (§8.3): none for polling or outbound-only flows. */
  endpoints: { url: string; protocol?: string }[];
  /** The text of `ErrorInformation/$value` (§8.2), for an artifact in status ERROR. */
  error?: string;
}

/** One inbound URL of a deployed iFlow: what `probe --tenant` holds a URL against. */
export interface DeployedEndpoint {
  url: string;
  iflow: string;
  protocol?: string;
  status?: string;
}

/** A deployment error is a few KB of JSON (§8.2 examples); room for long stack traces. */
const ERROR_MAX_BYTES = 256 * 1024;
/** Deployment errors fetched at once (the same bound as the MPL error texts). */
const ERROR_CONCURRENCY = 8;

/**
 * Every deployed artifact (`IntegrationRuntimeArtifacts`, §8.2) with the URLs of its service
 * endpoints (`ServiceEndpoints?$expand=EntryPoints`, §8.3: without $expand, EntryPoints is only a
 * deferred link) and, for each in status ERROR, its deployment error. Sorted by name. Throws
 * UserError as the client does (missing role, wrong URL, ...).
 */
export async function deployedArtifacts(client: TenantClient): Promise<DeployedArtifact[]> {
  const artifacts: RuntimeArtifact[] = [];
  for await (const page of client.pages('IntegrationRuntimeArtifacts'))
    for (const r of page) {
      const a = runtimeArtifactOf(r);
      if (a) artifacts.push(a);
    }
  const endpoints: ServiceEndpoint[] = [];
  for await (const page of client.pages('ServiceEndpoints?$expand=EntryPoints'))
    for (const r of page) {
      const e = serviceEndpointOf(r);
      if (e) endpoints.push(e);
    }
  const out: DeployedArtifact[] = artifacts.map((a) => ({
    ...a,
    endpoints: endpoints
      .filter((e) => e.iflow === a.id)
      .flatMap((e) => e.urls.map((url) => ({ url, ...(e.protocol ? { protocol: e.protocol } : {}) }))),
  }));
  // An endpoint whose iFlow is not among the artifacts still counts (a listing taken mid-deploy).
  for (const e of endpoints)
    if (!out.some((a) => a.id === e.iflow))
      out.push({
        id: e.iflow,
        name: e.iflow,
        status: '',
        endpoints: e.urls.map((url) => ({ url, ...(e.protocol ? { protocol: e.protocol } : {}) })),
      });
  const failed = out.filter((a) => a.status === 'ERROR');
  let next = 0;
  const worker = async () => {
    while (next < failed.length) {
      const a = failed[next++]!;
      // 204 (no error recorded) gives an empty body: no text.
      const answer = await client.get(deployErrorPath(a.id), { accept: 'text', maxBytes: ERROR_MAX_BYTES });
      const text = deployErrorText(answer.body.toString('utf8'));
      if (text) a.error = text;
    }
  };
  await Promise.all(Array.from({ length: Math.min(ERROR_CONCURRENCY, failed.length) }, worker));
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Every inbound URL of the deployed artifacts, with its iFlow and status. */
export const endpointsOf = (artifacts: DeployedArtifact[]): DeployedEndpoint[] =>
  artifacts.flatMap((a) =>
    a.endpoints.map((e) => ({
      url: e.url,
      iflow: a.id,
      ...(e.protocol ? { protocol: e.protocol } : {}),
      ...(a.status ? { status: a.status } : {}),
    })),
  );

/** The path of a URL without a trailing slash ("/http/orders/" → "/http/orders"). */
const pathOf = (u: URL) => decodeURIComponent(u.pathname).replace(/(.)\/+$/, '$1');
const PREFIX = /^\/(http|cxf)(?=\/)/;

/**
 * How a URL relates to the deployed endpoints: `exact` when one has its path (case-sensitive, as
 * the runtime matches), else the closest with the reason a sender gets a 404 from the runtime:
 * another case, /http/ where the flow has /cxf/ (or the other way), a missing prefix, or only the
 * nearest spelling. Endpoints on another host are compared too (the reason then says so).
 * Undefined when nothing is deployed with an inbound URL.
 */
export function closestEndpoint(
  target: URL,
  deployed: DeployedEndpoint[],
): { endpoint: DeployedEndpoint; why: string; exact: boolean } | undefined {
  const want = pathOf(target);
  let best: { endpoint: DeployedEndpoint; why: string; score: number } | undefined;
  for (const endpoint of deployed) {
    let u: URL;
    try {
      u = new URL(endpoint.url);
    } catch {
      continue;
    }
    const have = pathOf(u);
    const otherHost = u.host.toLowerCase() !== target.host.toLowerCase();
    const host = otherHost ? `, on ${u.host} instead of ${target.host}` : '';
    const [score, why] =
      have === want
        ? [0, otherHost ? `the same path on another host (${u.host})` : 'exact']
        : have.toLowerCase() === want.toLowerCase()
          ? [1, `another case: paths are case-sensitive${host}`]
          : have.replace(PREFIX, '') === want.replace(PREFIX, '') && PREFIX.test(have) && PREFIX.test(want)
            ? [
                2,
                `${have.match(PREFIX)![0]}/ instead of ${want.match(PREFIX)![0]}/ (${have.startsWith('/cxf') ? 'a SOAP sender' : 'an HTTPS sender'} adapter's prefix)${host}`,
              ]
            : have.replace(PREFIX, '') === want && PREFIX.test(have)
              ? [
                  3,
                  `a missing prefix: ${have.match(PREFIX)![0]}/ comes before the address the sender adapter names${host}`,
                ]
              : have.replace(PREFIX, '').toLowerCase() === want.replace(PREFIX, '').toLowerCase()
                ? [4, `another case and prefix${host}`]
                : [10 + distance(have, want), `the nearest spelling${host}`];
    // An endpoint on the probed host wins a tie.
    const ranked = score + (otherHost ? 0.5 : 0);
    if (!best || ranked < best.score) best = { endpoint, why, score: ranked };
  }
  return best && { endpoint: best.endpoint, why: best.why, exact: best.why === 'exact' };
}

/**
 * The in-http-404 cause a 404 points to, as the probe's signal `http.endpoint` (kb/in-http-404.yaml
 * reads it): `case`, `wrong-url` (the other prefix, a missing one, another spelling), `wrong-host`,
 * or `not-deployed` (the path is deployed, its flow not STARTED). Undefined when nothing is deployed
 * or the URL is a started endpoint.
 */
export function closestSignal(target: URL, deployed: DeployedEndpoint[]): Signal | undefined {
  const c = closestEndpoint(target, deployed);
  if (!c) return undefined;
  const e = c.endpoint;
  const value = c.exact
    ? e.status && e.status !== 'STARTED'
      ? 'not-deployed'
      : undefined
    : /^the same path on another host/.test(c.why)
      ? 'wrong-host'
      : /^another case:/.test(c.why)
        ? 'case'
        : 'wrong-url';
  return value ? { type: 'http.endpoint', value, detail: c.why } : undefined;
}

/**
 * What a 404's one-line detail adds: the closest deployed endpoint and why, or, when the URL is a
 * deployed endpoint whose flow is not STARTED, that status. Empty when there is nothing to add.
 */
export function closestHint(target: URL, deployed: DeployedEndpoint[]): string {
  const c = closestEndpoint(target, deployed);
  if (!c) return '';
  const e = c.endpoint;
  if (c.exact)
    return e.status && e.status !== 'STARTED'
      ? `; it is the endpoint of integration flow ${printable(e.iflow)}, in status ${printable(e.status)} (not started)`
      : '';
  return `; the closest deployed endpoint is ${new URL(e.url).pathname} (${c.why})`;
}

/** One sentence for the probe: which deployed endpoint the URL is, or the closest one and why. */
export function endpointSentence(target: URL, deployed: DeployedEndpoint[], tenant: string): string {
  const c = closestEndpoint(target, deployed);
  if (!c) return `The tenant ${tenant} has no deployed integration flow with an inbound HTTP endpoint.`;
  const e = c.endpoint;
  const status = e.status && e.status !== 'STARTED' ? ` (status ${e.status})` : '';
  if (c.exact)
    return `${pathOf(target)} is the endpoint of the deployed integration flow ${printable(e.iflow)}${status}.`;
  return `No deployed integration flow of tenant ${tenant} has the endpoint ${pathOf(target)}; the closest is ${printable(e.url)} of ${printable(e.iflow)}${status}: ${c.why}.`;
}
