// The tenant's room, mounted when `serve` was given a service key (--service-key FILE or
// $LINKDOCTOR_SERVICE_KEY): the `tenant` commands over the same library (src/tenant), answering with
// the objects `tenant failures --json`, `tenant keystore --json` and `tenant endpoints --json` print. Read-only: the keystore's
// --export (which writes a file on the server) is not offered here.
import type { FastifyPluginAsync } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { endpointsJson, failuresJson, keystoreJson, parseWhen } from '../cli/tenant.js';
import { UserError } from '../errors.js';
import { TenantClient } from '../tenant/client.js';
import { MPL_STATUSES } from '../tenant/entities.js';
import { DEFAULT_STATUSES, tenantFailures } from '../tenant/failures.js';
import { deployedArtifacts } from '../tenant/endpoints.js';
import { keystoreEntries } from '../tenant/keystore.js';
import { MAX_PROBLEMS_LISTED } from '../report/scan.js';
import type { Problem } from '../scan/incident.js';
import { secretsOf, type ServiceKey } from '../tenant/service-key.js';
import { withoutSecrets } from '../redact.js';
import { HttpProblem } from './problem.js';
import { numberParam, problemSchema } from './schemas.js';

/** Bound of each request to the tenant, as the CLI's default --timeout. */
const TIMEOUT_MS = 30_000;

export const failuresQuery = z.strictObject({
  since: z.string().max(40).default('24h').describe('24h, 90m, 7d before now, or an ISO date (UTC)'),
  until: z.string().max(40).optional().describe('end (default: now)'),
  iflow: z.string().max(200).optional().describe('only this integration flow'),
  status: z
    .string()
    .max(100)
    .optional()
    .describe(`statuses to read, comma-separated (default ${DEFAULT_STATUSES.join(',')})`),
  max: numberParam(
    'max',
    { min: 1, max: 1_000_000, whole: true, what: 'a number of messages' },
    100_000,
  ).describe('read at most the newest N'),
});

export const keystoreQuery = z.strictObject({
  days: numberParam(
    'days',
    { min: 0, max: 36500, what: 'a number of days', sentence: 'days takes a number of days from 0 to 36500' },
    30,
  ).describe('how many days ahead'),
});

/** The tenant room over one service key. */
export function tenantRoutes(key: ServiceKey): FastifyPluginAsync {
  /** A client for one request; any sentence it ends in is scrubbed of the key's secrets. */
  async function withClient<T>(run: (c: TenantClient) => Promise<T>): Promise<T> {
    const client = new TenantClient(key, { timeoutMs: TIMEOUT_MS });
    try {
      return await run(client);
    } catch (e) {
      if (e instanceof Error) e.message = withoutSecrets(e.message, secretsOf(key));
      // The tenant's refusals and failures are the tenant's, not the request's: 502.
      if (e instanceof UserError) throw new HttpProblem(502, e.message);
      throw e;
    } finally {
      await client.close();
    }
  }

  const routes: FastifyPluginAsyncZod = async (app) => {
    app.get(
      '/api/tenant/failures',
      {
        schema: {
          summary:
            "The tenant's failed messages of a window, each error text diagnosed, grouped as scan does",
          tags: ['tenant'],
          querystring: failuresQuery,
          response: { 200: z.looseObject({ tenant: z.string() }), 400: problemSchema, 502: problemSchema },
        },
      },
      async (req) => {
        const q = req.query;
        const field = (name: string, f: () => number) => {
          try {
            return f();
          } catch (e) {
            throw new HttpProblem(400, `querystring/${name}: ${(e as Error).message}`, [
              { name: `querystring/${name}`, reason: (e as Error).message },
            ]);
          }
        };
        const since = field('since', () => parseWhen(q.since, 'since'));
        const until = q.until !== undefined ? field('until', () => parseWhen(q.until!, 'until')) : undefined;
        if (until !== undefined && until < since)
          throw new HttpProblem(400, 'querystring/until is before since');
        const statuses = (q.status ?? DEFAULT_STATUSES.join(','))
          .split(',')
          .map((s) => s.trim().toUpperCase())
          .filter(Boolean);
        const bad = statuses.find((s) => !(MPL_STATUSES as readonly string[]).includes(s));
        if (bad || !statuses.length)
          throw new HttpProblem(400, `querystring/status takes ${MPL_STATUSES.join(', ')}, comma-separated`);
        return withClient(async (client) => {
          // The messages whose error text could not be read, and why, as `tenant failures --json` lists them.
          const problems: Problem[] = [];
          const r = await tenantFailures(app.linkdoctor.kb, client, {
            since,
            ...(until !== undefined ? { until } : {}),
            statuses,
            ...(q.iflow ? { iflow: q.iflow } : {}),
            maxMessages: q.max,
            onProblem: (p) => void (problems.length < MAX_PROBLEMS_LISTED && problems.push(p)),
          });
          return failuresJson(client.host, r, app.linkdoctor.kb, problems);
        });
      },
    );
    app.get(
      '/api/tenant/keystore',
      {
        schema: {
          summary: "The tenant's keystore entries as the Keystore Monitor lists them, and what expires",
          tags: ['tenant'],
          querystring: keystoreQuery,
          response: { 200: z.looseObject({ tenant: z.string() }), 502: problemSchema },
        },
      },
      async (req) =>
        withClient(async (client) => {
          const entries = await keystoreEntries(client);
          return keystoreJson(client.host, req.query.days, entries, Date.now()) as { tenant: string };
        }),
    );
    app.get(
      '/api/tenant/endpoints',
      {
        schema: {
          summary: "The tenant's deployed integration flows, their inbound URLs, and each deployment error",
          description:
            'IntegrationRuntimeArtifacts (status, version, deployed on) with the ServiceEndpoints of each; ' +
            '`errors` lists the artifacts in status ERROR, whose deployment error is in their `error` field.',
          tags: ['tenant'],
          response: { 200: z.looseObject({ tenant: z.string() }), 502: problemSchema },
        },
      },
      async () => withClient(async (client) => endpointsJson(client.host, await deployedArtifacts(client))),
    );
  };
  return routes as FastifyPluginAsync;
}
