// UTF-16 text, as Windows tools write it (PowerShell 5's `>`, Event Viewer exports, some .NET
// loggers): with a byte order mark it is read as any text (diagnose, scan, known_hosts); without
// one its byte order is told, for a sentence that names it.

/** The encoding a UTF-16 byte order mark at the start of `head` names, else undefined. */
export function utf16Bom(head: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return undefined;
}

/**
 * The byte order of UTF-16 text without a byte order mark: ASCII text in it has a 0 byte every
 * other byte, at odd offsets (little-endian) or even ones (big-endian). Undefined when the sample
 * is not so (at least 16 bytes, 90% of the pairs alike).
 */
export function utf16Order(sample: Uint8Array): 'utf16le' | 'utf16be' | undefined {
  const pairs = sample.length >> 1;
  if (pairs < 8) return undefined;
  let le = 0;
  let be = 0;
  for (let i = 0; i + 1 < sample.length; i += 2) {
    if (sample[i] !== 0 && sample[i + 1] === 0) le++;
    else if (sample[i] === 0 && sample[i + 1] !== 0) be++;
  }
  return le * 10 >= pairs * 9 ? 'utf16le' : be * 10 >= pairs * 9 ? 'utf16be' : undefined;
}

/**
 * `buf` as text when it starts with a UTF-16 byte order mark (the mark left out), else undefined.
 * A byte pair that is no character (a lone surrogate) is U+FFFD.
 */
export function decodeUtf16(buf: Uint8Array): string | undefined {
  const enc = utf16Bom(buf);
  return enc ? new TextDecoder(enc).decode(buf) : undefined;
}

/**
 * The UTF-8 bytes of UTF-16 `chunks` in `encoding`, decoded as they come (a character split across
 * two chunks is joined; a byte order mark at the start is left out): what a reader of UTF-8 lines
 * reads. Memory: one chunk at a time.
 */
export async function* utf16ToUtf8(
  chunks: AsyncIterable<Buffer>,
  encoding: 'utf-16le' | 'utf-16be',
): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder(encoding);
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield Buffer.from(text, 'utf8');
  }
  const last = decoder.decode();
  if (last) yield Buffer.from(last, 'utf8');
}

/** The sentence for UTF-16 text linkdoctor does not read (no byte order mark): its order and iconv's command. */
export function utf16Sentence(order: 'utf16le' | 'utf16be' | 'utf16'): string {
  // Without a byte order mark, iconv's UTF-16 is big-endian: the order found is named.
  const from = { utf16: 'UTF-16', utf16le: 'UTF-16LE', utf16be: 'UTF-16BE' }[order];
  return `is UTF-16 text without a byte order mark: convert it to UTF-8 first (iconv -f ${from} -t UTF-8)`;
}
