/** What kind of failure an MLflow call ended in; callers branch on it rather than on message text. */
export type MlflowErrorKind =
  /** The registry answered that the thing asked for does not exist (model, version, file). */
  | 'not-found'
  /** The model exists, but the alias or stage asked for names no version of it. */
  | 'unassigned'
  /** 401/403: credentials missing or wrong. */
  | 'unauthorized'
  /** The registry could not be reached (connection refused/reset, DNS, timeout) after all retries. */
  | 'unreachable'
  /** 5xx/429 after all retries. */
  | 'server'
  /** Any other 4xx, or an answer that does not have the documented shape. */
  | 'invalid';

/** An MLflow call that failed; `message` says what was asked for and what went wrong. */
export class MlflowError extends Error {
  constructor(
    message: string,
    readonly kind: MlflowErrorKind,
    readonly status?: number,
    /** MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`, when the body carried one. */
    readonly errorCode?: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
}
