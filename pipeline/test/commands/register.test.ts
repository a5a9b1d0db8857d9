import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { withExternalData } from '../../../service/src/model/builders';
import { readModelFiles } from '../../../service/src/model/format';
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

  it("logs an MLflow model (MLmodel + model.onnx) under the run's model/ and creates a version with the alias", async () => {
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
    expect([...fake.artifacts.keys()].sort()).toEqual([`${prefix}MLmodel`, `${prefix}model.onnx`]);
    expect(fake.aliases.get(NAME)?.get('staging')).toBe('1');

    // The MLmodel has the shape MLflow writes: what mlflow.onnx.load_model reads (flavors.onnx.data) and
    // the rest of Model.save's keys; the signature is the graph's; metadata carries the description.
    const text = fake.artifacts.get(`${prefix}MLmodel`)?.toString('utf8') ?? '';
    const mlmodel = parse(text) as Record<string, unknown>;
    expect(Object.keys(mlmodel)).toEqual([
      'artifact_path',
      'flavors',
      'metadata',
      'mlflow_version',
      'model_uuid',
      'run_id',
      'signature',
      'utc_time_created',
    ]);
    expect(mlmodel).toMatchObject({
      artifact_path: 'model',
      flavors: { onnx: { code: null, data: 'model.onnx', providers: ['CPUExecutionProvider'] } },
      model_uuid: expect.stringMatching(/^[0-9a-f]{32}$/),
      run_id: run?.run_id,
      utc_time_created: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/),
      metadata: {
        model_gitops: {
          labels: ['cat', 'dog'],
          input: { name: 'input', layout: 'NCHW', height: 32, width: 32, channelOrder: 'RGB' },
          preprocessing: { resize: 'squash', interpolation: 'bilinear' },
          output: { name: 'logits', kind: 'logits' },
        },
      },
    });
    expect(text).toMatch(/^utc_time_created: '.*'$/m);
    const sig = mlmodel.signature as { inputs: string; outputs: string; params: null };
    expect(JSON.parse(sig.inputs)).toEqual([
      { name: 'input', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3, 32, 32] } },
    ]);
    expect(JSON.parse(sig.outputs)).toEqual([
      { name: 'logits', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 2] } },
    ]);
    expect(sig.inputs).toContain('"tensor-spec": {"dtype": '); // Python's json.dumps separators

    // What was logged is served alone: resolved from the downloaded MLmodel + model.onnx.
    const down = join(tmp, 'down');
    mkdirSync(down);
    for (const file of ['MLmodel', 'model.onnx']) {
      writeFileSync(join(down, file), fake.artifacts.get(`${prefix}${file}`) as Buffer);
    }
    const resolved = await readModelFiles(down);
    expect(resolved.format).toBe('mlflow');
    expect(resolved.metadata).toEqual((await readModelFiles(join(tmp, 'm'))).metadata);
  });

  it('uploads the external-data file of a graph saved with it, so the registered version can be served', async () => {
    const dir = join(tmp, 'm');
    const model = tinyModel();
    writeModel(dir, model);
    const external = withExternalData(model.onnx, 'model.onnx.data');
    writeFileSync(join(dir, 'model.onnx'), external.onnx);
    writeFileSync(join(dir, 'model.onnx.data'), external.data);
    const v = await registerModel(fakeClient(fake), { modelDir: dir, name: NAME, log: quiet });
    const run = fake.runs.get(v.run_id as string);
    const prefix = `${run?.experiment_id}/${run?.run_id}/artifacts/model/`;
    expect([...fake.artifacts.keys()].sort()).toEqual([
      `${prefix}MLmodel`,
      `${prefix}model.onnx`,
      `${prefix}model.onnx.data`,
    ]);
    expect(fake.artifacts.get(`${prefix}model.onnx.data`)).toEqual(Buffer.from(external.data));
  });

  it('adds a version to an existing model and reuses the experiment', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    const client = fakeClient(fake);
    await registerModel(client, { modelDir: join(tmp, 'm'), name: NAME, log: quiet });
    const second = await registerModel(client, { modelDir: join(tmp, 'm'), name: NAME, log: quiet });
    expect(second.version).toBe('2');
    expect(fake.experiments.size).toBe(1);
  });

  it('fails when the directory is not a model directory, naming the option and the fix', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    rmSync(join(tmp, 'm', 'model.json'));
    await expect(
      registerModel(fakeClient(fake), { modelDir: join(tmp, 'm'), name: NAME, log: quiet }),
    ).rejects.toThrow(
      /--model-dir '.*': .*not a model directory: no MLmodel \(nor model.json\) among model.onnx/,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('fails when model.json is not a valid description, naming the field', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    writeFileSync(join(tmp, 'm', 'model.json'), JSON.stringify({ labels: [] }));
    await expect(
      registerModel(fakeClient(fake), { modelDir: join(tmp, 'm'), name: NAME, log: quiet }),
    ).rejects.toThrow(/model.json: invalid model description: 'labels'/);
    expect(fake.requests).toHaveLength(0);
  });

  it('fails naming the version it created when MLflow refuses the alias, so a retry does not register again', async () => {
    writeModel(join(tmp, 'm'), tinyModel());
    await expect(
      registerModel(fakeClient(fake), { modelDir: join(tmp, 'm'), name: NAME, alias: 'latest', log: quiet }),
    ).rejects.toThrow(
      /^register: version 1 of 'cats-dogs-classifier' was created, but the alias 'latest' could not be set: .*is reserved.*: set the alias on version 1 in MLflow rather than registering again$/,
    );
    expect(fake.versions.get(NAME)?.map((v) => v.version)).toEqual(['1']);
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
