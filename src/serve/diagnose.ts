// POST /api/diagnose: the same call and the same JSON as `linkdoctor diagnose --json`.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeIncident, MAX_INCIDENT_BYTES } from '../diagnose/input.js';
import { diagnose } from '../diagnose/match.js';
import { diagnoseJson } from '../report/json.js';
import { diagnoseJsonSchema, direction, problemSchema } from './schemas.js';

/** The request: the error text (a message, a stack trace, a log entry) and, when known, the direction. */
export const diagnoseRequest = z.strictObject({
  text: z
    .string()
    .min(1)
    .max(MAX_INCIDENT_BYTES)
    .describe('the error text: a message, a stack trace with its Caused by chain, a log entry'),
  direction: direction.optional(),
});

/** The diagnose room. 200 even when nothing matched (`diagnoses` is then empty), as the CLI's JSON. */
export const diagnoseRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/api/diagnose',
    {
      schema: {
        summary: 'Which known issue an error text is, on what evidence, and what to do',
        tags: ['diagnose'],
        body: diagnoseRequest,
        response: { 200: diagnoseJsonSchema, 400: problemSchema },
      },
    },
    async (req) => {
      // The CLI's refusals (binary, blank) with the field's name for the source.
      const { text } = decodeIncident(Buffer.from(req.body.text, 'utf8'), 'body/text');
      const result = diagnose(app.linkdoctor.kb, {
        text,
        ...(req.body.direction ? { direction: req.body.direction } : {}),
      });
      // The CLI's object; the schema documents it (loose: it does not filter it).
      return diagnoseJson(result) as z.output<typeof diagnoseJsonSchema>;
    },
  );
};
