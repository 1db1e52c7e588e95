// POST /api/probe: the same probe and the same JSON as `linkdoctor probe URL --json`, with the
// options of the CLI as fields of the body (in the CLI's words: timeout, trust, passwordEnv, ...).
// Secrets are named, never sent: `passwordEnv: "LINKDOCTOR_SFTP_PASSWORD"` is read from the server's
// environment, and only LINKDOCTOR_* variables may be named (a request cannot make the server send
// its other secrets, AWS_SECRET_ACCESS_KEY say, to a host of the request's choosing). A secret goes
// only to the hosts the operator bound it to (`--secret-targets`, the inventory's targets), never in
// clear text over http:// unless `--plain-http-credentials`, and never on to a redirect's host that
// is not bound too. See secret-targets.ts.
// With `Accept: application/x-ndjson` the steps stream as they end: {"step": {...}} lines, then
// {"result": <the probe's JSON>}.
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type ClearTextSecret, clearTextSecrets, probeOptions, type ProbeFlags } from '../cli/probe.js';
import { headerProblem, MAX_REDIRS } from '../cli/probe-flags.js';
import { pinResolution } from '../probe/net.js';
import { probe } from '../probe/run.js';
import { parseTarget, type Target } from '../probe/target.js';
import { probeJson } from '../report/probe.js';
import { jsonText } from '../report/printable.js';
import { andList } from '../report/width.js';
import { credentialHeaderNames } from '../redact.js';
import type { ProbeStep } from '../types.js';
import type { WatchServeOptions } from '../watch/room.js';
import type { ServeOptions } from './app.js';
import { HttpProblem } from './problem.js';
import { inProbeSlot } from './probe-slots.js';
import { direction, problemSchema } from './schemas.js';
import {
  addSecretTargets,
  boundTo,
  fileRefusal,
  canonicalHost,
  hostsText,
  inventorySecretTargets,
  NOT_SECRETS,
  SECRET_ENV,
  secretRefusal,
  type SecretHost,
  type SecretTargets,
  urlHost,
} from './secret-targets.js';
import { CheckedNames, checkTarget, TargetRefused, targetRules } from './targets.js';
import { duration } from '../watch/inventory.js';

/** The longest --timeout the API takes: the probe's budget is 10 of them, so 10 minutes at most. */
export const API_MAX_TIMEOUT_S = 60;

const envName = (what: string) =>
  z
    .string()
    .regex(SECRET_ENV, 'only environment variables named LINKDOCTOR_* may be named')
    .refine(
      (v) => !NOT_SECRETS.has(v),
      "the server's own token and settings are not secrets to send anywhere",
    )
    .describe(`the name of an environment variable of the server holding the ${what} (LINKDOCTOR_*)`)
    .optional();
const file = (what: string) => z.string().min(1).describe(`a file on the server: ${what}`).optional();

/** The request: `url` and the CLI's probe options, by the same names (camelCase). */
export const probeRequest = z.strictObject({
  url: z.string().min(1).describe('e.g. https://host:443/path, sftp://user@host:22/dir, smtp://host:587'),
  direction: direction.optional(),
  // Seconds, or a duration as an inventory's module writes it (5s, 500ms, 1m).
  timeout: duration('timeout', 100, API_MAX_TIMEOUT_S * 1000)
    .transform((ms) => ms / 1000)
    .default(5)
    .describe(
      'seconds (5), or a duration as inventories write it (5s, 500ms, 1m): bound of each step and each request; the whole probe gets 10 of them',
    ),
  trust: file('trust store (PEM, PKCS#12, JKS, JCEKS); default a Java-like one'),
  trustPasswordEnv: envName('trust store password'),
  clientCert: file('client certificate (PKCS#12, or PEM with its key)'),
  clientKey: file('PEM private key, when not in clientCert'),
  clientCertPasswordEnv: envName('PKCS#12 or key password'),
  servername: z.string().optional().describe('TLS server name (SNI), when it differs from the URL host'),
  method: z
    .string()
    .regex(/^[A-Za-z]{1,16}$/)
    .optional()
    .describe('HTTP method (default GET, or POST with data)'),
  header: z
    .array(
      z.string().superRefine((v, ctx) => {
        const problem = headerProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .max(50)
    .optional()
    .describe('extra headers "Name: value"'),
  data: z
    .string()
    .max(1024 * 1024)
    .optional()
    .describe('request body'),
  user: z.string().optional().describe('user for Basic authentication, SFTP, SMTP or FTP'),
  passwordEnv: envName('password'),
  oauthTokenUrl: z.string().optional().describe('OAuth2 client credentials: the token URL'),
  oauthClientId: z.string().optional(),
  oauthSecretEnv: envName('OAuth2 client secret'),
  csrf: z.boolean().optional().describe('fetch a CSRF token and send it with the session cookies'),
  maxRedirs: z
    .number()
    .int()
    .min(0)
    .max(MAX_REDIRS)
    .optional()
    .describe('redirects to follow; default none outbound (as the HTTP receiver), 5 inbound'),
  locationTrusted: z.boolean().optional(),
  knownHosts: file('OpenSSH known_hosts to hold the host key against (SFTP/SSH)'),
  identity: file('private key to log in with (SFTP/SSH)'),
  identityPassphraseEnv: envName('key passphrase'),
  writeTest: z.boolean().optional().describe('SFTP/FTP: also create and remove a temporary file'),
  from: z.string().optional().describe('SMTP: MAIL FROM address'),
  to: z.string().optional().describe('SMTP: RCPT TO address'),
});
export type ProbeRequest = z.output<typeof probeRequest>;

/** The answer's documented part (the probe's JSON, src/report/probe.ts). */
type ProbeAnswer = { target: string; ok: boolean };

const FILE_FIELDS = ['trust', 'clientCert', 'clientKey', 'knownHosts', 'identity'] as const;

/** One secret of the server that a request would send: its variable, where it goes, what it is. */
interface SecretUse {
  name: string;
  to: SecretHost;
  /** "the Basic credentials", "the OAuth client secret": what goes there. */
  what: string;
  /** Whether it rides the HTTP requests (Basic, the OAuth token), which a redirect could carry on. */
  http: boolean;
}

/** The secrets of the server that request `b` for `target` sends, and where each goes. */
function secretUses(b: ProbeRequest, target: Target, tokenUrl: URL | undefined): SecretUse[] {
  const to: SecretHost = { host: canonicalHost(target.host) ?? target.host, port: target.port };
  const http = target.scheme === 'http' || target.scheme === 'https';
  const uses: SecretUse[] = [];
  if (b.passwordEnv) {
    const basic = http && !!(b.user ?? target.user);
    uses.push({
      name: b.passwordEnv,
      to,
      what: basic ? 'the Basic credentials' : 'the password',
      http: basic,
    });
  }
  if (b.oauthSecretEnv && tokenUrl) {
    const tokenTo = urlHost(tokenUrl)!;
    uses.push({
      name: b.oauthSecretEnv,
      to: tokenTo,
      what: 'the OAuth client secret',
      http: false,
    });
    uses.push({
      name: b.oauthSecretEnv,
      to,
      what: 'the OAuth token it fetches',
      http,
    });
  }
  return uses;
}

/**
 * A secret of `b` that would travel in clear text, in the API's words: the server's variable or the
 * body's field it comes from ("the Basic credentials (LINKDOCTOR_PASSWORD)").
 */
function clearTextWhat(s: ClearTextSecret, b: ProbeRequest): string {
  switch (s.kind) {
    case 'password':
      return `the Basic credentials (${b.passwordEnv ?? 'body/passwordEnv'})`;
    case 'headers':
      return `the ${andList(s.names)} ${s.names.length > 1 ? 'headers' : 'header'} (body/header)`;
    case 'oauth-secret':
      return `the OAuth client secret (${b.oauthSecretEnv ?? 'body/oauthSecretEnv'})`;
    case 'oauth-token':
      return `the OAuth token it fetches (${b.oauthSecretEnv ?? 'body/oauthSecretEnv'})`;
  }
}

/** The bindings of this server: --secret-targets, then the inventory's targets (serve --inventory). */
async function serverSecretTargets(o: ServeOptionsWithInventory): Promise<SecretTargets> {
  const targets: SecretTargets = new Map();
  for (const entry of o.secretTargets ?? []) addSecretTargets(entry, targets);
  if (o.inventory) {
    // Loaded once, for the watch room too.
    const { servedInventory } = await import('../watch/inventory.js');
    inventorySecretTargets(await servedInventory(o)!, targets);
  }
  return targets;
}

type ServeOptionsWithInventory = ServeOptions & WatchServeOptions;

/** The probe room. 200 with the probe's JSON whether or not the endpoint is healthy (`ok` says). */
export const probeRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.linkdoctor;
  const rules = targetRules(ctx.options.allowTargets ?? [], ctx.exposed);
  const guarded = rules.limited || rules.exposed;
  const secretTargets = await serverSecretTargets(ctx.options);
  const plainHttp = !!ctx.options.plainHttpCredentials;

  app.get(
    '/api/probe/options',
    {
      schema: {
        summary: 'What a probe on this server may use: secret names and their hosts, server files, redirects',
        description:
          'The names (never the values) of the LINKDOCTOR_* environment variables set on the server, which ' +
          'a probe may name as passwordEnv, oauthSecretEnv, ...; for each, the hosts it may be sent to ' +
          '(--secret-targets, the inventory: a name bound to no host cannot be used); whether a request may ' +
          'name files on the server (trust, clientCert, knownHosts, identity: not on an exposed server); ' +
          'whether redirects are followed (not on a guarded server); whether credentials may go over http://.',
        tags: ['probe'],
        response: {
          200: z.object({
            secrets: z.array(z.string()),
            secretHosts: z
              .record(z.string(), z.array(z.string()))
              .describe(
                'each secret name with the hosts (host or host:port) and files (absolute paths) it is bound to',
              ),
            files: z.boolean(),
            redirects: z.boolean(),
            plainHttpCredentials: z.boolean(),
          }),
        },
      },
    },
    async () => {
      const secrets = Object.keys(process.env)
        .filter((k) => SECRET_ENV.test(k) && !NOT_SECRETS.has(k) && process.env[k])
        .sort();
      const names = [...new Set([...secrets, ...secretTargets.keys()])].sort();
      return {
        secrets,
        secretHosts: Object.fromEntries(
          names.map((n) => [
            n,
            hostsText(secretTargets.get(n) ?? [])
              .split(', ')
              .filter(Boolean),
          ]),
        ),
        files: !ctx.exposed,
        redirects: !guarded,
        plainHttpCredentials: plainHttp,
      };
    },
  );

  app.post(
    '/api/probe',
    {
      schema: {
        summary: 'Test an endpoint the way the platform connects to it, and diagnose what fails',
        description:
          'dns, tcp, then tls and http (https), ssh (sftp), smtp or ftp. With Accept: application/x-ndjson ' +
          'the steps stream as {"step": ...} lines, then {"result": ...}. A server with --allow-targets, or one ' +
          'exposed beyond loopback, follows no redirects and refuses targets outside its rules (403). A ' +
          'secret named by passwordEnv or oauthSecretEnv goes only to the hosts it is bound to ' +
          '(--secret-targets; for OAuth the token URL and the target), and not over http:// unless the server ' +
          'has --plain-http-credentials (403 otherwise; a plain FTP server gets no password either).',
        tags: ['probe'],
        body: probeRequest,
        response: {
          200: z.looseObject({ target: z.string(), ok: z.boolean() }),
          400: problemSchema,
          403: problemSchema,
          429: problemSchema,
        },
      },
    },
    async (req, reply) =>
      inProbeSlot(ctx, reply, (signal, handOver) => probeRequestRun(req.body, reply, signal, handOver)),
  );

  /**
   * The probe of one request: 200 with the probe's JSON, or the NDJSON stream, whose probe goes on
   * after the return: `handedOver` gets it, so that its slot is released when it ends.
   */
  async function probeRequestRun(
    b: ProbeRequest,
    reply: FastifyReply,
    signal: AbortSignal,
    handedOver: (p: Promise<unknown>) => void,
  ): Promise<ProbeAnswer> {
    const req = reply.request;
    const target = parseTarget(
      b.url,
      "the request's passwordEnv (the name of the server's environment variable), never the URL",
    );
    if (ctx.exposed)
      for (const f of FILE_FIELDS)
        if (b[f] !== undefined)
          throw new HttpProblem(403, `body/${f}: an exposed server reads no files a request names`, [
            { name: `body/${f}`, reason: 'not allowed on an exposed server' },
          ]);
    // A user in the URL too (sftp://user@host): the server has no terminal to ask for a password.
    if ((b.user || target.user) && !b.passwordEnv && !b.identity) {
      const where = b.user ? 'body/user' : `the user ${target.user} in body/url`;
      throw new HttpProblem(400, `${where} needs body/passwordEnv (or body/identity for SSH)`, [
        { name: 'body/passwordEnv', reason: 'is required with user' },
      ]);
    }
    let tokenUrl: URL | undefined;
    if (b.oauthTokenUrl) {
      try {
        tokenUrl = new URL(b.oauthTokenUrl);
      } catch {
        throw new HttpProblem(400, `body/oauthTokenUrl: "${b.oauthTokenUrl}" is not a URL`);
      }
      if (tokenUrl.protocol !== 'https:' && tokenUrl.protocol !== 'http:')
        throw new HttpProblem(400, `body/oauthTokenUrl: a token URL is https:// (or http://)`);
      // In the body's words (probeOptions would name the CLI's flags).
      const missing = (['oauthClientId', 'oauthSecretEnv'] as const).filter((f) => !b[f]);
      if (missing.length)
        throw new HttpProblem(
          400,
          `body/oauthTokenUrl needs ${andList(missing.map((f) => `body/${f}`))} (OAuth2 client credentials: the client id, and the name of the server's variable that holds the secret)`,
          missing.map((f) => ({ name: `body/${f}`, reason: 'is required with oauthTokenUrl' })),
        );
    }
    // Each name is resolved once, here; a guarded probe connects to exactly the addresses checked.
    const names = new CheckedNames(ctx.options.resolve);
    try {
      await checkTarget(target.host, rules, 'the target', names.resolve);
      if (tokenUrl) await checkTarget(tokenUrl.hostname, rules, 'the OAuth token URL host', names.resolve);
    } catch (e) {
      if (e instanceof TargetRefused) throw new HttpProblem(403, e.message);
      throw e;
    }
    // The server's secrets go only to the hosts the operator bound them to, and not in clear text.
    const uses = secretUses(b, target, tokenUrl);
    for (const use of uses) {
      const refused = secretRefusal(secretTargets, use.name, use.to, use.what);
      if (refused) throw new HttpProblem(403, refused);
    }
    // A secret that opens a file only on the files the operator bound it to: no guessing oracle.
    for (const [env, file, envField, field, what] of [
      [b.trustPasswordEnv, b.trust, 'trustPasswordEnv', 'trust', 'the trust store password'],
      [
        b.clientCertPasswordEnv,
        b.clientKey ?? b.clientCert,
        'clientCertPasswordEnv',
        'clientCert',
        'the client key password',
      ],
      [b.identityPassphraseEnv, b.identity, 'identityPassphraseEnv', 'identity', 'the key passphrase'],
    ] as const) {
      if (!env) continue;
      if (!file)
        throw new HttpProblem(
          400,
          `body/${envField} goes with body/${field}: it is the password of that file`,
          [{ name: `body/${field}`, reason: `is required with ${envField}` }],
        );
      const refused = fileRefusal(secretTargets, env, file, what);
      if (refused) throw new HttpProblem(403, refused);
    }
    const flags: ProbeFlags = {
      ...(b as Omit<ProbeRequest, 'url'>),
      // A redirect could lead anywhere: a guarded server stops at the first.
      ...(guarded ? { maxRedirs: 0 } : {}),
    };
    let opts = await probeOptions(b.url, flags);
    // What travels in clear text: the CLI's one rule (clearTextSecrets), of which `probe` and `check`
    // warn; here refused without --plain-http-credentials. Plain FTP's password goes in clear only if
    // the server offers no AUTH TLS, known once connected: the login step withholds it then.
    if (!plainHttp)
      for (const s of clearTextSecrets(opts)) {
        if (s.kind === 'password' && s.unlessTls) {
          if (opts.ftp)
            opts.ftp.noClearTextPassword =
              'this server sends no password in clear text without --plain-http-credentials';
          continue;
        }
        throw new HttpProblem(
          403,
          `${clearTextWhat(s, b)} would go to ${s.to} in clear text, readable by anyone on the way: probe https://, or start serve with --plain-http-credentials to allow it`,
        );
      }
    // A credential header of the request (Authorization, Cookie, X-API-Key, ...: credentialHeaderNames)
    // is a credential like the server's; bound to no host by --secret-targets, it is never carried on
    // to another origin by locationTrusted.
    const named = credentialHeaderNames(opts.http.headers);
    // locationTrusted sends the credentials on to a redirect's host only when it is bound too.
    const carried = [...new Set(uses.filter((u) => u.http).map((u) => u.name))];
    if (carried.length || named.length)
      opts.http.forwardCredentials = (url: URL) => {
        if (named.length)
          return "a request's own credential headers are bound to no host by --secret-targets: they go only to the origin named";
        const to = urlHost(url);
        const unbound = carried.find((n) => !to || !boundTo(secretTargets, n, to));
        return unbound
          ? `${url.host} is not one of the hosts ${unbound} is bound to by --secret-targets`
          : undefined;
      };
    if (guarded) {
      opts = pinResolution(opts, names.pinned);
      opts.http.noRedirects = `this server follows no redirects: it is ${ctx.exposed ? 'exposed beyond loopback' : 'limited by --allow-targets'}; probe that address itself`;
    }
    opts.signal = signal;
    const streaming = /application\/x-ndjson/.test(req.headers.accept ?? '');
    if (!streaming) return probeJson(await probe(ctx.kb, opts)) as ProbeAnswer;

    const out = new PassThrough();
    const line = (o: object) => out.write(`${jsonText(o)}\n`);
    const running = probe(ctx.kb, { ...opts, onStep: (step: ProbeStep) => line({ step }) }).then(
      (r) => (line({ result: probeJson(r) }), out.end()),
      (e: Error) => (line({ error: e.message }), out.end()),
    );
    handedOver(running);
    // A stream is no JSON object: the schema documents the non-streaming answer.
    return reply.type('application/x-ndjson').send(out as never) as never;
  }
};
