// The inventory: the endpoints to watch (targets), the named probe settings they use (modules, as
// blackbox_exporter's modules are), and the labels they carry into reports, history and metrics.
// Read from YAML and validated with every problem named by file, line and field, as `kb lint` does.
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { notRegularFile, readRegularFile } from '../fs-read.js';
import { issuePath, shown, valueAt } from '../kb/schema.js';
import { parseTarget } from '../probe/target.js';
import { MAX_REDIRS, MAX_TIMEOUT_S } from '../cli/probe-flags.js';
import { parseDuration } from './duration.js';
import { plural } from '../report/width.js';
import { closestName } from '../cli/usage-error.js';
import { type FileFlag, type ProbeFiles, readProbeFiles, type SettingWords } from '../cli/probe.js';
import { moduleFlags } from './options.js';
import { secretFromEnv } from '../cli/secrets.js';
import { redactUrls } from '../redact.js';

/** The largest inventory file read (a generous bound: 100,000 targets fit in far less). */
export const MAX_INVENTORY_BYTES = 16 << 20;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name');
/**
 * A duration field (`5s`, `1m`, `500ms`, or a number of seconds), in milliseconds; out of
 * [minMs, maxMs] or no duration, one sentence naming `what`. The API's probe timeout takes it too.
 */
export const duration = (what: string, minMs: number, maxMs: number) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms < minMs || ms > maxMs) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} takes a duration from ${minMs / 1000} s to ${maxMs / 1000} s, such as 5s or 1m`,
      });
      return z.NEVER;
    }
    return ms;
  });
/** Prometheus label names: what a label may be called so that it can become one. */
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/**
 * The labels linkdoctor sets itself on a target's metrics (target, url, module; id, cause and step on
 * linkdoctor_target_diagnosis): an inventory label of one of these names would clash with it.
 */
export const RESERVED_LABELS: ReadonlySet<string> = new Set([
  'target',
  'url',
  'module',
  'id',
  'cause',
  'step',
]);
/** An inventory label's name: a Prometheus label name, not reserved by Prometheus nor set by linkdoctor. */
const labelNameSchema = z
  .string()
  .regex(labelName, 'label names are letters, digits and _ (as Prometheus wants them)')
  .refine((k) => !k.startsWith('__'), 'label names that start with __ are reserved by Prometheus')
  .superRefine((k, ctx) => {
    if (RESERVED_LABELS.has(k))
      ctx.addIssue({
        code: 'custom',
        message: `linkdoctor sets the label ${k} itself (${[...RESERVED_LABELS].join(', ')}): call yours otherwise, such as ${k}_name`,
      });
  });

const moduleSchema = z.strictObject({
  /** outbound: the tenant calls the target (default); inbound: a sender calls the tenant. */
  direction: z.enum(['inbound', 'outbound']).optional(),
  /** Bound of each step and request (the probe's --timeout), as blackbox_exporter's module timeout. */
  timeout: duration('timeout', 100, MAX_TIMEOUT_S * 1000).optional(),
  /** How often `serve --inventory` checks the module's targets (overrides --every). */
  every: duration('every', 1000, 7 * 86_400_000).optional(),
  trust: z.string().min(1).optional(),
  trust_password_env: envName.optional(),
  client_cert: z.string().min(1).optional(),
  client_key: z.string().min(1).optional(),
  client_cert_password_env: envName.optional(),
  servername: z.string().min(1).optional(),
  method: z
    .string()
    .regex(/^[A-Za-z]+$/, 'is not an HTTP method')
    .optional(),
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a header name'), z.string())
    .optional(),
  body: z.string().optional(),
  /** The statuses that count as success (blackbox_exporter's valid_status_codes); default: below 400. */
  valid_status_codes: z.array(z.number().int().min(100).max(599)).min(1).optional(),
  max_redirects: z.number().int().min(0).max(MAX_REDIRS).optional(),
  user: z.string().min(1).optional(),
  password_env: envName.optional(),
  oauth_token_url: z.url().optional(),
  oauth_client_id: z.string().min(1).optional(),
  oauth_secret_env: envName.optional(),
  csrf: z.boolean().optional(),
  known_hosts: z.string().min(1).optional(),
  identity: z.string().min(1).optional(),
  identity_passphrase_env: envName.optional(),
  from: z.string().min(1).optional(),
  to: z.string().min(1).optional(),
});

const targetSchema = z.strictObject({
  url: z.string().min(1),
  /** Defaults to the URL; the key of the target in history. */
  name: z
    .string()
    .min(1)
    .max(200)
    .refine((n) => n.trim() !== '', 'is blank: give the target a name, or no name (its URL names it then)')
    .optional(),
  module: z.string().min(1).optional(),
  labels: z
    .record(labelNameSchema, z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .optional(),
});

const inventorySchema = z.strictObject({
  modules: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'module names are letters, digits, _ . and -'),
      moduleSchema,
    )
    .optional(),
  targets: z.array(targetSchema).min(1, 'lists no target'),
});

/**
 * What each field of an inventory takes, in the words of its readme section: the sentence a
 * problem the schema found in its own words ("Invalid input: expected record, received string",
 * "Too big: expected number to be <=599") is told in instead.
 */
const FIELD_WORDS: Record<string, string> = {
  modules: 'modules is a map of module names to their settings (lab: { timeout: 5s })',
  targets: 'targets is a list of targets (- url: https://host/path)',
  direction: 'direction is inbound or outbound',
  method: 'method is an HTTP method, such as GET or POST',
  headers: 'headers is a map of header names to values (X-Foo: bar)',
  body: 'body is a text',
  valid_status_codes: 'valid_status_codes lists HTTP statuses from 100 to 599, such as [200, 204]',
  max_redirects: `max_redirects is a number of redirects from 0 to ${MAX_REDIRS}`,
  oauth_token_url: 'oauth_token_url is a URL, such as https://host/oauth/token',
  csrf: 'csrf is true or false',
  url: 'url is a URL or host:port, such as https://host/path or sftp://host:22',
  name: 'name is a text of 1 to 200 characters',
  module: 'module is the name of a module of this inventory',
  labels: 'labels is a map of label names to values (owner: team-a)',
  timeout: `timeout takes a duration from 0.1 s to ${MAX_TIMEOUT_S} s, such as 5s or 1m`,
  every: 'every takes a duration from 1 s to 7 days, such as 30s or 5m',
  user: 'user is a user name',
  servername: 'servername is a host name',
  from: 'from is a mail address',
  to: 'to is a mail address',
  oauth_client_id: 'oauth_client_id is a text',
  ...Object.fromEntries(
    ['trust', 'client_cert', 'client_key', 'known_hosts', 'identity'].map((f) => [
      f,
      `${f} is a file's path`,
    ]),
  ),
  ...Object.fromEntries(
    [
      'password_env',
      'trust_password_env',
      'client_cert_password_env',
      'oauth_secret_env',
      'identity_passphrase_env',
    ].map((f) => [f, `${f} is the name of an environment variable, such as PW`]),
  ),
};

/**
 * The sentence of a schema issue at `path` (value `v`): the schema's own message when it was
 * written here (a duration, a label name), else what the field takes (FIELD_WORDS) and what it got.
 */
function issueSentence(issue: z.core.$ZodIssue, v: unknown): string {
  const ownWords =
    issue.code === 'custom' || !/^(?:Invalid|Too (?:big|small)|Expected|Unrecognized)/.test(issue.message);
  if (ownWords) return issue.message;
  if (v === undefined) return 'is missing';
  const path = issue.path;
  const key = [...path].reverse().find((p) => typeof p === 'string');
  const words =
    path.length === 2 && path[0] === 'targets'
      ? 'a target is a map of url and its name, module and labels (- url: https://host/path)'
      : path.length === 2 && path[0] === 'modules'
        ? 'a module is a map of settings (timeout: 5s, trust: ca.pem)'
        : path.length === 4 && path[2] === 'labels'
          ? "a label's value is a text, a number or true/false"
          : path.length === 4 && path[2] === 'headers'
            ? "a header's value is a text"
            : (typeof key === 'string' && FIELD_WORDS[key]) || `${String(key ?? 'it')} is a text`;
  return `${words}, not ${shown(v)}`;
}

/** Secrets' environment variables and what each is the secret of: one without the other is ignored. */
const SECRET_OF: [env: keyof Module, needs: keyof Module, what: string][] = [
  ['password_env', 'user', 'the user it is the password of'],
  ['trust_password_env', 'trust', 'the trust store it opens'],
  ['client_cert_password_env', 'client_cert', 'the client certificate it opens'],
  ['identity_passphrase_env', 'identity', 'the key it opens'],
];

/**
 * The secrets a probe reads from the environment for each request (not from a file at load): an
 * unset or empty one of a module some target uses is the inventory's problem, told before any probe
 * (a secret that opens a file is read with the file: readProbeFiles).
 */
const REQUEST_SECRETS: [env: 'password_env' | 'oauth_secret_env', what: string][] = [
  ['password_env', 'password'],
  ['oauth_secret_env', 'OAuth2 client secret'],
];

/** A module: named probe settings; file paths are absolute (resolved against the inventory's folder). */
export type Module = z.output<typeof moduleSchema> & { name: string };

/** One endpoint to watch. */
export interface InventoryTarget {
  /** The target's key in history and reports: its `name`, else its URL (secrets masked, as `url`). */
  name: string;
  /**
   * The URL as shown and stored (reports, history, webhooks, /metrics labels): the inventory's, with
   * the secrets a URL may carry masked (`?access_token=<redacted>`, see redactUrls).
   */
  url: string;
  /** The URL as the inventory has it, secrets included: what the probe requests, and nothing shows. */
  requestUrl: string;
  module: Module;
  labels: Record<string, string>;
  /** 1-based line of the target in the inventory file. */
  line: number;
}

export interface Inventory {
  file: string;
  modules: Map<string, Module>;
  targets: InventoryTarget[];
  /** The files of each module that names any (trust store, client certificate, ...), read once at load. */
  files: Map<string, ProbeFiles>;
}

/** One problem of an inventory file: the line (when known), the field, and one sentence. */
export interface InventoryProblem {
  file: string;
  line?: number;
  field?: string;
  message: string;
}

/** `file:line: field: message`, as compilers and `kb lint` print a problem. */
export function formatInventoryProblem(p: InventoryProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** An inventory with problems: its message lists every one, a line each. */
export class InventoryError extends UserError {
  constructor(readonly problems: InventoryProblem[]) {
    super(
      `the inventory has ${plural(problems.length, 'problem')}:\n${problems.map(formatInventoryProblem).join('\n')}`,
    );
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** "is not a field here", with the field's nearest spelling when there is one ("timout": timeout). */
function unknownField(key: string, path: readonly PropertyKey[]): string {
  const shape =
    path.length === 0
      ? inventorySchema.shape
      : path[0] === 'modules'
        ? moduleSchema.shape
        : targetSchema.shape;
  const near = closestName(key, Object.keys(shape));
  return `is not a field here${near ? `; did you mean ${near}?` : ''}`;
}

/** The module a target without `module` uses when the inventory defines none called `default`. */
const DEFAULT_MODULE = 'default';
const PATH_FIELDS = ['trust', 'client_cert', 'client_key', 'known_hosts', 'identity'] as const;
type PathField = (typeof PATH_FIELDS)[number];
/** What each file field holds, as the probe's flags call it (src/cli/probe.ts). */
const PATH_WHAT: Record<PathField, string> = {
  trust: 'trust store',
  client_cert: 'client certificate',
  client_key: 'client key',
  known_hosts: 'known_hosts file',
  identity: 'private key',
};

/** A probe flag as the inventory's field: clientKey is client_key (moduleFlags maps them back). */
const fieldOf = (flag: FileFlag) => flag.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) as keyof Module;
/** Hints in the inventory's words: "give it with client_key", not the CLI's `--client-key FILE`. */
const fieldWords: SettingWords = (flag) => fieldOf(flag);

/**
 * A file reader's sentence for a problem under `field`: the file the problem line's field already
 * names is not said again at its start ("is not a trust store ...", not "/abs/x.log is not ..."),
 * and elsewhere it is the path as the inventory writes it, not as it was resolved.
 */
function inTheInventory(
  message: string,
  field: keyof Module,
  m: Module,
  written: Partial<Record<PathField, string>>,
): string {
  let out = message;
  for (const [f, value] of Object.entries(written)) {
    const abs = m[f as PathField]!;
    if (f === field)
      for (const head of [abs, value, basename(abs)])
        if (out.startsWith(`${head} `)) {
          out = out.slice(head.length + 1);
          break;
        }
    out = out.split(abs).join(value);
  }
  return out;
}

/**
 * Reads and validates an inventory file. Relative file paths of modules are resolved against the
 * inventory's folder. Throws InventoryError listing every problem (file:line: field: message), or
 * UserError when the file cannot be read.
 */
export async function loadInventory(file: string): Promise<Inventory> {
  const text = (await readRegularFile(file, { what: 'inventory', maxBytes: MAX_INVENTORY_BYTES })).toString(
    'utf8',
  );
  const { inventory, problems } = await parseInventory(text, file);
  if (problems.length || !inventory) throw new InventoryError(problems);
  return inventory;
}

/** The inventory of each server (by its options object), loaded once for all its rooms. */
const served = new WeakMap<object, Promise<Inventory>>();

/**
 * The inventory of `serve --inventory FILE` (`options.inventory`), read and checked once per server
 * options object, its modules' files with it: the probe room (secret bindings) and the watch room
 * (schedule) share it. undefined without an inventory; rejects as loadInventory (InventoryError).
 */
export function servedInventory(options: { readonly inventory?: string }): Promise<Inventory> | undefined {
  if (!options.inventory) return undefined;
  let p = served.get(options);
  if (!p) served.set(options, (p = loadInventory(options.inventory)));
  return p;
}

/** Parses and validates an inventory's text; `file` names it in problems and anchors relative paths. */
export async function parseInventory(
  text: string,
  file: string,
): Promise<{ inventory?: Inventory; problems: InventoryProblem[] }> {
  const [{ LineCounter, parseDocument, isAlias, visit }, { lineAt }] = await Promise.all([
    import('yaml'),
    import('../yaml-lines.js'),
  ]);
  const lineCounter = new LineCounter();
  // merge: YAML's merge key (`<<: *defaults`), as docker-compose, Ansible and GitLab CI files share
  // settings; an alias bomb is still refused below (toJS's maxAliasCount).
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, merge: true });
  const problems: InventoryProblem[] = [];
  if (doc.errors.length) {
    for (const e of doc.errors.slice(0, 20))
      problems.push({
        file,
        ...(e.linePos ? { line: e.linePos[0].line } : {}),
        message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      });
    return { problems };
  }
  /** The line of the deepest node the path reaches (a key's own line for an unknown key). */
  const lineOf = (path: readonly PropertyKey[], key?: string) => lineAt(doc, lineCounter, path, key);
  const at = (path: readonly PropertyKey[], message: string, key?: string) => {
    const line = lineOf(path, key);
    const field = issuePath(key === undefined ? path : [...path, key]);
    problems.push({ file, ...(line ? { line } : {}), ...(field ? { field } : {}), message });
  };

  let data: unknown;
  try {
    // yaml refuses aliases that would expand past its limit (an "alias bomb"): the data is never built.
    data = doc.toJS() ?? {};
  } catch (e) {
    let line: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (isAlias(node) && node.range) line = lineCounter.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    problems.push({
      file,
      ...(line ? { line } : {}),
      message: `not valid YAML: ${(e as Error).message.split('\n')[0]}`,
    });
    return { problems };
  }
  // Every problem at once: the schema's (types, unknown fields) and the targets' own (URLs, modules,
  // names) are all looked for, also in parts the schema refused, and told in the file's line order.
  const parsed = inventorySchema.safeParse(data);
  if (!parsed.success)
    for (const issue of parsed.error.issues.slice(0, 200)) {
      if (issue.code === 'unrecognized_keys')
        for (const key of issue.keys) at(issue.path, unknownField(key, issue.path), key);
      else if (issue.code === 'invalid_key')
        // A record's key: the key's own rule says what is wrong with it.
        at(issue.path.slice(0, -1), issue.issues[0]?.message ?? issue.message, String(issue.path.at(-1)));
      else at(issue.path, issueSentence(issue, valueAt(data, issue.path)));
    }
  const raw = (isRecord(data) ? data : {}) as { modules?: unknown; targets?: unknown };
  const base = dirname(resolve(file));
  const modules = new Map<string, Module>();
  const files = new Map<string, ProbeFiles>();
  const moduleNames = isRecord(raw.modules) ? Object.keys(raw.modules) : [];
  // Each module on its own: one the schema refused still has its other problems told.
  for (const [name, m0] of Object.entries(isRecord(raw.modules) ? raw.modules : {})) {
    const one = moduleSchema.safeParse(m0);
    if (!one.success) continue;
    const m: Module = { ...one.data, name };
    const written: Partial<Record<PathField, string>> = {};
    const absent: PathField[] = [];
    for (const f of PATH_FIELDS) {
      const value = m[f];
      if (value === undefined) continue;
      written[f] = value;
      m[f] = resolve(base, value);
      const odd = existsSync(m[f]) ? notRegularFile(m[f], { what: PATH_WHAT[f] }) : 'does not exist';
      if (odd) {
        at(['modules', name, f], `${value} ${odd}`);
        absent.push(f);
      }
    }
    // The files as the probe reads them (the same readers, once for the run): one that is no trust
    // store, a certificate without its key, a known_hosts file of no host key is the inventory's
    // problem, told before any probe, not a failing target.
    if (PATH_FIELDS.some((f) => m[f] !== undefined && !absent.includes(f))) {
      const present = { ...m };
      for (const f of absent) delete present[f];
      const read = await readProbeFiles(moduleFlags(present), fieldWords);
      for (const p of read.problems) {
        const field = fieldOf(p.flag);
        at(['modules', name, field], inTheInventory(p.message, field, m, written));
      }
      if (!read.problems.length) files.set(name, read.files);
    }
    for (const [env, needs, what] of SECRET_OF)
      if (m[env] && !m[needs])
        at(['modules', name], `${env} needs ${needs} (${what}): without it the secret is not used`, env);
    if (m.user && !m.password_env && !m.identity)
      at(['modules', name], 'user needs password_env or identity (a check asks for no password)', 'user');
    if (m.oauth_token_url && (!m.oauth_client_id || !m.oauth_secret_env))
      at(['modules', name], 'OAuth2 needs oauth_client_id and oauth_secret_env', 'oauth_token_url');
    modules.set(name, m);
  }
  const fallback: Module = { name: DEFAULT_MODULE };
  const targets: InventoryTarget[] = [];
  const names = new Map<string, number>();
  (Array.isArray(raw.targets) ? (raw.targets as unknown[]) : []).forEach((t0, i) => {
    const path = ['targets', i];
    const line = lineOf(path) ?? 0;
    const t = (isRecord(t0) ? t0 : {}) as Record<string, unknown>;
    let ok = true;
    if (typeof t.url === 'string' && t.url)
      try {
        parseTarget(t.url, "a module's password_env (an environment variable's name), never the URL");
      } catch (e) {
        at([...path, 'url'], (e as Error).message);
        ok = false;
      }
    const moduleName = typeof t.module === 'string' && t.module ? t.module : undefined;
    const module = modules.get(moduleName ?? DEFAULT_MODULE) ?? (moduleName ? undefined : fallback);
    if (moduleName && !moduleNames.includes(moduleName)) {
      at(
        [...path, 'module'],
        `no module "${moduleName}" (${moduleNames.length ? `modules: ${moduleNames.join(', ')}` : 'the inventory defines no modules'})`,
      );
      ok = false;
    }
    const name =
      typeof t.name === 'string' && t.name
        ? t.name
        : typeof t.url === 'string'
          ? redactUrls(t.url)
          : undefined;
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) {
        at(path, `another target (line ${first}) is also called "${name}": give one a different name`);
        ok = false;
      } else names.set(name, line);
    }
    const one = targetSchema.safeParse(t0);
    if (ok && module && one.success)
      targets.push({
        name: name!,
        url: redactUrls(one.data.url),
        requestUrl: one.data.url,
        module,
        labels: one.data.labels ?? {},
        line,
      });
  });
  // The request secrets of the modules in use, as the probe would read them (never their values).
  for (const m of new Set(targets.map((t) => t.module)))
    for (const [env, what] of REQUEST_SECRETS)
      if (m[env])
        try {
          secretFromEnv(m[env], what);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          at(['modules', m.name], e.message, env);
        }
  // In the file's order, as a compiler lists them (problems without a line first: the file's own).
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (problems.length || !parsed.success) return { problems };
  return { inventory: { file, modules, targets, files }, problems };
}

/**
 * The targets `--only LABEL=VALUE` filters pick: several values of one label are alternatives
 * (`--only owner=a --only owner=b`: either team), different labels must all match; `module` and
 * `name` filter by module and target name too. Throws UserError for a filter that is not
 * LABEL=VALUE, and, when nothing matches, one sentence naming the filters and `file` (and the
 * closest label when one names a label no target has).
 */
export function selectTargets(
  targets: InventoryTarget[],
  only: string[] = [],
  file?: string,
): InventoryTarget[] {
  const wanted = new Map<string, Set<string>>();
  for (const f of only) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UserError(`--only takes LABEL=VALUE, not "${f}"`);
    const k = f.slice(0, i);
    wanted.set(k, (wanted.get(k) ?? new Set()).add(f.slice(i + 1)));
  }
  const valueOf = (t: InventoryTarget, k: string) =>
    k === 'module' ? t.module.name : k === 'name' ? t.name : t.labels[k];
  const picked = targets.filter((t) => [...wanted].every(([k, values]) => values.has(valueOf(t, k) ?? '\0')));
  if (picked.length || !targets.length || !only.length) return picked;
  const said = [...wanted]
    .map(([k, values]) => [...values].map((v) => `${k}=${v}`).join(' or '))
    .join(' and ');
  const labels = [...new Set(targets.flatMap((t) => Object.keys(t.labels))), 'module', 'name'];
  const unknown = [...wanted.keys()].find((k) => !labels.includes(k));
  const near = unknown === undefined ? undefined : closestName(unknown, labels);
  throw new UserError(
    `no target${file ? ` of ${file}` : ''} matches ${said}${unknown === undefined ? '' : `: no target has the label ${unknown}${near ? `; did you mean ${near}?` : ''}`}`,
  );
}
