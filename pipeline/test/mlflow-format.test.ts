/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelPin, modelPinPath } from '../../charts/src/config';
import { Classifier } from '../../service/src';
import { fixture, mlmodelWithBlock, softmaxClassifier, writeDir } from '../../service/test/mlflow-fixtures';
import { withExternalData } from '../../service/src/model/builders';
import { fetchModel } from '../src/commands/model-fetch';
import { promote } from '../src/commands/promote';
import { sampleImages } from '../src/samples';
import { FakeMlflow } from './support/fake-mlflow';
import { fakeClient, sha256Of } from './support/models';
import { createTempRepo, git, setEvaluationPolicy, treeState, type TempRepo } from './support/repo';

const NAME = 'cats-dogs-classifier';
const quiet = (): void => undefined;
const PREPROCESSING_ONLY = [
  '    preprocessing:',
  '      mean: [0.485, 0.456, 0.406]',
  '      resize: center-crop',
  '      std: [0.229, 0.224, 0.225]',
  '',
].join('\n');

/**
 * Issue 10's "Done when", in the fake registry: versions logged as MLflow logs them (MLmodel + model.onnx,
 * a labels.json beside it or not, never a model.json), with each source form MLflow stores, are promoted
 * (gate included), fetched from the pin and served; the ones that cannot be served fail with the documented
 * error and leave the repository as it was.
 */
describe('a version logged the standard way (MLmodel, no model.json)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;
  const onnx = softmaxClassifier();

  beforeAll(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'mlflow-format-'));
    // v1: the champion pinned in every environment when the tests start (the quality gate fetches and scores
    // it against each challenger).
    const championMlmodel = fixture('MLmodel.with-metadata');
    const champion = fake.logModelVersion(
      NAME,
      { MLmodel: championMlmodel, 'model.onnx': onnx },
      'mlflow-artifacts',
    );
    // v2: MLflow 3 (models:/ source), the MLmodel MLflow wrote with the metadata block.
    fake.logModelVersion(NAME, { MLmodel: fixture('MLmodel.with-metadata'), 'model.onnx': onnx }, 'models');
    // v3: runs:/ source, preprocessing in the metadata block, labels in labels.json beside it.
    fake.logModelVersion(
      NAME,
      {
        MLmodel: mlmodelWithBlock(PREPROCESSING_ONLY),
        'model.onnx': onnx,
        'labels.json': fixture('labels.json'),
      },
      'runs',
    );
    // v4: mlflow-artifacts:/ source, no metadata block, only labels.json: the preprocessing is unknown.
    fake.logModelVersion(
      NAME,
      { MLmodel: mlmodelWithBlock(null), 'model.onnx': onnx, 'labels.json': fixture('labels.json') },
      'mlflow-artifacts',
    );
    // v5: preprocessing but no labels anywhere.
    fake.logModelVersion(NAME, { MLmodel: mlmodelWithBlock(PREPROCESSING_ONLY), 'model.onnx': onnx }, 'runs');
    repo = createTempRepo(join(tmp, 'repos'), {
      name: NAME,
      version: champion.version,
      sha256: sha256Of(onnx),
      files: { MLmodel: sha256Of(championMlmodel), 'model.onnx': sha256Of(onnx) },
      source: champion.source,
    });
    // This suite is about the model format: the models have random weights, so the quality gate's thresholds
    // are opened (its own tests are promote-evaluation.test.ts); the gate still runs on every promotion.
    setEvaluationPolicy(repo.root, 'staging', {
      minAccuracy: 0,
      minRecall: 0,
      maxAccuracyDrop: 1,
      minAgreement: null,
    });
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const promoteVersion = (version: string): ReturnType<typeof promote> =>
    promote(fakeClient(fake), {
      cwd: repo.root,
      env: 'staging',
      selector: { kind: 'version', value: version },
      log: quiet,
    });

  /** Fetches the staging pin as the init container does and opens it as the service does. */
  async function serveStagingPin(into: string): Promise<Classifier> {
    const pin = readModelPin(modelPinPath(repo.root, 'staging'));
    const dest = join(tmp, into);
    await fetchModel(fakeClient(fake), { ...pin, dest, waitAttempts: 1, waitIntervalMs: 1, log: quiet });
    expect(readdirSync(dest).sort()).toEqual(Object.keys(pin.files).sort());
    return Classifier.open(dest, { expectedSha256: pin.sha256, expectedFiles: pin.files });
  }

  it('promotes, fetches and serves the version MLflow wrote with the metadata block (models:/ source)', async () => {
    expect(await promoteVersion('2')).toMatchObject({ status: 'promoted', newVersion: '2' });
    const pin = readModelPin(modelPinPath(repo.root, 'staging'));
    expect(pin.files).toEqual({
      MLmodel: sha256Of(fixture('MLmodel.with-metadata')),
      'model.onnx': sha256Of(onnx),
    });
    expect(pin.sha256).toBe(sha256Of(onnx));
    expect(pin.source).toMatch(/^mlflow-artifacts:\/1\/models\/m-[0-9a-f]+\/artifacts$/);
    expect(git(repo.root, 'show', 'HEAD:dist/staging/Rollout.cats-dogs-classifier.yaml')).toContain(
      `- MLmodel=${pin.files.MLmodel}`,
    );
    const classifier = await serveStagingPin('v1');
    try {
      expect(classifier.files.metadata.preprocessing).toMatchObject({
        resize: 'center-crop',
        interpolation: 'bilinear',
      });
      const [sample] = await sampleImages();
      const result = await classifier.classify(sample!.bytes);
      expect(['cat', 'dog'][result.index]).toBe(result.label);
      expect(result.topK.map((c) => c.index).sort()).toEqual([0, 1]);
      expect(result.topK.reduce((a, c) => a + c.score, 0)).toBeCloseTo(1, 5); // probabilities, not re-softmaxed
    } finally {
      await classifier.close();
    }
  });

  it('serves a version whose labels are in labels.json beside the MLmodel (runs:/ source), pinning that file too', async () => {
    expect(await promoteVersion('3')).toMatchObject({ status: 'promoted', newVersion: '3' });
    const pin = readModelPin(modelPinPath(repo.root, 'staging'));
    expect(Object.keys(pin.files)).toEqual(['MLmodel', 'labels.json', 'model.onnx']);
    const classifier = await serveStagingPin('v2');
    try {
      expect(classifier.files.metadata.labels).toEqual(['cat', 'dog']);
      expect(classifier.files.sources.labels).toBe('labels.json');
    } finally {
      await classifier.close();
    }
  });

  it("promotes, fetches and serves a version logged with MLflow's default external data, pinning the weights file", async () => {
    // What mlflow.onnx.log_model writes by default (save_as_external_data=True): the weights in a uuid-named file.
    const location = '9a1c7e52-4f0b-11f0-8d2e-0242ac120002';
    const external = withExternalData(onnx, location, 1);
    const v = fake.logModelVersion(
      NAME,
      { MLmodel: fixture('MLmodel.with-metadata'), 'model.onnx': external.onnx, [location]: external.data },
      'models',
    );
    expect(await promoteVersion(v.version)).toMatchObject({ status: 'promoted', newVersion: v.version });
    const pin = readModelPin(modelPinPath(repo.root, 'staging'));
    expect(pin.files).toEqual({
      MLmodel: sha256Of(fixture('MLmodel.with-metadata')),
      'model.onnx': sha256Of(external.onnx),
      [location]: sha256Of(external.data),
    });
    expect(git(repo.root, 'show', 'HEAD:dist/staging/Rollout.cats-dogs-classifier.yaml')).toContain(
      `- ${location}=${sha256Of(external.data)}`,
    );
    const classifier = await serveStagingPin('v-external');
    const inlineDir = join(tmp, 'inline');
    writeDir(inlineDir, { MLmodel: { fixture: 'MLmodel.with-metadata' }, 'model.onnx': onnx });
    const inline = await Classifier.open(inlineDir);
    try {
      for (const sample of await sampleImages()) {
        const [got, want] = await Promise.all([
          classifier.classify(sample.bytes),
          inline.classify(sample.bytes),
        ]);
        expect(got.topK).toEqual(want.topK);
      }
    } finally {
      await Promise.all([classifier.close(), inline.close()]);
    }
  });

  it('fails to promote a version whose external-data file is not in the registry, naming it', async () => {
    const location = 'weights.bin';
    const v = fake.logModelVersion(
      NAME,
      { MLmodel: fixture('MLmodel.with-metadata'), 'model.onnx': withExternalData(onnx, location, 1).onnx },
      'runs',
    );
    const before = treeState(repo.root);
    await expect(promoteVersion(v.version)).rejects.toThrow(
      /is not servable: model\.onnx: the graph keeps tensors in 'weights\.bin' \(ONNX external data, .*\) but the directory has no such file \(found: MLmodel, model\.onnx\)/,
    );
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails to promote a version with only labels.json: the preprocessing is missing, with the Python to add', async () => {
    const before = treeState(repo.root);
    await expect(promoteVersion('4')).rejects.toThrow(
      /validation gate: .*missing preprocessing[\s\S]*metadata=\{"model_gitops": \{[\s\S]*"preprocessing": \{/,
    );
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails to promote a version whose MLmodel names an ONNX file that is not there', async () => {
    const v = fake.logModelVersion(
      NAME,
      {
        MLmodel: fixture('MLmodel.with-metadata')
          .toString()
          .replace(/data: model\.onnx/g, 'data: net.onnx'),
        'model.onnx': onnx,
      },
      'runs',
    );
    const before = treeState(repo.root);
    await expect(promoteVersion(v.version)).rejects.toThrow(
      /names the ONNX file 'net\.onnx' \(flavors\.onnx\.data\) but the directory has no such file \(found: MLmodel, model\.onnx\)/,
    );
    expect(treeState(repo.root)).toEqual(before);
  });

  it('fails to promote a version with no labels anywhere, naming labels', async () => {
    const before = treeState(repo.root);
    await expect(promoteVersion('5')).rejects.toThrow(
      /missing labels [\s\S]*labels: looked in MLmodel metadata\.model_gitops\.labels, .*labels\.json, labels\.txt/,
    );
    expect(treeState(repo.root)).toEqual(before);
  });
});
