/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promote } from '../../src/commands/promote';
import { rollback } from '../../src/commands/rollback';
import { interruptCli } from '../support/cli-process';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient } from '../support/models';
import { startPromotionFixture } from '../support/promotion-fixture';
import { git, treeState, type TempRepo } from '../support/repo';

const NAME = 'cats-dogs-classifier';
const quiet = (): void => undefined;
const PIN = 'charts/environments/production.model.json';

describe('rollback (real git repositories in temp dirs)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;
  let initial: string;

  beforeEach(async () => {
    ({ fake, tmp, repo } = await startPromotionFixture(NAME, 'rollback-'));
    initial = git(repo.root, 'rev-parse', 'HEAD');
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const promoteProduction = (): Promise<unknown> =>
    promote(fakeClient(fake), { cwd: repo.root, env: 'production', log: quiet });

  it('on SIGINT while it rewrites the tree, stops at the next step, restores the tree and exits 130', async () => {
    await promoteProduction();
    const before = treeState(repo.root);
    const { stderr, ...exit } = await interruptCli(['rollback', '--env', 'production'], {
      cwd: repo.root,
      env: process.env,
      when: 'rollback: reverting',
      signal: 'SIGINT',
    });
    expect(exit).toEqual({ code: 130, signal: null });
    expect(stderr).toContain('rollback: interrupted by SIGINT; the working tree was restored to');
    expect(treeState(repo.root)).toEqual(before);
  }, 60_000);

  it('reverts the newest promotion: pin and dist/ back to before it, one commit with trailers', async () => {
    await promoteProduction();
    const promotion = git(repo.root, 'rev-parse', 'HEAD');
    const result = await rollback({ cwd: repo.root, env: 'production', log: quiet });
    expect(result).toMatchObject({ reverted: promotion, fromVersion: '2', toVersion: '1' });
    expect(git(repo.root, 'log', '-1', '--format=%s')).toBe(
      'rollback(production): cats-dogs-classifier 2 -> 1',
    );
    expect(git(repo.root, 'log', '-1', '--format=%(trailers:key=Reverts-Promotion,valueonly)')).toBe(
      promotion,
    );
    expect(git(repo.root, 'log', '-1', '--format=%(trailers:key=Model-Rollback,valueonly)')).toBe(
      'production cats-dogs-classifier 2->1',
    );
    // The tree is byte-identical to the one before the promotion.
    expect(git(repo.root, 'diff', initial, 'HEAD', '--stat')).toBe('');
    expect(git(repo.root, 'status', '--porcelain')).toBe('');
  });

  it('pushes with --push', async () => {
    await promoteProduction();
    await rollback({ cwd: repo.root, env: 'production', push: true, log: quiet });
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(git(repo.root, 'rev-parse', 'HEAD'));
  });

  it('fails when there is no promotion to revert, saying so', async () => {
    await expect(rollback({ cwd: repo.root, env: 'production', log: quiet })).rejects.toThrow(
      "nothing to roll back in 'production': no commit with a 'Model-Promotion: production …' trailer",
    );
  });

  it('fails when the environment has no promotion of its own, though another environment has one', async () => {
    await promoteProduction();
    const head = git(repo.root, 'rev-parse', 'HEAD');
    await expect(rollback({ cwd: repo.root, env: 'staging', log: quiet })).rejects.toThrow(
      "nothing to roll back in 'staging'",
    );
    expect(git(repo.root, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('fails when the only promotion was rolled back already', async () => {
    await promoteProduction();
    await rollback({ cwd: repo.root, env: 'production', log: quiet });
    await expect(rollback({ cwd: repo.root, env: 'production', log: quiet })).rejects.toThrow(
      /nothing to roll back/,
    );
  });

  it('fails when the pin changed after the promotion, leaving the tree untouched', async () => {
    await promoteProduction();
    const pin = JSON.parse(readFileSync(join(repo.root, PIN), 'utf8'));
    writeFileSync(join(repo.root, PIN), JSON.stringify({ ...pin, version: '7' }, null, 2) + '\n');
    git(repo.root, 'commit', '--quiet', '-am', 'hand edit');
    const before = treeState(repo.root);
    await expect(rollback({ cwd: repo.root, env: 'production', log: quiet })).rejects.toThrow(
      /has changed since \(now version 7\)/,
    );
    expect(treeState(repo.root)).toEqual(before);
  });

  it('restores the tree when the synth fails', async () => {
    await promoteProduction();
    const before = treeState(repo.root);
    const synth = (): void => {
      throw new Error('broken chart');
    };
    await expect(rollback({ cwd: repo.root, env: 'production', synth, log: quiet })).rejects.toThrow(
      'synth failed: broken chart',
    );
    expect(treeState(repo.root)).toEqual(before);
  });
});
