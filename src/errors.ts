// Errors a user can act on: printed as one sentence, exit code 2 (usage or input error).
export class UserError extends Error {
  override name = 'UserError';
}
