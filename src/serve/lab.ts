// `serve --lab`: the lab's failure servers beside the API. GET /api/lab lists them (as `lab --json`
// does); POST /api/lab/{name}/probe probes one with the lab's own flags (as `demo` does), streaming
// its steps with Accept: application/x-ndjson. Only the lab's own URLs are probed here.
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scenarioOptions } from '../cli/demo.js';
import type { Lab } from '../lab/index.js';
import { probe } from '../probe/run.js';
import { probeJson } from '../report/probe.js';
import { jsonText } from '../report/printable.js';
import { HttpProblem } from './problem.js';
import { problemSchema } from './schemas.js';

/** A lab room over a started lab (the caller stops it). */
export function labRoutes(lab: Lab): FastifyPluginAsync {
  const routes: FastifyPluginAsyncZod = async (app) => {
    app.get(
      '/api/lab',
      {
        schema: {
          summary: "The lab's servers: what each reproduces and what a probe should report",
          tags: ['lab'],
          response: { 200: z.looseObject({ scenarios: z.array(z.looseObject({ name: z.string() })) }) },
        },
      },
      async () => ({
        scenarios: lab.scenarios.map(({ name, url, reproduces, expect, cause, probeArgs }) => ({
          name,
          url,
          reproduces,
          expect,
          ...(cause ? { cause } : {}),
          probeArgs,
        })),
      }),
    );
    app.post(
      '/api/lab/:name/probe',
      {
        schema: {
          summary: 'Probe one lab server with its own flags (as linkdoctor demo does)',
          tags: ['lab'],
          params: z.object({ name: z.string().max(100) }),
          response: { 200: z.looseObject({ target: z.string(), ok: z.boolean() }), 404: problemSchema },
        },
      },
      async (req, reply) => {
        const s = lab.scenarios.find((x) => x.name === req.params.name);
        if (!s) throw new HttpProblem(404, `the lab has no server "${req.params.name}" (see GET /api/lab)`);
        const opts = await scenarioOptions(lab, s);
        if (!/application\/x-ndjson/.test(req.headers.accept ?? ''))
          return probeJson(await probe(app.linkdoctor.kb, opts)) as { target: string; ok: boolean };
        const out = new PassThrough();
        const line = (o: object) => out.write(`${jsonText(o)}\n`);
        void probe(app.linkdoctor.kb, { ...opts, onStep: (step) => line({ step }) })
          .then(
            (r) => line({ result: probeJson(r) }),
            (e: Error) => line({ error: e.message }),
          )
          .finally(() => out.end());
        return reply.type('application/x-ndjson').send(out as never);
      },
    );
  };
  return routes as FastifyPluginAsync;
}
