// Records out of JSON of any size, in constant memory: the elements of an OData answer's
// `d.results` (or `value`, or a top-level array), of a HAR file's `log.entries`, or the objects of
// a JSON-lines file, one at a time. A byte scanner follows the structure and captures one record's
// bytes, cutting over-long strings (a HAR's base64 bodies) so that a record stays small; only that
// record is parsed. After a syntax error it reports the place and goes on at the next line that
// starts an object, so that one broken record does not cost the rest of the file.
import type { Place, Problem, Report } from './incident.js';

/** Strings longer than this are cut inside a captured record (the start is what a reader needs). */
export const MAX_STRING = 64 * 1024;
/** A record larger than this, even with its strings cut, is skipped. */
const MAX_RECORD = 16 * 1024 * 1024;
/** Syntax errors reported per file before going quiet. */
const MAX_ERRORS = 20;

/** The arrays whose elements are records, by the keys that lead to them. */
const RECORD_PATHS = new Set(['', 'd', 'd/results', 'results', 'value', 'log/entries']);

/** An OData answer's link to its next page (v2 `__next`, v4 `@odata.nextLink`), on its wrapper. */
const NEXT_KEYS = new Set(['__next', '@odata.nextLink', 'odata.nextLink']);
/** Its count of all the entities asked for (`$inlinecount=allpages`, `$count=true`). */
const COUNT_KEYS = new Set(['__count', '@odata.count', 'odata.count']);

/**
 * The problem of an export that is one page of a longer OData answer (`next`: the key of its link
 * to the next page) or whose count of entities (`count`) differs from the `read` records: the rest
 * was not scanned (the API answers at most 1000 entries per call, monitoring-tools.md §C).
 * Undefined when neither is so.
 */
export function pageProblem(
  file: string,
  read: number,
  next: string | undefined,
  count: number | undefined,
): Problem | undefined {
  const records = `${read} ${read === 1 ? 'record was' : 'records were'} read`;
  if (next)
    return {
      place: { file },
      message: `is one page of a longer answer (it has a ${next} link to the next page${count !== undefined ? `, and counts ${count} messages` : ''}): ${records}, the next pages were not scanned (linkdoctor tenant failures reads every page)`,
      incomplete: true,
    };
  if (count !== undefined && count !== read)
    return {
      place: { file },
      message: `counts ${count} messages but ${records}: the rest is not in this export`,
      incomplete: true,
    };
  return undefined;
}

export interface JsonRecord {
  value: unknown;
  place: Place;
}

interface Frame {
  array: boolean;
  /** The keys from the root to this container, joined by "/". */
  path: string;
  /** The last key read (objects). */
  key: string;
  /** Its elements are records. */
  records: boolean;
}

interface Capture {
  pieces: Buffer[];
  size: number;
  /** Start of the piece being captured in the current chunk; -1 while a long string is skipped. */
  from: number;
  depth: number;
  place: Place;
}

const WS = new Set([0x20, 0x09, 0x0d, 0x0a]);

export async function* jsonRecords(
  chunks: AsyncIterable<Buffer>,
  file: string,
  report: Report,
): AsyncGenerator<JsonRecord> {
  const stack: Frame[] = [];
  let offset = 0; // of the current chunk
  let line = 1;
  let records = 0;
  let errors = 0;
  let expectKey = false;
  let inString = false;
  let esc = false;
  let hexLeft = 0;
  let strLen = 0;
  let readingKey = false;
  let key = '';
  let capture: Capture | null = null;
  /** After an error: skipping to a line that starts with { or [. */
  let resync = false;
  let lineStart = true;
  let out: JsonRecord[] = [];
  /** The key of the wrapper's next-page link once read, its count, and the one being read. */
  let next: string | undefined;
  let count: number | undefined;
  let meta: { key: string; value: string } | undefined;

  const fail = (at: number, message: string) => {
    if (++errors <= MAX_ERRORS)
      report({ place: { file, line, offset: at }, message: `${message}; reading on at the next object` });
    if (errors === MAX_ERRORS) report({ place: { file }, message: 'more JSON errors: not reported' });
    stack.length = 0;
    capture = null;
    inString = readingKey = esc = false;
    resync = true;
    lineStart = false;
  };

  const finish = (c: Capture) => {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(c.pieces).toString('utf8'));
    } catch (e) {
      report({ place: c.place, message: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      out.push({ value, place: c.place });
  };

  /** A value starts at chunk[i]: start capturing it if it is a record. */
  const valueStarts = (i: number, isObject: boolean) => {
    const parent = stack.at(-1);
    if (capture || !isObject || (parent && !parent.records)) return;
    capture = {
      pieces: [],
      size: 0,
      from: i,
      depth: stack.length,
      place: { file, line, offset: offset + i, record: records++ },
    };
  };

  /**
   * `top` is the wrapper of an OData answer (`{"d": {...}}` or the document), where its next-page
   * link and count are: taken for a record until its records show up (a capture at depth 0).
   */
  const onWrapper = (top: Frame) =>
    !top.array && (top.path === 'd' || top.path === '') && (!capture || capture.depth === 0);

  const push = (array: boolean) => {
    const parent = stack.at(-1);
    const name = parent ? (parent.array ? '[]' : parent.key) : '';
    const path = parent ? (parent.path ? `${parent.path}/${name}` : name) : '';
    const isRecords = array && RECORD_PATHS.has(path);
    // A wrapper ({"d": {"results": [...]}}) was taken for a record until its records showed up.
    if (isRecords && capture && capture.depth < stack.length) {
      capture = null;
      records--;
    }
    stack.push({ array, path, key: '', records: isRecords });
  };

  function scan(chunk: Buffer): void {
    const n = chunk.length;
    // A capture goes on in the new chunk, unless it is skipping the rest of a long string.
    const open: Capture | null = capture;
    if (open && open.from !== -1) open.from = 0;
    for (let i = 0; i < n; i++) {
      const b = chunk[i]!;
      if (resync) {
        if (b === 0x0a) {
          line++;
          lineStart = true;
        } else if (lineStart && (b === 0x7b || b === 0x5b)) {
          resync = false;
          i--;
        } else if (!WS.has(b)) lineStart = false;
        continue;
      }
      if (inString) {
        if (esc) {
          esc = false;
          if (b === 0x75) hexLeft = 4;
        } else if (hexLeft > 0) hexLeft--;
        else if (b === 0x5c) esc = true;
        else if (b === 0x22) {
          inString = false;
          if (readingKey) {
            readingKey = false;
            stack.at(-1)!.key = key;
          } else if (meta) {
            if (NEXT_KEYS.has(meta.key)) next = meta.key;
            else if (/^\d+$/.test(meta.value)) count = Number(meta.value);
            meta = undefined;
          }
          if (capture && capture.from === -1) capture.from = i;
          continue;
        } else if (b === 0x0a) {
          fail(offset + i, 'a line break inside a JSON string');
          line++;
          lineStart = true;
          continue;
        }
        if (readingKey && key.length < 100) key += String.fromCharCode(b);
        else if (meta && meta.value.length < 20) meta.value += String.fromCharCode(b);
        if (
          capture &&
          capture.from !== -1 &&
          ++strLen > MAX_STRING &&
          !esc &&
          hexLeft === 0 &&
          (b & 0xc0) !== 0x80
        ) {
          // Cut the string here (not inside an escape or a UTF-8 sequence); the rest is skipped.
          const piece = chunk.subarray(capture.from, i);
          capture.pieces.push(piece, Buffer.from('…'));
          capture.size += piece.length;
          capture.from = -1;
        }
        continue;
      }
      switch (b) {
        case 0x0a:
          line++;
          break;
        case 0x20:
        case 0x09:
        case 0x0d:
          break;
        case 0x22: {
          const top = stack.at(-1);
          if (!top) {
            fail(offset + i, 'a string outside any object');
            break;
          }
          inString = true;
          strLen = 0;
          readingKey = !top.array && expectKey;
          if (readingKey) key = '';
          else if (onWrapper(top) && isMeta(top.key)) meta = { key: top.key, value: '' };
          break;
        }
        case 0x3a:
          expectKey = false;
          break;
        case 0x2c:
          expectKey = !!stack.length && !stack.at(-1)!.array;
          break;
        case 0x7b:
        case 0x5b:
          valueStarts(i, b === 0x7b);
          push(b === 0x5b);
          expectKey = b === 0x7b;
          break;
        case 0x7d:
        case 0x5d: {
          const top = stack.pop();
          if (!top || top.array !== (b === 0x5d)) {
            fail(offset + i, `an unexpected "${String.fromCharCode(b)}"`);
            break;
          }
          expectKey = false;
          const c: Capture | null = capture;
          if (c && stack.length === c.depth) {
            c.pieces.push(chunk.subarray(c.from, i + 1));
            c.size += i + 1 - c.from;
            capture = null;
            finish(c);
          }
          break;
        }
        default: {
          // Numbers, true, false, null: allowed inside containers only.
          const top = stack.at(-1);
          if (!top) fail(offset + i, `"${String.fromCharCode(b)}" where a JSON object should start`);
          // A count written as a number (OData v4: "@odata.count": 3).
          else if (onWrapper(top) && COUNT_KEYS.has(top.key) && b >= 0x30 && b <= 0x39)
            count = (count ?? 0) * 10 + (b - 0x30);
        }
      }
    }
    const c: Capture | null = capture;
    if (c && c.from !== -1) {
      c.pieces.push(chunk.subarray(c.from));
      c.size += n - c.from;
    }
    if (c && c.size > MAX_RECORD) {
      report({ place: c.place, message: 'a record of more than 16 MB (long strings cut): skipped' });
      capture = null;
    }
    offset += n;
  }

  for await (const chunk of chunks) {
    scan(chunk);
    yield* out;
    out = [];
  }
  if (stack.length || inString) {
    const inside = stack.at(-1)?.path.replaceAll('/[]', '[]').replaceAll('/', '.');
    // The record being captured when the input ended is not among those read.
    const read = records - (capture ? 1 : 0);
    report({
      place: { file, line, offset },
      message: `the JSON ends early${inside ? ` inside "${inside}"` : ''}, a truncated file: ${read} ${read === 1 ? 'record was' : 'records were'} read before it, the rest is missing`,
      incomplete: true,
    });
  } else if (errors && !records)
    report({
      place: { file },
      message: 'is not the JSON it should be: no record could be read (the errors above say where it breaks)',
      incomplete: true,
    });
  else {
    const paged = pageProblem(file, records, next, count);
    if (paged) report(paged);
  }
}

const isMeta = (key: string) => NEXT_KEYS.has(key) || COUNT_KEYS.has(key);
