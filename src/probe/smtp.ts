// Placeholder until the smtp probe lands (issue 4).
import { UserError } from '../errors.js';
import type { PlannedStep, ProbeContext } from './run.js';

/** Options of the smtp probe (filled in with the probe). */
export type SmtpOptions = Record<string, unknown>;

export function smtpPlan(ctx: ProbeContext): PlannedStep[] {
  throw new UserError(`the probe cannot test ${ctx.target.scheme}:// yet`);
}
