// linkdoctor's HTTP server: the same library calls as src/cli, behind routes validated by zod schemas
// (fastify with fastify-type-provider-zod), described by an OpenAPI document generated from those
// schemas (@fastify/swagger), answered with the CLI's --json objects or RFC 9457 problem bodies.
//
// A capability is a *room*: a fastify plugin that registers its routes, mounted with
// `app.register(room, options)` after `buildServer()` and before `app.listen()` (src/serve/rooms.ts
// lists the rooms `linkdoctor serve` mounts). Every route of every room gets, without doing anything:
//   - the bearer-token check when the server has a token (opt out per route: `config: { public: true }`,
//     only for the web UI's static files),
//   - security headers (CSP without inline script, frame-ancestors none, nosniff, no referrer),
//   - problem bodies for every error (throw HttpProblem or UserError; a zod validation error is a 400
//     naming the field),
//   - its place in /api/openapi.json when it carries zod schemas (`schema: { body, querystring, ... }`).
// What rooms share is `app.linkdoctor` (ServeContext): the loaded knowledge base and the options.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { closestName } from '../cli/usage-error.js';
import { UserError } from '../errors.js';
import { loadKb, type Kb } from '../kb/load.js';
import type { Resolve } from '../probe/net.js';
import { jsonText, printableLine } from '../report/printable.js';
import { healthRoutes } from './health.js';
import { parseTarget } from '../probe/target.js';
import { HttpProblem, type InvalidParam, problem, sendProblem } from './problem.js';
import { probeSlots, type ProbeSlots } from './probe-slots.js';
import { CheckedNames, checkTarget, TargetRefused, targetRules } from './targets.js';

/** The default cap of an upload (`--max-upload`): 200 MB. */
export const DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024;
/**
 * How long an upload may send nothing before the server gives it up (`POST /api/scan`): 408 and the
 * connection closed, so that a client that stops sending holds no connection and no scan (attack A8).
 * It is an idle time, not a total: a slow upload that keeps sending is read to its end. Node's own
 * idle timer of the socket measures it (IncomingMessage.setTimeout).
 */
export const UPLOAD_IDLE_MS = 30_000;
/** A JSON request body at most: a diagnose text may be 4 MB (MAX_INCIDENT_BYTES), escaped. */
export const JSON_BODY_LIMIT = 9 * 1024 * 1024;
/** A token shorter than this guards nothing worth guarding. */
export const MIN_TOKEN_LENGTH = 16;

/** What `buildServer` needs. Rooms may add their own fields (additively) for their own options. */
export interface ServeOptions {
  /** The address the server will listen on; decides whether a token is required (see checkBinding). */
  host: string;
  /** The bearer token (LINKDOCTOR_TOKEN); required unless `host` is loopback, checked on every call then. */
  token?: string;
  /** Extra knowledge-base folders (`--kb`), as the CLI's. */
  kbDirs?: string[];
  /** An already loaded knowledge base (tests); otherwise loaded from `kbDirs`. */
  kb?: Kb;
  /** Upload cap in bytes (`--max-upload`); DEFAULT_MAX_UPLOAD when absent. */
  maxUploadBytes?: number;
  /** Milliseconds an upload may send nothing (tests make it short); UPLOAD_IDLE_MS when absent. */
  uploadIdleMs?: number;
  /** What the API may probe (`--allow-targets`): host names, IP addresses and CIDRs. */
  allowTargets?: string[];
  /**
   * Where each secret a request may name goes (`--secret-targets`): `LINKDOCTOR_VAR=host[:port],...`
   * entries; with `--inventory`, its modules' targets bind their variables too (see secret-targets.ts).
   */
  secretTargets?: string[];
  /** `--plain-http-credentials`: a request may send Basic credentials or an OAuth secret over http://. */
  plainHttpCredentials?: boolean;
  /** How the API resolves the names it checks before a probe (tests); default: the system's resolver. */
  resolve?: Resolve;
}

/** What every room can reach as `app.linkdoctor`. */
export interface ServeContext extends ProbeSlots {
  kb: Kb;
  options: Readonly<ServeOptions>;
  /** true when the server listens on a non-loopback address (then loopback targets are refused, say). */
  exposed: boolean;
  /** The names of the rooms mounted so far (mountRooms adds them; /api/health lists them for the UI). */
  rooms: string[];
  /** Set by the web UI's room: the page served for a GET of a path that is no route (deep links). */
  uiFallback?: (req: FastifyRequest) => { type: string; body: string | Buffer } | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    linkdoctor: ServeContext;
  }
  interface FastifyContextConfig {
    /** A route anyone may call without the token: only the web UI's static files. */
    public?: boolean;
  }
  interface FastifyRequest {
    /**
     * On a guarded server (exposed, or --allow-targets), the names the exporter's GET /probe target
     * check resolved: the probe must connect to exactly these addresses (DNS rebinding).
     */
    checkedNames?: CheckedNames;
  }
}

/** true for a loopback address or name: localhost, 127.0.0.0/8, ::1 (and ::ffff:127.x). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * The binding rule: loopback needs nothing; any other address (0.0.0.0 included) needs a token of at
 * least MIN_TOKEN_LENGTH characters. Throws UserError with the sentence saying why otherwise.
 */
export function checkBinding(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH)
    throw new UserError(
      `LINKDOCTOR_TOKEN is ${token.length} characters long; use at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)`,
    );
  if (!isLoopback(host) && !token)
    throw new UserError(
      `refusing to listen on ${host} without a token: anyone who reaches it could make this machine probe ` +
        `their targets. Set LINKDOCTOR_TOKEN (at least ${MIN_TOKEN_LENGTH} characters; every API call then ` +
        `needs "Authorization: Bearer <token>"), or keep the default --host 127.0.0.1`,
    );
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The rooms `linkdoctor serve` mounts only when asked, each with its routes' prefix and the sentence
 * a request for them gets when it was not: how to start the server so that it has them.
 */
const OPTIONAL_ROOMS = [
  { room: 'lab', prefix: '/api/lab', sentence: 'this server runs no lab (serve --lab)' },
  {
    room: 'tenant',
    prefix: '/api/tenant',
    sentence: 'this server has no tenant (serve --service-key FILE, or $LINKDOCTOR_SERVICE_KEY)',
  },
];

/** Host header values a loopback server without a token answers (a DNS-rebinding page gets 403). */
const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/** The field names a route's zod schema for `where` (body, querystring, params) knows, else none. */
function knownFields(req: FastifyRequest, where: string): string[] {
  const schema = (req.routeOptions.schema as Record<string, unknown> | undefined)?.[where];
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

/**
 * The sentences of a validation error, each with the field it names: "body/text: expected string";
 * a field the request's schema does not know (strict objects) is named with the closest known one:
 * "body/trsut: is not a field of this request; did you mean trust?".
 */
function invalidParams(e: FastifyError, req: FastifyRequest): InvalidParam[] {
  const where = e.validationContext ?? 'body';
  return (e.validation ?? []).flatMap((v) => {
    const path =
      v.instancePath?.replace(/^\//, '') || (v.params?.missingProperty as string | undefined) || '';
    const prefix = path ? `${where}/${path}` : where;
    if (v.keyword === 'unrecognized_keys' && Array.isArray(v.params?.keys)) {
      const known = knownFields(req, where);
      return (v.params.keys as string[]).map((key) => {
        const near = closestName(key, known);
        return {
          name: `${prefix}/${key}`,
          reason: `is not a field of this request${near ? `; did you mean ${near}?` : ` (the fields: ${known.join(', ')})`}`,
        };
      });
    }
    return [{ name: prefix, reason: v.message ?? 'is not valid' }];
  });
}

/**
 * The server, ready for rooms to be registered and then `listen()`ed (or `inject()`ed by tests).
 * Mounts the core routes: GET /api/health and GET /api/openapi.json; the diagnose, kb, probe, scan and
 * UI rooms are mounted by the caller (see src/serve/rooms.ts). Throws UserError when `checkBinding`
 * refuses the address, or the knowledge base's KbError.
 */
export async function buildServer(options: ServeOptions): Promise<FastifyInstance> {
  checkBinding(options.host, options.token);
  const kb = options.kb ?? (await loadKb({ dirs: options.kbDirs ?? [] }));
  const exposed = !isLoopback(options.host);
  const app = Fastify({
    // No request log: a URL's query may hold a customer's error text (a deep link).
    logger: false,
    bodyLimit: JSON_BODY_LIMIT,
    // A slow or silent client holds a connection for so long at most.
    requestTimeout: 15 * 60_000,
    connectionTimeout: 0,
    ajv: { customOptions: { coerceTypes: false } },
  });
  // Every route's methods and path, so that a known path asked with another method is a 405 (with
  // Allow), not "no route", and GET /api/ can list the API.
  const routes: { method: string; url: string; pattern: RegExp }[] = [];
  app.addHook('onRoute', (r) => {
    const pattern = new RegExp(
      `^${r.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]\w*/g, '[^/]+')}$`,
    );
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, pattern });
  });
  app.decorate('linkdoctor', { kb, options, exposed, rooms: [], ...probeSlots() } satisfies ServeContext);
  app.setValidatorCompiler(validatorCompiler);
  // Responses are the CLI's --json objects, written by the CLI's own JSON writer (C1 and U+2028
  // escaped); the response schemas document them in OpenAPI and do not filter them.
  app.setSerializerCompiler(() => (data) => jsonText(data));
  app.setReplySerializer((data) => jsonText(data));
  // text/plain would let any web page POST to the API without a CORS preflight.
  app.removeContentTypeParser('text/plain');

  await app.register(helmet, {
    // No upgrade-insecure-requests and no HSTS: the server speaks plain HTTP on loopback.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // UI5 Web Components write their theme's CSS variables into <style> elements.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'linkdoctor API',
        description:
          'Diagnose failing connections between SAP Cloud Integration and its senders and receivers. ' +
          'Every answer is the object `linkdoctor ... --json` prints; every error an RFC 9457 problem body.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'LINKDOCTOR_TOKEN' } },
      },
      ...(options.token ? { security: [{ bearer: [] }] } : {}),
    },
    transform: jsonSchemaTransform,
  });

  app.addHook('onRequest', async (req, reply) => {
    if (!options.token && !exposed && !LOOPBACK_HOST.test(req.headers.host ?? ''))
      return sendProblem(
        reply,
        problem(403, 'this server answers only to a loopback Host (localhost, 127.0.0.1, [::1])'),
      );
    if (!options.token || req.routeOptions.config?.public) return;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!), digest(options.token))) {
      reply.header('WWW-Authenticate', 'Bearer realm="linkdoctor"');
      return sendProblem(
        reply,
        problem(
          401,
          m ? "the bearer token is not this server's" : 'this server needs "Authorization: Bearer <token>"',
        ),
      );
    }
  });

  app.setErrorHandler((e: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(e) || e.validation) {
      const params = invalidParams(e as FastifyError, req);
      const detail = params.map((p) => `${p.name}: ${p.reason}`).join('; ');
      return sendProblem(reply, problem(400, detail, { 'invalid-params': params }));
    }
    if (e instanceof HttpProblem)
      return sendProblem(
        reply,
        problem(e.status, e.message, e.invalidParams ? { 'invalid-params': e.invalidParams } : {}),
      );
    if (e instanceof UserError) return sendProblem(reply, problem(400, e.message));
    // fastify's own 4xx (malformed JSON, body too large, unsupported media type): its sentence.
    const status = e.statusCode ?? 500;
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return sendProblem(
        reply,
        problem(
          415,
          `a body of type ${req.headers['content-type'] ?? '(none)'} is not accepted here (application/json)`,
        ),
      );
    if (status >= 400 && status < 500) return sendProblem(reply, problem(status, e.message));
    // One line, whatever the message and the path hold (foreign text: escaped, newlines too).
    process.stderr.write(
      `${printableLine(`linkdoctor serve: internal error in ${req.method} ${req.url.split('?')[0]}: ${e.message}`)}\n`,
    );
    return sendProblem(reply, problem(500, `internal error: ${e.message}`));
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allow = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allow.length > 0) {
      reply.header('Allow', allow.join(', '));
      if (req.method === 'OPTIONS') return reply.code(204).send();
      const methods = allow.filter((m) => m !== 'HEAD').join(' or ');
      return sendProblem(reply, problem(405, `${path} takes ${methods}, not ${req.method}`));
    }
    const page =
      req.method === 'GET' && !req.url.startsWith('/api/') ? app.linkdoctor.uiFallback?.(req) : undefined;
    if (page) return reply.type(page.type).send(page.body);
    const absent = OPTIONAL_ROOMS.find(
      (o) => !app.linkdoctor.rooms.includes(o.room) && (path === o.prefix || path.startsWith(`${o.prefix}/`)),
    );
    if (absent) return sendProblem(reply, problem(404, absent.sentence));
    return sendProblem(reply, problem(404, `no route ${req.method} ${path} (the API: GET /api/)`));
  });

  // The target rules hold for every route that probes: /api/probe (src/serve/probe.ts) and the
  // exporter's GET /probe?target= (src/watch/exporter.ts); each pins the addresses checked here.
  const rules = targetRules(options.allowTargets ?? [], exposed);
  if (rules.limited || rules.exposed)
    app.addHook('preHandler', async (req) => {
      if (req.method !== 'GET' || req.routeOptions.url !== '/probe') return;
      const raw = (req.query as { target?: unknown }).target;
      let host: string;
      try {
        host = parseTarget(String(raw)).host;
      } catch {
        return; // no target or a bad one: the exporter's own 400
      }
      const names = new CheckedNames(options.resolve);
      try {
        await checkTarget(host, rules, 'the target', names.resolve);
        req.checkedNames = names;
      } catch (e) {
        if (e instanceof TargetRefused) throw new HttpProblem(403, e.message);
        throw e;
      }
    });

  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/api/openapi.json', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('application/json').send(jsonText(app.swagger())),
  );
  // The URL the start line advertises: where the OpenAPI document is, and the API's routes.
  const index = async () => ({
    openapi: '/api/openapi.json',
    routes: routes
      .filter((r) => r.url.startsWith('/api/') && r.url.length > 5 && r.method !== 'HEAD')
      .filter((r) => r.url !== '/api/openapi.json')
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
  });
  api.get('/api', { schema: { hide: true } }, index);
  api.get('/api/', { schema: { hide: true } }, index);
  await app.register(healthRoutes);
  return app;
}
