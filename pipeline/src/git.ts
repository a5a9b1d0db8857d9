import { execFile } from 'node:child_process';
import type { Log } from './cli-error';

/** A git command that exited non-zero; `stderr` is git's own explanation. */
export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number | string | undefined,
    readonly stderr: string,
  ) {
    super(
      redactUrlCredentials(
        `git ${args.join(' ')} failed (${String(code)}): ${stderr.trim().split('\n').slice(-8).join(' | ')}`,
      ),
    );
    this.name = 'GitError';
  }
}

const BOT_NAME = 'model-gitops[bot]';
const BOT_EMAIL = 'model-gitops[bot]@users.noreply.github.com';

/** Runs the `git` CLI in one repository (child_process.execFile, no shell). */
export class Git {
  constructor(readonly cwd: string) {}

  /** Runs `git <args>` and returns stdout; throws {@link GitError} on a non-zero exit. */
  run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        args as string[],
        {
          cwd: this.cwd,
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...env },
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout, stderr) => {
          if (err) reject(new GitError(args, (err as NodeJS.ErrnoException).code, String(stderr)));
          else resolve(String(stdout));
        },
      );
    });
  }

  /** Like {@link run} but resolves to false instead of throwing when git exits non-zero. */
  async succeeds(args: readonly string[]): Promise<boolean> {
    try {
      await this.run(args);
      return true;
    } catch (err) {
      if (err instanceof GitError) return false;
      throw err;
    }
  }

  /** The top-level directory of the repository containing `cwd`. */
  async topLevel(): Promise<string> {
    return (await this.run(['rev-parse', '--show-toplevel'])).trim();
  }

  async head(): Promise<string> {
    return (await this.run(['rev-parse', 'HEAD'])).trim();
  }

  /** The current branch name; throws when HEAD is detached. */
  async branch(): Promise<string> {
    const name = (await this.run(['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
    if (name === 'HEAD') {
      throw new Error('HEAD is detached: check out the branch to promote on (e.g. git switch main)');
    }
    return name;
  }

  /** `git status --porcelain` lines: tracked changes anywhere plus untracked files under `paths`. */
  async dirtyEntries(paths: readonly string[]): Promise<string[]> {
    const tracked = await this.run(['status', '--porcelain', '--untracked-files=no']);
    const untracked = await this.run(['status', '--porcelain', '--untracked-files=all', '--', ...paths]);
    return [...new Set([...lines(tracked), ...lines(untracked)])];
  }

  /** Commits the index; uses a bot identity when none is configured. */
  async commit(message: string): Promise<string> {
    const env: NodeJS.ProcessEnv = {};
    if (!process.env.GIT_AUTHOR_EMAIL && !(await this.succeeds(['config', '--get', 'user.email']))) {
      Object.assign(env, {
        GIT_AUTHOR_NAME: BOT_NAME,
        GIT_AUTHOR_EMAIL: BOT_EMAIL,
        GIT_COMMITTER_NAME: BOT_NAME,
        GIT_COMMITTER_EMAIL: BOT_EMAIL,
      });
    }
    await this.run(['commit', '--quiet', '--no-verify', '-m', message], env);
    return this.head();
  }

  /**
   * Restores the repository to `head` exactly: tracked files reset, untracked files under `paths` (which were
   * verified clean before the operation) removed.
   */
  async restore(head: string, paths: readonly string[]): Promise<void> {
    await this.run(['reset', '--quiet', '--hard', head]);
    await this.run(['clean', '-fdq', '--', ...paths]);
  }
}

/** Where a command pushes its commit, and how it wins a push race. */
export interface PushTarget {
  readonly remote: string;
  readonly branch: string;
  /** Pushes in all, the first included: each after the first re-applies the change on top of the remote. */
  readonly attempts: number;
  /** The paths the command changes: restored when its commit is dropped to catch up with the remote. */
  readonly paths: readonly string[];
  /** The command's name, for the log. */
  readonly command: string;
  readonly log: Log;
}

/**
 * Pushes HEAD to `target.branch` of `target.remote` and resolves true. When the push is rejected because the branch
 * moved on (someone pushed first) and attempts remain, drops the caller's commit (the tree goes back to `base`, where
 * that commit started), fast-forwards to the remote's branch and resolves false: the caller re-checks what its change
 * relied on against the new head, then commits again and calls this once more. Any other failure, and a rejection
 * on the last attempt, throws.
 */
export async function pushOrCatchUp(
  git: Git,
  target: PushTarget,
  attempt: number,
  base: string,
): Promise<boolean> {
  const where = `${target.remote}/${target.branch}`;
  try {
    await git.run(['push', '--quiet', target.remote, `HEAD:refs/heads/${target.branch}`]);
    target.log(`${target.command}: pushed to ${where}`);
    return true;
  } catch (err) {
    if (!(err instanceof GitError) || !isRejectedPush(err.stderr) || attempt >= target.attempts) throw err;
    target.log(
      `${target.command}: ${where} moved on (push rejected); re-applying on top of it (${attempt}/${target.attempts})`,
    );
    await git.restore(base, target.paths);
    await git.run(['fetch', '--quiet', target.remote, target.branch]);
    await git.run(['merge', '--quiet', '--ff-only', 'FETCH_HEAD']);
    return false;
  }
}

function isRejectedPush(stderr: string): boolean {
  return /\[rejected\].*\((fetch first|non-fast-forward)\)/.test(stderr);
}

/**
 * Hides the user-info part of URLs (`https://x-access-token:TOKEN@github.com/...` → `https://***@github.com/...`):
 * a remote given as a URL with a token must not reach an error message or a CI log.
 */
function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@');
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim().length > 0);
}
