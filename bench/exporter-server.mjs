// The exporter on a fastify instance of its own, for bench/exporter.bench.mjs: node exporter-server.mjs
// INVENTORY PORT. (`linkdoctor serve --inventory` mounts the same routes.)
import Fastify from 'fastify';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const { loadKb, loadInventory, exporterRoutes } = await import(join(root, 'dist', 'index.js'));
const [file, port] = process.argv.slice(2);
const app = Fastify();
await app.register(exporterRoutes({ kb: await loadKb(), inventory: await loadInventory(file) }));
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write('ready\n');
// A clean exit on SIGTERM, so that --cpu-prof (EXPORTER_NODE_ARGS) writes its profile.
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
