// The exporter on a fastify instance of its own, for bench/exporter.bench.mjs: node exporter-server.mjs
// INVENTORY PORT [WORKERS]. (`linkdoctor serve --inventory` mounts the same routes.) WORKERS: probe
// worker threads, as serve's --probe-workers (default: serve's default for this machine).
import Fastify from 'fastify';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { loadKb, loadInventory, exporterRoutes, ProbePool, defaultProbeWorkers } = await import(
  join(root, 'dist', 'index.js')
);
const [file, port, workers] = process.argv.slice(2);
const count = workers === undefined ? (defaultProbeWorkers?.() ?? 0) : Number(workers);
const pool = count > 0 && ProbePool ? new ProbePool(count, []) : undefined;
const app = Fastify();
await app.register(
  exporterRoutes({ kb: await loadKb(), inventory: await loadInventory(file), ...(pool ? { pool } : {}) }),
);
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write('ready\n');
// A clean exit on SIGTERM, so that --cpu-prof (EXPORTER_NODE_ARGS) writes its profile.
process.on('SIGTERM', () =>
  app
    .close()
    .then(() => pool?.close())
    .then(() => process.exit(0)),
);
