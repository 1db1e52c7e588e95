// `linkdoctor serve`: the HTTP API and the web UI on one port, loopback only unless a token is set.
import { closeSync, openSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { isatty } from 'node:tty';
import { buildServer, checkBinding, DEFAULT_MAX_UPLOAD, type ServeOptions } from '../serve/app.js';
import type { WatchServeOptions } from '../watch/room.js';
import { mountRooms } from '../serve/rooms.js';
import { startLab, STOP_SIGNALS, stopOnSignals, type StopSignal } from '../lab/index.js';
import { constants } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { labRoutes } from '../serve/lab.js';
import { tenantRoutes } from '../serve/tenant.js';
import { loadServiceKey, SERVICE_KEY_ENV } from '../tenant/service-key.js';
import { hostPort, UserError } from '../errors.js';
import { addSecretTargets } from '../serve/secret-targets.js';
import { printable, printableLine } from '../report/printable.js';

export interface ServeFlags {
  port: number;
  host: string;
  maxUpload?: number;
  allowTargets?: string[];
  secretTargets?: string[];
  plainHttpCredentials?: boolean;
  kb?: string[];
  lab?: boolean;
  serviceKey?: string;
  inventory?: string;
  every?: string;
  db?: string;
  webhook?: string[];
  webhookEnv?: string[];
  probeWorkers?: number;
}

/** The watch room's options from --inventory, --every, --db, --webhook and --webhook-env (checked here: usage errors). */
async function watchOptions(f: ServeFlags): Promise<WatchServeOptions> {
  if (!f.inventory) {
    if (f.every || f.db || f.webhook?.length || f.webhookEnv?.length)
      throw new UserError('--every, --db, --webhook and --webhook-env go with --inventory');
    return {};
  }
  const { parseDuration } = await import('../watch/duration.js');
  const { parseWebhook, WEBHOOK_ARGV_WARNING, webhookFromEnv } = await import('../watch/webhook.js');
  const everyMs = f.every === undefined ? undefined : parseDuration(f.every);
  if (f.every !== undefined && (everyMs === undefined || everyMs < 1000 || everyMs > 7 * 86_400_000))
    throw new UserError('--every takes a duration from 1s to 7d, such as 5m');
  for (const w of f.webhook ?? []) parseWebhook(w);
  if (f.webhook?.length) process.stderr.write(`linkdoctor: ${WEBHOOK_ARGV_WARNING}\n`);
  // The URLs of --webhook-env are read here and kept in memory only: never printed nor stored.
  const webhooks = [...(f.webhook ?? []), ...(f.webhookEnv ?? []).map((v) => webhookFromEnv(v))];
  return {
    inventory: f.inventory,
    ...(everyMs !== undefined ? { everyMs } : {}),
    ...(f.db ? { db: f.db } : {}),
    ...(webhooks.length ? { webhooks } : {}),
  };
}

export async function serveCommand(f: ServeFlags): Promise<void> {
  // A closed terminal never stops serve: neither while it starts nor once it serves.
  const hangups = keepOnHangup();
  // A wrong --secret-targets entry is a usage error before anything starts.
  for (const entry of f.secretTargets ?? []) addSecretTargets(entry);
  const token = process.env.LINKDOCTOR_TOKEN || undefined;
  checkBinding(f.host, token);
  // The tenant's room when a service key is given (as `linkdoctor tenant` takes it).
  const key =
    f.serviceKey || process.env[SERVICE_KEY_ENV] ? loadServiceKey(f.serviceKey, process.env) : undefined;
  // While starting: SIGINT or SIGTERM stops a lab that is starting and ends the process (128 + signal).
  const starting = stopOnSignals(
    () => process.stderr.write('linkdoctor serve: stopped\n'),
    ['SIGINT', 'SIGTERM'],
  );
  const options: ServeOptions & WatchServeOptions = {
    host: f.host,
    ...(token ? { token } : {}),
    kbDirs: f.kb ?? [],
    maxUploadBytes: f.maxUpload ?? DEFAULT_MAX_UPLOAD,
    allowTargets: f.allowTargets ?? [],
    secretTargets: f.secretTargets ?? [],
    ...(f.plainHttpCredentials ? { plainHttpCredentials: true } : {}),
    ...(await watchOptions(f)),
    ...(f.probeWorkers !== undefined ? { probeWorkers: f.probeWorkers } : {}),
  };
  const app = await buildServer(options);
  await mountRooms(app);
  if (key) await mountRooms(app, [{ name: 'tenant', plugin: tenantRoutes(key) }]);
  if (f.lab) {
    const lab = await startLab();
    app.addHook('onClose', () => lab.stop());
    await mountRooms(app, [{ name: 'lab', plugin: labRoutes(lab) }]);
  }
  try {
    await app.listen({ host: f.host, port: f.port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'EADDRINUSE'
        ? `port ${f.port} on ${f.host} is in use: choose another with --port`
        : code === 'EADDRNOTAVAIL'
          ? `${f.host} is not an address of this machine (--host)`
          : code === 'EACCES'
            ? `not allowed to listen on port ${f.port} (ports below 1024 need privileges)`
            : `cannot listen on ${hostPort(f.host, f.port)}: ${(e as Error).message}`,
    );
  }
  starting();
  hangups.serving();
  closeOnSignals(app);
  const port = (app.server.address() as AddressInfo).port;
  // A wildcard address is reached on loopback.
  const url = `http://${hostPort(/^(?:0\.0\.0\.0|\[?::\]?)$/.test(f.host) ? '127.0.0.1' : f.host, port)}/`;
  process.stdout.write(
    printable(
      `linkdoctor serves ${url}  (API ${url}api/, OpenAPI ${url}api/openapi.json${token ? '; every API call needs "Authorization: Bearer $LINKDOCTOR_TOKEN"' : ''})\nCtrl-C stops it.\n`,
    ),
  );
}

/** How long the server's rooms have to close (the watch scheduler's running checks, SQLite, the lab). */
export const CLOSE_BOUND_MS = 15_000;

/**
 * Standard input, output and error that were a terminal and are one no more (it hung up: isatty()'s
 * ioctl fails with EIO) are reopened on /dev/null, as a daemon detaches. Node restores the terminal
 * of its stdio at exit and aborts (SIGABRT, exit 134) when that fails with EIO (nodejs/node#51519,
 * fixed in later Node by #58200); it skips a descriptor reopened on another file. A terminal that is
 * still there (`kill -HUP` by hand) is kept, and so are files and pipes (a service's journal).
 */
function detachFromGoneTerminal(terminals: boolean[]): void {
  terminals.forEach((was, fd) => {
    if (!was || isatty(fd)) return;
    try {
      closeSync(fd);
      // The lowest free descriptor: `fd` again.
      const got = openSync('/dev/null', fd === 0 ? 'r' : 'w');
      if (got !== fd) closeSync(got);
    } catch {
      // Nothing better to do: the descriptor stays as it is.
    }
  });
}

/** What serve says on SIGHUP, in one line. */
export const SIGHUP_LINE =
  'linkdoctor serve: SIGHUP (the terminal closed?): still serving; SIGHUP does not reload the inventory, restart serve to reload it; SIGINT or SIGTERM stops it';
/** What serve says on SIGHUP while it starts (before it listens), in one line. */
export const SIGHUP_STARTING_LINE =
  'linkdoctor serve: SIGHUP (the terminal closed?): still starting, and it will serve; SIGINT or SIGTERM stops it';

/**
 * From serve's start on: SIGHUP (the terminal that started it closed: an ssh session ended) does
 * not stop it. It says so in one line (SIGHUP_STARTING_LINE until `serving()` is called, then
 * SIGHUP_LINE) and detaches from a terminal that is gone (detachFromGoneTerminal); a line it cannot
 * write (EIO) is lost, and the server goes on (main.ts).
 */
function keepOnHangup(): { serving: () => void } {
  // Which of standard input, output and error were a terminal when serve started.
  const terminals = [0, 1, 2].map((fd) => isatty(fd));
  let line = SIGHUP_STARTING_LINE;
  process.on('SIGHUP', () => {
    process.stderr.write(`${line}\n`);
    detachFromGoneTerminal(terminals);
  });
  return { serving: () => (line = SIGHUP_LINE) };
}

/**
 * Once listening: SIGINT or SIGTERM closes the server (`app.close()`: open requests end, every
 * room's onClose hook runs, so the watch scheduler stops and its SQLite history is closed cleanly,
 * the lab's servers stop and its folder goes), then the process exits 0, as a server asked to stop
 * that stopped. A close that fails or outlasts CLOSE_BOUND_MS exits 1 with a sentence; a second
 * signal ends the process at once (128 + the signal's number). SIGHUP does not stop it
 * (keepOnHangup).
 */
function closeOnSignals(app: FastifyInstance): void {
  let closing = false;
  const handler = (signal: StopSignal) => {
    if (closing) process.exit(128 + constants.signals[signal]);
    closing = true;
    const bound = setTimeout(() => {
      process.stderr.write(`linkdoctor serve: the rooms did not close within ${CLOSE_BOUND_MS / 1000} s\n`);
      process.exit(1);
    }, CLOSE_BOUND_MS);
    bound.unref();
    app.close().then(
      () => {
        process.stderr.write('linkdoctor serve: stopped\n');
        process.exit(0);
      },
      (e: Error) => {
        process.stderr.write(
          `${printableLine(`linkdoctor serve: stopped, but closing failed: ${e.message}`)}\n`,
        );
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) if (signal !== 'SIGHUP') process.on(signal, handler);
}
