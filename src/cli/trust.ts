// Placeholder until the trust-store commands land (issue 3).
import { UserError } from '../errors.js';

const notYet = async (..._args: unknown[]): Promise<void> => {
  throw new UserError('trust stores are not implemented yet');
};
export const trustShow = notYet;
export const trustExpiring = notYet;
export const trustAddFromSite = notYet;
