/** A failure the CLI reports as one message (no stack) and a specific exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    /** Process exit code. @default 1 */
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Writes one line for the user (stderr, so stdout stays for machine-readable output). */
export type Log = (line: string) => void;

/** The default {@link Log}: stderr. */
export const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);
