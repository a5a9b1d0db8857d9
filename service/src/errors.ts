/**
 * An error the client can act on: an HTTP status, a stable machine-readable code and a message that says
 * what was wrong. The error middleware turns it into `{"error":{"code","message"}}`.
 */
export class AppError extends Error {
  /**
   * @param status HTTP status (4xx for the client's mistakes, 503/504 for capacity and time)
   * @param code stable snake_case code, also the `reason` label of `inference_errors_total`
   * @param message human-readable explanation; never contains secrets or image bytes
   * @param headers extra response headers, e.g. Retry-After
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}
