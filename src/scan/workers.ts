// Worker threads for scanning large text logs on every core: the main thread reads the input and
// cuts it into blocks at event starts (text.ts, textEvents), each block goes to a worker
// (src/scan/worker.ts) in a SharedArrayBuffer, and the incidents come back and are yielded in
// input order. Each worker keeps its own cache of verdicts.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Incident } from './incident.js';
import type { BlockHandler, BlockResult } from './text.js';

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
  base: number;
  timestamped: boolean;
  file: string;
}

/** A worker's answer to a job: the block's incidents, or why it failed. */
export type WorkerReply =
  | {
      id: number;
      result: BlockResult<Incident>;
      verdicts: { hits: number; misses: number };
      error?: undefined;
    }
  | { id: number; error: string; result?: undefined };

/**
 * How many worker threads a scan of a text log uses: LINKDOCTOR_SCAN_WORKERS (0 by default). At two
 * cores they did not pay (200 MB log, machine under load: 10.2 s CPU with two workers against 6.8 s in
 * one thread, each worker diagnosing the same recurring failures again, and a peak RSS of 307 MB
 * against 170 MB), so they are for machines with cores to spare: "auto" takes one per core (up to 4)
 * for logs of WORKER_MIN_BYTES and more.
 */
export function workerCount(bytes: number | undefined): number {
  const set = process.env.LINKDOCTOR_SCAN_WORKERS;
  if (set && /^\d+$/.test(set)) return Math.min(Number(set), 16);
  if (set !== 'auto' || bytes === undefined || bytes < WORKER_MIN_BYTES) return 0;
  const cores = availableParallelism();
  return cores < 2 ? 0 : Math.min(cores, 4);
}

/** The module a worker runs: the bundle's entry, or the source when run from TypeScript (tests). */
function workerUrl(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('./worker.ts', import.meta.url)
    : new URL(
        import.meta.url.includes('/chunks/') ? '../scan-worker.js' : './scan-worker.js',
        import.meta.url,
      );
}

export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<
    number,
    { resolve: (r: BlockResult<Incident>) => void; reject: (e: Error) => void }
  >();
  private readonly verdicts: { hits: number; misses: number }[];
  private next = 0;
  private failed: Error | undefined;

  /** `dirs`: the knowledge-base folders beside the built-in one, as loadKb is given them. */
  constructor(count: number, dirs: string[]) {
    this.verdicts = Array.from({ length: count }, () => ({ hits: 0, misses: 0 }));
    this.workers = Array.from({ length: count }, (_, i) => {
      const url = workerUrl();
      // From TypeScript (tests): the worker registers tsx's loader before it loads the module.
      const w = url.pathname.endsWith('.ts')
        ? new Worker(
            `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`,
            { eval: true, workerData: { dirs } },
          )
        : new Worker(url, { workerData: { dirs } });
      w.on('message', (reply: WorkerReply) => {
        const p = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.error !== undefined) p?.reject(new Error(reply.error));
        else {
          this.verdicts[i] = reply.verdicts;
          p?.resolve(reply.result);
        }
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

  /** A block in a buffer workers can read: its memory is shared, not copied. */
  alloc = (size: number): Buffer => Buffer.from(new SharedArrayBuffer(size));

  /** Hands each block to the next worker in turn. */
  handle: BlockHandler<Incident> = (buf, to, ctx) => {
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
      ...ctx,
    };
    return new Promise<BlockResult<Incident>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage(job);
    });
  };

  /** How many blocks are handed out ahead of the one whose incidents are yielded. */
  get ahead(): number {
    return this.workers.length * 2;
  }

  /** Verdicts from the workers' caches, summed. */
  get stats(): { hits: number; misses: number } {
    return this.verdicts.reduce((a, v) => ({ hits: a.hits + v.hits, misses: a.misses + v.misses }), {
      hits: 0,
      misses: 0,
    });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
