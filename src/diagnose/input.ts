// Reads one incident's text from arguments, a file or standard input, and refuses what is not
// an error text (binary data, an empty input, more than one incident can be) in one sentence.
import { redact } from '../redact.js';
import { UserError } from '../errors.js';
import { openRegularFile } from '../fs-read.js';
import { decodeUtf16, utf16Order, utf16Sentence } from '../utf16.js';

/** An incident is a message, a stack trace or a log entry: a few MB at most. */
export const MAX_INCIDENT_BYTES = 4 * 1024 * 1024;

export interface IncidentText {
  text: string;
  /** Things the user should know about how the input was read (a lossy decode, say). */
  warnings: string[];
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

function tooLarge(size: number | undefined): UserError {
  return new UserError(
    `the input is ${size === undefined ? 'more than ' + mb(MAX_INCIDENT_BYTES) : mb(size)}; diagnose reads one incident ` +
      `(an error message, a stack trace or a log entry) of up to ${mb(MAX_INCIDENT_BYTES)}: cut out the failing part`,
  );
}

/** Decodes bytes to text: UTF-8 (or UTF-16 with a byte-order mark); refuses binary data. */
export function decodeIncident(buf: Buffer, source: string): IncidentText {
  const warnings: string[] = [];
  // UTF-16 with a byte order mark (Windows PowerShell 5's `>`): read as scan reads it.
  let text = decodeUtf16(buf);
  if (text === undefined) {
    if (buf[0] === 0x1f && buf[1] === 0x8b)
      // gzip: a log, most likely; scan reads it (and finds every incident in it).
      throw new UserError(
        `${source} is gzip-compressed: \`linkdoctor scan ${source === 'standard input' ? '-' : source}\` reads gzip and diagnoses every incident in it`,
      );
    const nul = buf.indexOf(0);
    // UTF-16 without a byte order mark (a NUL every other byte): named, as scan names it.
    const order = nul !== -1 ? utf16Order(buf.subarray(0, 4096)) : undefined;
    if (order) throw new UserError(`${source} ${utf16Sentence(order)}`);
    if (nul !== -1)
      throw new UserError(`${source} looks binary (a NUL byte at offset ${nul}), not an error text`);
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf);
    } catch {
      text = new TextDecoder('utf-8').decode(buf);
      warnings.push(`${source} is not valid UTF-8: the bytes that are not were read as U+FFFD`);
    }
  }
  const sample = text.slice(0, 65536);
  // eslint-disable-next-line no-control-regex
  const control = sample.match(/[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]/g)?.length ?? 0;
  if (sample.length >= 16 && control / sample.length > 0.1)
    throw new UserError(
      `${source} looks binary (${Math.round((100 * control) / sample.length)}% control bytes), not an error text`,
    );
  if (!text.trim())
    throw new UserError(
      `${source} is empty: give the error text as arguments, with --file, or on standard input`,
    );
  // Secrets never reach a report: the text is diagnosed as it will be shown.
  return { text: redact(text), warnings };
}

async function readBounded(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > MAX_INCIDENT_BYTES) throw tooLarge(undefined);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export async function readIncident(opts: {
  args: string[];
  file?: string;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}): Promise<IncidentText> {
  if (opts.args.length && opts.file)
    throw new UserError('give the error text either as arguments or with --file, not both');
  // `-`, as `scan -` and most tools read it: standard input.
  const dash = opts.file === '-' || (opts.args.length === 1 && opts.args[0] === '-');
  if (dash) {
    return decodeIncident(await readBounded(opts.stdin as AsyncIterable<Buffer>), 'standard input');
  }
  if (opts.args.length) return decodeIncident(Buffer.from(opts.args.join(' ')), 'the text');
  if (opts.file) {
    if (/\.gz$/i.test(opts.file))
      throw new UserError(
        `${opts.file} is gzip-compressed: \`linkdoctor scan ${opts.file}\` reads gzip and diagnoses every incident in it`,
      );
    const { handle, stats } = await openRegularFile(opts.file, {
      what: 'error text file',
      pipeHint: `pipe it in instead (... | linkdoctor diagnose -)`,
    });
    try {
      if (stats.size > MAX_INCIDENT_BYTES) throw tooLarge(stats.size);
      return decodeIncident(await readBounded(handle.createReadStream({ autoClose: false })), opts.file);
    } finally {
      await handle.close();
    }
  }
  if (opts.stdin.isTTY)
    throw new UserError(
      'give the error text as arguments, with --file FILE, or on standard input (see --help)',
    );
  return decodeIncident(await readBounded(opts.stdin as AsyncIterable<Buffer>), 'standard input');
}
