/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EvaluationPolicySchema,
  type EvaluationPolicyInput,
  type ModelPin,
} from '../../../charts/src/config';
import type { BuiltModel } from '../../../service/src/model/builders';
import { CliError } from '../../src/cli-error';
import {
  EvaluationRefused,
  evaluatePromotion,
  gateChallenger,
  gateTagKey,
  tagVerdict,
  type PromotionEvaluation,
  type PromotionEvaluationInput,
} from '../../src/evaluation/promotion-gate';
import { textReport } from '../../src/evaluation/report';
import { GateRefused } from '../../src/gate';
import { evaluation } from '../support/evaluations';
import { FakeMlflow } from '../support/fake-mlflow';
import {
  fakeClient,
  meanColourModel,
  registerInFake,
  tinyModel,
  withMetadata,
  writeModel,
} from '../support/models';
import { REPO_ROOT } from '../support/repo';
import { tempDirsCreatedBy } from '../support/temp-dirs';

const GOLDEN_PATH = 'charts/golden-sets/default';
const policy = (over: Partial<EvaluationPolicyInput> = {}) =>
  EvaluationPolicySchema.parse({
    goldenSet: { from: 'repository', path: GOLDEN_PATH },
    minAccuracy: 0.9,
    minRecall: 0.9,
    maxAccuracyDrop: 0,
    ...over,
  });

/** Writes `model` to `dir`, stores its files in the fake's artifact store as a registered version and pins it. */
function storeChampion(fake: FakeMlflow, dir: string, model: BuiltModel, version = '3'): ModelPin {
  const { files, sha256 } = writeModel(dir, model);
  const prefix = '1/champ/artifacts/model';
  for (const name of Object.keys(files))
    fake.artifacts.set(`${prefix}/${name}`, readFileSync(join(dir, name)));
  return { name: 'clf', version, sha256, files, source: `mlflow-artifacts:/${prefix}` };
}

/** A staging gate's input for `model`, written to `<tmp>/challenger`; the gate's log lines go to `lines`. */
function challengerInput(tmp: string, model: BuiltModel, lines: string[]): PromotionEvaluationInput {
  const { files } = writeModel(join(tmp, 'challenger'), model);
  return {
    env: 'staging',
    repoRoot: REPO_ROOT,
    policy: policy(),
    challengerDir: join(tmp, 'challenger'),
    challengerFiles: files,
    location: 'mlflow-artifacts:/1/run/artifacts/model',
    log: (l) => lines.push(l),
  };
}

describe('evaluatePromotion (the evaluation part of the promotion gate)', () => {
  let tmp: string;
  let fake: FakeMlflow;
  let lines: string[];
  beforeAll(async () => {
    fake = await FakeMlflow.start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'promotion-gate-'));
    lines = [];
    fake.artifacts.clear();
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  function input(over: Partial<PromotionEvaluationInput> = {}): PromotionEvaluationInput {
    return { ...challengerInput(tmp, tinyModel(1), lines), ...over };
  }

  it('passes a first promotion on the absolute thresholds alone, and logs the golden set', async () => {
    const result = await evaluatePromotion(undefined, input());
    expect(result.champion).toBeUndefined();
    expect(result.championVersion).toBeUndefined();
    expect(result.verdict).toEqual({ passed: true, failures: [] });
    expect(result.challenger).toMatchObject({ samples: 16, correct: 16, accuracy: 1 });
    expect(result.challenger.goldenSet.source).toBe(GOLDEN_PATH);
    expect(lines).toEqual([`promote: evaluating on golden set ${GOLDEN_PATH} (16 images)`]);
  });

  it('fails when the challenger directory does not have the digests it was downloaded with', async () => {
    const i = input();
    await expect(
      evaluatePromotion(undefined, {
        ...i,
        challengerFiles: { ...i.challengerFiles, 'model.onnx': 'f'.repeat(64) },
      }),
    ).rejects.toThrow(/^evaluation: the challenger cannot be loaded: /);
  });

  it('refuses a challenger under a threshold with the failed thresholds, the environment and the report', async () => {
    // Swapped labels: every golden image is answered wrong.
    writeModel(join(tmp, 'swapped'), tinyModel(1, { labels: ['dog', 'cat'] }));
    const err = await evaluatePromotion(undefined, {
      ...input(),
      challengerDir: join(tmp, 'swapped'),
      challengerFiles: undefined,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EvaluationRefused);
    expect(err).toBeInstanceOf(CliError);
    const refused = err as EvaluationRefused;
    expect(refused.name).toBe('EvaluationRefused');
    expect(refused.result.verdict.failures.map((f) => f.threshold)).toEqual([
      'minAccuracy',
      'minRecall',
      'minRecall',
    ]);
    expect(refused.result.challenger.accuracy).toBe(0);
    expect(refused.message).toBe(
      'validation gate: the challenger fails minAccuracy, minRecall, minRecall in staging:\n' +
        textReport(refused.result.challenger, undefined, refused.result.verdict),
    );
    expect(refused.message).toMatch(
      /\nverdict: failed\n {2}- accuracy 0\.0 % is below minAccuracy 90\.0 %\n/,
    );
  });

  it('removes its work directory after a pass, a refusal and a champion it cannot fetch', async () => {
    writeModel(join(tmp, 'swapped'), tinyModel(1, { labels: ['dog', 'cat'] }));
    const created = await tempDirsCreatedBy(async () => {
      await evaluatePromotion(undefined, input());
      await expect(
        evaluatePromotion(undefined, {
          ...input(),
          challengerDir: join(tmp, 'swapped'),
          challengerFiles: undefined,
        }),
      ).rejects.toThrow(EvaluationRefused);
      const champion = storeChampion(fake, join(tmp, 'champion'), tinyModel(1));
      await expect(
        evaluatePromotion(fakeClient(fake), {
          ...input(),
          champion: { ...champion, source: 'mlflow-artifacts:/1/gone' },
        }),
      ).rejects.toThrow(/cannot fetch the champion/);
    });
    expect(created.filter((d) => d.includes('model-gitops-evaluate-'))).toHaveLength(3);
    for (const dir of created) expect(existsSync(dir)).toBe(false);
  });

  it('evaluates the pinned champion from the registry; a class the challenger adds counts as missed, not as an error', async () => {
    // The champion knows 'cat' and 'fox': the golden folder 'dog' is a class it can never predict.
    const champion = storeChampion(fake, join(tmp, 'champion'), tinyModel(3, { labels: ['cat', 'fox'] }));
    const result = await evaluatePromotion(
      fakeClient(fake),
      input({ champion, policy: policy({ maxAccuracyDrop: 0, minAgreement: 0.5 }) }),
    );
    expect(result.championVersion).toBe('3');
    expect(result.champion?.perClass.map((c) => [c.label, c.index, c.recall])).toEqual([
      ['cat', 0, 1],
      ['dog', -1, 0],
    ]);
    expect(result.verdict).toEqual({ passed: true, failures: [], accuracyDelta: 0.5, agreement: 0.5 });
  });

  it('refuses a challenger worse than the champion, naming the relative threshold', async () => {
    const champion = storeChampion(fake, join(tmp, 'champion'), tinyModel(3));
    writeModel(join(tmp, 'swapped'), tinyModel(1, { labels: ['dog', 'cat'] }));
    const err = (await evaluatePromotion(fakeClient(fake), {
      ...input({ champion, policy: policy({ minAccuracy: 0, minRecall: 0, maxAccuracyDrop: 0.5 }) }),
      challengerDir: join(tmp, 'swapped'),
      challengerFiles: undefined,
    }).catch((e: unknown) => e)) as EvaluationRefused;
    expect(err).toBeInstanceOf(EvaluationRefused);
    expect(err.message.split('\n')[0]).toBe(
      'validation gate: the challenger fails maxAccuracyDrop in staging:',
    );
    expect(err.message).toContain('  class     images  challenger recall  champion recall\n');
    expect(err.result.championVersion).toBe('3');
    expect(err.result.champion?.accuracy).toBe(1);
  });

  it('fails naming the champion and the environment when its files no longer have the pinned digests', async () => {
    const champion = storeChampion(fake, join(tmp, 'champion'), tinyModel(3));
    const wrong = { ...champion, files: { ...champion.files, 'model.onnx': 'e'.repeat(64) } };
    await expect(evaluatePromotion(fakeClient(fake), input({ champion: wrong }))).rejects.toThrow(
      'evaluation: cannot fetch the champion (clf version 3, pinned in staging) to compare with: ' +
        `its model.onnx has sha256 ${champion.sha256}, the pin says ${'e'.repeat(64)}`,
    );
  });

  it('fails when there is a champion to compare with but no MLflow to fetch it from', async () => {
    const champion = storeChampion(fake, join(tmp, 'champion'), tinyModel(3));
    await expect(evaluatePromotion(undefined, input({ champion }))).rejects.toThrow(
      'evaluation: cannot fetch the champion (clf version 3, pinned in staging) to compare with: ' +
        'MLflow is not configured (MLFLOW_TRACKING_URI)',
    );
  });

  it('fails naming the champion version when the champion cannot be loaded', async () => {
    const broken = withMetadata(tinyModel(3), (m) => ((m.input as { name: string }).name = 'nope'));
    const champion = storeChampion(fake, join(tmp, 'champion'), broken, '7');
    await expect(evaluatePromotion(fakeClient(fake), input({ champion }))).rejects.toThrow(
      /^evaluation: the champion \(version 7\) cannot be loaded: .*no input 'nope'/,
    );
  });

  it("reads a golden set shipped with the model from the challenger's artifact location", async () => {
    for (const folder of ['cat', 'dog']) {
      for (const file of readdirSync(join(REPO_ROOT, GOLDEN_PATH, folder))) {
        fake.artifacts.set(
          `1/run/artifacts/model/golden/${folder}/${file}`,
          readFileSync(join(REPO_ROOT, GOLDEN_PATH, folder, file)),
        );
      }
    }
    const result = await evaluatePromotion(
      fakeClient(fake),
      input({ policy: policy({ goldenSet: { from: 'model-artifacts', path: 'golden' } }) }),
    );
    expect(result.challenger.goldenSet.source).toBe('mlflow-artifacts:/1/run/artifacts/model/golden');
    expect(result.challenger.samples).toBe(16);
    expect(lines).toEqual([
      'promote: evaluating on golden set mlflow-artifacts:/1/run/artifacts/model/golden (16 images)',
    ]);
  });

  it("reads a golden set shipped with the run from the version's run", async () => {
    writeModel(join(tmp, 'registered'), tinyModel(4));
    await registerInFake(fake, join(tmp, 'registered'), 'clf');
    const [runId, run] = [...fake.runs.entries()][0]!;
    const root = run.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
    for (const label of ['cat', 'dog']) {
      for (const file of readdirSync(join(REPO_ROOT, GOLDEN_PATH, label))) {
        const bytes = readFileSync(join(REPO_ROOT, GOLDEN_PATH, label, file));
        fake.artifacts.set(`${root}/eval/${label}/${file}`, bytes);
      }
    }
    const result = await evaluatePromotion(
      fakeClient(fake),
      input({ runId, policy: policy({ goldenSet: { from: 'run-artifacts', path: 'eval' } }) }),
    );
    expect(result.challenger.goldenSet.source).toBe(`${run.artifact_uri}/eval`);
    expect(result.challenger.samples).toBe(16);
  });
});

describe('gateChallenger (the whole promotion gate on a challenger, as promote and evaluate run it)', () => {
  let tmp: string;
  let lines: string[];
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'challenger-gate-'));
    lines = [];
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const input = (model: BuiltModel): PromotionEvaluationInput => challengerInput(tmp, model, lines);

  it('passes a good challenger with what the structural checks measured and the evaluation', async () => {
    const result = await gateChallenger(undefined, input(tinyModel(1)));
    expect(result.structure).toMatchObject({ samples: 5, predictions: expect.any(Array) });
    expect(result.verdict).toEqual({ passed: true, failures: [] });
    expect(result.challenger).toMatchObject({ samples: 16, accuracy: 1 });
  });

  it('fails on the structure before any golden image, however well the model would score', async () => {
    const err = await gateChallenger(undefined, input(meanColourModel('softmax', 'logits'))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GateRefused);
    expect((err as Error).message).toMatch(
      /^validation gate: output 'scores' is declared 'logits' but on every sample image its values are probabilities/,
    );
    expect(lines).toEqual([]);
  });

  it('fails a threshold with the refusal carrying what the structural checks measured', async () => {
    const err = await gateChallenger(undefined, input(tinyModel(1, { labels: ['dog', 'cat'] }))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EvaluationRefused);
    const refused = err as EvaluationRefused;
    expect(refused.message).toMatch(/^validation gate: the challenger fails minAccuracy, /);
    expect(refused.result.structure).toMatchObject({ samples: 5 });
  });
});

describe('gateTagKey', () => {
  it('is model_gitops.<env>.<key>', () => {
    expect(gateTagKey('production', 'gate')).toBe('model_gitops.production.gate');
  });
});

describe('tagVerdict (the verdict as model version tags)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  beforeAll(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'tag-verdict-'));
    writeModel(join(tmp, 'm'), tinyModel(1));
    await registerInFake(fake, join(tmp, 'm'), 'clf');
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The gate tags of version 1 in `env`, without the prefix. */
  const gateTags = (env: string): Record<string, string> =>
    Object.fromEntries(
      Object.entries(fake.tagsOf('clf', '1'))
        .filter(([k]) => k.startsWith(`model_gitops.${env}.`))
        .map(([k, v]) => [k.slice(`model_gitops.${env}.`.length), v]),
    );

  // cat 2/3, 'big cat/x' 1/1: accuracy 3/4; the champion (version 2) is measured on the same golden set.
  const challenger = evaluation(['cat', 'big cat/x'], [[0, 0, 1], [1]]);
  const result: PromotionEvaluation = {
    challenger,
    champion: challenger,
    championVersion: '2',
    verdict: { passed: true, failures: [], accuracyDelta: 0, agreement: 1 },
  };

  it('writes passed, the numbers to 4 places, the golden set, the champion version and the commit', async () => {
    await tagVerdict(fakeClient(fake), 'clf', '1', 'staging', result, { commit: 'abc123' });
    expect(gateTags('staging')).toEqual({
      gate: 'passed',
      accuracy: '0.7500',
      'recall.cat': '0.6667',
      'recall.big_cat_x': '1.0000',
      golden_set: 'g',
      golden_set_sha256: 'd'.repeat(64),
      champion_version: '2',
      commit: 'abc123',
    });
  });

  it('writes failed, "none" without a champion and the reason cut to MLflow\'s 5000 characters', async () => {
    const reason = `${'r'.repeat(4999)}XY`;
    await tagVerdict(
      fakeClient(fake),
      'clf',
      '1',
      'production',
      { ...result, champion: undefined, championVersion: undefined },
      { reason },
    );
    const tags = gateTags('production');
    expect(tags).toMatchObject({ gate: 'failed', champion_version: 'none' });
    expect(tags.reason).toBe(`${'r'.repeat(4999)}X`);
    expect(tags.commit).toBeUndefined();
  });
});
