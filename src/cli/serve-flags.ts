// The flags of `linkdoctor serve` that need parsing, kept apart from the server so that main.ts can
// name them without loading fastify.
import { UserError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
};

/** "200MB", "1.5 GB", "65536": a byte count from 1 KB to 64 GB, or a usage error naming the flag. */
export function sizeOption(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 1024 && bytes <= 64 * 1024 ** 3))
    throw new UserError(
      `--max-upload takes a size from 1KB to 64GB (e.g. 200MB), not "${raw.slice(0, 20).replace(/[^\x20-\x7e]/g, '?')}"`,
    );
  return bytes;
}

/** `--allow-targets a,b --allow-targets c` → [a, b, c]. */
export const targetsOption = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];
