// linkdoctor's web UI: UI5 Web Components (the Fiori look of the platform), bundled at build time,
// with the fonts served by linkdoctor itself: nothing is fetched from another host.
import { setDefaultFontLoading } from '@ui5/webcomponents-base/dist/config/Fonts.js';
import '@ui5/webcomponents/dist/BusyIndicator.js';
import '@ui5/webcomponents/dist/Button.js';
import '@ui5/webcomponents/dist/CheckBox.js';
import '@ui5/webcomponents/dist/Dialog.js';
import '@ui5/webcomponents/dist/Icon.js';
import '@ui5/webcomponents/dist/Input.js';
import '@ui5/webcomponents/dist/Label.js';
import '@ui5/webcomponents/dist/Link.js';
import '@ui5/webcomponents/dist/List.js';
import '@ui5/webcomponents/dist/ListItemStandard.js';
import '@ui5/webcomponents/dist/MessageStrip.js';
import '@ui5/webcomponents/dist/Option.js';
import '@ui5/webcomponents/dist/ProgressIndicator.js';
import '@ui5/webcomponents/dist/Select.js';
import '@ui5/webcomponents/dist/SuggestionItem.js';
import '@ui5/webcomponents/dist/features/InputSuggestions.js';
import '@ui5/webcomponents/dist/Tab.js';
import '@ui5/webcomponents/dist/TabContainer.js';
import '@ui5/webcomponents/dist/Table.js';
import '@ui5/webcomponents/dist/TableCell.js';
import '@ui5/webcomponents/dist/TableHeaderCell.js';
import '@ui5/webcomponents/dist/TableHeaderRow.js';
import '@ui5/webcomponents/dist/TableRow.js';
import '@ui5/webcomponents/dist/Tag.js';
import '@ui5/webcomponents/dist/TextArea.js';
import '@ui5/webcomponents/dist/Title.js';
import '@ui5/webcomponents-fiori/dist/ShellBar.js';
import '@ui5/webcomponents-fiori/dist/ShellBarBranding.js';
import '@ui5/webcomponents-fiori/dist/SideNavigation.js';
import '@ui5/webcomponents-fiori/dist/SideNavigationItem.js';
import '@ui5/webcomponents-icons/dist/stethoscope.js';
import '@ui5/webcomponents-icons/dist/connected.js';
import '@ui5/webcomponents-icons/dist/upload.js';
import '@ui5/webcomponents-icons/dist/course-book.js';
import '@ui5/webcomponents-icons/dist/lab.js';
import '@ui5/webcomponents-icons/dist/cloud.js';
import '@ui5/webcomponents-icons/dist/sys-enter-2.js';
import '@ui5/webcomponents-icons/dist/alert.js';
import '@ui5/webcomponents-icons/dist/error.js';
import '@ui5/webcomponents-icons/dist/less.js';
import '@ui5/webcomponents-icons/dist/play.js';
import { getJson, onTokenNeeded } from './api.js';
import { fill, h, message, valueOf } from './dom.js';
import { diagnosePage, kbPage, labPage, probePage, scanPage, tenantPage } from './pages.js';

setDefaultFontLoading(false);

const PAGES = [
  { path: '/diagnose', text: 'Diagnose', icon: 'stethoscope', page: diagnosePage },
  { path: '/connectivity', text: 'Probe', icon: 'connected', page: probePage },
  { path: '/scan', text: 'Scan', icon: 'upload', page: scanPage },
  { path: '/kb', text: 'Knowledge base', icon: 'course-book', page: kbPage, room: 'kb' },
  { path: '/tenant', text: 'Tenant', icon: 'cloud', page: tenantPage, room: 'tenant' },
  { path: '/lab', text: 'Lab', icon: 'lab', page: labPage, room: 'lab' },
];

/** Asks for the server's token once (a dialog); the API keeps it in this tab's session storage. */
onTokenNeeded(
  () =>
    new Promise((resolve) => {
      const field = h('ui5-input', {
        type: 'Password',
        id: 'token',
        'accessible-name': 'token',
        style: 'width:100%',
      });
      const dialog = h(
        'ui5-dialog',
        { 'header-text': 'This server needs its token', open: true },
        h('p', {}, 'Give the LINKDOCTOR_TOKEN the server was started with. It is kept for this tab only.'),
        field,
        h(
          'div',
          { slot: 'footer', class: 'row', style: 'justify-content:flex-end;width:100%' },
          h(
            'ui5-button',
            { design: 'Emphasized', id: 'token-ok', onclick: () => dialog.removeAttribute('open') },
            'OK',
          ),
        ),
      );
      dialog.addEventListener('close', () => {
        dialog.remove();
        resolve(valueOf(field) || undefined);
      });
      field.addEventListener(
        'keydown',
        (e) => (e as KeyboardEvent).key === 'Enter' && dialog.removeAttribute('open'),
      );
      document.body.append(dialog);
    }),
);

/**
 * The page of a room the server did not mount: its title and the API's own sentence of how to start
 * the server with it (GET /api/lab without --lab: "this server runs no lab (serve --lab)").
 */
async function absentPage(main: HTMLElement, p: { path: string; text: string }): Promise<void> {
  let why = `this server has no ${p.text} page`;
  try {
    await getJson(`/api${p.path}`);
  } catch (e) {
    if (e instanceof Error) why = e.message;
  }
  fill(main, h('h1', {}, p.text), message(why, 'Information'));
}

async function start(): Promise<void> {
  const nav = document.getElementById('nav')!;
  const main = document.getElementById('page')!;
  let rooms: string[] = [];
  try {
    rooms = (await getJson<{ rooms: string[] }>('/api/health')).rooms;
  } catch (e) {
    fill(main, message(e instanceof Error ? e.message : String(e)));
  }
  const pages = PAGES.filter((p) => !p.room || rooms.includes(p.room));
  const current = () => pages.find((p) => p.path === location.pathname) ?? pages[0]!;
  const show = () => {
    // A page of a room this server did not mount (/lab without serve --lab): how to start it.
    const absent = PAGES.find((p) => p.path === location.pathname && !pages.includes(p));
    if (absent) {
      for (const item of nav.children) item.removeAttribute('selected');
      document.title = `${absent.text} · linkdoctor`;
      return void absentPage(main, absent);
    }
    const p = current();
    for (const item of nav.children)
      item.toggleAttribute('selected', (item as HTMLElement).dataset.path === p.path);
    document.title = `${p.text} · linkdoctor`;
    void p.page(main, new URLSearchParams(location.search));
  };
  fill(
    nav,
    pages.map((p) => h('ui5-side-navigation-item', { text: p.text, icon: p.icon, 'data-path': p.path })),
  );
  nav.addEventListener('selection-change', (e) => {
    const path = ((e as CustomEvent).detail.item as HTMLElement).dataset.path!;
    if (path !== location.pathname) history.pushState(null, '', path);
    show();
    main.focus();
  });
  window.addEventListener('popstate', show);
  const narrow = matchMedia('(max-width: 700px)');
  const collapse = () => nav.toggleAttribute('collapsed', narrow.matches);
  narrow.addEventListener('change', collapse);
  collapse();
  document
    .getElementById('shell')!
    .addEventListener('menu-button-click', () => nav.toggleAttribute('collapsed'));
  show();
}

void start();
