// Placeholder until scan lands (issue 5).
import { UserError } from '../errors.js';

export async function scanCommand(_files: string[], _opts: unknown): Promise<void> {
  throw new UserError('scan is not implemented yet');
}
