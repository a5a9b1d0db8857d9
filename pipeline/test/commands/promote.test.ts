/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../../src/commands/check';
import { promote } from '../../src/commands/promote';
import { rollback } from '../../src/commands/rollback';
import { interruptCli } from '../support/cli-process';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient, registerInFake, tinyModel, writeModel } from '../support/models';
import { startPromotionFixture } from '../support/promotion-fixture';
import {
  cloneRepo,
  git,
  pushFromElsewhere,
  setEvaluationPolicy,
  treeState,
  type TempRepo,
} from '../support/repo';

const NAME = 'cats-dogs-classifier';
const quiet = (): void => undefined;

describe('promote (fake MLflow, real git repositories in temp dirs)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;
  let v2: { sha256: string; files: Record<string, string> };

  beforeEach(async () => {
    ({ fake, tmp, repo, v2 } = await startPromotionFixture(NAME, 'promote-'));
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = (over: Partial<Parameters<typeof promote>[1]> = {}): ReturnType<typeof promote> =>
    promote(fakeClient(fake), { cwd: repo.root, env: 'production', log: quiet, ...over });

  it('pins the version of the environment alias, re-synthesizes dist/ and makes one commit with a trailer', async () => {
    const before = git(repo.root, 'rev-parse', 'HEAD');
    const result = await run();
    expect(result).toMatchObject({ status: 'promoted', oldVersion: '1', newVersion: '2' });
    expect(git(repo.root, 'rev-list', '--count', `${before}..HEAD`)).toBe('1');
    const message = git(repo.root, 'log', '-1', '--format=%B');
    expect(message).toContain('promote(production): cats-dogs-classifier 1 -> 2');
    expect(message).toContain(`sha256: ${v2.sha256}`);
    expect(message).toMatch(/Source run: [0-9a-f]{32}/);
    expect(git(repo.root, 'log', '-1', '--format=%(trailers:key=Model-Promotion,valueonly)')).toBe(
      'production cats-dogs-classifier 1->2',
    );
    const pin = JSON.parse(
      readFileSync(join(repo.root, 'charts/environments/production.model.json'), 'utf8'),
    );
    expect(pin).toMatchObject({ version: '2', sha256: v2.sha256, files: v2.files });
    const changed = git(repo.root, 'diff', '--name-only', 'HEAD~1', 'HEAD').split('\n');
    expect(changed).toContain('charts/environments/production.model.json');
    expect(changed.some((f) => f.startsWith('dist/production/'))).toBe(true);
    expect(changed.some((f) => f.startsWith('dist/staging/'))).toBe(false);
    expect(git(repo.root, 'status', '--porcelain')).toBe('');
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(before);
  });

  it('is idempotent: an environment already pinned to the version gets no commit', async () => {
    await run();
    const head = git(repo.root, 'rev-parse', 'HEAD');
    expect(await run()).toEqual({ status: 'unchanged', version: '2' });
    expect(git(repo.root, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('pushes with --push', async () => {
    await run({ push: true });
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(git(repo.root, 'rev-parse', 'HEAD'));
  });

  it('promotes an explicit version and the newest version of a stage', async () => {
    await run({ env: 'staging', selector: { kind: 'version', value: '2' } });
    expect(git(repo.root, 'log', '-1', '--format=%s')).toBe('promote(staging): cats-dogs-classifier 1 -> 2');
    fake.setStage(NAME, '2', 'Production');
    await run({ env: 'local', selector: { kind: 'stage', value: 'production' } });
    expect(git(repo.root, 'log', '-1', '--format=%B')).toContain("(stage 'Production')");
    // Two promotions, each evaluating challenger and champion on the golden set.
  }, 60_000);

  it('re-applies the promotion on top when the push loses a race', async () => {
    const theirs = pushFromElsewhere(
      repo.remote,
      join(tmp, 'other'),
      'NOTES.md',
      'someone else was faster\n',
      'unrelated change',
    );

    await run({ push: true });
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(git(repo.root, 'rev-parse', 'HEAD'));
    expect(git(repo.root, 'rev-parse', 'HEAD~1')).toBe(theirs);
    expect(git(repo.root, 'log', '-1', '--format=%s')).toBe(
      'promote(production): cats-dogs-classifier 1 -> 2',
    );
  });

  describe('after a rollback (the registry still names the rolled-back version)', () => {
    const productionRow = async (): Promise<unknown> =>
      (await check(fakeClient(fake), repo.root)).find((r) => r.env === 'production');

    it('check and promote do not take the rolled-back version again; a new version is promoted as usual', async () => {
      await run({ push: true });
      const { commit: rollbackCommit } = await rollback({
        cwd: repo.root,
        env: 'production',
        push: true,
        log: quiet,
      });
      // What the hourly schedule does next: check, then promote what is pending.
      expect(await productionRow()).toMatchObject({ status: 'rolled-back', registry: '2', rollbackCommit });
      const lines: string[] = [];
      const head = git(repo.root, 'rev-parse', 'HEAD');
      expect(await run({ push: true, log: (l) => lines.push(l) })).toEqual({
        status: 'rolled-back',
        version: '2',
        rollbackCommit,
      });
      expect(lines).toContain(
        `promote: version 2 of '${NAME}' was rolled back in production by ${rollbackCommit.slice(0, 12)}, so it ` +
          "is not promoted again: register a new version, point alias 'production' at another version, or " +
          "promote it deliberately with 'promote --env production --version 2'",
      );
      expect([git(repo.root, 'rev-parse', 'HEAD'), git(repo.remote, 'rev-parse', 'main')]).toEqual([
        head,
        head,
      ]);

      // A new version behind the alias is pending and promoted as usual.
      writeModel(join(tmp, 'm3'), tinyModel(3));
      await registerInFake(fake, join(tmp, 'm3'), NAME, 'production');
      expect(await productionRow()).toMatchObject({ status: 'pending', pinned: '1', registry: '3' });
      expect(await run({ push: true })).toMatchObject({
        status: 'promoted',
        oldVersion: '1',
        newVersion: '3',
      });
      expect(git(repo.remote, 'log', '-1', '--format=%s', 'main')).toBe(
        'promote(production): cats-dogs-classifier 1 -> 3',
      );
    }, 120_000);

    it('an explicit --version promotes the rolled-back version deliberately', async () => {
      await run();
      await rollback({ cwd: repo.root, env: 'production', log: quiet });
      expect(await run({ selector: { kind: 'version', value: '2' } })).toMatchObject({
        status: 'promoted',
        oldVersion: '1',
        newVersion: '2',
      });
      expect(await productionRow()).toMatchObject({ status: 'in-sync', pinned: '2' });
    }, 120_000);
  });

  it.each([
    [
      'the champion',
      (other: string): void => {
        const file = join(other, 'charts', 'environments', 'production.model.json');
        const pin = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
        writeFileSync(file, `${JSON.stringify({ ...pin, version: '7' }, null, 2)}\n`);
        git(other, 'commit', '--quiet', '--all', '-m', 'someone pinned version 7');
      },
      /production was pinned to cats-dogs-classifier version 7 meanwhile; the gate compared the candidate with cats-dogs-classifier version 1, not with it: run promote again/,
    ],
    [
      'the evaluation policy',
      (other: string): void => setEvaluationPolicy(other, 'production', { minAccuracy: 0.99 }),
      /the evaluation policy of production \(charts\/environments\/production.yaml\) changed meanwhile/,
    ],
  ])(
    'stops, and leaves the tree as it was, when the push loses a race to a change of %s',
    async (_what, change, message) => {
      const other = cloneRepo(repo.remote, join(tmp, 'other'));
      change(other);
      git(other, 'push', '--quiet', 'origin', 'main');
      const theirs = git(other, 'rev-parse', 'HEAD');
      const before = treeState(repo.root);

      await expect(run({ push: true })).rejects.toThrow(message);
      expect(treeState(repo.root)).toEqual(before);
      expect(git(repo.remote, 'rev-parse', 'main')).toBe(theirs);
    },
  );

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'on %s after the gate passed, stops at the next step, restores the tree and exits 130 / 143',
    async (signal) => {
      const before = treeState(repo.root);
      const { stderr, ...exit } = await interruptCli(['promote', '--env', 'production'], {
        cwd: repo.root,
        env: { ...process.env, MLFLOW_TRACKING_URI: fake.url },
        when: 'promote: gate passed',
        signal,
      });
      expect(exit).toEqual({ code: signal === 'SIGINT' ? 130 : 143, signal: null });
      expect(stderr).toContain(`promote: interrupted by ${signal}; the working tree was restored to`);
      expect(treeState(repo.root)).toEqual(before);
    },
    60_000,
  );

  it('fails when the push is refused for another reason and leaves the tree exactly as it was', async () => {
    const hook = join(repo.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "protected branch" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const before = treeState(repo.root);
    await expect(run({ push: true })).rejects.toThrow(/git push .* failed.*protected branch.*restored/);
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails when the alias is not set, naming model and alias, and leaves the tree untouched', async () => {
    const before = treeState(repo.root);
    await expect(run({ env: 'staging' })).rejects.toThrow(
      "model 'cats-dogs-classifier' has no alias 'staging'",
    );
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails at the gate when the model input shape does not fit, and commits nothing', async () => {
    const bad = join(tmp, 'bad');
    writeModel(bad, tinyModel(3));
    const meta = JSON.parse(readFileSync(join(bad, 'model.json'), 'utf8'));
    meta.input.height = 64;
    meta.input.width = 64;
    // register refuses such a directory, so it is logged as an older kit would have: model.onnx + model.json.
    const v = fake.logModelVersion(
      NAME,
      { 'model.onnx': readFileSync(join(bad, 'model.onnx')), 'model.json': JSON.stringify(meta) },
      'runs',
    );
    fake.setAlias(NAME, 'production', v.version);
    const before = treeState(repo.root);
    await expect(run()).rejects.toThrow(/^validation gate: .*input 'input'/);
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails when the version is still being registered', async () => {
    fake.setStatus(NAME, '2', 'PENDING_REGISTRATION');
    const before = treeState(repo.root);
    await expect(run()).rejects.toThrow(
      "version 2 of model 'cats-dogs-classifier' has status PENDING_REGISTRATION, not READY",
    );
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails when the registry is down and leaves the tree untouched', async () => {
    fake.faults.resetNext = 1000;
    const before = treeState(repo.root);
    await expect(run()).rejects.toThrow(/cannot reach MLflow/);
    expect(treeState(repo.root)).toEqual(before);
  });

  it('restores every file when the synth fails half-way', async () => {
    const before = treeState(repo.root);
    const synth = (root: string): void => {
      writeFileSync(join(root, 'dist', 'production', 'Stray.yaml'), 'half-written\n');
      writeFileSync(join(root, 'dist', 'staging', 'Deployment.cats-dogs-classifier.yaml'), 'clobbered\n');
      throw new Error('boom');
    };
    await expect(run({ synth })).rejects.toThrow('synth failed: boom');
    expect(treeState(repo.root)).toEqual(before);
  });

  it('refuses a promotion whose synth changes another environment: a change committed without synth is not shipped under the model', async () => {
    const config = join(repo.root, 'charts/environments/staging.yaml');
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        'ghcr.io/example/model-gitops:0.1.0',
        'ghcr.io/example/model-gitops:0.2.0',
      ),
    );
    git(repo.root, 'commit', '--quiet', '-am', 'staging: new image (synth forgotten)');
    const before = treeState(repo.root);
    const head = git(repo.root, 'rev-parse', 'HEAD');
    await expect(run()).rejects.toThrow(
      /^promote: the synth also changed 2 file\(s\) outside production \(dist\/staging\/AnalysisTemplate\.cats-dogs-classifier-canary-smoke\.yaml, dist\/staging\/Rollout\.cats-dogs-classifier\.yaml\): dist\/ on main does not match charts\/, .*run npm run synth, commit that on its own and promote again \(nothing was committed\)$/,
    );
    expect(git(repo.root, 'rev-parse', 'HEAD')).toBe(head);
    expect(treeState(repo.root)).toEqual(before);
  });

  it('refuses to run on a tree with uncommitted changes', async () => {
    writeFileSync(join(repo.root, 'charts/environments/production.model.json'), '{}\n');
    await expect(run()).rejects.toThrow(/needs a clean working tree but found: +M charts\/environments/);
  });

  it('with --pr pushes a branch, prints a body listing the changed dist/ objects and returns to main', async () => {
    const before = treeState(repo.root);
    const result = await run({ pr: true });
    expect(result.status).toBe('promoted');
    if (result.status !== 'promoted') return;
    expect(result.branch).toBe('model-promotion/production/cats-dogs-classifier-v2');
    expect(git(repo.remote, 'rev-parse', result.branch as string)).toBe(result.commit);
    expect(result.prBody).toContain('in **production**: 1 → 2');
    expect(result.prBody).toMatch(
      /- changed `dist\/production\/Deployment\.cats-dogs-classifier\.yaml` \(\+\d+ −\d+\)/,
    );
    expect(result.prBody).toContain(v2.sha256);
    expect(treeState(repo.root)).toEqual({
      ...before,
      branches: expect.stringContaining('model-promotion/'),
    });
    expect(git(repo.root, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
  });

  it('fails with --pr when the branch of an earlier --pr run exists, keeping that branch and the tree', async () => {
    const first = await run({ pr: true });
    if (first.status !== 'promoted') throw new Error('the first --pr run must promote');
    const before = treeState(repo.root);
    await expect(run({ pr: true })).rejects.toThrow(
      /git checkout .* failed.*'model-promotion\/production\/cats-dogs-classifier-v2' already exists.*restored/,
    );
    expect(git(repo.root, 'rev-parse', first.branch as string)).toBe(first.commit);
    expect(treeState(repo.root)).toEqual(before);
  }, 60_000);

  it('fails with --pr when the branch cannot be pushed, deleting the new branch and restoring main', async () => {
    const hook = join(repo.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "no new branches" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const before = treeState(repo.root);
    await expect(run({ pr: true })).rejects.toThrow(/git push .* failed.*no new branches.*restored/);
    expect(treeState(repo.root)).toEqual(before);
    expect(git(repo.root, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
  });
});
