// The rooms `linkdoctor serve` mounts, in order. A room is a fastify plugin that registers its routes
// (zod schemas for OpenAPI and validation); it reads the knowledge base and the server's options from
// `app.linkdoctor` (src/serve/app.ts, ServeContext). To add one: write src/<room>/routes.ts (or
// src/serve/<room>.ts) exporting a FastifyPluginAsyncZod, and add one line here.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { diagnoseRoutes } from './diagnose.js';
import { kbRoutes } from './kb.js';
import { probeRoutes } from './probe.js';
import { scanRoutes } from './scan.js';
import { watchRoom } from '../watch/room.js';
import { uiRoutes } from './ui.js';

/** A named plugin; `when` decides from the server's options whether it is mounted (default: always). */
export interface Room {
  name: string;
  plugin: FastifyPluginAsync;
  when?: (app: FastifyInstance) => boolean;
}

/** The rooms, registered in this order after the core (health, OpenAPI, token, problem bodies). */
export const ROOMS: Room[] = [
  { name: 'diagnose', plugin: diagnoseRoutes },
  { name: 'probe', plugin: probeRoutes },
  { name: 'scan', plugin: scanRoutes },
  { name: 'kb', plugin: kbRoutes },
  // /probe and /metrics (Prometheus); with --inventory, the schedule, history and webhooks.
  { name: 'watch', plugin: watchRoom },
  { name: 'ui', plugin: uiRoutes },
];

/** Registers every room whose `when` holds; resolves once all are loaded. */
export async function mountRooms(app: FastifyInstance, rooms: Room[] = ROOMS): Promise<void> {
  for (const room of rooms)
    if (!room.when || room.when(app)) {
      await app.register(room.plugin);
      app.linkdoctor.rooms.push(room.name);
    }
}
