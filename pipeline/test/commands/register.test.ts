import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerModel } from '../../src/commands/register';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient, tinyModel, writeModel } from '../support/models';

const NAME = 'cats-dogs-classifier';
const quiet = (): void => undefined;

describe('register', () => {
  let fake: FakeMlflow;
  let tmp: string;
  beforeEach(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'register-'));
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("uploads model.onnx and model.json under the run's model/ and creates a version with the alias", async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    const v = await registerModel(fakeClient(fake), {
      modelDir: join(tmp, 'm'),
      name: NAME,
      alias: 'staging',
      log: quiet,
    });
    expect(v.version).toBe('1');
    const run = fake.runs.get(v.run_id as string);
    expect(run?.status).toBe('FINISHED');
    expect(v.source).toBe(`${run?.artifact_uri}/model`);
    const prefix = `${run?.experiment_id}/${run?.run_id}/artifacts/model/`;
    expect([...fake.artifacts.keys()].sort()).toEqual([`${prefix}model.json`, `${prefix}model.onnx`]);
    expect(fake.aliases.get(NAME)?.get('staging')).toBe('1');
  });

  it('adds a version to an existing model and reuses the experiment', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    const client = fakeClient(fake);
    await registerModel(client, { modelDir: join(tmp, 'm'), name: NAME, log: quiet });
    const second = await registerModel(client, { modelDir: join(tmp, 'm'), name: NAME, log: quiet });
    expect(second.version).toBe('2');
    expect(fake.experiments.size).toBe(1);
  });

  it('fails when the directory has no model.json, naming the option and the fix', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    rmSync(join(tmp, 'm', 'model.json'));
    await expect(
      registerModel(fakeClient(fake), { modelDir: join(tmp, 'm'), name: NAME, log: quiet }),
    ).rejects.toThrow(
      /--model-dir '.*' has no model.json: a model directory holds model.onnx and model.json/,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('fails when model.json is not valid metadata, naming the field', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    writeFileSync(join(tmp, 'm', 'model.json'), JSON.stringify({ labels: [] }));
    await expect(
      registerModel(fakeClient(fake), { modelDir: join(tmp, 'm'), name: NAME, log: quiet }),
    ).rejects.toThrow(/invalid model metadata: 'labels'/);
  });

  it('marks the run FAILED and creates no version when an upload fails', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    fake.faults.failUploads = true;
    await expect(
      registerModel(fakeClient(fake), { modelDir: join(tmp, 'm'), name: NAME, log: quiet }),
    ).rejects.toThrow(
      /upload .* MLflow failed 3 times, last: HTTP 500 INTERNAL_ERROR: No space left on device/,
    );
    expect([...fake.runs.values()].map((r) => r.status)).toEqual(['FAILED']);
    expect(fake.versions.size).toBe(0);
  });
});
