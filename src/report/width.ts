// The width of text output: 100 columns, or fewer on a narrower terminal. Long lines are wrapped at
// spaces under their own indentation, or cut with "…" where wrapping would not help (one cell of a
// table, a line of a dialogue).

/** The widest text output, whatever the terminal: longer lines read badly. */
export const MAX_WIDTH = 100;
/** The narrowest width honoured (a smaller COLUMNS is taken as a mistake). */
const MIN_WIDTH = 40;

/**
 * The columns text output may use: the terminal's width (`COLUMNS`, or the stream's when it is a
 * terminal), at most 100; 100 when neither is known (piped output).
 */
export function textWidth(stream: { columns?: number; isTTY?: boolean } = process.stdout): number {
  const env = Number(process.env.COLUMNS);
  const cols = Number.isInteger(env) && env > 0 ? env : stream.isTTY ? stream.columns : undefined;
  return cols ? Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, cols)) : MAX_WIDTH;
}

// eslint-disable-next-line no-control-regex
const COLOUR = /\x1b\[[0-9;]*m/g;

/** The columns a line takes on a terminal (colour codes take none). */
export const visibleLength = (line: string): number => line.replace(COLOUR, '').length;

/** Cuts a line that would run past `width` columns with "…" (a cut line loses its colours). */
export function cutLine(line: string, width = textWidth()): string {
  const visible = line.replace(COLOUR, '');
  return visible.length <= width ? line : `${visible.slice(0, width - 1)}…`;
}

/**
 * Wraps every line longer than `width` at spaces; its continuation lines are indented to where its
 * text begins after a marker (`✔ tls  23 ms  `, `- `, `1. `) or to its own indentation. A word
 * longer than the room left (a URL, a fingerprint) stays whole on a line of its own, so that it can
 * still be copied. Colour codes count for nothing; a wrapped line keeps them.
 */
export function wrapLines(text: string, width = textWidth(), hang?: (line: string) => number): string {
  return text
    .split('\n')
    .map((line) => (visibleLength(line) <= width ? line : wrapOne(line, width, hang)))
    .join('\n');
}

/**
 * Where the text of a line begins: after its indentation and a list or step marker (a step's or an
 * entry's name is followed by two spaces or more: `✔ tls  23 ms  `, `✖ out-cert-path  `).
 */
function textStart(plain: string): number {
  const m = /^(\s*)(?:[✔✖!·?→+−-]\s+\S+\s{2,}(?:\d+ ms\s+)?|[✔✖!·?→+−-]\s+|└─\s+|\d+\.\s+|[-•]\s+)?/.exec(
    plain,
  );
  const at = m ? m[0].length : 0;
  // A marker that eats most of the line is no marker.
  return at > 40 ? (m?.[1]?.length ?? 0) : at;
}

function wrapOne(line: string, width: number, hang?: (line: string) => number): string {
  const plain = line.replace(COLOUR, '');
  const indent = ' '.repeat(Math.max(0, Math.min(hang ? hang(plain) : textStart(plain), width - 20)));
  const out: string[] = [];
  let current = '';
  // Each word with the spaces before it: the first line keeps its own spacing.
  for (const token of line.match(/ *[^ ]+/g) ?? []) {
    if (current.trim() && visibleLength(current) + visibleLength(token) > width) {
      out.push(current);
      current = indent + token.trimStart();
    } else current += token;
  }
  if (current.trim()) out.push(current);
  return out.join('\n');
}

/**
 * Text output made to fit `width` columns: long lines wrapped at spaces (wrapLines, `hang` as
 * there), then a word still too long for its line (a URL, a DN, a key) cut with "…"; the full
 * text is in the command's --json. Every command's text output goes through it.
 */
export function fitText(text: string, width = textWidth(), hang?: (line: string) => number): string {
  return wrapLines(text, width, hang)
    .split('\n')
    .map((line) => cutLine(line, width))
    .join('\n');
}

/**
 * A shell command as lines within `width`: cut at spaces, each line but the last ending in " \\",
 * the continuations indented two more than the first. An option and its value stay on one line
 * ("--direction inbound"); a word longer than a line stays whole (a command must stay runnable when
 * copied). The lab prints its probes with it (test/cli-readme.test.ts runs them as printed).
 */
export function wrapCommand(line: string, width = textWidth()): string[] {
  const indent = /^ */.exec(line)![0];
  // An option followed by a word that is no option: its value, one unit with it.
  const words = line
    .trim()
    .split(/ +/)
    .reduce<string[]>((units, w) => {
      const last = units[units.length - 1];
      if (last?.startsWith('-') && !last.includes(' ') && !w.startsWith('-'))
        units[units.length - 1] = `${last} ${w}`;
      else units.push(w);
      return units;
    }, []);
  const out: string[] = [];
  let current = indent + words.shift()!;
  for (const w of words) {
    const next = `${current} ${w}`;
    // Room for the " \\" that ends a line that goes on.
    if (visibleLength(next) + 2 > width && current.trim()) {
      out.push(`${current} \\`);
      current = `${indent}  ${w}`;
    } else current = next;
  }
  out.push(current);
  return out;
}

/**
 * A fingerprint (hex bytes joined by colons: SHA-256 `8B:4A:...`, 95 characters) after `label` (its
 * indentation included), as lines of at most `width` columns: on the label's line when it fits there,
 * else whole on a line of its own under the label's indentation, else broken after a colon into
 * lines of whole bytes. Never cut with "…": a fingerprint is copied and compared by people.
 */
export function fingerprintLines(label: string, fingerprint: string, width = textWidth()): string[] {
  if (visibleLength(label) + 1 + fingerprint.length <= width) return [`${label} ${fingerprint}`];
  const indent = /^ */.exec(label)![0];
  const room = Math.max(3, width - indent.length);
  if (fingerprint.length <= room) return [label, indent + fingerprint];
  // Each byte but the last takes three columns with its colon; a line ends with its colon.
  const bytes = fingerprint.split(':');
  const perLine = Math.max(1, Math.floor(room / 3));
  const lines = [label];
  for (let i = 0; i < bytes.length; i += perLine) {
    const last = i + perLine >= bytes.length;
    lines.push(`${indent}${bytes.slice(i, i + perLine).join(':')}${last ? '' : ':'}`);
  }
  return lines;
}

/** `n` and the word for it, one or many: "1 entry", "2 entries", "1,204 incidents". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Words as a list in a sentence: "a", "a and b", "a, b and c". */
export function andList(words: readonly string[]): string {
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)!}` : (words[0] ?? '');
}

/** A report's text output: fitText, or with `full` (show everything whole) wrapped but never cut. */
export const fitOutput = (text: string, full = false): string => (full ? wrapLines(text) : fitText(text));
