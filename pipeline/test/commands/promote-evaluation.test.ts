/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { chmodSync, cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promote } from '../../src/commands/promote';
import { readGoldenSet } from '../../src/evaluation/golden-set';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient, registerInFake, tinyModel, withMetadata, writeModel } from '../support/models';
import { startPromotionFixture } from '../support/promotion-fixture';
import { REPO_ROOT, git, setEvaluationPolicy, treeState, type TempRepo } from '../support/repo';
import { rmSync } from 'node:fs';
import type { BuiltModel } from '../../../service/src/model/builders';

const NAME = 'cats-dogs-classifier';
const GOLDEN = join(REPO_ROOT, 'charts', 'golden-sets', 'default');
const DIGEST = readGoldenSet(GOLDEN, 'default').digest;
const quiet = (): void => undefined;

/**
 * Issue 11: the gate judges model quality. Version 1 (pinned: the champion) and version 2 (alias production)
 * are the default model's designed weights at 32x32: 100 % on the default golden set.
 */
describe('promote: the evaluation gate (challenger vs champion on the golden set)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;

  beforeEach(async () => {
    ({ fake, tmp, repo } = await startPromotionFixture(NAME, 'promote-eval-'));
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = (over: Partial<Parameters<typeof promote>[1]> = {}): ReturnType<typeof promote> =>
    promote(fakeClient(fake), { cwd: repo.root, env: 'production', log: quiet, ...over });

  async function registerChallenger(dirName: string, model: BuiltModel): Promise<string> {
    writeModel(join(tmp, dirName), model);
    return registerInFake(fake, join(tmp, dirName), NAME, 'production');
  }

  it('a good challenger passes: its numbers are in the commit, the evidence file and the registry tags', async () => {
    const result = await run();
    expect(result.status).toBe('promoted');
    const message = git(repo.root, 'log', '-1', '--format=%B');
    expect(message).toContain(`Golden set: charts/golden-sets/default (sha256 ${DIGEST}, 16 images)`);
    expect(message).toContain('Accuracy: 100.0 % (champion 100.0 %)');
    expect(message).toContain('Recall: cat 100.0 %, dog 100.0 %');
    expect(message).toContain('Agreement with champion: 100.0 %');
    const evidence = JSON.parse(
      readFileSync(join(repo.root, 'charts/environments/production.evaluation.json'), 'utf8'),
    );
    expect(evidence).toMatchObject({
      name: NAME,
      version: '2',
      goldenSet: { from: 'repository', source: 'charts/golden-sets/default', digest: DIGEST, images: 16 },
      accuracy: 1,
      perClass: [
        { index: 0, label: 'cat', count: 8, recall: 1 },
        { index: 1, label: 'dog', count: 8, recall: 1 },
      ],
      scoreTolerance: 0.01,
    });
    // Stratified: cat, dog, cat, dog, ... up to smokeSamples (8).
    expect(evidence.expected.map((e: { path: string; label: string }) => `${e.path}:${e.label}`)).toEqual([
      'cat/cat-01.png:cat',
      'dog/dog-01.png:dog',
      'cat/cat-02.png:cat',
      'dog/dog-02.png:dog',
      'cat/cat-03.png:cat',
      'dog/dog-03.png:dog',
      'cat/cat-04.png:cat',
      'dog/dog-04.png:dog',
    ]);
    expect(git(repo.root, 'show', '--name-only', '--format=', 'HEAD')).toContain(
      'charts/environments/production.evaluation.json',
    );
    expect(fake.tagsOf(NAME, '2')).toEqual({
      'model_gitops.production.gate': 'passed',
      'model_gitops.production.accuracy': '1.0000',
      'model_gitops.production.recall.cat': '1.0000',
      'model_gitops.production.recall.dog': '1.0000',
      'model_gitops.production.golden_set': 'charts/golden-sets/default',
      'model_gitops.production.golden_set_sha256': DIGEST,
      'model_gitops.production.champion_version': '1',
      'model_gitops.production.commit': git(repo.root, 'rev-parse', 'HEAD'),
    });
  });

  it('with --pr the body carries the per-class table for both models and the confusion matrix', async () => {
    const result = await run({ pr: true });
    if (result.status !== 'promoted') throw new Error('expected a promotion');
    expect(result.prBody).toContain('### Evaluation: passed');
    expect(result.prBody).toContain(`sha256 \`${DIGEST}\`, 16 images`);
    expect(result.prBody).toContain('| cat (#0) | 8 | 100.0 % (8/8) | 100.0 % (8/8) |');
    expect(result.prBody).toContain('| **accuracy** | 16 | **100.0 %** | 100.0 % |');
    expect(result.prBody).toContain('| golden \\ predicted | cat (#0) | dog (#1) |');
    expect(result.prBody).toContain('| cat | 8 | 0 |');
    expect(result.prBody).toContain('| dog | 0 | 8 |');
    expect(fake.tagsOf(NAME, '2')['model_gitops.production.commit']).toBe(result.commit);
  });

  it.each([
    ['swapped class weights', (): BuiltModel => tinyModel(3, { labels: ['dog', 'cat'] })],
    [
      'a serving description with the wrong channel order',
      (): BuiltModel =>
        withMetadata(tinyModel(3), (m) => ((m.input as { channelOrder: string }).channelOrder = 'BGR')),
    ],
    [
      'no normalisation in the serving description',
      (): BuiltModel =>
        withMetadata(tinyModel(3), (m) => (m.preprocessing = { resize: 'squash', scale: 1 / 255 })),
    ],
  ])('fails for %s, naming the threshold; commits nothing and tags the version failed', async (_, model) => {
    const version = await registerChallenger('bad', model());
    const before = treeState(repo.root);
    const err = (await run().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(/^validation gate: the challenger fails minAccuracy, minRecall/);
    expect(err.message).toMatch(/accuracy (0\.0|50\.0) % is below minAccuracy 95\.0 %/);
    expect(err.message).toMatch(/recall of '(cat|dog)' 0\.0 % \(0\/8\) is below minRecall 90\.0 %/);
    // The per-class table for both models.
    expect(err.message).toMatch(/class +images +challenger recall +champion recall/);
    expect(err.message).toMatch(/accuracy +16 +(0\.0|50\.0) % \((0|8)\/16\) +100\.0 % \(16\/16\)/);
    expect(treeState(repo.root)).toEqual(before);
    const tags = fake.tagsOf(NAME, version);
    expect(tags['model_gitops.production.gate']).toBe('failed');
    expect(tags['model_gitops.production.reason']).toContain('below minAccuracy 95.0 %');
    expect(tags['model_gitops.production.commit']).toBeUndefined();
  });

  it('fails a challenger that is fine in absolute terms but worse than the champion by more than maxAccuracyDrop', async () => {
    setEvaluationPolicy(repo.root, 'production', { minAccuracy: 0.8, minRecall: 0.7, minAgreement: null });
    // Red threshold moved up: the two cat images with the darkest red flip to dog (87.5 %).
    const version = await registerChallenger('worse', tinyModel(4, { redThreshold: 0.5 }));
    const before = treeState(repo.root);
    await expect(run()).rejects.toThrow(
      /^validation gate: the challenger fails maxAccuracyDrop in production:\n.*\n.*accuracy drops by 12\.5 % against the champion \(100\.0 % → 87\.5 %\), more than maxAccuracyDrop 2\.0 %/s,
    );
    expect(treeState(repo.root)).toEqual(before);
    expect(fake.tagsOf(NAME, version)['model_gitops.production.gate']).toBe('failed');
  });

  it('applies only the absolute thresholds on a first promotion (nothing pinned yet)', async () => {
    git(repo.root, 'rm', '--quiet', 'charts/environments/production.model.json');
    git(repo.root, 'commit', '--quiet', '-m', 'no production pin yet');
    setEvaluationPolicy(repo.root, 'production', { minAccuracy: 0.8, minRecall: 0.7 });
    await registerChallenger('first', tinyModel(4, { redThreshold: 0.5 }));
    const result = await run({ name: NAME });
    expect(result).toMatchObject({ status: 'promoted', oldVersion: undefined, newVersion: '3' });
    const message = git(repo.root, 'log', '-1', '--format=%B');
    expect(message).toContain('Accuracy: 87.5 % (no champion)');
    expect(message).toContain('Recall: cat 75.0 %, dog 100.0 %');
    expect(fake.tagsOf(NAME, '3')['model_gitops.production.champion_version']).toBe('none');
  });

  it('evaluates on a golden set shipped with the model in MLflow, downloaded through the client', async () => {
    setEvaluationPolicy(repo.root, 'production', { goldenSet: { from: 'model-artifacts', path: 'golden' } });
    const version = await registerChallenger('shipped', tinyModel(5));
    const source = fake.versions.get(NAME)!.find((v) => v.version === version)!.source;
    const prefix = source.replace('mlflow-artifacts:/', '');
    for (const folder of readdirSync(GOLDEN)) {
      for (const file of readdirSync(join(GOLDEN, folder))) {
        fake.artifacts.set(`${prefix}/golden/${folder}/${file}`, readFileSync(join(GOLDEN, folder, file)));
      }
    }
    fake.faults.chunked = true;
    await run();
    expect(git(repo.root, 'log', '-1', '--format=%B')).toContain(
      `Golden set: ${source}/golden (sha256 ${DIGEST}, 16 images)`,
    );
    const downloads = fake.requests.filter((r) => r.method === 'GET' && r.url.includes(`${prefix}/golden/`));
    expect(downloads).toHaveLength(16);
    expect(fake.tagsOf(NAME, version)['model_gitops.production.golden_set']).toBe(`${source}/golden`);
  });

  it('tags nothing passed when the push is refused, and restores the tree', async () => {
    const hook = join(repo.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "protected branch" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const before = treeState(repo.root);
    await expect(run({ push: true })).rejects.toThrow(/protected branch/);
    expect(treeState(repo.root)).toEqual(before);
    expect(fake.tagsOf(NAME, '2')).toEqual({});
  });

  it('fails clearly on a golden set with an undecodable image, committing and tagging nothing', async () => {
    cpSync(GOLDEN, join(repo.root, 'golden'), { recursive: true });
    writeFileSync(
      join(repo.root, 'golden', 'cat', 'zz-truncated.png'),
      readFileSync(join(GOLDEN, 'cat', 'cat-01.png')).subarray(0, 200),
    );
    git(repo.root, 'add', 'golden');
    git(repo.root, 'commit', '--quiet', '-m', 'a golden set with a cut file');
    setEvaluationPolicy(repo.root, 'production', { goldenSet: { from: 'repository', path: 'golden' } });
    const before = treeState(repo.root);
    await expect(run()).rejects.toThrow(
      /^golden set golden: 'cat\/zz-truncated.png' cannot be used: .*replace it with a JPEG, PNG or WebP image or remove it$/,
    );
    expect(treeState(repo.root)).toEqual(before);
    expect(fake.tagsOf(NAME, '2')).toEqual({});
  });
});
