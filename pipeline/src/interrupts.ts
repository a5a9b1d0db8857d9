import { CliError } from './cli-error';
import { GitError } from './git';

const EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Holds SIGINT and SIGTERM (Ctrl-C, a cancelled CI job) while a command rewrites the working tree: a signal
 * is noted, and the command stops at its next {@link check}, restores the tree and exits 130 / 143, instead
 * of dying with a pin written and `dist/` not. A second signal exits at once.
 */
export class InterruptGuard {
  private noted: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.noted) process.exit(EXIT_CODES[signal] ?? 1);
    this.noted = signal;
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** The signal received, if any. */
  get signal(): NodeJS.Signals | undefined {
    return this.noted;
  }

  /** The exit code for the signal received: 130 for SIGINT, 143 for SIGTERM. */
  get exitCode(): number {
    return EXIT_CODES[this.noted ?? 'SIGINT'] ?? 1;
  }

  /** Throws once a signal came; the caller's failure path restores the tree and reports {@link signal}. */
  check(): void {
    if (this.noted) throw new CliError(`interrupted by ${this.noted}`, this.exitCode);
  }

  /**
   * What a command reports once it restored the tree to `restoredTo` after `err`: the interruption when a
   * signal came (whatever failed after it, a synth killed with the process group, is its consequence), a git
   * failure as one line, anything else as it is.
   */
  failure(command: string, err: unknown, restoredTo: string): unknown {
    if (!this.noted && !(err instanceof GitError)) return err;
    const why = this.noted ? `interrupted by ${this.noted}` : (err as GitError).message;
    return new CliError(
      `${command}: ${why}; the working tree was restored to ${restoredTo.slice(0, 12)}`,
      this.noted ? this.exitCode : 1,
    );
  }

  /** Lets signals act as before. */
  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
