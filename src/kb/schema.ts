// The schema of a knowledge-base entry file. Loaded only when entries are validated
// (kb lint, or a cache miss), so that a cold `diagnose` does not pay for zod.
import { z } from 'zod';

const regex = z.string().min(1);

const symptom = z
  .strictObject({
    pattern: regex.optional(),
    status: z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599))]).optional(),
    signal: z.string().min(1).optional(),
    value: regex.optional(),
    weight: z.number().gt(0).lte(1),
    means: z.string().min(1).optional(),
    cause: z.string().min(1).optional(),
  })
  .refine((s) => [s.pattern, s.status, s.signal].filter((x) => x !== undefined).length === 1, {
    message: 'a symptom needs exactly one of pattern, status or signal',
  })
  .refine((s) => s.value === undefined || s.signal !== undefined, { message: 'value only goes with signal' });

const id = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'ids are lower-case words joined by hyphens');
const causeIds = z.array(id).min(1).optional();

/**
 * Where a statement comes from: `seed` (the entry's row of SAP's troubleshooting table),
 * `inference` (no source states it), a page `{title, url}` (documentation or community post, the
 * title as read) or an SAP note `{note, title?}`.
 */
const source = z.union([
  z.enum(['seed', 'inference']),
  z.strictObject({ title: z.string().min(1), url: z.url({ protocol: /^https?$/ }) }),
  z.strictObject({
    note: z.string().regex(/^\d{6,10}$/, 'an SAP note number is 6 to 10 digits'),
    title: z.string().min(1).optional(),
  }),
]);
const sources = z.array(source).min(1).optional();

/** A cause: a plain sentence, or named (`id`, `title`) with examples that must select it, or `{text, sources}`. */
const cause = z.union([
  z.string().min(1).transform((text) => ({ text })),
  z.strictObject({
    id: id.optional(),
    title: z.string().min(1).optional(),
    text: z.string().min(1),
    examples: z.array(z.string().min(1)).optional(),
    sources,
  }).refine((c) => (c.id === undefined) === (c.title === undefined), {
    message: 'a named cause has both an id and a title',
  }),
]);

/** A fix: a plain sentence (for every cause), or `{text, for: [cause ids], sources}`. */
const fix = z.union([
  z.string().min(1).transform((text) => ({ text })),
  z.strictObject({ text: z.string().min(1), for: causeIds, sources }),
]);

const reference = z.strictObject({
  title: z.string().min(1),
  url: z.url({ protocol: /^https?$/ }),
  note: z
    .string()
    .regex(/^\d{6,10}$/, 'an SAP note number is 6 to 10 digits')
    .optional(),
});

export const entrySchema = z.strictObject({
  id,
  title: z.string().min(1),
  direction: z.enum(['inbound', 'outbound', 'any']),
  seed: z.number().int().min(1).max(22).optional(),
  summary: z.string().min(1),
  symptoms: z.array(symptom).min(1),
  against: z.array(symptom).optional(),
  causes: z.array(cause).min(1),
  checks: z
    .array(
      z.strictObject({ text: z.string().min(1), probe: z.string().min(1).optional(), for: causeIds, sources }),
    )
    .min(1),
  fixes: z.array(fix).min(1),
  references: z.array(reference).min(1),
  decide: z.string().min(1).optional(),
  examples: z.strictObject({
    match: z.array(z.string().min(1)).min(3, 'at least 3 texts the entry must match'),
    noMatch: z.array(z.string().min(1)).min(2, 'at least 2 texts the entry must not match'),
  }),
});

export type EntryInput = z.infer<typeof entrySchema>;

/** Human path of a zod issue: `symptoms[2].pattern`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}
