// zod schemas the rooms share: request fields in the CLI's words, and the documented (loose) shapes
// of the answers, which are the CLI's --json objects (src/report/json.ts, probe.ts, scan.ts).
import { z } from 'zod';
import { numberOption, type NumberRange } from '../cli/probe-flags.js';

/**
 * A number in a query string (`?max=5000`), checked as the CLI's option of that name is
 * (numberOption): out of range or no number, the CLI's sentence with the parameter's name
 * (`max takes a number of messages from 1 to 1000000, not "0"`), not the validation library's.
 */
export const numberParam = (name: string, r: NumberRange, fallback: number) =>
  z
    .string()
    .max(40)
    .transform((raw, ctx) => {
      try {
        return numberOption(name, r)(raw);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    })
    .default(fallback);

export const direction = z
  .enum(['inbound', 'outbound'])
  .describe('inbound: a sender calls the tenant; outbound: the tenant calls a receiver');

const evidence = z.looseObject({ text: z.string(), kind: z.string(), means: z.string().optional() });

/** One diagnosis as `diagnose --json` prints it (more fields may follow; see src/report/json.ts). */
export const diagnosisJson = z.looseObject({
  id: z.string().describe('knowledge-base entry id, e.g. out-cert-path'),
  title: z.string(),
  direction: z.string(),
  confidence: z.number().describe('0..1'),
  cause: z.looseObject({}).optional(),
  evidence: z.array(evidence),
  facts: z.looseObject({}),
  fixes: z.array(z.string()),
  references: z.array(z.looseObject({})),
  seed: z.number().int().optional().describe("row of SAP's troubleshooting table"),
  summary: z.string(),
  causes: z.array(z.looseObject({})),
  checks: z.array(z.looseObject({})),
});

/** The object `linkdoctor diagnose --json` prints. */
export const diagnoseJsonSchema = z.looseObject({
  diagnoses: z.array(diagnosisJson).describe('best first; empty when no known issue matched'),
  signals: z.array(z.looseObject({})),
  facts: z.looseObject({}),
  direction: z.looseObject({}),
});

/** An RFC 9457 problem body (src/serve/problem.ts). */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  'invalid-params': z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
});
