// Starting a worker thread of linkdoctor's own, the same from the bundle (dist/) and from the
// TypeScript source (tests): the scan's and the exporter's worker pools use it.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker running linkdoctor's module `source` (a .ts file beside `from`, the caller's
 * import.meta.url) or, in the bundle, its entry `entry` (dist/ENTRY.js, see scripts/build.mjs),
 * with `options` (workerData, resourceLimits). From TypeScript the worker registers tsx's loader
 * before it loads the module.
 */
export function startWorker(from: string, source: string, entry: string, options: WorkerOptions): Worker {
  if (from.endsWith('.ts')) {
    const url = new URL(source, from);
    return new Worker(
      `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`,
      { ...options, eval: true },
    );
  }
  const url = new URL(from.includes('/chunks/') ? `../${entry}.js` : `./${entry}.js`, from);
  return new Worker(url, options);
}
