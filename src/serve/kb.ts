// GET /api/kb and GET /api/kb/{id}: the same lists and entries as `linkdoctor kb list --json` and
// `kb show ID --json`.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { kbListJson, kbShowJson, noEntry } from '../cli/kb.js';
import { HttpProblem } from './problem.js';
import { problemSchema } from './schemas.js';

/** The knowledge-base room. */
export const kbRoutes: FastifyPluginAsyncZod = async (app) => {
  const kb = app.linkdoctor.kb;
  app.get(
    '/api/kb',
    {
      schema: {
        summary: 'The entries of the knowledge base (kb list --json)',
        tags: ['kb'],
        response: {
          200: z.array(
            z.looseObject({
              id: z.string(),
              title: z.string(),
              direction: z.string(),
              seed: z.number().nullable(),
            }),
          ),
        },
      },
    },
    async () => kbListJson(kb) as { id: string; title: string; direction: string; seed: number | null }[],
  );
  app.get(
    '/api/kb/:id',
    {
      schema: {
        summary: 'One entry in full (kb show ID --json): causes, symptoms, fixes, checks, references',
        tags: ['kb'],
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: z.looseObject({ id: z.string() }), 404: problemSchema },
      },
    },
    async (req) => {
      const entry = kbShowJson(kb, req.params.id);
      if (!entry) throw new HttpProblem(404, noEntry(kb, req.params.id, '(see GET /api/kb)'));
      return entry as { id: string };
    },
  );
};
