// GET /api/health: the server is up, with the knowledge base it holds.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** The health room: `{"status": "ok", "version", "entries", "rooms"}`. */
export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/health',
    {
      schema: {
        summary: 'Is the server up',
        tags: ['server'],
        response: {
          200: z.object({
            status: z.literal('ok'),
            version: z.string(),
            entries: z.number().int().describe('knowledge-base entries loaded'),
            rooms: z
              .array(z.string())
              .describe('what this server offers: diagnose, probe, scan, kb, lab, ...'),
          }),
        },
      },
    },
    async () => ({
      status: 'ok' as const,
      version: '0.1.0',
      entries: app.linkdoctor.kb.entries.length,
      rooms: app.linkdoctor.rooms,
    }),
  );
};
