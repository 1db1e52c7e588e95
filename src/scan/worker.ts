// A scan worker thread (src/scan/workers.ts starts them): given what the prefilter's line search and
// event checks are made of (LinesSpec: literals, check patterns, the symptoms' weights; no knowledge
// base to load), it makes, for each block of a text log it is given, the candidate events (findLines,
// blockEvents) and works out what their classification reads of their text alone (prepareEvent),
// while the scan's own thread classifies the events of earlier blocks with its one cache of verdicts.
// The block is in a SharedArrayBuffer: nothing of it is copied; a candidate's bytes go back as offsets.
import { parentPort, workerData } from 'node:worker_threads';
import { eventChecksOf, linesMatcher, linesOf, type LinesSpec } from './prefilter.js';
import { blockEvents, findLines, prepareEvent, type SentCandidate } from './text.js';
import type { WorkerJob, WorkerReply } from './workers.js';

const { spec, threshold } = workerData as { spec: LinesSpec; threshold: number };
const port = parentPort!;
const matcher = linesMatcher(spec);
const lines = linesOf(spec, matcher);
const checks = eventChecksOf(spec, matcher);
const pf = { bound: checks.bound, findPatterns: spec.findPatterns.map((p) => new RegExp(p, 'gim')) };

port.on('message', (job: WorkerJob) => {
  try {
    const buf = Buffer.from(job.sab, job.offset, job.length);
    const found = findLines(lines, buf, job.to, job.ctx.timestamped, true);
    const r = blockEvents(buf, job.to, found, { ...job.ctx, pf, threshold });
    const events = r.events.map((c): SentCandidate => {
      const { bytes, ...rest } = prepareEvent(c, checks);
      if (!bytes) return rest;
      const start = bytes.byteOffset - buf.byteOffset;
      return { ...rest, span: [start, start + bytes.length] };
    });
    port.postMessage({ id: job.id, result: { ...r, events } } satisfies WorkerReply);
  } catch (e) {
    port.postMessage({ id: job.id, error: (e as Error).message } satisfies WorkerReply);
  }
});
