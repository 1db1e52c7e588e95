// The server's probe slots, one cap for every route that probes (POST /api/probe and the exporter's
// GET /probe): each probe holds sockets and timers for up to 10 timeouts, so clients asking for
// probes of a silent host (40 at once, or a Prometheus whose scrapes pile up) cannot make the server
// hold without bound. A request beyond the cap gets 429 with Retry-After at once; a client that hangs
// up before its answer is sent stops its probe, and its slot is free again.
import type { FastifyReply } from 'fastify';
import { problem, sendProblem } from './problem.js';

/** Probes the server runs at once at most, over all the routes that probe. */
export const MAX_PROBES_IN_FLIGHT = 32;
/** Seconds a client refused by that cap is asked to wait (Retry-After). */
export const PROBE_RETRY_AFTER_S = 5;

/** The count the slots keep: `serve`'s context (app.linkdoctor), or an exporter's own outside `serve`. */
export interface ProbeSlots {
  /** Probes running now (GET /metrics shows it as linkdoctor_api_probes_in_flight). */
  probesInFlight: number;
}

/**
 * Runs `work` in one of `slots` for the request `reply` answers, or answers 429 (problem JSON,
 * `Retry-After: PROBE_RETRY_AFTER_S`) when MAX_PROBES_IN_FLIGHT are running. `work` gets a signal
 * that aborts when the client hangs up before the answer is sent (pass it to the probe), and
 * `handOver`, for a probe that goes on after `work` returns (a stream): its slot is then held until
 * that promise settles. When the client hung up, nobody is left to answer: the reply is hijacked
 * and what `work` threw is dropped. Returns what `work` returns; throws what it throws otherwise.
 */
export async function inProbeSlot<T>(
  slots: ProbeSlots,
  reply: FastifyReply,
  work: (signal: AbortSignal, handOver: (running: Promise<unknown>) => void) => Promise<T>,
): Promise<T | FastifyReply> {
  if (slots.probesInFlight >= MAX_PROBES_IN_FLIGHT)
    return sendProblem(
      reply.header('retry-after', String(PROBE_RETRY_AFTER_S)),
      problem(
        429,
        `this server is running ${MAX_PROBES_IN_FLIGHT} probes already, its most at once; try again in ${PROBE_RETRY_AFTER_S} s`,
      ),
    );
  // The slot is held until the probe ends; a client that hangs up first stops the probe.
  slots.probesInFlight++;
  const hungUp = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) hungUp.abort();
  };
  reply.raw.once('close', onClose);
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    slots.probesInFlight--;
    reply.raw.off('close', onClose);
  };
  let running: Promise<unknown> | undefined;
  try {
    return await work(hungUp.signal, (p) => (running = p));
  } catch (e) {
    if (hungUp.signal.aborted) return reply.hijack();
    throw e;
  } finally {
    if (running) void running.finally(release);
    else release();
  }
}
