// `mask` makes messages that differ only in their numbers, ids, times and hosts the same, so that
// unknown incidents can be grouped (after `redact` has removed secrets).
import { redact } from '../redact.js';

const MASKS: [RegExp, string][] = [
  // Times first: their digits would otherwise become separate numbers.
  [
    /\b\d{4}[-/]\d{2}[-/]\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g,
    '<time>',
  ],
  [/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<time>'],
  [/\/Date\(\d+\)\//g, '<time>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // Message GUIDs of Cloud Integration ("AGk_xKgivsDaGSUpuvz-eEFzhKZO") and other long mixed ids.
  [/\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{20,}\b/g, '<id>'],
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<id>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '<host>'],
  [/(:\/\/|@)[\w.-]+/g, '$1<host>'],
  [
    /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|de|eu|us|uk|fr|ch|at|nl|jp|cn|in|local|internal|corp|lan|cloud)\b(?!\.\w)/gi,
    '<host>',
  ],
  [/\b\d+\b/g, '<n>'],
];

/** The most characters of a masked message; it is cut before a mask that would not fit whole. */
const MASKED_MAX = 200;

/**
 * The message with secrets removed and numbers, ids, times and hosts masked, on one line, at most
 * 200 characters: a cut never falls inside a mask (`statusCode: <n` would lose what it was).
 */
export function mask(message: string): string {
  let out = redact(message).replace(/\s+/g, ' ').trim();
  for (const [re, to] of MASKS) out = out.replace(re, to);
  if (out.length <= MASKED_MAX) return out;
  const cut = out.slice(0, MASKED_MAX);
  const open = cut.lastIndexOf('<');
  return open > cut.lastIndexOf('>') && /^<(?:time|id|host|n)>/.test(out.slice(open))
    ? cut.slice(0, open)
    : cut;
}
