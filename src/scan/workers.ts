// Worker threads for scanning large text logs on more than one core: the main thread reads the
// input and cuts it into blocks at event starts (text.ts, textEvents); each block goes to a worker
// (src/scan/worker.ts) in a SharedArrayBuffer, which finds the lines where an incident may be (the
// byte-by-byte part of a scan), makes the block's candidate events and works out what their
// classification reads of their text alone (their key's text, headline and masked headline:
// text.ts, prepareEvent), while the main thread looks the verdicts of the blocks before up in its
// one cache of verdicts (diagnosing the events not seen before), groups them and writes them out:
// the same incidents, in input order.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.js';
import type { LinesSpec } from './prefilter.js';
import type { BlockContext, BlockResult, SentCandidate } from './text.js';

/** Inputs smaller than this are scanned in one thread: starting a worker costs about as much as scanning it. */
export const WORKER_MIN_BYTES = 32 << 20;

/** What a worker is given: a block of the input, cut at an event's start. */
export interface WorkerJob {
  id: number;
  sab: SharedArrayBuffer;
  offset: number;
  length: number;
  /** The block's events end here. */
  to: number;
  ctx: Omit<BlockContext, 'pf' | 'threshold'>;
}

/** A worker's answer to a job: the block's candidate events (prepared), or why it failed. */
export type WorkerReply =
  | { id: number; result: BlockResult<SentCandidate>; error?: undefined }
  | { id: number; error: string; result?: undefined };

/**
 * How many worker threads a scan of a text log uses: LINKDOCTOR_SCAN_WORKERS when set (0: none;
 * `auto`: one per core but one, up to 3, for a log of WORKER_MIN_BYTES and more), else none. A
 * worker finds the lines (about a quarter of a scan's CPU time) while the main thread classifies,
 * but it does not pay at two cores: on the 200 MB bench log, four alternating pairs at load 8-9,
 * one worker took 11.2-15.1 s wall and 7.9-8.6 s CPU against 9.5-11.5 s and 6.0-7.2 s in one
 * thread, and 20-40 MB more memory (at load 11-14 it won on wall time by taking more of a
 * crowded machine: 26-41 s against 28-52 s, CPU alike). Session 7, two alternating pairs at load
 * 2.6-3.2: one worker 11.1-11.7 s wall and 6.8-7.1 s CPU against 10.1-10.4 s and 5.9-6.4 s in one
 * thread (165-172 MB against 155-157 MB peak RSS), the same --jsonl output. Session 12: workers
 * that also classify and diagnose (a cache of verdicts each) took 35-50% more CPU than one thread
 * (each diagnosing thread pays again for the failures it had not seen, its compiled patterns and
 * their heap): no split pays on two cores (README, scan).
 */
export function workerCount(bytes: number | undefined): number {
  const set = process.env.LINKDOCTOR_SCAN_WORKERS;
  if (set && /^\d+$/.test(set)) return Math.min(Number(set), 16);
  if (set !== 'auto' || bytes === undefined || bytes < WORKER_MIN_BYTES) return 0;
  return Math.min(availableParallelism() - 1, 3);
}

/**
 * A worker's heap: what it keeps is its automaton and patterns; what it makes per block (the
 * lines it reads, the hits) is garbage at once, so a small young generation costs little time and
 * keeps the worker's memory small.
 */
const LIMITS = { maxYoungGenerationSizeMb: 4 };

export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { resolve: (r: BlockResult<SentCandidate>) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  private failed: Error | undefined;

  /**
   * `spec`: the prefilter's line search and event checks (Prefilter.linesSpec), which each worker
   * makes again; `threshold`: the confidence a non-failing event needs (LOG_MIN_CONFIDENCE).
   */
  constructor(count: number, spec: LinesSpec, threshold: number) {
    this.workers = Array.from({ length: count }, () => {
      const w = startWorker(import.meta.url, './worker.ts', 'scan-worker', {
        workerData: { spec, threshold },
        resourceLimits: LIMITS,
      });
      w.on('message', (reply: WorkerReply) => {
        const p = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.error !== undefined) p?.reject(new Error(reply.error));
        else p?.resolve(reply.result);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => code !== 0 && this.fail(new Error(`a scan worker stopped (exit code ${code})`)));
      return w;
    });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** A buffer for blocks that workers can read: its memory is shared, not copied. */
  alloc = (size: number): Buffer => Buffer.from(new SharedArrayBuffer(size));

  /**
   * The candidate events of buf[0, to) (as findLines and blockEvents make them), prepared
   * (prepareEvent), made by the next worker in turn.
   */
  events = (
    buf: Buffer,
    to: number,
    ctx: Omit<BlockContext, 'pf' | 'threshold'>,
  ): Promise<BlockResult<SentCandidate>> => {
    if (this.failed) return Promise.reject(this.failed);
    if (!(buf.buffer instanceof SharedArrayBuffer)) {
      const shared = this.alloc(buf.length);
      buf.copy(shared);
      buf = shared;
    }
    const id = this.next++;
    const job: WorkerJob = {
      id,
      sab: buf.buffer as SharedArrayBuffer,
      offset: buf.byteOffset,
      length: buf.length,
      to,
      ctx,
    };
    return new Promise<BlockResult<SentCandidate>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage(job);
    });
  };

  /** How many blocks are handed out ahead of the one whose events are classified. */
  get ahead(): number {
    return this.workers.length * 2;
  }

  async close(): Promise<void> {
    this.failed ??= new Error('closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
