// Placeholder until the lab lands (issue 3).
import { UserError } from '../errors.js';

export async function labCommand(_opts: unknown): Promise<void> {
  throw new UserError('the lab is not implemented yet');
}
