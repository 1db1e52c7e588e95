// Text that strangers wrote (error texts, logs, file names, banners, replies, reason phrases,
// certificate names) made safe to print: it can never become a terminal control sequence.

/**
 * The characters that can change a terminal's state, or fake a line break: C0 controls except
 * tab and newline, DEL, the C1 controls U+0080–U+009F (U+009B is a one-character CSI on many
 * terminals), and the Unicode line and paragraph separators U+2028/U+2029, which some terminals
 * and viewers break lines at, so a stranger's text could forge a line of the report. Also the
 * Unicode bidirectional controls (U+061C, U+200E/U+200F, U+202A–U+202E, U+2066–U+2069), which
 * reorder what a terminal shows: a stranger's "\u202e" makes a host name or a verdict read
 * backwards (the "Trojan Source" trick, CVE-2021-42574).
 */
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex
  /\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const show = (ch: string): string => {
  if (ch === '\r\n') return '\n';
  const code = ch.charCodeAt(0);
  return code > 0xff
    ? `\\u${code.toString(16).padStart(4, '0')}`
    : `\\x${code.toString(16).padStart(2, '0')}`;
};

/**
 * `s` with every character that could act on a terminal shown visibly in JavaScript's escape
 * notation: ESC as `\x1b`, BEL as `\x07`, a lone CR as `\x0d`, the C1 CSI U+009B as `\x9b`, and
 * U+2028/U+2029 as `\u2028`/`\u2029`. Tab and newline stay (the renderers lay out multi-line
 * text), and a CR LF pair becomes a plain newline. Everything else, backslashes included, is kept
 * as it is, so a text that already reads `\x1b` looks the same as one with an ESC in it: the
 * result is for reading, not for reading back (--json keeps the exact text). Applying it twice
 * changes nothing. Apply it where foreign text enters a report, never to a whole report: our own
 * colour codes must stay.
 */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, show);
}

/**
 * `printable(s)` for one line of a log (serve's errors, watch's changes): a newline shown as `\x0a`
 * too, so that a stranger's text (an error message, a server's reply) cannot add a line of its own
 * to the log, which a reader or a log shipper would take for another entry. Tabs stay.
 */
export function printableLine(s: string): string {
  return printable(s).replace(/\n/g, '\\x0a');
}

/** Control characters JSON.stringify leaves raw: DEL, C1 (U+0080–U+009F), U+2028, U+2029 and the bidi controls. */
const JSON_RAW = /[\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify(value, null, indent)` with DEL, the C1 controls, U+2028/U+2029 and the bidi controls written as
 * `\u00XX` escapes as well: JSON.stringify escapes only C0, so a stranger's U+009B would reach a
 * terminal that shows the JSON. The escapes are standard JSON, so a parser reads back the exact
 * text. These characters occur only inside strings, so replacing them everywhere is safe.
 */
export function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    JSON_RAW,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * What JSON.stringify writes for a character `printable` changes: the escapes of the C0 controls
 * but tab and newline (`\b`, `\f`, `\r`, `\u0000`-`\u001f`), and the characters it leaves raw. An
 * escaped backslash before such a letter (`\\r`) matches too: only a needless deep copy.
 */
const JSON_UNPRINTABLE =
  /\\[bfr]|\\u00[01]|[\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * `value` with `printable` applied to every string in it, in arrays and plain objects at any
 * depth: for a renderer to take a whole result at its door, so that no field is missed. Other
 * objects (class instances, Maps, Dates) are passed through unchanged. Read-only: when no string
 * in it needs a change, `value` itself is returned (told by one native JSON.stringify, which
 * costs a fraction of the copy a cold start would otherwise interpret: issue 8).
 */
export function printableDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      // A cycle or a BigInt: copy and look at every string.
    }
    if (json !== undefined && !JSON_UNPRINTABLE.test(json)) return value;
  }
  return copyPrintable(value);
}

function copyPrintable<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => copyPrintable(v)) as T;
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyPrintable(v)])) as T;
  }
  return value;
}

/**
 * Foreign text in Markdown outside code: printable, with `&`, `<` and `>` as entities, so that a
 * Markdown viewer renders no tag of it (`<img src=…>` would fetch a URL, `<details>` hide the rest).
 */
export function markdownText(s: string): string {
  return printable(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Foreign text in a Markdown table's cell: markdownText on one line, its pipes escaped. */
export function markdownCell(s: string): string {
  return markdownText(s).replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}
