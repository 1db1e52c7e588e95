// The pages: Diagnose, Probe, Scan, Knowledge base, Lab. Each is a client of /api only.
import { redact } from '../src/redact.js';
import { getJson, postJson, stream } from './api.js';
import { fill, h, message, table as dataTable, valueOf } from './dom.js';
import {
  chainView,
  type Diagnosis,
  diagnosesView,
  markedText,
  type Step,
  stepsView,
  type Tls,
} from './report.js';

type Page = (root: HTMLElement, params: URLSearchParams) => void | Promise<void>;
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---- Diagnose ------------------------------------------------------------------------------------

export const diagnosePage: Page = (root, params) => {
  const text = h('ui5-textarea', {
    id: 'text',
    rows: 8,
    growing: true,
    'growing-max-rows': 20,
    placeholder: 'Paste an error text, a stack trace or a message processing log entry',
    'accessible-name': 'error text',
    class: 'grow',
  });
  const direction = h(
    'ui5-select',
    { id: 'direction', 'accessible-name': 'direction' },
    h('ui5-option', { value: '', selected: true }, 'Direction: from the text'),
    h('ui5-option', { value: 'outbound' }, 'Outbound: the tenant calls a receiver'),
    h('ui5-option', { value: 'inbound' }, 'Inbound: a sender calls the tenant'),
  );
  const out = h('div', { id: 'result', 'aria-live': 'polite' });
  const run = async () => {
    const t = valueOf(text);
    if (!t.trim()) return fill(out, message('Paste an error text first.', 'Information'));
    fill(out, h('ui5-busy-indicator', { active: true, size: 'M' }));
    try {
      const d = valueOf(direction);
      const r = await postJson<{ diagnoses: Diagnosis[] }>('/api/diagnose', {
        text: t,
        ...(d ? { direction: d } : {}),
      });
      // The text as the server diagnosed it, its secrets (a URL's token, a password, an Authorization
      // header) redacted by the same rule: the evidence's offsets are into it, and the link to this
      // diagnosis (to paste into a ticket; short texts only: a URL has its limits) must not carry them.
      const shown = redact(t);
      if (shown.length <= 4000) history.replaceState(null, '', `/diagnose?text=${encodeURIComponent(shown)}`);
      const best = r.diagnoses[0];
      fill(
        out,
        best
          ? h(
              'div',
              { class: 'panel' },
              h('h2', {}, 'The text, evidence marked'),
              markedText(shown, best.evidence),
            )
          : null,
        diagnosesView(r.diagnoses),
      );
    } catch (e) {
      fill(out, message(errorText(e)));
    }
  };
  fill(
    root,
    h('h1', {}, 'Diagnose an error text'),
    h('div', { class: 'row' }, text),
    h(
      'div',
      { class: 'row' },
      direction,
      h('ui5-button', { id: 'run', design: 'Emphasized', onclick: run }, 'Diagnose'),
    ),
    out,
  );
  text.addEventListener('keydown', (e) => {
    const k = e as KeyboardEvent;
    if (k.key === 'Enter' && (k.ctrlKey || k.metaKey)) void run();
  });
  const shared = params.get('text');
  if (shared) {
    (text as unknown as { value: string }).value = shared;
    void run();
  }
};

// ---- Probe ---------------------------------------------------------------------------------------

interface ProbeResultJson {
  ok: boolean;
  steps: Step[];
  tls?: Tls;
  diagnoses: Diagnosis[];
}

/** Shows a probe as it runs (steps streamed), then its chain and diagnosis. */
async function runProbe(out: HTMLElement, path: string, body?: unknown): Promise<void> {
  const steps: Step[] = [];
  const stepsBox = h('div', { class: 'panel' }, h('h2', {}, 'Steps'), stepsView(steps, 'connecting…'));
  fill(out, stepsBox);
  let result: ProbeResultJson | undefined;
  try {
    await stream(
      path,
      body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      (line) => {
        if (line.step) {
          steps.push(line.step as Step);
          fill(stepsBox, h('h2', {}, 'Steps'), stepsView(steps, 'running…'));
        } else if (line.result) result = line.result as ProbeResultJson;
        else if (line.error) throw new Error(String(line.error));
      },
    );
  } catch (e) {
    fill(stepsBox, h('h2', {}, 'Steps'), stepsView(steps));
    out.append(message(errorText(e)));
    return;
  }
  if (!result) return void out.append(message('the probe ended without a result'));
  fill(stepsBox, h('h2', {}, 'Steps'), stepsView(result.steps));
  out.append(
    !result.ok
      ? message('A step failed; the diagnosis follows.', 'Critical')
      : result.steps.some((s) => s.warning)
        ? message(
            `No step failed, but ${warnedCount(result.steps)} passed with a warning: ${result.steps
              .filter((s) => s.warning)
              .map((s) => `${s.name}: ${s.warning}`)
              .join('; ')}`,
            'Critical',
          )
        : message('Every step passed: the platform should reach this endpoint the same way.', 'Positive'),
  );
  if (result.tls)
    out.append(h('div', { class: 'panel' }, h('h2', {}, 'Certificate chain'), chainView(result.tls)));
  if (!result.ok) out.append(diagnosesView(result.diagnoses));
}

// The Probe page's tabs follow the platform's Connectivity Test (Monitor > Manage Security >
// Connectivity Tests; SAP Help "TLS/SSH/SMTP/FTP Connectivity Tests"): Host, Port, the protection or
// encryption, the authentication and what it needs, server certificate validation, the directory or
// mail addresses to check. Where the tenant names a deployed artifact (Credential Name, Private Key
// Alias, known_hosts), this server takes a file on its own disk and the NAME of an environment
// variable holding the secret: a secret never travels in a request (the API refuses it).

/** One field of a protocol tab: `name` is the /api/probe field it fills (or a part of the URL). */
interface Field {
  name: string;
  label: string;
  kind?: 'text' | 'number' | 'env' | 'file' | 'area' | 'check' | 'select';
  placeholder?: string;
  value?: string;
  options?: [string, string][];
  /** Shown only while this holds (the authentication chosen, say). */
  when?: (v: (name: string) => string) => boolean;
  hint?: string;
}
interface Section {
  title: string;
  fields: Field[];
}
interface Protocol {
  tab: string;
  /** The URL scheme, or the field whose value is the scheme (protection, encryption). */
  scheme: string | ((v: (name: string) => string) => string);
  defaultPort: (scheme: string) => number;
  sections: Section[];
}

const auth =
  (...values: string[]) =>
  (v: (name: string) => string) =>
    values.includes(v('auth'));
const trust: Field[] = [
  {
    name: 'trust',
    label: 'Trust store (file on the server: PEM, PKCS#12, JKS)',
    kind: 'file',
    hint: 'Empty: a Java-like default, as the platform judges a chain.',
  },
  { name: 'trustPasswordEnv', label: 'Trust store password: variable', kind: 'env' },
];
const userPassword = (when: Field['when']): Field[] => [
  { name: 'user', label: 'User', ...(when ? { when } : {}) },
  { name: 'passwordEnv', label: 'Password: variable (LINKDOCTOR_*)', kind: 'env', ...(when ? { when } : {}) },
];

const PROTOCOLS: Protocol[] = [
  {
    tab: 'HTTPS',
    scheme: 'https',
    defaultPort: () => 443,
    sections: [
      {
        title: 'Connection',
        fields: [
          { name: 'path', label: 'Path', placeholder: '/' },
          { name: 'method', label: 'HTTP method', placeholder: 'GET (POST with a body)' },
        ],
      },
      {
        title: 'Authentication',
        fields: [
          {
            name: 'auth',
            label: 'Authentication',
            kind: 'select',
            options: [
              ['none', 'None'],
              ['basic', 'Basic'],
              ['oauth', 'OAuth2 Client Credentials'],
              ['cert', 'Client Certificate'],
            ],
          },
          ...userPassword(auth('basic')),
          { name: 'oauthTokenUrl', label: 'Token service URL', when: auth('oauth') },
          { name: 'oauthClientId', label: 'Client ID', when: auth('oauth') },
          { name: 'oauthSecretEnv', label: 'Client secret: variable', kind: 'env', when: auth('oauth') },
          {
            name: 'clientCert',
            label: 'Keystore with the key pair (file on the server: PKCS#12, or PEM with its key)',
            kind: 'file',
            when: auth('cert'),
          },
          {
            name: 'clientKey',
            label: 'Private key (PEM file, when not in the keystore)',
            kind: 'file',
            when: auth('cert'),
          },
          {
            name: 'clientCertPasswordEnv',
            label: 'Keystore password: variable',
            kind: 'env',
            when: auth('cert'),
          },
        ],
      },
      {
        title: 'Server certificate',
        fields: [...trust, { name: 'servername', label: 'Server name (SNI), when not the host' }],
      },
      {
        title: 'Request',
        fields: [
          { name: 'header', label: 'Headers, one "Name: value" a line', kind: 'area' },
          { name: 'data', label: 'Body', kind: 'area' },
          { name: 'csrf', label: 'Fetch a CSRF token first (X-CSRF-Token: Fetch)', kind: 'check' },
          { name: 'maxRedirs', label: 'Redirects followed at most', kind: 'number', value: '5' },
        ],
      },
    ],
  },
  {
    tab: 'SFTP',
    scheme: 'sftp',
    defaultPort: () => 22,
    sections: [
      {
        title: 'Connection',
        fields: [{ name: 'path', label: 'Directory (empty: the home directory)', placeholder: '/outbound' }],
      },
      {
        title: 'Authentication',
        fields: [
          {
            name: 'auth',
            label: 'Authentication',
            kind: 'select',
            options: [
              ['none', 'None (reach the host, show its key)'],
              ['key', 'Public Key'],
              ['password', 'User Credentials'],
            ],
          },
          { name: 'user', label: 'User Name', when: auth('key', 'password') },
          { name: 'identity', label: 'Private key (file on the server)', kind: 'file', when: auth('key') },
          {
            name: 'identityPassphraseEnv',
            label: 'Key passphrase: variable',
            kind: 'env',
            when: auth('key'),
          },
          {
            name: 'passwordEnv',
            label: 'Password: variable (LINKDOCTOR_*)',
            kind: 'env',
            when: auth('password'),
          },
        ],
      },
      {
        title: 'Host key verification',
        fields: [
          {
            name: 'knownHosts',
            label: 'known_hosts (file on the server)',
            kind: 'file',
            hint: "Empty: the server user's ~/.ssh/known_hosts, when there is one.",
          },
          { name: 'writeTest', label: 'Also write and remove a test file', kind: 'check' },
        ],
      },
    ],
  },
  {
    tab: 'SMTP',
    scheme: (v) => v('protection') || 'smtp',
    defaultPort: (scheme) => (scheme === 'smtps' ? 465 : 587),
    sections: [
      {
        title: 'Connection',
        fields: [
          {
            name: 'protection',
            label: 'Protection',
            kind: 'select',
            options: [
              ['smtp', 'STARTTLS (587)'],
              ['smtps', 'SMTPS (465)'],
            ],
          },
        ],
      },
      {
        title: 'Authentication',
        fields: [
          {
            name: 'auth',
            label: 'Authentication',
            kind: 'select',
            options: [
              ['none', 'None'],
              ['password', 'User/Password'],
            ],
          },
          ...userPassword(auth('password')),
        ],
      },
      { title: 'Server certificate', fields: trust },
      {
        title: 'Check mail addresses',
        fields: [
          { name: 'from', label: 'From', placeholder: 'cpi@example.com' },
          { name: 'to', label: 'To', placeholder: 'orders@example.com' },
        ],
      },
    ],
  },
  {
    tab: 'FTP',
    scheme: (v) => v('encryption') || 'ftp',
    defaultPort: (scheme) => (scheme === 'ftps' ? 990 : 21),
    sections: [
      {
        title: 'Connection',
        fields: [
          {
            name: 'encryption',
            label: 'Encryption',
            kind: 'select',
            options: [
              ['ftp', 'Explicit FTPS, or plain FTP (21)'],
              ['ftps', 'Implicit FTPS (990)'],
            ],
          },
          { name: 'path', label: 'Directory (empty: the home directory)', placeholder: '/in' },
        ],
      },
      {
        title: 'Authentication',
        fields: [
          {
            name: 'auth',
            label: 'Authentication',
            kind: 'select',
            options: [
              ['none', 'None (anonymous)'],
              ['password', 'User Credentials'],
            ],
          },
          ...userPassword(auth('password')),
        ],
      },
      {
        title: 'Server certificate',
        fields: [...trust, { name: 'writeTest', label: 'Also write and remove a test file', kind: 'check' }],
      },
    ],
  },
];

/** What /api/probe/options says of this server. */
interface ProbeServer {
  secrets: string[];
  /** Each secret name with the hosts it may be sent to (--secret-targets); none: no request may use it. */
  secretHosts?: Record<string, string[]>;
  files: boolean;
  redirects: boolean;
}

/** One field as a labelled UI5 control; `id` is `${scheme}-${name}`. */
/** How many steps passed with a warning, in the probe's words ("one", "2"): its end sentence's count. */
function warnedCount(steps: { ok: boolean | null; warning?: string }[]): string {
  const n = steps.filter((s) => s.ok === true && s.warning).length;
  return n === 1 ? 'one' : String(n);
}

function control(id: string, f: Field, server: ProbeServer): HTMLElement {
  const label = h('ui5-label', { for: id, 'show-colon': true, wrapping: true }, f.label);
  let el: HTMLElement;
  switch (f.kind) {
    case 'select':
      el = h(
        'ui5-select',
        { id, 'accessible-name': f.label },
        (f.options ?? []).map(([v, t], i) => h('ui5-option', { value: v, selected: i === 0 }, t)),
      );
      break;
    case 'check':
      return h('div', { class: 'field', 'data-field': f.name }, h('ui5-checkbox', { id, text: f.label }));
    case 'area':
      el = h('ui5-textarea', { id, 'accessible-name': f.label, rows: 3, growing: true, style: 'width:100%' });
      break;
    case 'env':
      el = h(
        'ui5-input',
        {
          id,
          'accessible-name': f.label,
          placeholder: 'LINKDOCTOR_…',
          'show-suggestions': true,
          style: 'width:100%',
        },
        server.secrets.map((n) => {
          // A password or client secret goes only to the hosts it is bound to; a file's password goes nowhere.
          const hosts = server.secretHosts?.[n] ?? [];
          const sent = f.name === 'passwordEnv' || f.name === 'oauthSecretEnv';
          return h('ui5-suggestion-item', {
            text: n,
            ...(sent
              ? { 'additional-text': hosts.length ? `only to ${hosts.join(', ')}` : 'bound to no host' }
              : {}),
          });
        }),
      );
      break;
    default:
      el = h('ui5-input', {
        id,
        'accessible-name': f.label,
        style: 'width:100%',
        ...(f.kind === 'number' ? { type: 'Number' } : {}),
        ...(f.placeholder ? { placeholder: f.placeholder } : {}),
        ...(f.value ? { value: f.value } : {}),
        ...(f.kind === 'file' && !server.files
          ? { disabled: true, placeholder: 'this server reads no files a request names (it is exposed)' }
          : {}),
      });
  }
  return h(
    'div',
    { class: 'field', 'data-field': f.name },
    label,
    el,
    f.hint ? h('div', { class: 'muted hint' }, f.hint) : null,
  );
}

/** The value of a control: text, a checkbox's state ('true' or ''), a select's choice. */
function readControl(el: Element | null): string {
  if (!el) return '';
  if (el.tagName.toLowerCase() === 'ui5-checkbox')
    return (el as unknown as { checked: boolean }).checked ? 'true' : '';
  return valueOf(el).trim();
}

/** The /api/probe request of a tab, or a sentence saying what is missing. */
export function probeRequestOf(p: Protocol, v: (name: string) => string): Record<string, unknown> | string {
  const host = v('host');
  if (!host) return 'Give the host to probe.';
  const scheme = typeof p.scheme === 'string' ? p.scheme : p.scheme(v);
  let url: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) url = host;
  else {
    if (/[/?#@\s]/.test(host))
      return `"${host}" is not a host name: give the host alone (as the Connectivity Test wants), or a whole URL.`;
    const port = v('port') || String(p.defaultPort(scheme));
    const name = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    const path = v('path');
    url = `${scheme}://${name}:${port}${path ? (path.startsWith('/') ? path : `/${path}`) : '/'}`;
  }
  const body: Record<string, unknown> = { url };
  const timeout = Number(v('timeout'));
  if (timeout) body.timeout = timeout;
  for (const s of p.sections)
    for (const f of s.fields) {
      if (['path', 'auth', 'protection', 'encryption'].includes(f.name)) continue;
      if (f.when && !f.when(v)) continue;
      const value = v(f.name);
      if (!value) continue;
      if (f.kind === 'check') body[f.name] = true;
      else if (f.kind === 'number') body[f.name] = Number(value);
      else if (f.name === 'header')
        body.header = value
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
      else body[f.name] = value;
    }
  return body;
}

export const probePage: Page = async (root) => {
  const out = h('div', { id: 'result', 'aria-live': 'polite' });
  let server: ProbeServer = { secrets: [], files: true, redirects: true };
  try {
    server = await getJson<ProbeServer>('/api/probe/options');
  } catch (e) {
    out.append(message(errorText(e)));
  }
  const tabs = PROTOCOLS.map((p) => {
    const scheme = typeof p.scheme === 'string' ? p.scheme : p.scheme(() => '');
    const id = (name: string) => `${scheme}-${name}`;
    const tab = h('ui5-tab', { text: p.tab, 'data-scheme': scheme });
    const v = (name: string) => readControl(tab.querySelector(`#${id(name)}`));
    const connection: Field[] = [
      { name: 'host', label: 'Host (or a whole URL)', placeholder: `${p.tab.toLowerCase()}.example.com` },
      { name: 'port', label: 'Port', kind: 'number', placeholder: String(p.defaultPort(scheme)) },
      { name: 'timeout', label: 'Timeout (s)', kind: 'number', value: '5' },
    ];
    const sections = p.sections.map((s, i) =>
      h(
        'fieldset',
        { class: 'section' },
        h('legend', {}, s.title),
        h(
          'div',
          { class: 'fields' },
          (i === 0 ? [...connection, ...s.fields] : s.fields).map((f) => control(id(f.name), f, server)),
        ),
      ),
    );
    // Fields that depend on a choice (the authentication) show and hide with it.
    const refresh = () => {
      for (const s of p.sections)
        for (const f of s.fields)
          if (f.when)
            tab
              .querySelector(`#${id(f.name)}`)
              ?.closest('.field')
              ?.toggleAttribute('hidden', !f.when(v));
      const port = tab.querySelector(`#${id('port')}`);
      const now = typeof p.scheme === 'string' ? p.scheme : p.scheme(v);
      port?.setAttribute('placeholder', String(p.defaultPort(now)));
    };
    const run = () => {
      const body = probeRequestOf(p, v);
      if (typeof body === 'string') return fill(out, message(body, 'Information'));
      void runProbe(out, '/api/probe', body);
    };
    tab.addEventListener('keydown', (e) => {
      const k = e as KeyboardEvent;
      if (k.key === 'Enter' && (k.target as HTMLElement).tagName.toLowerCase() === 'ui5-input') run();
    });
    tab.append(
      ...sections,
      h(
        'div',
        { class: 'row' },
        h(
          'ui5-button',
          { design: 'Emphasized', onclick: run, class: 'run', id: id('run') },
          `Probe ${p.tab}`,
        ),
      ),
    );
    for (const select of tab.querySelectorAll('ui5-select')) select.addEventListener('change', refresh);
    refresh();
    return tab;
  });
  (tabs[0] as HTMLElement).setAttribute('selected', '');
  fill(
    root,
    h('h1', {}, 'Probe an endpoint'),
    h(
      'p',
      { class: 'muted' },
      'Like the Connectivity Test: the steps the platform takes (DNS, TCP, TLS, then the protocol), each bounded, and a diagnosis of the first that fails. Secrets are never typed here: name an environment variable of the server (LINKDOCTOR_*) that holds it.',
    ),
    server.redirects
      ? null
      : message(
          'This server follows no redirects (it is exposed or limited by --allow-targets).',
          'Information',
        ),
    h('ui5-tabcontainer', { id: 'protocols' }, tabs),
    out,
  );
};

// ---- Scan ----------------------------------------------------------------------------------------

interface Group {
  id: string;
  title: string;
  count: number;
  host?: string;
  iflow?: string;
  first: { time: string; at?: string } | null;
  last: { time: string; at?: string } | null;
  fixes: string[];
}
/** An unknown error's group (scan's JSON `unknown`): its message with numbers, ids, times and hosts masked. */
interface UnknownGroup {
  message: string;
  count: number;
  first: { time: string } | null;
  last: { time: string } | null;
}

/**
 * The errors no entry of the knowledge base recognised, by message, as the CLI lists them under "?
 * Unknown errors, by message": a panel with its table (`id` for tests), or nothing when there are none.
 */
function unknownPanel(unknown: UnknownGroup[] | undefined, id: string): HTMLElement[] {
  if (!unknown?.length) return [];
  const table = dataTable(
    { id, 'accessible-name': 'unknown errors by message' },
    ['Unknown error (numbers, ids, times and hosts masked)', 'Count', 'First', 'Last'],
    unknown.map((g) => ({
      attrs: {},
      cells: [
        h('span', { class: 'mono' }, g.message),
        String(g.count),
        g.first?.time ?? '',
        g.last?.time ?? '',
      ],
    })),
  );
  return [h('div', { class: 'panel' }, h('h2', {}, 'Unknown errors, by message'), table)];
}

/** A problem with the input (scan's JSON `problems`): where, and the sentence that says what. */
interface InputProblem {
  file: string;
  line?: number;
  record?: number;
  message: string;
}

/**
 * The tenant's failed messages whose error text could not be read (`tenant failures --json`'s
 * `problems`): a panel naming each message (the monitor's link to it) and why, with `total` (the
 * summary's count) when the answer lists fewer; nothing when there are none.
 */
function unreadPanel(problems: InputProblem[] | undefined, total: number, id: string): HTMLElement[] {
  if (!problems?.length && !total) return [];
  const rows = (problems ?? []).map((p) => ({
    attrs: {},
    cells: [
      /^https:\/\//.test(p.file)
        ? h('a', { href: p.file, target: '_blank', rel: 'noopener noreferrer', class: 'mono' }, p.file)
        : h('span', { class: 'mono' }, p.file),
      p.message,
    ],
  }));
  const listed = rows.length;
  return [
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Error texts that could not be read'),
      h(
        'p',
        { class: 'muted' },
        `${total} failed ${total === 1 ? 'message has' : 'messages have'} no error text to diagnose: the tenant did not give it` +
          (listed < total ? ` (the first ${listed} are listed).` : '.'),
      ),
      dataTable({ id, 'accessible-name': 'error texts that could not be read' }, ['Message', 'Why'], rows),
    ),
  ];
}

interface Incident {
  time?: string;
  diagnosis: { id: string } | null;
}

/** Incidents over time per diagnosis: one row per id, a dot per time bucket sized by its count. */
function timeline(incidents: Incident[]): SVGElement | HTMLElement {
  const at = (i: Incident) => (i.time ? Date.parse(i.time.replace(' ', 'T')) : NaN);
  const dated = incidents.filter((i) => i.diagnosis && !Number.isNaN(at(i)));
  if (dated.length < 1) return h('p', { class: 'muted' }, 'No incident carries a time: no timeline.');
  const ids = [...new Set(dated.map((i) => i.diagnosis!.id))];
  const t0 = Math.min(...dated.map(at));
  const t1 = Math.max(...dated.map(at));
  const W = 720;
  const left = 180;
  const rowH = 26;
  const buckets = 48;
  const span = Math.max(1, t1 - t0);
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  const height = ids.length * rowH + 30;
  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  svg.setAttribute('class', 'timeline');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `incidents over time for ${ids.length} diagnoses`);
  svg.style.width = '100%';
  svg.style.maxWidth = `${W}px`;
  const el = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  ids.forEach((id, row) => {
    const y = row * rowH + 14;
    el('text', { x: 0, y: y + 4 }, id);
    el('line', { x1: left, x2: W - 10, y1: y, y2: y, stroke: 'var(--sapList_BorderColor)' });
    const counts = new Array<number>(buckets).fill(0);
    for (const i of dated)
      if (i.diagnosis!.id === id)
        counts[Math.min(buckets - 1, Math.floor(((at(i) - t0) / span) * buckets))]!++;
    const max = Math.max(...counts);
    counts.forEach((n, b) => {
      if (!n) return;
      const x = left + ((b + 0.5) / buckets) * (W - 10 - left);
      el('circle', {
        cx: x,
        cy: y,
        r: 3 + 6 * Math.sqrt(n / max),
        fill: 'var(--sapChart_OrderedColor_1, #5899da)',
      }).append(Object.assign(document.createElementNS(NS, 'title'), { textContent: `${id}: ${n}` }));
    });
  });
  const fmt = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
  el('text', { x: left, y: height - 4 }, fmt(t0));
  el('text', { x: W - 10, y: height - 4, 'text-anchor': 'end' }, fmt(t1));
  return svg;
}

export const scanPage: Page = (root) => {
  const out = h('div', { id: 'result', 'aria-live': 'polite' });
  const picker = h('input', {
    type: 'file',
    id: 'file',
    'aria-label': 'log file to scan',
    accept: '.log,.txt,.json,.har,.gz,text/plain,application/json,application/gzip',
  }) as HTMLInputElement;
  const run = async () => {
    const file = picker.files?.[0];
    if (!file)
      return fill(
        out,
        message('Choose a log, a message processing log export or a HAR file.', 'Information'),
      );
    const bar = h('ui5-progress-indicator', { value: 0, 'accessible-name': 'scan progress', id: 'progress' });
    const status = h('span', { class: 'muted' }, 'uploading…');
    fill(out, h('div', { class: 'panel' }, bar, status));
    const incidents: Incident[] = [];
    let result: { summary: Record<string, number>; groups: Group[]; unknown?: UnknownGroup[] } | undefined;
    const problems: string[] = [];
    try {
      await stream(
        `/api/scan?name=${encodeURIComponent(file.name.replace(/[/\\]/g, '_'))}&incidents=true`,
        { headers: { 'content-type': 'application/octet-stream' }, body: file },
        (line) => {
          if (line.progress) {
            const p = line.progress as { bytes: number; total?: number; incidents: number };
            bar.setAttribute('value', String(Math.round((100 * p.bytes) / (p.total || file.size || 1))));
            status.textContent = `${(p.bytes / 1048576).toFixed(1)} MB read · ${p.incidents} incidents`;
          } else if (line.incident) incidents.push(line.incident as Incident);
          else if (line.problem) problems.push(String((line.problem as { message: string }).message));
          else if (line.result) result = line.result as typeof result;
          else if (line.error) throw new Error(String(line.error));
        },
      );
    } catch (e) {
      return fill(out, message(errorText(e)));
    }
    if (!result) return fill(out, message('the scan ended without a result'));
    bar.setAttribute('value', '100');
    const s = result.summary;
    status.textContent = `${s.incidents} incidents, ${s.diagnosed} diagnosed, in ${s.seconds} s`;
    const table = dataTable(
      { id: 'groups', 'accessible-name': 'incident groups' },
      ['Known issue', 'Count', 'Where', 'First', 'Last'],
      result.groups.map((g) => ({
        attrs: { 'data-id': g.id },
        cells: [
          [h('b', {}, g.id), h('br'), h('span', { class: 'muted' }, g.title)],
          String(g.count),
          g.iflow ? `iFlow ${g.iflow}` : (g.host ?? ''),
          g.first?.time ?? '',
          g.last?.time ?? '',
        ],
      })),
    );
    out.append(
      ...problems.map((p) => message(p, 'Critical')),
      ...(result.groups.length
        ? [
            h('div', { class: 'panel' }, h('h2', {}, 'Incidents over time'), timeline(incidents)),
            h('div', { class: 'panel' }, h('h2', {}, 'Groups'), table),
          ]
        : [
            message(
              result.unknown?.length
                ? 'No known issue found in this file, but errors that no entry recognises: see below.'
                : 'No known issue found in this file.',
              result.unknown?.length ? 'Critical' : 'Information',
            ),
          ]),
      ...unknownPanel(result.unknown, 'unknown'),
    );
  };
  fill(
    root,
    h('h1', {}, 'Scan a log'),
    h(
      'p',
      { class: 'muted' },
      'A log file, a message processing log export (JSON) or a HAR file; gzip too. It is read as it uploads.',
    ),
    h(
      'div',
      { class: 'row' },
      picker,
      h('ui5-button', { id: 'run', design: 'Emphasized', onclick: run }, 'Scan'),
    ),
    out,
  );
};

// ---- Knowledge base ------------------------------------------------------------------------------

interface Row {
  id: string;
  title: string;
  direction: string;
  seed: number | null;
}

export const kbPage: Page = async (root, params) => {
  const search = h('ui5-input', {
    id: 'search',
    placeholder: 'Search: id, title, words',
    'accessible-name': 'search',
    class: 'grow',
    'show-clear-icon': true,
  });
  const list = h('ui5-list', { id: 'entries', 'selection-mode': 'Single', 'accessible-name': 'entries' });
  const detail = h('div', { id: 'entry', 'aria-live': 'polite' });
  fill(
    root,
    h('h1', {}, 'Knowledge base'),
    h('div', { class: 'row' }, search),
    h(
      'div',
      { class: 'row', style: 'align-items:flex-start' },
      h('div', { class: 'grow' }, list),
      h('div', { class: 'grow' }, detail),
    ),
  );
  let rows: Row[];
  try {
    rows = await getJson<Row[]>('/api/kb');
  } catch (e) {
    return fill(detail, message(errorText(e)));
  }
  const show = async (id: string) => {
    try {
      const e = await getJson<
        Record<string, unknown> & {
          id: string;
          title: string;
          summary: string;
          causes: { text: string; title?: string }[];
          fixes: { text: string }[] | string[];
          references: { title: string; url?: string }[];
        }
      >(`/api/kb/${encodeURIComponent(id)}`);
      const text = (x: unknown) => (typeof x === 'string' ? x : String((x as { text?: string }).text ?? ''));
      fill(
        detail,
        h(
          'section',
          { class: 'panel' },
          h('ui5-title', { level: 'H4' }, `${e.id} · ${e.title}`),
          h('p', {}, e.summary),
          h('h2', {}, 'Causes'),
          h(
            'ul',
            {},
            e.causes.map((c) => h('li', {}, c.title ? h('b', {}, `${c.title}: `) : null, text(c))),
          ),
          h('h2', {}, 'Fixes'),
          h(
            'ol',
            {},
            (e.fixes as unknown[]).map((f) => h('li', {}, text(f))),
          ),
          h('h2', {}, 'References'),
          h(
            'ul',
            {},
            e.references.map((r) =>
              h(
                'li',
                {},
                r.url && /^https:\/\//.test(r.url)
                  ? h('ui5-link', { href: r.url, target: '_blank' }, r.title)
                  : r.title,
              ),
            ),
          ),
        ),
      );
      history.replaceState(null, '', `/kb?id=${encodeURIComponent(id)}`);
    } catch (err) {
      fill(detail, message(errorText(err)));
    }
  };
  const render = () => {
    const q = valueOf(search).toLowerCase().trim();
    const shown = rows.filter((r) => !q || `${r.id} ${r.title}`.toLowerCase().includes(q));
    fill(
      list,
      shown.map((r) =>
        h(
          'ui5-li',
          {
            'data-id': r.id,
            description: r.title,
            'additional-text': r.seed ? `seed ${r.seed}` : r.direction,
          },
          r.id,
        ),
      ),
    );
    if (!shown.length) list.setAttribute('no-data-text', 'No entry matches');
  };
  search.addEventListener('input', render);
  list.addEventListener(
    'item-click',
    (e) => void show(((e as CustomEvent).detail.item as HTMLElement).dataset.id!),
  );
  render();
  const id = params.get('id');
  if (id) void show(id);
};

// ---- Lab -----------------------------------------------------------------------------------------

export const labPage: Page = async (root) => {
  const out = h('div', { id: 'result', 'aria-live': 'polite' });
  fill(
    root,
    h('h1', {}, 'Lab'),
    h(
      'p',
      { class: 'muted' },
      'Local servers that reproduce the known failures. Probe one to see what linkdoctor makes of it.',
    ),
    out,
  );
  let lab: { scenarios: { name: string; url: string; reproduces: string; expect: string }[] };
  try {
    lab = await getJson('/api/lab');
  } catch (e) {
    return fill(out, message(errorText(e)));
  }
  fill(
    out,
    lab.scenarios.map((s) => {
      const result = h('div', {});
      return h(
        'section',
        { class: 'panel', 'data-scenario': s.name },
        h(
          'div',
          { class: 'row' },
          h('ui5-title', { level: 'H5', class: 'grow' }, s.name),
          h('span', { class: 'mono muted' }, s.url),
          h(
            'ui5-button',
            {
              design: 'Default',
              icon: 'play',
              onclick: () => void runProbe(result, `/api/lab/${encodeURIComponent(s.name)}/probe`),
            },
            'Probe it',
          ),
        ),
        h('p', {}, s.reproduces, s.expect ? h('span', { class: 'muted' }, ` (expected: ${s.expect})`) : null),
        result,
      );
    }),
  );
};

// ---- Tenant --------------------------------------------------------------------------------------

interface DeployedRow {
  id: string;
  name: string;
  status: string;
  version?: string;
  deployedOn?: string;
  endpoints: { url: string }[];
  error?: string;
}

interface KeystoreRow {
  alias: string;
  type: string;
  validUntil?: string;
  daysLeft?: number;
  subject?: string;
}

export const tenantPage: Page = async (root) => {
  const since = h(
    'ui5-select',
    { id: 'since', 'accessible-name': 'window' },
    [
      ['24h', 'last 24 hours'],
      ['7d', 'last 7 days'],
      ['1h', 'last hour'],
    ].map(([v, t]) => h('ui5-option', { value: v! }, t!)),
  );
  const failures = h('div', { id: 'failures', 'aria-live': 'polite' });
  const deployed = h('div', { id: 'deployed', 'aria-live': 'polite' });
  /** The deployed artifacts, their inbound URLs, and each deployment error as a message. */
  const loadDeployed = async () => {
    try {
      const r = await getJson<{ artifacts: DeployedRow[]; errors: string[] }>('/api/tenant/endpoints');
      fill(
        deployed,
        ...r.artifacts
          .filter((a) => a.status === 'ERROR')
          .map((a) => message(`${a.name} is in status ERROR${a.error ? `: ${a.error}` : ''}`)),
        r.errors.length ? null : message('No deployed artifact is in status ERROR.', 'Positive'),
        dataTable(
          { id: 'deployed-table', 'accessible-name': 'deployed integration flows' },
          ['Integration flow', 'Status', 'Version', 'Deployed on', 'Inbound URLs'],
          r.artifacts.map((a) => ({
            attrs: { 'data-id': a.id },
            cells: [
              a.name,
              h(
                'ui5-tag',
                {
                  design: a.status === 'STARTED' ? 'Positive' : a.status === 'ERROR' ? 'Negative' : 'Neutral',
                },
                a.status,
              ),
              a.version ?? '',
              a.deployedOn?.slice(0, 16).replace('T', ' ') ?? '',
              h('span', { class: 'mono' }, a.endpoints.map((e) => e.url).join('\n')),
            ],
          })),
        ),
      );
    } catch (e) {
      fill(deployed, message(errorText(e)));
    }
  };
  const keystore = h('div', { id: 'keystore', 'aria-live': 'polite' });
  const loadFailures = async () => {
    fill(failures, h('ui5-busy-indicator', { active: true, size: 'M' }));
    try {
      const r = await getJson<{
        tenant: string;
        summary: Record<string, number>;
        groups: Group[];
        unknown?: UnknownGroup[];
        problems?: InputProblem[];
      }>(`/api/tenant/failures?since=${encodeURIComponent(valueOf(since) || '24h')}`);
      fill(
        failures,
        h(
          'p',
          {},
          `${r.summary.incidents} failed messages on ${r.tenant}, ${r.summary.diagnosed} diagnosed` +
            (r.summary.problems ? `; ${r.summary.problems} error texts could not be read.` : '.'),
        ),
        r.groups.length
          ? dataTable(
              { id: 'tenant-groups', 'accessible-name': 'failures by known issue' },
              ['Known issue', 'Count', 'iFlow', 'Last'],
              r.groups.map((g) => ({
                attrs: { 'data-id': g.id },
                cells: [
                  [h('b', {}, g.id), h('br'), h('span', { class: 'muted' }, g.title)],
                  String(g.count),
                  g.iflow ?? '',
                  g.last?.time ?? '',
                ],
              })),
            )
          : r.unknown?.length
            ? message('No failed message of a known issue; the others are listed below.', 'Critical')
            : message('No failed message in this window.', 'Positive'),
        ...unknownPanel(r.unknown, 'tenant-unknown'),
        ...unreadPanel(r.problems, r.summary.problems ?? 0, 'tenant-unread'),
      );
    } catch (e) {
      fill(failures, message(errorText(e)));
    }
  };
  fill(
    root,
    h('h1', {}, 'Tenant'),
    h('h2', {}, 'Failed messages, diagnosed'),
    h(
      'div',
      { class: 'row' },
      since,
      h('ui5-button', { design: 'Emphasized', onclick: () => void loadFailures() }, 'Read'),
    ),
    failures,
    h('h2', {}, 'Keystore'),
    keystore,
    h('h2', {}, 'Deployed integration flows'),
    deployed,
  );
  void loadFailures();
  void loadDeployed();
  try {
    const k = await getJson<{ entries: KeystoreRow[]; expiring: string[]; days: number }>(
      '/api/tenant/keystore',
    );
    fill(
      keystore,
      k.expiring.length
        ? message(
            `${k.expiring.length} entries expire within ${k.days} days: ${k.expiring.join(', ')}`,
            'Critical',
          )
        : message(`No entry expires within ${k.days} days.`, 'Positive'),
      dataTable(
        { id: 'keystore-table', 'accessible-name': 'keystore entries' },
        ['Alias', 'Type', 'Valid until', 'Days left', 'Subject'],
        k.entries.map((e) => ({
          attrs: { 'data-alias': e.alias },
          cells: [
            e.alias,
            e.type,
            e.validUntil?.slice(0, 10) ?? '-',
            e.daysLeft === undefined
              ? '-'
              : h(
                  'ui5-tag',
                  { design: e.daysLeft < 0 ? 'Negative' : e.daysLeft < k.days ? 'Critical' : 'Positive' },
                  e.daysLeft < 0 ? 'expired' : String(e.daysLeft),
                ),
            e.subject ?? '',
          ],
        })),
      ),
    );
  } catch (e) {
    fill(keystore, message(errorText(e)));
  }
};
