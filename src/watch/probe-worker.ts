// A probe worker thread (probe-pool.ts starts them): loads the same knowledge base as the server
// and runs each /probe job it is given with runProbeJob, as the request's thread would, with module
// options of its own (each trust store parsed once per worker).
import { parentPort, workerData } from 'node:worker_threads';
import { loadKb } from '../kb/load.js';
import { ModuleOptions } from './options.js';
import type { PoolReply, PoolRequest } from './probe-pool.js';
import { runProbeJob } from './probe-job.js';

const { dirs } = workerData as { dirs: string[] };
const port = parentPort!;
const kb = loadKb({ dirs });
const options = new ModuleOptions();

/** The jobs running, by id: their client may hang up (a cancel message) before they end. */
const running = new Map<number, AbortController>();

port.on('message', (request: PoolRequest) => {
  const { id } = request;
  if (request.cancel) return void running.get(id)?.abort();
  const stop = new AbortController();
  running.set(id, stop);
  kb.then((k) => runProbeJob(k, options, request.job, stop.signal))
    .then((answer) => port.postMessage({ id, answer } satisfies PoolReply))
    .catch((e: Error) => port.postMessage({ id, error: e.message } satisfies PoolReply))
    .finally(() => running.delete(id));
});
