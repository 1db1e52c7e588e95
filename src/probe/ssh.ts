// Placeholder until the ssh probe lands (issue 4).
import { UserError } from '../errors.js';
import type { PlannedStep, ProbeContext } from './run.js';

/** Options of the ssh probe (filled in with the probe). */
export type SshOptions = Record<string, unknown>;

export function sshPlan(ctx: ProbeContext): PlannedStep[] {
  throw new UserError(`the probe cannot test ${ctx.target.scheme}:// yet`);
}
