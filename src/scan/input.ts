// Opening what scan reads: files or standard input, gzip-compressed or not, and telling by their
// first bytes whether they are a text log, a message processing log export or a HAR file.
import { stat, type FileHandle } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FileReadError, openRegularFile, reason } from '../fs-read.js';
import { utf16Bom, utf16Order, utf16ToUtf8 } from '../utf16.js';

export type Format = 'text' | 'mpl' | 'har';

/**
 * How far ahead of the scan (compressed bytes) a gzip input is inflated only to be counted, when its
 * inflated size is bounded (a server's upload cap): a bomb's size shows long before the scan, which
 * reads far more slowly than zlib inflates, gets there. Up to twice this is held in memory.
 */
const INFLATE_AHEAD = 2 * 1024 * 1024;

/** An archive or compressed data scan does not open itself (it reads gzip only), told by its magic bytes. */
export type Packed = 'zip' | 'bzip2' | 'xz' | 'zstd';

/** The magic bytes of each Packed kind at the start of an input. */
const MAGIC: [Packed, number[]][] = [
  // A local file header, or the end record of an empty archive.
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
  ['zip', [0x50, 0x4b, 0x05, 0x06]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/**
 * What packed the input, by its first bytes: zip, bzip2 ("BZh", a block size 1-9, then a block's
 * magic (the digits of pi) or the end of an empty stream's (of the square root of pi)), xz, zstd.
 */
function packed(head: Buffer): Packed | undefined {
  for (const [kind, magic] of MAGIC) if (magic.every((b, i) => head[i] === b)) return kind;
  const block = head.toString('hex', 4, 10);
  if (
    head.toString('latin1', 0, 3) === 'BZh' &&
    head[3]! >= 0x31 &&
    head[3]! <= 0x39 &&
    (block === '314159265359' || block === '177245385090')
  )
    return 'bzip2';
  return undefined;
}

/**
 * The sentence scan refuses a packed input with: what it is, and the command that unpacks it into
 * scan (`name` in it when it is a plain file name a shell takes as it is, else FILE).
 */
export function packedSentence(kind: Packed, name: string): string {
  const arg = name !== '-' && /^[\w./@%+=:,-]+$/.test(name) && !name.startsWith('-') ? name : 'FILE';
  const [what, command] = {
    zip: ['a zip archive', `unzip -p ${arg}`],
    bzip2: ['bzip2-compressed data', `bzcat ${arg}`],
    xz: ['xz-compressed data', `xzcat ${arg}`],
    zstd: ['zstd-compressed data', `zstdcat ${arg}`],
  }[kind];
  return `is ${what}, which scan does not open (it reads gzip only): ${command} | linkdoctor scan - reads what is in it`;
}

/** How much of an input is looked at to tell its format. */
const SNIFF_BYTES = 64 * 1024;
const READ_SIZE = 1 << 18;

export class InputError extends Error {}

export interface Opened {
  /** The (decompressed) bytes. */
  chunks: AsyncIterable<Buffer>;
  gzip: boolean;
  /**
   * What the first bytes say the input is: a format, or what scan refuses (`binary`, `utf16`, an
   * HTML page, a JSON document that is neither an MPL export nor a HAR file).
   */
  sniffed: Format | 'binary' | 'utf16' | 'utf16le' | 'utf16be' | 'html' | 'json' | Packed;
  /** An HTML page's title (`<title>`), whitespace made single spaces, at most 80 characters. */
  title?: string;
  /**
   * Once `chunks` has ended: why a gzip input ended before its end (cut off, damaged data, a read
   * error), in a sentence; undefined when it was read whole. What was decompressed before it is in
   * `chunks`, so it is scanned as any input is (`zcat` recovers the same).
   */
  damage?: () => string | undefined;
  /**
   * For a gzip input opened with a `maxInflated` bound: true once the input was found to inflate to
   * more than that, which the counting inflater ahead of the scan sees first.
   */
  inflatesPast?: () => boolean;
  /** Closes the file (nothing for standard input): an input refused after its first bytes is not read on. */
  close: () => void;
}

/** Size on disk, for the progress bar; also refuses folders and missing files in one sentence. */
export async function sizeOf(file: string): Promise<number | undefined> {
  if (file === '-') return undefined;
  try {
    // What is not a regular file counts nothing: openInput refuses it, in one sentence.
    const st = await stat(file);
    return st.isFile() ? st.size : 0;
  } catch (e) {
    throw new InputError(`cannot be read: ${reason(e)}`);
  }
}

/** The chunks of `src`, with the first `min` bytes (or all, if fewer) available up front. */
async function peek(
  src: AsyncIterable<Buffer>,
  min: number,
): Promise<{ head: Buffer; rest: AsyncIterable<Buffer>; whole: boolean }> {
  const it = src[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < min) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value);
    size += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length) yield head;
      if (!done) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      // A reader that stops early (a server's cap): the source is let go (a file closed, a stream destroyed).
      await it.return?.();
    }
  }
  return { head, rest: rest(), whole: done };
}

/**
 * The decompressed chunks of `src`. An error of either side (data cut off, damaged, unreadable) ends
 * them as an end would, after every byte decompressed before it (iterating the gunzip stream itself
 * would throw and lose what it held: a gzip file cut at 300 bytes gave nothing), and is told by
 * `damage()`.
 */
function gunzip(
  src: AsyncIterable<Buffer>,
  maxInflated?: number,
): {
  chunks: AsyncIterable<Buffer>;
  damage: () => string | undefined;
  inflatesPast: () => boolean;
} {
  const z = createGunzip();
  const out = new PassThrough();
  let damage: string | undefined;
  let past = false;
  const source = Readable.from(src);
  let counter: ReturnType<typeof createGunzip> | undefined;
  if (maxInflated === undefined) pipeline(source, z).catch(() => {});
  else {
    // A second inflater runs ahead of the scan (INFLATE_AHEAD, the compressed bytes between them)
    // and only counts. The scan's own inflater goes at the scan's pace, and the scan reads a run of
    // empty lines at 4-8 MB/s: a 1.3 MB gzip of 300 MB of newlines took 44 s of a core before its
    // bound was reached. Its output is counted in blocks of 1 MB (one per trip to zlib's thread,
    // which the busy scan lets happen only now and then), not the default 16 KB.
    const c = (counter = createGunzip({ chunkSize: 1 << 20 }));
    let inflated = 0;
    c.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > maxInflated) {
        past = true;
        c.destroy();
      }
    });
    c.on('error', () => {}); // damaged data: the inflater that reads says so
    source.pipe(c);
    pipeline(source, new PassThrough({ highWaterMark: INFLATE_AHEAD }), z).catch(() => {});
  }
  z.on('data', (chunk: Buffer) => {
    if (!out.write(chunk)) z.pause();
  });
  out.on('drain', () => z.resume());
  z.once('end', () => out.end());
  // Read no further than the reader: once it let go of the chunks, inflating stops.
  out.once('close', () => {
    z.destroy();
    counter?.destroy();
  });
  z.once('error', (e: NodeJS.ErrnoException) => {
    damage =
      e.code === 'Z_BUF_ERROR'
        ? 'the gzip data ends early, a truncated file'
        : e.code?.startsWith('Z_')
          ? `the gzip data is damaged (${e.message})`
          : `reading stopped (${e.message})`;
    out.end();
  });
  return { chunks: out, damage: () => damage, inflatesPast: () => past };
}

/**
 * The format the first bytes tell. `whole`: `head` is the whole input, so a JSON document that
 * does not parse (`{"broken": `) is known to be broken: it goes to the JSON reader, which says
 * where it ends, rather than being read as a text log.
 */
export function sniff(head: Buffer, whole = false): Opened['sniffed'] {
  const archive = packed(head);
  if (archive) return archive;
  if (utf16Bom(head)) return 'utf16';
  const bomless = utf16Order(head.subarray(0, 4096));
  if (bomless) return bomless;
  const start = head.toString('latin1', 0, Math.min(head.length, SNIFF_BYTES)).replace(/^\xef\xbb\xbf/, '');
  if (/^\s*[[{]/.test(start)) {
    if (/"log"\s*:\s*\{/.test(start) && /"(?:entries|creator)"\s*:/.test(start)) return 'har';
    if (/"(?:MessageGuid|IntegrationFlowName)"\s*:/.test(start) || /^\s*\{\s*"d"\s*:/.test(start))
      return 'mpl';
    if (whole && brokenJson(head.toString('utf8'))) return 'mpl';
    // A JSON document of several lines (package.json, an error answer) that is none of these: not
    // JSON lines (whose first line parses), which may be an application's log and is read as text.
    const text = head.toString('utf8').replace(/^\ufeff/, '');
    const nl = text.indexOf('\n');
    if (/^\s*\{/.test(text) && nl !== -1 && !parses(text.slice(0, nl)) && !(whole && brokenJson(text)))
      return 'json';
  }
  // The older XML export of message processing logs (.mpl): <ns2:local><mplId>...; or the OData
  // API's Atom XML, its default format: <feed ...><entry>...<d:MessageGuid>, or an empty feed of them.
  if (/^\s*</.test(start)) {
    if (/<(?:\w+:)?mplId>/.test(start)) return 'mpl';
    if (
      /<(?:\w+:)?(?:feed|entry)[\s>]/.test(start) &&
      /<(?:\w+:)?MessageGuid>|com\.sap\.hci\.api\.MessageProcessingLog|>MessageProcessingLogs</.test(start)
    )
      return 'mpl';
    // A web page (a login or SSO page saved instead of the OData API's answer).
    if (/^\s*(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b/i.test(start)) return 'html';
  }
  // NUL bytes are left out of the judgement: a run of them is what `logrotate copytruncate` leaves at
  // the head of a log whose writer kept its offset (a sparse hole), or a crash in a preallocated
  // file; the text reader skips such stretches as binary lines and says so. Data that is binary
  // throughout (compressed, encrypted) is still told by its other bytes.
  const sample = withoutNul(head).subarray(0, 4096);
  let control = 0;
  for (const b of sample)
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) control++;
  // A text log with a little garbage in it is still a text log; a file that starts as garbage is not.
  if (sample.length >= 16 && control * 4 > sample.length) return 'binary';
  // Nor is one whose bytes are mostly not UTF-8 (random or compressed data has few control bytes but
  // is not text): as diagnose judges a text, more than 10% control characters or bytes that are
  // not UTF-8. A log in Latin-1 or Windows-1252 has far fewer (an accented letter here and there).
  const chars = new TextDecoder('utf-8').decode(sample);
  // eslint-disable-next-line no-control-regex
  const odd = chars.match(/[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]/g)?.length ?? 0;
  if (chars.length >= 16 && odd * 10 > chars.length) return 'binary';
  return 'text';
}

/** `bytes` without its NUL bytes (itself when it has none). */
function withoutNul(bytes: Buffer): Buffer {
  if (!bytes.includes(0)) return bytes;
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (const b of bytes) if (b !== 0) out[n++] = b;
  return out.subarray(0, n);
}

const parses = (t: string) => {
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
};

/** A JSON document (not JSON lines: its first line alone does not parse either) that does not parse. */
function brokenJson(text: string): boolean {
  const first = text.trim().split('\n')[0]!;
  return !parses(text) && !parses(first);
}

/** The `<title>` of an HTML page's first bytes, as Opened.title. */
function titleOf(head: Buffer): { title?: string } {
  const m = /<title[^>]*>([^<]*)</i.exec(head.toString('utf8'));
  const title = m?.[1]?.replace(/\s+/g, ' ').trim().slice(0, 80);
  return title ? { title } : {};
}

/**
 * A log file opened through the one reader (src/fs-read.ts): a folder, a FIFO, a socket or a device
 * is an InputError (the file is reported and skipped), never a read that blocks or has no end. The
 * stream made of the handle closes it.
 */
async function openLog(file: string): Promise<FileHandle> {
  try {
    return (
      await openRegularFile(file, {
        what: 'log file',
        pipeHint: 'pipe it in instead (... | linkdoctor scan -)',
      })
    ).handle;
  } catch (e) {
    throw e instanceof FileReadError ? new InputError(e.predicate) : e;
  }
}

/**
 * Opens a file ("-" = standard input), counting the bytes read as they come, and sniffs it.
 * `maxInflated`: a gzip input is inflated ahead of the reader to be counted against this many bytes
 * (Opened.inflatesPast tells when it is more).
 */
export async function openInput(
  file: string,
  stdin: NodeJS.ReadableStream,
  onBytes: (n: number) => void,
  opts: { maxInflated?: number } = {},
): Promise<Opened> {
  const stream =
    file === '-' ? undefined : (await openLog(file)).createReadStream({ highWaterMark: READ_SIZE });
  const raw: AsyncIterable<Buffer> = stream ?? (stdin as AsyncIterable<Buffer>);
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of raw) {
      onBytes(chunk.length);
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    }
  }
  const start = await peek(counted(), 2);
  const gzip = start.head[0] === 0x1f && start.head[1] === 0x8b;
  const z = gzip ? gunzip(start.rest, opts.maxInflated) : undefined;
  let { head, rest, whole } = await peek(z ? z.chunks : start.rest, SNIFF_BYTES);
  let sniffed = sniff(head, whole);
  // UTF-16 with a byte order mark (Windows PowerShell 5's `>`): read as UTF-8, as diagnose reads it.
  const bom = sniffed === 'utf16' ? utf16Bom(head) : undefined;
  if (bom) {
    ({ head, rest, whole } = await peek(utf16ToUtf8(rest, bom), SNIFF_BYTES));
    sniffed = sniff(head, whole);
  }
  return {
    chunks: rest,
    gzip,
    sniffed,
    ...(sniffed === 'html' ? titleOf(head) : {}),
    ...(z ? { damage: z.damage, inflatesPast: z.inflatesPast } : {}),
    close: () => void stream?.destroy(),
  };
}
