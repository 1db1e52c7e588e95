// Placeholder until the ftp probe lands (issue 4).
import { UserError } from '../errors.js';
import type { PlannedStep, ProbeContext } from './run.js';

/** Options of the ftp probe (filled in with the probe). */
export type FtpOptions = Record<string, unknown>;

export function ftpPlan(ctx: ProbeContext): PlannedStep[] {
  throw new UserError(`the probe cannot test ${ctx.target.scheme}:// yet`);
}
