// A tiny element builder: text goes in as text nodes, never as HTML (what a server, a log or a
// knowledge-base entry says can hold anything).
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

/** `h('ui5-button', { design: 'Emphasized', onclick: f }, 'Diagnose')` */
export function h<K extends string>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * A UI5 table: `attrs` on the table (id, accessible-name), a header cell per `headers`, and a row
 * per `rows` (`attrs`: the row's data-* attributes; `cells`: one child, or children, per column).
 */
export function table(
  attrs: Attrs,
  headers: string[],
  rows: { attrs: Attrs; cells: (Child | Child[])[] }[],
): HTMLElement {
  return h(
    'ui5-table',
    attrs,
    h(
      'ui5-table-header-row',
      { slot: 'headerRow' },
      headers.map((t) => h('ui5-table-header-cell', {}, t)),
    ),
    rows.map((r) =>
      h(
        'ui5-table-row',
        r.attrs,
        r.cells.map((c) => h('ui5-table-cell', {}, c)),
      ),
    ),
  );
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false)
      el.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
}

/** A message strip: errors are shown as messages, never as a blank pane. */
export function message(
  text: string,
  design: 'Negative' | 'Information' | 'Critical' | 'Positive' = 'Negative',
) {
  return h('ui5-message-strip', { design, 'hide-close-button': true, role: 'alert' }, text);
}

/** The value of a UI5 input, select or textarea. */
export const valueOf = (el: Element | null) => String((el as unknown as { value?: unknown })?.value ?? '');
