// The server's probe slots, one cap for every route that probes (POST /api/probe and the exporter's
// GET /probe): each probe holds sockets and timers for up to 10 timeouts, so clients asking for
// probes of a silent host (40 at once, or a Prometheus whose scrapes pile up) cannot make the server
// hold without bound. A request beyond the cap either gets 429 with Retry-After at once (the API: an
// interactive caller can retry), or waits in line for a slot, first come first served (the
// exporter: for Prometheus a 429 is a failed scrape), at most MAX_PROBES_WAITING of them and each at
// most its own bound. A client that hangs up stops its probe, or leaves the line; its slot or its
// place is free again at once.
import type { FastifyReply } from 'fastify';
import { problem, sendProblem } from './problem.js';

/** Probes the server runs at once at most, over all the routes that probe. */
export const MAX_PROBES_IN_FLIGHT = 32;
/** Requests that wait for a slot at most (the exporter's); one more gets 429 as if none could wait. */
export const MAX_PROBES_WAITING = 32;
/** Seconds a client refused by that cap is asked to wait (Retry-After). */
export const PROBE_RETRY_AFTER_S = 5;

/** The count the slots keep: `serve`'s context (app.linkdoctor), or an exporter's own outside `serve`. */
export interface ProbeSlots {
  /** Probes running now (GET /metrics shows it as linkdoctor_api_probes_in_flight). */
  probesInFlight: number;
  /**
   * The requests waiting for a slot, in the order they came (a Set keeps it): each one's `take`,
   * called when a running probe hands its slot over (GET /metrics shows the size as
   * linkdoctor_api_probes_waiting).
   */
  probesWaiting: Set<() => void>;
}

/** New, empty slots. */
export function probeSlots(): ProbeSlots {
  return { probesInFlight: 0, probesWaiting: new Set() };
}

/** How a request beyond the cap may wait for a slot (inProbeSlot's `wait`). */
export interface SlotWait {
  /** Milliseconds it waits at most. */
  ms: number;
  /** The sentence of the 503 it gets when `ms` pass before a slot frees; no probe is started. */
  late: string;
}

/**
 * Runs `work` in one of `slots` for the request `reply` answers. When MAX_PROBES_IN_FLIGHT are
 * running: without `wait`, or with MAX_PROBES_WAITING waiting already, it answers 429 (problem JSON,
 * `Retry-After: PROBE_RETRY_AFTER_S`); with `wait`, it waits in line for the next free slot and
 * answers 503 (problem JSON, `wait.late`) when `wait.ms` pass first, or leaves the line when the
 * client hangs up (nobody is left to answer: the reply is hijacked). `work` gets the milliseconds
 * spent waiting, a signal that aborts when the client hangs up before the answer is sent (pass it
 * to the probe), and `handOver`, for a probe that goes on after `work` returns (a stream): its slot
 * is then held until that promise settles. When the client hung up, the reply is hijacked and what
 * `work` threw is dropped. Returns what `work` returns; throws what it throws otherwise.
 */
export async function inProbeSlot<T>(
  slots: ProbeSlots,
  reply: FastifyReply,
  work: (signal: AbortSignal, handOver: (running: Promise<unknown>) => void, waitedMs: number) => Promise<T>,
  wait?: SlotWait,
): Promise<T | FastifyReply> {
  let waitedMs = 0;
  if (slots.probesInFlight >= MAX_PROBES_IN_FLIGHT) {
    if (!wait || slots.probesWaiting.size >= MAX_PROBES_WAITING)
      return sendProblem(
        reply.header('retry-after', String(PROBE_RETRY_AFTER_S)),
        problem(
          429,
          `this server is running ${MAX_PROBES_IN_FLIGHT} probes already, its most at once; try again in ${PROBE_RETRY_AFTER_S} s`,
        ),
      );
    const started = performance.now();
    const got = await waitForSlot(slots, reply, wait.ms);
    if (got === 'gone') return reply.hijack();
    if (got === 'late') return sendProblem(reply, problem(503, wait.late));
    waitedMs = performance.now() - started;
  } else slots.probesInFlight++;
  // The slot is held until the probe ends (then handed to the first in line, or freed); a client
  // that hangs up first stops the probe.
  const hungUp = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) hungUp.abort();
  };
  reply.raw.once('close', onClose);
  if (reply.raw.destroyed) onClose();
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    reply.raw.off('close', onClose);
    const [next] = slots.probesWaiting;
    if (next) {
      slots.probesWaiting.delete(next);
      next();
    } else slots.probesInFlight--;
  };
  let running: Promise<unknown> | undefined;
  try {
    return await work(hungUp.signal, (p) => (running = p), waitedMs);
  } catch (e) {
    if (hungUp.signal.aborted) return reply.hijack();
    throw e;
  } finally {
    if (running) void running.finally(release);
    else release();
  }
}

/**
 * Waits in `slots`' line until a running probe hands its slot over ('slot': it is then this
 * request's, counted in probesInFlight), `ms` pass ('late') or the client of `reply` hangs up
 * ('gone'); either way the timer, the listener and the place in line are gone when it resolves.
 */
function waitForSlot(slots: ProbeSlots, reply: FastifyReply, ms: number): Promise<'slot' | 'late' | 'gone'> {
  if (reply.raw.destroyed) return Promise.resolve('gone');
  return new Promise((resolve) => {
    const done = (how: 'slot' | 'late' | 'gone') => {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
      slots.probesWaiting.delete(take);
      resolve(how);
    };
    const take = () => done('slot');
    const onClose = () => done('gone');
    const timer = setTimeout(() => done('late'), ms);
    reply.raw.once('close', onClose);
    slots.probesWaiting.add(take);
  });
}
