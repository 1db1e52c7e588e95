// A scan worker thread (src/scan/workers.ts starts them): given what the prefilter's line search is
// made of (LinesSpec: literals, check patterns; no knowledge base to load), it finds, for each block
// of a text log it is given, the lines where an incident may be (findLines), while the scan's own
// thread makes the events of earlier blocks and classifies them with its one cache of verdicts.
// The block is in a SharedArrayBuffer: nothing of it is copied.
import { parentPort, workerData } from 'node:worker_threads';
import { linesOf, type LinesSpec } from './prefilter.js';
import { findLines } from './text.js';
import type { WorkerJob, WorkerReply } from './workers.js';

const { spec } = workerData as { spec: LinesSpec };
const port = parentPort!;
let lines: ReturnType<typeof linesOf> | undefined;

port.on('message', (job: WorkerJob) => {
  try {
    lines ??= linesOf(spec);
    const buf = Buffer.from(job.sab, job.offset, job.length);
    const found = findLines(lines, buf, job.to, job.timestamped, true);
    port.postMessage({ id: job.id, found } satisfies WorkerReply);
  } catch (e) {
    port.postMessage({ id: job.id, error: (e as Error).message } satisfies WorkerReply);
  }
});
