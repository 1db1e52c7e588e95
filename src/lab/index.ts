// The lab: local servers on 127.0.0.1 that reproduce known connection failures, for the tests, the
// offline demo and anyone learning the failures. Everything it makes is thrown away at stop().
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { HOST, listen } from './listen.js';
import { makePki, toPkcs12 } from './pki.js';
import { SCENARIOS, type LabContext } from './servers.js';
import { makeSshKeys } from './ssh.js';
import { RUNTIME_SCENARIOS } from './runtime.js';
import { startFakeTenant, type FakeTenant } from './tenant.js';

export interface LabScenario {
  /** Short id, e.g. 'unknown-ca'. */
  name: string;
  url: string;
  port: number;
  /** One line: what failure it reproduces. */
  reproduces: string;
  /** The knowledge-base entry id a probe should report ('' for the healthy server). */
  expect: string;
  /** The cause of that entry a probe should name, where the probe can tell it. */
  cause?: string;
  /** Extra `linkdoctor probe` flags that make the failure show. */
  probeArgs: string[];
  /** Environment the probe needs (the SMTP port advice's stand-in ports). */
  env?: Record<string, string>;
}

export interface Lab {
  scenarios: LabScenario[];
  /** PEM file holding the lab's root CA: what a probe passes with --trust. */
  trustFile: string;
  /**
   * PKCS#12 files for the client-cert scenarios: one from the CA the server accepts, one from another
   * CA, one from the accepted CA that expired.
   */
  clientCert: { good: string; wrongCa: string; expired: string; password: string };
  /** The basic-auth scenario's credentials; the password is the same throwaway one as clientCert's. */
  basicAuth: { user: string; password: string };
  /** The known_hosts file for the SSH scenarios: a stale key for one, no line for another. */
  knownHostsFile: string;
  /**
   * The fake tenant (src/lab/tenant.ts): its API host (the service key's url), its runtime host (the
   * deployed endpoints, where the tenant-* scenarios point), and the service key files in `dir`.
   */
  tenant: Pick<
    FakeTenant,
    'url' | 'tokenUrl' | 'runtimeUrl' | 'keyFile' | 'certKeyFile' | 'keyJson' | 'secret'
  > & {
    sender: string;
    viewer: string;
  };
  /** Temp folder holding the files above. */
  dir: string;
  /** Closes every server and socket, and removes the temp folder. */
  stop(): Promise<void>;
}

/**
 * A port that nothing listens on: the stand-in for a blocked port 25. Taken below Linux's ephemeral
 * range (32768 and up), so that no server another process starts on a free port (listen 0) takes it
 * in the meantime.
 */
export async function closedPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, HOST, () => resolve(true));
    });
    await close(server);
    if (free) return port;
  }
}

function close(server: Server): Promise<void> {
  // A server that never listened reports ERR_SERVER_NOT_RUNNING: there is nothing to wait for.
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The folders of labs started and not yet stopped, with their stop(): what a signal must clean up. */
const running = new Map<string, () => Promise<void>>();

/** The signals that ask a process to end and can be caught: Ctrl-C, kill, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * Until the returned function is called, a SIGINT, SIGTERM or SIGHUP (or only the `signals` given:
 * serve keeps running on SIGHUP) stops every running lab (its servers closed, its folder with the
 * client keys removed), calls `onStopped`, and ends the process with 128 + the signal's number, as a
 * shell reports a process a signal ended. A second signal while the labs stop removes their folders
 * at once and ends the process.
 */
/** Set once a stop signal is being handled: what fails after it (a lab still starting) is not an error. */
export const stopSignal = { handling: false };

export function stopOnSignals(
  onStopped?: (signal: StopSignal) => void,
  signals: readonly StopSignal[] = STOP_SIGNALS,
): () => void {
  let stopping = false;
  const handler = (signal: StopSignal) => {
    const code = 128 + constants.signals[signal];
    if (stopping) {
      for (const dir of running.keys()) rmSync(dir, { recursive: true, force: true });
      process.exit(code);
    }
    stopping = true;
    stopSignal.handling = true;
    const dirs = [...running.keys()];
    void Promise.allSettled([...running.values()].map((stop) => stop())).then(() => {
      // Again, synchronously: a lab still starting may have written a file while rm() walked its folder.
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      onStopped?.(signal);
      process.exit(code);
    });
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}

/** The servers of a lab: each scenario's, then the fake tenant's API host and runtime host. */
export const LAB_SERVERS = SCENARIOS.length + 2;

/**
 * Starts every scenario's server and the fake tenant: on consecutive ports from `opts.port` (the
 * tenant's API host and runtime host last), or on free ephemeral ports.
 */
export async function startLab(opts: { port?: number } = {}): Promise<Lab> {
  const first = opts.port;
  if (first !== undefined && !(Number.isInteger(first) && first >= 1 && first + LAB_SERVERS - 1 <= 65535))
    throw new UserError(`--port must be a whole number from 1 to ${65536 - LAB_SERVERS}`);

  // Synchronous, and registered at once: a signal handler (stopOnSignals) runs between two awaits,
  // never between making the folder and knowing it.
  const dir = mkdtempSync(join(tmpdir(), 'linkdoctor-lab-'));
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let tenant: FakeTenant | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      const closing = [...servers.map(close), tenant?.close()];
      for (const s of sockets) s.destroy();
      await Promise.all(closing);
      await rm(dir, { recursive: true, force: true });
      running.delete(dir);
    })());
  running.set(dir, stop);

  try {
    const pki = await makePki();
    // A lab fixture, printed on purpose: it guards nothing but the lab's own throwaway keys.
    const password = randomBytes(9).toString('base64url');
    const ctx: LabContext = { pki, basicAuth: { user: 'lab', password }, ssh: makeSshKeys() };
    const lab: Lab = {
      scenarios: [],
      trustFile: join(dir, 'lab-root-ca.pem'),
      clientCert: {
        good: join(dir, 'client-good.p12'),
        wrongCa: join(dir, 'client-wrong-ca.p12'),
        expired: join(dir, 'client-expired.p12'),
        password,
      },
      basicAuth: ctx.basicAuth,
      knownHostsFile: join(dir, 'known_hosts'),
      // Set once the tenant has started, below.
      tenant: undefined as unknown as Lab['tenant'],
      dir,
      stop,
    };
    await Promise.all([
      writeFile(lab.trustFile, pki.root.certPem),
      writeFile(lab.clientCert.good, toPkcs12(pki.goodClient, pki.clientCa, password)),
      writeFile(lab.clientCert.wrongCa, toPkcs12(pki.strangerClient, pki.strangerCa, password)),
      writeFile(lab.clientCert.expired, toPkcs12(pki.expiredClient, pki.clientCa, password)),
    ]);
    for (const [i, spec] of SCENARIOS.entries()) {
      const server = spec.server(ctx);
      servers.push(server);
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        // A client that vanishes mid-handshake (a probe's timeout) must not crash the lab.
        socket.on('error', () => undefined);
      });
      const port = await listen(server, first === undefined ? 0 : first + i, spec.name);
      const { name, reproduces, expect, cause, probeArgs } = spec;
      const blocked = spec.portAdvice ? await closedPort() : undefined;
      lab.scenarios.push({
        name,
        url: `${spec.scheme ?? 'https'}://${HOST}:${blocked ?? port}${spec.path}`,
        port,
        reproduces,
        expect,
        ...(cause ? { cause } : {}),
        probeArgs: typeof probeArgs === 'function' ? probeArgs(lab) : probeArgs,
        ...(blocked ? { env: { LINKDOCTOR_SMTP_ALT_PORTS: `${port},${blocked}` } } : {}),
      });
    }
    // The fake tenant: a few thousand messages, its keystore holding the lab's root, its runtime host.
    tenant = await startFakeTenant({
      pki,
      dir,
      sender: { user: 'sender', password },
      ...(first !== undefined
        ? { ports: { api: first + SCENARIOS.length, runtime: first + SCENARIOS.length + 1 } }
        : {}),
    });
    const { url, tokenUrl, runtimeUrl, keyFile, certKeyFile, keyJson, secret, viewer } = tenant;
    lab.tenant = {
      url,
      tokenUrl,
      runtimeUrl,
      keyFile,
      certKeyFile,
      keyJson,
      secret,
      sender: 'sender',
      viewer,
    };
    const runtimePort = Number(new URL(runtimeUrl).port);
    for (const r of RUNTIME_SCENARIOS)
      lab.scenarios.push({
        name: r.name,
        url: `${runtimeUrl}${r.path}`,
        port: runtimePort,
        reproduces: r.reproduces,
        expect: r.expect,
        ...(r.cause ? { cause: r.cause } : {}),
        probeArgs: r.probeArgs(lab),
      });
    const knownHosts = SCENARIOS.flatMap(
      (spec, i) => spec.knownHostsLine?.(ctx, lab.scenarios[i]!.port) ?? [],
    );
    await writeFile(lab.knownHostsFile, knownHosts.map((l) => `${l}\n`).join(''));
    return lab;
  } catch (e) {
    await stop();
    throw e;
  }
}
