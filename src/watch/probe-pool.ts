// Worker threads for the exporter's GET /probe, so that probes use every core while the server
// (its routes, the inventory's schedule, the SQLite history, /metrics) stays in one thread: the
// route checks the request and hands the job (probe-job.ts, plain data) to the worker with the
// fewest jobs running; the worker answers with the metrics text.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.js';
import type { ProbeAnswer, ProbeJob } from './probe-job.js';

/** A job as it travels to a worker, or the word to stop the job `id` (its client hung up). */
export type PoolRequest = { id: number; job: ProbeJob; cancel?: undefined } | { id: number; cancel: true };

/** A worker's answer to a request: the job's answer, or the message of what went wrong. */
export type PoolReply =
  { id: number; answer: ProbeAnswer; error?: undefined } | { id: number; error: string };

/**
 * How many probe workers `serve` starts by default on a machine of `cores` cores: one per core up to
 * 4 on more than two cores, none on one or two (there the request's thread probes). Measured on two
 * cores (bench/exporter.bench.mjs, 10 s warm-up, load 9-11, two alternating rounds): with two workers
 * 6.9-7.3 ms CPU per probe at concurrency 4 and 6.3-6.9 ms at 16, in the server's thread 6.0-7.1 and
 * 5.0-5.3 ms, and its rate at least as high at every concurrency (0.31/0.56/0.63 and 0.27/0.36/0.44
 * of blackbox_exporter's against 0.31/0.37/0.28 and 0.28/0.22/0.18): the hand-off and a second
 * and third thread on two cores cost more than they add.
 */
export function defaultProbeWorkers(cores = availableParallelism()): number {
  return cores <= 2 ? 0 : Math.min(cores, 4);
}

interface Pending {
  resolve: (a: ProbeAnswer) => void;
  reject: (e: Error) => void;
}

export class ProbePool {
  private readonly workers: Worker[];
  /** Jobs running on each worker. */
  private readonly load: number[];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private failed: Error | undefined;

  /** `dirs`: the knowledge-base folders beside the built-in one, as loadKb is given them. */
  constructor(count: number, dirs: string[]) {
    this.load = Array<number>(count).fill(0);
    this.workers = Array.from({ length: count }, (_, i) => {
      const w = startWorker(import.meta.url, './probe-worker.ts', 'probe-worker', { workerData: { dirs } });
      w.on('message', (reply: PoolReply) => {
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (--this.load[i]! === 0) w.unref();
        if (reply.error !== undefined) p.reject(new Error(reply.error));
        else p.resolve(reply.answer);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`a probe worker stopped (exit code ${code})`)));
      // An idle worker does not keep the process alive (a server whose listen failed ends); one
      // with a probe running does, as the probe in the server's own thread would.
      w.unref();
      return w;
    });
  }

  /** false once a worker has failed or the pool is closed: the caller probes in its own thread then. */
  get usable(): boolean {
    return !this.failed && this.workers.length > 0;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
  }

  /**
   * Runs `job` on the worker with the fewest jobs running; rejects when the worker fails. `signal`
   * stops the job in its worker (the probe's sockets and timers released there); the promise then
   * rejects with the worker's message.
   */
  run(job: ProbeJob, signal?: AbortSignal): Promise<ProbeAnswer> {
    if (this.failed) return Promise.reject(this.failed);
    let w = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[w]!) w = i;
    if (this.load[w]!++ === 0) this.workers[w]!.ref();
    const id = this.next++;
    const worker = this.workers[w]!;
    const cancel = () => {
      if (this.pending.has(id) && !this.failed)
        worker.postMessage({ id, cancel: true } satisfies PoolRequest);
    };
    return new Promise<ProbeAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, job } satisfies PoolRequest);
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    }).finally(() => signal?.removeEventListener('abort', cancel));
  }

  async close(): Promise<void> {
    this.fail(new Error('the probe workers were stopped'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
