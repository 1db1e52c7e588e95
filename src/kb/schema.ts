// The schema of a knowledge-base entry file. Loaded only when entries are validated
// (kb lint, or a cache miss), so that a cold `diagnose` does not pay for zod.
import { z } from 'zod';
import { closestName } from '../cli/usage-error.js';

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

/** The value at `path` (a zod issue's) of `data`, or undefined. */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const p of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** A value as a problem shows it: `"forever"`, `the number 7`, `a list`, `a map`, `nothing`. */
export function shown(v: unknown): string {
  if (v === undefined || v === null) return 'nothing';
  if (typeof v === 'string') return v ? `"${v.length > 40 ? `${v.slice(0, 39)}…` : v}"` : 'an empty text';
  if (typeof v === 'number' || typeof v === 'boolean')
    return `${typeof v === 'number' ? 'the number ' : ''}${v}`;
  return Array.isArray(v) ? 'a list' : 'a map';
}

/** What a value of each of zod's types is, in a problem's words. */
const KINDS: Record<string, string> = {
  string: 'a text',
  number: 'a number',
  int: 'a whole number',
  array: 'a list',
  object: 'a map',
  boolean: 'true or false',
};
const kindOf = (t: string) => KINDS[t] ?? t;
/** "a, b or c" */
const either = (xs: readonly string[]) =>
  xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}` : (xs[0] ?? '');
const items = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** The object schemas an entry's `path` may be in (a union offers several): their field names. */
function fieldsAt(s: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const at = (t: unknown, rest: readonly PropertyKey[]) => fieldsAt(t as z.ZodType, rest);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
      return at(def.innerType, path);
    case 'pipe':
      return at(def.in, path);
    case 'union':
      return (def.options as z.ZodType[]).flatMap((o) => at(o, path));
    case 'array':
      return typeof path[0] === 'number' ? at(def.element, path.slice(1)) : [];
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      if (!path.length) return Object.keys(shape);
      const next = typeof path[0] === 'string' ? shape[path[0]] : undefined;
      return next ? at(next, path.slice(1)) : [];
    }
    default:
      return [];
  }
}

/**
 * A schema issue of an entry (`v`: the value at its path) as the project says it, not in zod's
 * words: `is one of inbound, outbound or any, not "sideways"`, `is missing`, `is not a field here;
 * did you mean title?`. A message the schema wrote itself (an id's form, "at least 3 texts ...") is
 * kept. An unknown field is one problem per field, at the field's own path.
 */
export function entryIssue(
  issue: z.core.$ZodIssue,
  v: unknown,
): { path: PropertyKey[]; key?: string; message: string }[] {
  const path = [...issue.path];
  const one = (message: string) => [{ path, message }];
  if (issue.code === 'unrecognized_keys')
    return issue.keys.map((key) => {
      const near = closestName(key, fieldsAt(entrySchema, path));
      return { path, key, message: `is not a field here${near ? `; did you mean ${near}?` : ''}` };
    });
  if (issue.code === 'custom' || !/^(?:Invalid|Too (?:big|small)|Expected|Unrecognized)/.test(issue.message))
    return one(issue.message);
  if (v === undefined) return one('is missing');
  switch (issue.code) {
    case 'invalid_value':
      return one(`is one of ${either(issue.values.map((x) => String(x)))}, not ${shown(v)}`);
    case 'invalid_type':
      return one(`is ${kindOf(issue.expected)}, not ${shown(v)}`);
    case 'invalid_union': {
      // The kinds the branches take ("a text or a map"), when each branch refused the value's kind.
      const kinds = issue.errors.map((e) =>
        e.length === 1 && e[0]!.code === 'invalid_type' && !e[0]!.path.length ? kindOf(e[0]!.expected) : undefined,
      );
      return one(
        kinds.every((k) => k !== undefined) ? `is ${either([...new Set(kinds)])}, not ${shown(v)}` : `is not valid here: ${shown(v)}`,
      );
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const n = Number(small ? issue.minimum : issue.maximum);
      const bound = small ? 'at least' : 'at most';
      if (issue.origin === 'string')
        return one(small && n === 1 ? 'is empty' : `has ${bound} ${items(n, 'character')}`);
      if (issue.origin === 'array')
        return one(
          small && n === 1
            ? 'is an empty list: give at least one'
            : `has ${bound} ${items(n, 'item')}, not ${(v as unknown[]).length}`,
        );
      return one(`is ${bound} ${n}, not ${shown(v)}`);
    }
    case 'invalid_format':
      return one(
        issue.format === 'url' ? `is an http:// or https:// address, not ${shown(v)}` : `is not of the form ${issue.format}: ${shown(v)}`,
      );
    default:
      return one(issue.message);
  }
}
