// A scan worker thread (src/scan/workers.ts starts them): loads the same knowledge base as the
// scan, and for each block of a text log it is given finds the lines where an incident may be,
// the events around them, and classifies them with its own cache of verdicts, as run.ts does in
// one thread. The block is in a SharedArrayBuffer: nothing of it is copied.
import { parentPort, workerData } from 'node:worker_threads';
import { loadKb } from '../kb/load.js';
import { VerdictCache } from './cache.js';
import type { Incident } from './incident.js';
import { buildPrefilter } from './prefilter.js';
import { classify, LOG_MIN_CONFIDENCE } from './run.js';
import { blockEvents, findLines } from './text.js';
import type { WorkerJob, WorkerReply } from './workers.js';

const { dirs } = workerData as { dirs: string[] };
const port = parentPort!;
const ready = (async () => {
  const kb = await loadKb({ dirs });
  return { pf: buildPrefilter(kb, LOG_MIN_CONFIDENCE), cache: new VerdictCache() };
})();

port.on('message', (job: WorkerJob) => {
  ready
    .then(({ pf, cache }) => {
      const buf = Buffer.from(job.sab, job.offset, job.length);
      const found = findLines(pf.lines, buf, job.to, job.timestamped, true);
      const ctx = {
        file: job.file,
        base: job.base,
        timestamped: job.timestamped,
        pf,
        threshold: LOG_MIN_CONFIDENCE,
      };
      const { events, garbage, lines } = blockEvents(buf, job.to, found, ctx);
      const incidents: Incident[] = [];
      for (const c of events) {
        const incident = classify(c, pf, cache);
        if (incident) incidents.push(incident);
      }
      const reply: WorkerReply = {
        id: job.id,
        result: { events: incidents, garbage, lines },
        verdicts: { hits: cache.hits, misses: cache.misses },
      };
      port.postMessage(reply);
    })
    .catch((e: Error) => port.postMessage({ id: job.id, error: e.message } satisfies WorkerReply));
});
