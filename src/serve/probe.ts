// POST /api/probe: the same probe and the same JSON as `linkdoctor probe URL --json`, with the
// options of the CLI as fields of the body (in the CLI's words: timeout, trust, passwordEnv, ...).
// Secrets are named, never sent: `passwordEnv: "LINKDOCTOR_SFTP_PASSWORD"` is read from the server's
// environment, and only LINKDOCTOR_* variables may be named (a request cannot make the server send
// its other secrets, AWS_SECRET_ACCESS_KEY say, to a host of the request's choosing).
// With `Accept: application/x-ndjson` the steps stream as they end: {"step": {...}} lines, then
// {"result": <the probe's JSON>}.
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { probeOptions, type ProbeFlags } from '../cli/probe.js';
import { MAX_REDIRS } from '../cli/probe-flags.js';
import { pinResolution } from '../probe/net.js';
import { probe } from '../probe/run.js';
import { parseTarget } from '../probe/target.js';
import { probeJson } from '../report/probe.js';
import { jsonText } from '../report/printable.js';
import type { ProbeStep } from '../types.js';
import { HttpProblem } from './problem.js';
import { direction, problemSchema } from './schemas.js';
import { CheckedNames, checkTarget, TargetRefused, targetRules } from './targets.js';

/** The longest --timeout the API takes: the probe's budget is 10 of them, so 10 minutes at most. */
export const API_MAX_TIMEOUT_S = 60;

/** Environment variables a request may name for a secret. */
const SECRET_ENV = /^LINKDOCTOR_[A-Z0-9_]+$/;
/** LINKDOCTOR_* variables that are no secret a probe sends: the server's own token, its settings. */
const NOT_SECRETS = new Set(['LINKDOCTOR_TOKEN', 'LINKDOCTOR_SERVICE_KEY', 'LINKDOCTOR_SMTP_ALT_PORTS']);
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
export const probeRequest = z.object({
  url: z.string().min(1).describe('e.g. https://host:443/path, sftp://user@host:22/dir, smtp://host:587'),
  direction: direction.optional(),
  timeout: z
    .number()
    .min(0.1)
    .max(API_MAX_TIMEOUT_S)
    .default(5)
    .describe('seconds: bound of each step and each request; the whole probe gets 10 of them'),
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
  header: z.array(z.string()).max(50).optional().describe('extra headers "Name: value"'),
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
  maxRedirs: z.number().int().min(0).max(MAX_REDIRS).default(5),
  locationTrusted: z.boolean().optional(),
  knownHosts: file('OpenSSH known_hosts to hold the host key against (SFTP/SSH)'),
  identity: file('private key to log in with (SFTP/SSH)'),
  identityPassphraseEnv: envName('key passphrase'),
  writeTest: z.boolean().optional().describe('SFTP/FTP: also create and remove a temporary file'),
  from: z.string().optional().describe('SMTP: MAIL FROM address'),
  to: z.string().optional().describe('SMTP: RCPT TO address'),
});
export type ProbeRequest = z.output<typeof probeRequest>;

const FILE_FIELDS = ['trust', 'clientCert', 'clientKey', 'knownHosts', 'identity'] as const;

/** The probe room. 200 with the probe's JSON whether or not the endpoint is healthy (`ok` says). */
export const probeRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.linkdoctor;
  const rules = targetRules(ctx.options.allowTargets ?? [], ctx.exposed);
  const guarded = rules.limited || rules.exposed;

  app.get(
    '/api/probe/options',
    {
      schema: {
        summary: 'What a probe on this server may use: secret names, server files, redirects',
        description:
          'The names (never the values) of the LINKDOCTOR_* environment variables set on the server, which ' +
          'a probe may name as passwordEnv, oauthSecretEnv, ...; whether a request may name files on the ' +
          'server (trust, clientCert, knownHosts, identity: not on an exposed server); whether redirects ' +
          'are followed (not on a guarded server).',
        tags: ['probe'],
        response: {
          200: z.object({
            secrets: z.array(z.string()),
            files: z.boolean(),
            redirects: z.boolean(),
          }),
        },
      },
    },
    async () => ({
      secrets: Object.keys(process.env)
        .filter((k) => SECRET_ENV.test(k) && !NOT_SECRETS.has(k) && process.env[k])
        .sort(),
      files: !ctx.exposed,
      redirects: !guarded,
    }),
  );

  app.post(
    '/api/probe',
    {
      schema: {
        summary: 'Test an endpoint the way the platform connects to it, and diagnose what fails',
        description:
          'dns, tcp, then tls and http (https), ssh (sftp), smtp or ftp. With Accept: application/x-ndjson ' +
          'the steps stream as {"step": ...} lines, then {"result": ...}. A server with --allow-targets, or one ' +
          'exposed beyond loopback, follows no redirects and refuses targets outside its rules (403).',
        tags: ['probe'],
        body: probeRequest,
        response: {
          200: z.looseObject({ target: z.string(), ok: z.boolean() }),
          400: problemSchema,
          403: problemSchema,
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
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
      if (b.user && !b.passwordEnv && !b.identity)
        throw new HttpProblem(400, 'body/user needs body/passwordEnv (or body/identity for SSH)', [
          { name: 'body/passwordEnv', reason: 'is required with user' },
        ]);
      // Each name is resolved once, here; a guarded probe connects to exactly the addresses checked.
      const names = new CheckedNames(ctx.options.resolve);
      try {
        await checkTarget(target.host, rules, 'the target', names.resolve);
        if (b.oauthTokenUrl) {
          let tokenHost: string;
          try {
            tokenHost = new URL(b.oauthTokenUrl).hostname;
          } catch {
            throw new HttpProblem(400, `body/oauthTokenUrl: "${b.oauthTokenUrl}" is not a URL`);
          }
          await checkTarget(tokenHost, rules, 'the OAuth token URL host', names.resolve);
        }
      } catch (e) {
        if (e instanceof TargetRefused) throw new HttpProblem(403, e.message);
        throw e;
      }
      const flags: ProbeFlags = {
        ...(b as Omit<ProbeRequest, 'url'>),
        // A redirect could lead anywhere: a guarded server stops at the first.
        maxRedirs: guarded ? 0 : b.maxRedirs,
      };
      let opts = await probeOptions(b.url, flags);
      if (guarded) {
        opts = pinResolution(opts, names.pinned);
        opts.http.noRedirects = `this server follows no redirects: it is ${ctx.exposed ? 'exposed beyond loopback' : 'limited by --allow-targets'}; probe that address itself`;
      }
      const streaming = /application\/x-ndjson/.test(req.headers.accept ?? '');
      if (!streaming) return probeJson(await probe(ctx.kb, opts)) as { target: string; ok: boolean };

      const out = new PassThrough();
      const line = (o: object) => out.write(`${jsonText(o)}\n`);
      void probe(ctx.kb, { ...opts, onStep: (step: ProbeStep) => line({ step }) }).then(
        (r) => (line({ result: probeJson(r) }), out.end()),
        (e: Error) => (line({ error: e.message }), out.end()),
      );
      // A stream is no JSON object: the schema documents the non-streaming answer.
      return reply.type('application/x-ndjson').send(out as never);
    },
  );
};
