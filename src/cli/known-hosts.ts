// Placeholder until known_hosts management lands (issue 4).
import { UserError } from '../errors.js';

const notYet = async (..._args: unknown[]): Promise<void> => {
  throw new UserError('known_hosts management is not implemented yet');
};
export const knownHostsAdd = notYet;
export const knownHostsCheck = notYet;
