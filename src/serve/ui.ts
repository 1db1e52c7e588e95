// The web UI's room: the bundle built from web/ (dist/ui), served by linkdoctor itself. The pages'
// paths (/diagnose, /connectivity, ...; not /probe, which is the exporter's) all answer with index.html, so that a deep link such as
// /diagnose?text=... opens the page; the page's script then calls /api like any other client.
// These are the only routes anyone may fetch without the token: the UI asks for it, then calls /api.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { PACKAGE_ROOT } from '../kb/load.js';

/** Where `node scripts/build.mjs` puts the UI. */
export const UI_DIR = join(PACKAGE_ROOT, 'dist', 'ui');
/** The pages of the UI: each path answers with index.html. */
export const UI_PAGES = ['/', '/diagnose', '/connectivity', '/scan', '/kb', '/lab', '/tenant'];

/** The UI room; mounts nothing (and says so on its page) when the UI was not built. */
export const uiRoutes: FastifyPluginAsync = async (app) => {
  // Every route of this plugin is public: static files, no data.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), public: true };
  });
  const index = join(UI_DIR, 'index.html');
  if (!existsSync(index)) {
    for (const path of UI_PAGES)
      app.get(path, { schema: { hide: true } }, async (_req, reply) =>
        reply
          .type('text/plain; charset=utf-8')
          .code(503)
          .send('The web UI is not built: run `npm run build` (the API at /api works without it).\n'),
      );
    return;
  }
  const html = readFileSync(index);
  for (const path of UI_PAGES)
    app.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html),
    );
  await app.register(fastifyStatic, {
    root: UI_DIR,
    prefix: '/ui/',
    index: false,
    dotfiles: 'deny',
    cacheControl: true,
    maxAge: '1h',
  });
};
