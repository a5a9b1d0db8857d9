/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promote } from '../../src/commands/promote';
import { rollback } from '../../src/commands/rollback';
import { chartsSynth } from '../../src/synth';
import { interruptCli } from '../support/cli-process';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient } from '../support/models';
import { startPromotionFixture } from '../support/promotion-fixture';
import { cloneRepo, git, treeState, type TempRepo } from '../support/repo';

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

  /** A synth that lets `other` push to the remote once, while the rollback is under way, before its push. */
  const pushingMeanwhile = (other: string, change: () => void): ((root: string) => Promise<void>) => {
    let pushed = false;
    return async (root) => {
      if (!pushed) {
        pushed = true;
        git(other, 'pull', '--quiet', '--ff-only');
        change();
        git(other, 'push', '--quiet', 'origin', 'main');
      }
      await chartsSynth(root);
    };
  };

  it('with --push, re-applies the rollback on top when another commit reached the remote meanwhile', async () => {
    await promote(fakeClient(fake), { cwd: repo.root, env: 'production', push: true, log: quiet });
    const promotion = git(repo.root, 'rev-parse', 'HEAD');
    const other = cloneRepo(repo.remote, join(tmp, 'other'));
    // Another environment's promotion lands between the rollback's start and its push.
    const synth = pushingMeanwhile(other, () => {
      const file = join(other, 'charts/environments/staging.model.json');
      const pin = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
      writeFileSync(file, `${JSON.stringify({ ...pin, version: '5' }, null, 2)}\n`);
      git(other, 'commit', '--quiet', '--all', '-m', 'someone pinned staging to version 5');
    });

    const lines: string[] = [];
    const result = await rollback({
      cwd: repo.root,
      env: 'production',
      push: true,
      synth,
      log: (l) => lines.push(l),
    });
    const theirs = git(other, 'rev-parse', 'HEAD');
    expect(result).toMatchObject({ reverted: promotion, fromVersion: '2', toVersion: '1' });
    // Their pin change came without its synth: the rollback commits production's files alone and says so.
    const changed = git(repo.remote, 'show', '--name-only', '--format=', 'main').split('\n');
    expect(changed.length).toBeGreaterThan(1);
    expect(
      changed.filter((f) => !/^(dist\/production\/|charts\/environments\/production\.)/.test(f)),
    ).toEqual([]);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^rollback: left out 2 file\(s\) outside production that the synth changed \(dist\/staging\/AnalysisTemplate\.cats-dogs-classifier-canary-smoke\.yaml, dist\/staging\/Rollout\.cats-dogs-classifier\.yaml\): dist\/ does not match charts\//,
      ),
    );
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(result.commit);
    expect(git(repo.remote, 'rev-parse', 'main~1')).toBe(theirs);
    const remotePin = (env: string): unknown =>
      JSON.parse(git(repo.remote, 'show', `main:charts/environments/${env}.model.json`));
    expect(remotePin('production')).toMatchObject({ version: '1' });
    expect(remotePin('staging')).toMatchObject({ version: '5' });
    expect(
      git(repo.remote, 'log', '-1', '--format=%(trailers:key=Reverts-Promotion,valueonly)', 'main'),
    ).toBe(promotion);
    expect(git(repo.root, 'status', '--porcelain')).toBe('');
  }, 60_000);

  it('with --push, stops without pushing when the remote changed the same pin meanwhile', async () => {
    await promote(fakeClient(fake), { cwd: repo.root, env: 'production', push: true, log: quiet });
    const other = cloneRepo(repo.remote, join(tmp, 'other'));
    const synth = pushingMeanwhile(other, () => {
      const file = join(other, PIN);
      const pin = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
      writeFileSync(file, `${JSON.stringify({ ...pin, version: '7' }, null, 2)}\n`);
      git(other, 'commit', '--quiet', '--all', '-m', 'someone pinned production to version 7');
    });
    const before = treeState(repo.root);

    await expect(
      rollback({ cwd: repo.root, env: 'production', push: true, synth, log: quiet }),
    ).rejects.toThrow(
      /origin\/main pins production to cats-dogs-classifier version 7 now, not version 2 that this rollback reverts: someone else changed it; nothing was pushed/,
    );
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(git(other, 'rev-parse', 'HEAD'));
    expect(treeState(repo.root)).toEqual(before);
  }, 60_000);

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
