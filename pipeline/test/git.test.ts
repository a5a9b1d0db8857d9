import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Git, GitError } from '../src/git';
import { git } from './support/repo';

describe('Git', () => {
  let tmp: string;
  let repo: Git;
  const saved = { ...process.env };

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'git-'));
    // No global or system config: the bot identity must kick in.
    process.env.GIT_CONFIG_GLOBAL = join(tmp, 'no-global-config');
    process.env.GIT_CONFIG_NOSYSTEM = '1';
    delete process.env.GIT_AUTHOR_EMAIL;
    git(tmp, 'init', '--quiet', '--initial-branch=main');
    writeFileSync(join(tmp, 'a.txt'), 'a\n');
    repo = new Git(tmp);
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(tmp, { recursive: true, force: true });
  });

  it('commits as the bot when no identity is configured', async () => {
    await repo.run(['add', 'a.txt']);
    const sha = await repo.commit('first\n\nModel-Promotion: x');
    expect(git(tmp, 'log', '-1', '--format=%H %an <%ae>')).toBe(
      `${sha} model-gitops[bot] <model-gitops[bot]@users.noreply.github.com>`,
    );
  });

  it('lists tracked changes anywhere and untracked files only under the given paths', async () => {
    await repo.run(['add', 'a.txt']);
    await repo.commit('first');
    writeFileSync(join(tmp, 'a.txt'), 'changed\n');
    writeFileSync(join(tmp, 'elsewhere.txt'), 'x\n');
    mkdirSync(join(tmp, 'dist'));
    writeFileSync(join(tmp, 'dist', 'new.yaml'), 'x\n');
    expect((await repo.dirtyEntries(['dist'])).sort()).toEqual([' M a.txt', '?? dist/new.yaml']);
  });

  it('restores HEAD and tracked files, removes untracked files under the given paths only', async () => {
    await repo.run(['add', 'a.txt']);
    const first = await repo.commit('first');
    writeFileSync(join(tmp, 'a.txt'), 'b\n');
    await repo.run(['add', 'a.txt']);
    await repo.commit('second');
    mkdirSync(join(tmp, 'dist'));
    writeFileSync(join(tmp, 'dist', 'stray.yaml'), 'x\n');
    writeFileSync(join(tmp, 'notes.txt'), 'the user keeps this\n');
    await repo.restore(first, ['dist']);
    expect(await repo.head()).toBe(first);
    expect(git(tmp, 'status', '--porcelain', '--untracked-files=all')).toBe('?? notes.txt');
  });

  it("fails with git's own explanation", async () => {
    const err = (await repo.run(['rev-parse', 'nope']).catch((e: unknown) => e)) as GitError;
    expect(err).toBeInstanceOf(GitError);
    expect(err.message).toMatch(/^git rev-parse nope failed \(\d+\): .*unknown revision/);
  });

  it('fails without showing a token embedded in a remote URL', async () => {
    await repo.run(['add', 'a.txt']);
    await repo.commit('first');
    // Port 9 on loopback refuses the connection: git fails at once.
    const url = 'http://x-access-token:ghs_s3cr3tT0ken@127.0.0.1:9/acme/repo.git';
    const err = (await repo.run(['push', url, 'HEAD:main']).catch((e: unknown) => e)) as GitError;
    expect(err).toBeInstanceOf(GitError);
    expect(err.message).toContain('git push http://***@127.0.0.1:9/acme/repo.git HEAD:main failed');
    expect(err.message).not.toContain('s3cr3t');
  });

  it('fails when HEAD is detached, saying what to do', async () => {
    await repo.run(['add', 'a.txt']);
    const sha = await repo.commit('first');
    await repo.run(['checkout', '--quiet', sha]);
    await expect(repo.branch()).rejects.toThrow('HEAD is detached: check out the branch to promote on');
  });
});
