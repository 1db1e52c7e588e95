// How the UI shows the API's objects: a diagnosis (as `diagnose` prints it, with its evidence marked
// in the text), probe steps, and a certificate chain drawn as a chain with its missing link marked.
import { h } from './dom.js';

export interface Evidence {
  text: string;
  start?: number;
  end?: number;
  kind: string;
  means?: string;
}
export interface Diagnosis {
  id: string;
  title: string;
  direction: string;
  confidence: number;
  cause?: { id: string; title: string };
  evidence: Evidence[];
  facts: Record<string, unknown>;
  fixes: string[];
  references: { title: string; url?: string; note?: string }[];
  seed?: number;
  summary: string;
  causes: string[];
  checks: { text: string; probe?: string }[];
}
export interface Step {
  name: string;
  ok: boolean | null;
  ms: number;
  detail: string;
  /** Passed, but without judging all it is for or only with a warning (the CLI's `!`). */
  warning?: string;
}
export interface Cert {
  subject: string;
  issuer: string;
  notAfter: string;
  daysLeft: number;
  selfSigned: boolean;
}
export interface Tls {
  protocol?: string;
  chain: Cert[];
  trusted: boolean;
  missing?: { subject: string; neededBy: string; url?: string };
  store: string;
  clientCertRequested?: boolean;
  acceptableCAs: string[];
  clientCertAccepted?: boolean;
}

/** The text with every evidence span that carries offsets marked (the matcher's own positions). */
export function markedText(text: string, evidence: Evidence[]): HTMLElement {
  const spans = evidence
    .filter((e) => e.start !== undefined && e.end !== undefined && e.end > e.start)
    .map((e) => [e.start!, e.end!, e.means ?? ''] as const)
    .sort((a, b) => a[0] - b[0]);
  const pre = h('pre', { class: 'marked', 'aria-label': 'the text, evidence marked' });
  let at = 0;
  for (const [s, e, means] of spans) {
    if (s < at) continue;
    pre.append(text.slice(at, s), h('mark', { title: means }, text.slice(s, e)));
    at = e;
  }
  pre.append(text.slice(at));
  return pre;
}

const pct = (c: number) => `${Math.round(c * 100)}%`;

/** One diagnosis: verdict, cause, facts, evidence, fixes, checks and references. */
export function diagnosisView(d: Diagnosis, best: boolean): HTMLElement {
  const facts = Object.entries(d.facts).filter(([, v]) => typeof v === 'string' || typeof v === 'number');
  return h(
    'section',
    { class: 'panel diagnosis', 'data-id': d.id },
    h(
      'div',
      { class: 'row' },
      h('ui5-title', { level: best ? 'H3' : 'H5', class: 'grow' }, `${d.id} · ${d.title}`),
      h(
        'ui5-tag',
        { design: d.confidence >= 0.8 ? 'Negative' : 'Critical', title: 'confidence' },
        pct(d.confidence),
      ),
      h('ui5-tag', { design: 'Information' }, d.direction),
      d.seed !== undefined
        ? h('ui5-tag', { design: 'Set2', 'color-scheme': '6' }, `seed row ${d.seed}`)
        : null,
    ),
    h(
      'p',
      {},
      h('b', {}, 'Cause: '),
      d.cause ? d.cause.title : 'not told by this text',
      d.cause ? null : h('span', { class: 'muted' }, ` (one of ${d.causes.length})`),
    ),
    h('p', { class: 'muted' }, d.summary),
    facts.length
      ? h('p', { class: 'facts mono' }, facts.map(([k, v]) => `${k} ${String(v)}`).join(' · '))
      : null,
    h('h2', {}, 'Evidence'),
    h(
      'ul',
      { class: 'evidence' },
      d.evidence.map((e) =>
        h(
          'li',
          {},
          h('span', { class: 'mono' }, `"${e.text}"`),
          e.means ? h('span', { class: 'muted' }, ` — ${e.means}`) : null,
        ),
      ),
    ),
    h('h2', {}, 'What to do'),
    h(
      'ol',
      { class: 'fixes' },
      d.fixes.map((f) => h('li', {}, f)),
    ),
    d.checks.length ? h('h2', {}, 'How to confirm') : null,
    h(
      'ul',
      {},
      d.checks.map((c) =>
        h('li', {}, c.text, c.probe ? h('span', { class: 'muted' }, ` (probe: ${c.probe})`) : null),
      ),
    ),
    d.references.length ? h('h2', {}, 'Read') : null,
    h(
      'ul',
      { class: 'refs' },
      d.references.map((r) =>
        h(
          'li',
          {},
          r.url && /^https:\/\//.test(r.url)
            ? h(
                'ui5-link',
                { href: r.url, target: '_blank', 'accessible-name': r.title },
                r.note ? `SAP note ${r.note}: ${r.title}` : r.title,
              )
            : r.title,
        ),
      ),
    ),
  );
}

/** The diagnoses of an answer, best first, or the "nothing matched" message. */
export function diagnosesView(ds: Diagnosis[]): HTMLElement {
  if (!ds.length)
    return h(
      'ui5-message-strip',
      { design: 'Information', 'hide-close-button': true, class: 'nomatch' },
      'No known issue matched. linkdoctor does not guess: nothing in the knowledge base fits this text.',
    );
  return h(
    'div',
    {},
    ds.map((d, i) => diagnosisView(d, i === 0)),
  );
}

/** The probe's steps as a checklist; a step still running shows a busy indicator. */
export function stepsView(steps: Step[], running?: string): HTMLElement {
  return h(
    'ul',
    { class: 'steps', 'aria-live': 'polite' },
    steps.map((s) => {
      const warned = s.ok === true && !!s.warning;
      return h(
        'li',
        { 'data-step': s.name, 'data-ok': String(s.ok), ...(warned ? { 'data-warning': 'true' } : {}) },
        h('ui5-icon', {
          name: warned ? 'alert' : s.ok === true ? 'sys-enter-2' : s.ok === false ? 'error' : 'less',
          design: warned ? 'Critical' : s.ok === true ? 'Positive' : s.ok === false ? 'Negative' : 'Neutral',
          'accessible-name': warned
            ? 'passed with a warning'
            : s.ok === true
              ? 'passed'
              : s.ok === false
                ? 'failed'
                : 'not run',
          'show-tooltip': true,
        }),
        h('b', {}, s.name),
        h('span', {}, warned ? `${s.detail}. Warning: ${s.warning}` : s.detail),
        h('span', { class: 'muted' }, s.ok === null ? '' : `${s.ms} ms`),
      );
    }),
    running
      ? h(
          'li',
          {},
          h('ui5-busy-indicator', { active: true, size: 'S' }),
          h('span', { class: 'muted' }, running),
        )
      : null,
  );
}

/** The chain as the server sent it, leaf first, then the link the trust store lacks, then the store. */
export function chainView(tls: Tls): HTMLElement {
  const cert = (c: Cert) =>
    h(
      'div',
      { class: `cert${c.daysLeft < 0 ? ' expired' : ''}`, role: 'listitem' },
      h('div', {}, h('b', {}, c.subject)),
      h('div', { class: 'muted' }, `issued by ${c.issuer}`),
      h(
        'div',
        { class: c.daysLeft < 0 ? '' : 'muted' },
        c.daysLeft < 0
          ? `expired ${-c.daysLeft} days ago`
          : `until ${c.notAfter.slice(0, 10)} (${c.daysLeft} days)`,
      ),
    );
  const items: HTMLElement[] = [];
  tls.chain.forEach((c, i) => {
    if (i) items.push(h('span', { class: 'link', 'aria-hidden': 'true' }, '→'));
    items.push(cert(c));
  });
  if (tls.missing)
    items.push(
      h('span', { class: 'link', 'aria-hidden': 'true' }, '→'),
      h(
        'div',
        { class: 'cert missing', role: 'listitem' },
        h('div', {}, h('b', {}, 'missing: '), tls.missing.subject),
        h('div', {}, `needed by ${tls.missing.neededBy}`),
        tls.missing.url ? h('div', { class: 'mono' }, tls.missing.url) : null,
      ),
    );
  items.push(
    h('span', { class: 'link', 'aria-hidden': 'true' }, tls.trusted ? '⇢' : '⇏'),
    h(
      'div',
      { class: 'cert', role: 'listitem' },
      h('b', {}, tls.trusted ? 'trusted by ' : 'not trusted by '),
      tls.store,
    ),
  );
  const client =
    tls.clientCertRequested === undefined
      ? null
      : h(
          'p',
          { class: 'clientcert' },
          h('b', {}, 'Client certificate: '),
          tls.clientCertRequested
            ? `the server asks for one${tls.acceptableCAs.length ? ` from ${tls.acceptableCAs.join('; ')}` : ''}${tls.clientCertAccepted === undefined ? '' : tls.clientCertAccepted ? '; the one presented was accepted' : '; the one presented was refused'}.`
            : 'the server does not ask for one.',
        );
  return h(
    'div',
    {},
    h('div', { class: 'chain', role: 'list', 'aria-label': 'certificate chain' }, items),
    client,
  );
}
