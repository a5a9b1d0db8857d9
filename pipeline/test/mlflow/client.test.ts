import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../bench/src/harness';
import { artifactProxyPath, LocalFileError, MlflowClient, MlflowError } from '../../src/mlflow';
import { FakeMlflow } from '../support/fake-mlflow';
import { RECORDED, ScriptedMlflow, type Reply } from '../support/scripted-mlflow';

const NAME = 'cats-dogs-classifier';

describe('MlflowClient against the fake MLflow server', () => {
  let fake: FakeMlflow;
  let client: MlflowClient;
  let tmp: string;

  beforeEach(async () => {
    fake = await FakeMlflow.start();
    client = new MlflowClient({ connection: { baseUrl: fake.url }, retries: 2, backoffMs: 1 });
    tmp = mkdtempSync(join(tmpdir(), 'mlflow-client-'));
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  async function registerVersion(
    files: Record<string, string>,
  ): Promise<{ runId: string; artifactUri: string }> {
    const exp = await client.ensureExperiment('exp');
    const run = await client.createRun(exp, 'train');
    for (const [name, content] of Object.entries(files)) {
      const local = join(tmp, name);
      writeFileSync(local, content);
      await client.uploadArtifact(`${run.artifact_uri}/model/${name}`, local);
    }
    await client.ensureRegisteredModel(NAME);
    return { runId: run.run_id, artifactUri: `${run.artifact_uri}/model` };
  }

  it('creates versions whose numbers are strings and resolves an alias to one', async () => {
    const { runId, artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    const v1 = await client.createModelVersion(NAME, artifactUri, runId);
    expect(v1.version).toBe('1');
    await client.setAlias(NAME, 'production', v1.version);
    const byAlias = await client.getVersionByAlias(NAME, 'production');
    expect(byAlias).toMatchObject({ version: '1', source: artifactUri, aliases: ['production'] });
  });

  it('fails when the alias is unknown (MLflow answers 400) with a message naming model and alias', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    await expect(client.getVersionByAlias(NAME, 'production')).rejects.toThrow(
      "model 'cats-dogs-classifier' has no alias 'production'",
    );
    await expect(client.getVersionByAlias(NAME, 'production')).rejects.toMatchObject({ kind: 'unassigned' });
  });

  it('fails when the model does not exist, saying so', async () => {
    await expect(client.getVersionByAlias('nope', 'production')).rejects.toThrow(
      /Registered Model with name=nope not found/,
    );
  });

  it('resolves a stage case-insensitively and treats the `{}` answer as an empty stage', async () => {
    const { runId, artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    await client.createModelVersion(NAME, artifactUri, runId);
    await expect(client.getLatestVersionInStage(NAME, 'Production')).rejects.toThrow(
      "model 'cats-dogs-classifier' has no version in stage 'Production'",
    );
    fake.setStage(NAME, '1', 'Production');
    expect((await client.getLatestVersionInStage(NAME, 'production')).version).toBe('1');
  });

  it('resolves mlflow-artifacts:, runs:/ and models:/ sources to the proxy location', async () => {
    const { runId, artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    const v1 = await client.createModelVersion(NAME, artifactUri, runId);
    const v2 = await client.createModelVersion(NAME, `runs:/${runId}/model`, runId);
    const logged = fake.addLoggedModel('1');
    const v3 = await client.createModelVersion(NAME, `models:/${logged.modelId}`, runId);
    expect(await client.resolveArtifactLocation(v1)).toBe(artifactUri);
    expect(await client.resolveArtifactLocation(v2)).toBe(artifactUri);
    expect(await client.resolveArtifactLocation(v3)).toBe(logged.artifactUri);
  });

  it('fails when the source is not served by the artifact proxy, saying what to do', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    const v = await client.createModelVersion(NAME, 's3://bucket/model');
    await expect(client.resolveArtifactLocation(v)).rejects.toThrow(
      /only artifacts served through the MLflow/,
    );
  });

  it('lists a directory, and a missing directory (answered `{}`) as empty', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'A', 'model.json': '{}' });
    expect((await client.listArtifacts(artifactUri)).map((f) => f.path)).toEqual([
      'model.json',
      'model.onnx',
    ]);
    expect(await client.listArtifacts(`${artifactUri}/nothing-here`)).toEqual([]);
  });

  it('streams a download to disk and returns its sha256', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'hello' });
    const dest = join(tmp, 'out.onnx');
    const result = await client.downloadArtifact(`${artifactUri}/model.onnx`, dest);
    expect(readFileSync(dest, 'utf8')).toBe('hello');
    expect(result).toEqual({
      bytes: 5,
      sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    });
  });

  it('stops a download over maxBytes, announced or streamed without a length, and does not retry it', async () => {
    const { artifactUri } = await registerVersion({ 'big.png': 'x'.repeat(100) });
    const uri = `${artifactUri}/big.png`;
    await expect(client.downloadArtifact(uri, join(tmp, 'a'), { maxBytes: 99 })).rejects.toThrow(
      `download '${uri}': the file has more than 99 bytes (100 announced or received)`,
    );
    fake.faults.chunked = true;
    const before = fake.requests.length;
    await expect(client.downloadArtifact(uri, join(tmp, 'b'), { maxBytes: 50 })).rejects.toThrow(
      /the file has more than 50 bytes \(\d+ announced or received\)/,
    );
    expect(fake.requests.length - before).toBe(1);
    expect((await client.downloadArtifact(uri, join(tmp, 'c'), { maxBytes: 100 })).bytes).toBe(100);
  });

  it('stops writing a body that runs past the size the listing gave, however long it would go on', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'x'.repeat(100) });
    fake.faults.chunked = true;
    fake.faults.overlongBytes = 1_000_000;
    const dest = join(tmp, 'long.onnx');
    await expect(
      client.downloadArtifact(`${artifactUri}/model.onnx`, dest, { expectedBytes: 100 }),
    ).rejects.toThrow(/received more than the 100 bytes announced/);
    // A chunk or two past the listed size at most, never the megabyte that followed.
    expect(statSync(dest).size).toBeLessThan(100 + 70_000);
  });

  it('fails at once, naming the destination, when the file cannot be written here (a full disk: /dev/full)', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'x'.repeat(10_000) });
    const before = fake.requests.length;
    const err = await client
      .downloadArtifact(`${artifactUri}/model.onnx`, '/dev/full')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalFileError);
    expect((err as Error).message).toMatch(
      /cannot write \/dev\/full \(ENOSPC\): the destination's volume is full/,
    );
    expect(fake.requests.length - before).toBe(1);
  });

  it('sets a model version tag, sending the version as a JSON string as MLflow requires', async () => {
    const { runId, artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    await client.createModelVersion(NAME, artifactUri, runId);
    await client.setModelVersionTag(NAME, '1', 'model_gitops.production.gate', 'passed');
    expect(fake.tagsOf(NAME, '1')).toEqual({ 'model_gitops.production.gate': 'passed' });
    await expect(client.setModelVersionTag(NAME, '9', 'k', 'v')).rejects.toThrow(
      /set tag 'k' on version 9 of model 'cats-dogs-classifier': Model Version .* not found/,
    );
  });

  it('fails when the artifact file is missing (MLflow answers 500) without retrying', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    const before = fake.requests.length;
    await expect(client.downloadArtifact(`${artifactUri}/missing.onnx`, join(tmp, 'x'))).rejects.toThrow(
      /the file does not exist in the artifact store/,
    );
    expect(fake.requests.length - before).toBe(1);
  });

  it('retries a truncated download and succeeds; fails after the retries are used up', async () => {
    const payload = 'x'.repeat(10_000);
    const { artifactUri } = await registerVersion({ 'model.onnx': payload });
    fake.faults.truncateNext = 1;
    const dest = join(tmp, 'out.onnx');
    expect((await client.downloadArtifact(`${artifactUri}/model.onnx`, dest)).bytes).toBe(10_000);
    fake.faults.truncateNext = 10;
    await expect(client.downloadArtifact(`${artifactUri}/model.onnx`, dest)).rejects.toThrow(
      /download .* failed 3 times, last: (truncated|connection lost)/,
    );
  });

  it('detects a chunked download (no Content-Length, as MLflow sends) cut short, and retries it', async () => {
    const payload = 'y'.repeat(50_000);
    const { artifactUri } = await registerVersion({ 'model.onnx': payload });
    fake.faults.chunked = true;
    fake.faults.truncateNext = 1;
    const dest = join(tmp, 'out.onnx');
    const result = await client.downloadArtifact(`${artifactUri}/model.onnx`, dest, {
      expectedBytes: 50_000,
    });
    expect(result.bytes).toBe(50_000);
    expect(fake.faults.truncateNext).toBe(0);
  });

  it('retries a chunked download cut short also when no size is known', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'y'.repeat(50_000) });
    fake.faults.chunked = true;
    fake.faults.truncateNext = 1;
    const before = fake.requests.length;
    const dest = join(tmp, 'out.onnx');
    expect((await client.downloadArtifact(`${artifactUri}/model.onnx`, dest)).bytes).toBe(50_000);
    expect(readFileSync(dest, 'utf8')).toBe('y'.repeat(50_000));
    expect(fake.requests.length - before).toBe(2);
  });

  it('fails when a complete chunked body is shorter than the size the listing reported', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'short' });
    fake.faults.chunked = true;
    await expect(
      client.downloadArtifact(`${artifactUri}/model.onnx`, join(tmp, 'x'), { expectedBytes: 6 }),
    ).rejects.toThrow(/failed 3 times, last: truncated: received 5 of 6 bytes/);
  });

  it('times out a request that gets no answer and retries it', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    const impatient = new MlflowClient({
      connection: { baseUrl: fake.url },
      timeoutMs: 200,
      retries: 1,
      backoffMs: 1,
    });
    fake.faults.hangNext = 1;
    await impatient.ensureRegisteredModel(NAME);
    fake.faults.hangNext = 2;
    await expect(impatient.getModelVersion(NAME, '1')).rejects.toThrow(
      /after 2 attempts \(no answer within 200 ms\)/,
    );
  });

  it('retries 5xx and 429 and then succeeds', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    fake.faults.failNext = 2;
    fake.faults.failStatus = 503;
    await expect(client.getVersionByAlias(NAME, 'x')).rejects.toThrow(/has no alias 'x'/);
    fake.faults.failNext = 1;
    fake.faults.failStatus = 429;
    await expect(client.getLatestVersionInStage(NAME, 'Staging')).rejects.toThrow(/no version in stage/);
  });

  it('fails after the retries when the server keeps answering 5xx', async () => {
    fake.faults.failNext = 5;
    await expect(client.getModelVersion(NAME, '1')).rejects.toThrow(
      /get version 1 of model 'cats-dogs-classifier': MLflow failed 3 times, last: HTTP 503 TEMPORARILY_UNAVAILABLE/,
    );
  });

  it('retries a reset connection and then succeeds', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    fake.faults.resetNext = 2;
    await client.ensureRegisteredModel(NAME);
    expect(fake.faults.resetNext).toBe(0);
  });

  it('does not retry other 4xx answers', async () => {
    const before = fake.requests.length;
    await expect(client.getModelVersion(NAME, '1')).rejects.toMatchObject({ kind: 'not-found' });
    expect(fake.requests.length - before).toBe(1);
  });

  it('fails when the path is unknown (HTML 404), hinting at MLFLOW_TRACKING_URI', async () => {
    const wrong = new MlflowClient({ connection: { baseUrl: `${fake.url}/sub` }, retries: 0 });
    await expect(wrong.getModelVersion(NAME, '1')).rejects.toThrow(
      /HTTP 404 without an MLflow error body.*MLFLOW_TRACKING_URI/,
    );
  });

  it('sends the bearer token and fails with 401 naming the variables when it is wrong', async () => {
    fake.requiredAuthorization = 'Bearer s3cret';
    const good = new MlflowClient({ connection: { baseUrl: fake.url, authorization: 'Bearer s3cret' } });
    await good.ensureRegisteredModel(NAME);
    const bad = new MlflowClient({ connection: { baseUrl: fake.url, authorization: 'Bearer wrong' } });
    const err = (await bad.getModelVersion(NAME, '1').catch((e: unknown) => e)) as MlflowError;
    expect(err.kind).toBe('unauthorized');
    expect(err.message).toMatch(/HTTP 401.*MLFLOW_TRACKING_TOKEN/);
    expect(err.message).not.toContain('wrong');
    const none = new MlflowClient({ connection: { baseUrl: fake.url } });
    await expect(none.getModelVersion(NAME, '1')).rejects.toThrow(
      /set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/,
    );
  });

  it('fails when the registry is down after bounded retries, naming the URL', async () => {
    const port = await freePort();
    const down = new MlflowClient({
      connection: { baseUrl: `http://127.0.0.1:${port}` },
      retries: 1,
      backoffMs: 1,
    });
    await expect(down.getModelVersion(NAME, '1')).rejects.toThrow(
      new RegExp(`cannot reach MLflow at http://127.0.0.1:${port} after 2 attempts \\(ECONNREFUSED\\)`),
    );
  });
  it('checks health in one attempt, with the credentials, and is not delayed by the backoff', async () => {
    fake.requiredAuthorization = 'Bearer s3cret';
    const patient = new MlflowClient({
      connection: { baseUrl: fake.url, authorization: 'Bearer s3cret' },
      backoffMs: 60_000,
    });
    await patient.health();
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'GET',
      url: '/health',
      authorization: 'Bearer s3cret',
    });
    for (const status of [500, 503, 429]) {
      fake.faults.failNext = 1;
      fake.faults.failStatus = status;
      const before = fake.requests.length;
      await expect(patient.health()).rejects.toMatchObject({
        kind: 'server',
        message: `check MLflow health: MLflow failed 1 times, last: HTTP ${status}`,
      });
      expect(fake.requests.length - before).toBe(1);
    }
    await patient.health();
  });

  it('fails the health check naming the status when the URL is not a tracking server or the token is missing', async () => {
    const wrong = new MlflowClient({ connection: { baseUrl: `${fake.url}/sub` } });
    await expect(wrong.health()).rejects.toMatchObject({
      kind: 'not-found',
      status: 404,
      message:
        `check MLflow health: HTTP 404 without an MLflow error body from ${fake.url}/sub ` +
        '(is MLFLOW_TRACKING_URI the base URL of an MLflow tracking server?)',
    });
    fake.requiredAuthorization = 'Bearer s3cret';
    await expect(client.health()).rejects.toMatchObject({
      kind: 'unauthorized',
      status: 401,
      message:
        'check MLflow health: MLflow refused the request with HTTP 401; ' +
        'set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
    });
  });

  it('drops trailing slashes of the base URL', async () => {
    const slashed = new MlflowClient({ connection: { baseUrl: `${fake.url}//` } });
    expect(slashed.baseUrl).toBe(fake.url);
    await slashed.health();
    expect(fake.requests.at(-1)?.url).toBe('/health');
  });

  it('gets a version by number, also past 9', async () => {
    const { runId, artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    for (let i = 0; i < 12; i++) await client.createModelVersion(NAME, artifactUri, runId, `export ${i + 1}`);
    expect(await client.getModelVersion(NAME, '12')).toMatchObject({
      name: NAME,
      version: '12',
      source: artifactUri,
      run_id: runId,
      description: 'export 12',
      current_stage: 'None',
    });
  });

  it('fails naming what was asked, with MLflow message, code and kind', async () => {
    await client.ensureRegisteredModel(NAME);
    const cases: [Promise<unknown>, string, string, number][] = [
      [
        client.getVersionByAlias('nope', 'production'),
        "resolve alias 'production' of model 'nope': Registered Model with name=nope not found (RESOURCE_DOES_NOT_EXIST)",
        'not-found',
        404,
      ],
      [
        client.getLatestVersionInStage('nope', 'staging'),
        "find the Staging version of model 'nope': Registered Model with name=nope not found (RESOURCE_DOES_NOT_EXIST)",
        'not-found',
        404,
      ],
      [
        client.getModelVersion(NAME, 'latest'),
        `get version latest of model '${NAME}': Parameter 'version' must be an integer, got 'latest'. (INVALID_PARAMETER_VALUE)`,
        'invalid',
        400,
      ],
      [
        client.getDownloadUri(NAME, '7'),
        `get the download URI of version 7 of model '${NAME}': Model Version (name=${NAME}, version=7) not found (RESOURCE_DOES_NOT_EXIST)`,
        'not-found',
        404,
      ],
      [
        client.getRun('0000'),
        "get run '0000': Run with id=0000 not found (RESOURCE_DOES_NOT_EXIST)",
        'not-found',
        404,
      ],
      [
        client.finishRun('0000', 'FINISHED'),
        "mark run '0000' FINISHED: Run with id=0000 not found (RESOURCE_DOES_NOT_EXIST)",
        'not-found',
        404,
      ],
      [
        client.createModelVersion('nope', 'mlflow-artifacts:/1/r/artifacts/model'),
        "create a version of model 'nope' from 'mlflow-artifacts:/1/r/artifacts/model': " +
          'Registered Model with name=nope not found (RESOURCE_DOES_NOT_EXIST)',
        'not-found',
        404,
      ],
      [
        client.setAlias(NAME, 'champion', '9'),
        `set alias 'champion' of model '${NAME}' to version 9: Model Version (name=${NAME}, version=9) not found (RESOURCE_DOES_NOT_EXIST)`,
        'not-found',
        404,
      ],
    ];
    for (const [call, message, kind, status] of cases) {
      await expect(call).rejects.toMatchObject({ message, kind, status, name: 'MlflowError' });
    }
  });

  it('fails after the retries naming what was asked and the last error (first line of its message)', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    const local = join(tmp, 'up.onnx');
    writeFileSync(local, 'B');
    fake.faults.failStatus = 500;
    const cases: [() => Promise<unknown>, string][] = [
      [() => client.listArtifacts(artifactUri), `list artifacts at '${artifactUri}'`],
      [() => client.ensureExperiment('exp'), "get experiment 'exp'"],
      [() => client.createRun('1', 'train'), 'create a run in experiment 1'],
      [() => client.ensureRegisteredModel('other'), "create registered model 'other'"],
      [
        () => client.uploadArtifact(`${artifactUri}/up.onnx`, local),
        `upload '${local}' to '${artifactUri}/up.onnx'`,
      ],
    ];
    for (const [call, what] of cases) {
      fake.faults.failNext = 3;
      const before = fake.requests.length;
      await expect(call()).rejects.toMatchObject({
        kind: 'server',
        message: `${what}: MLflow failed 3 times, last: HTTP 500 TEMPORARILY_UNAVAILABLE: try again`,
      });
      expect(fake.requests.length - before).toBe(3);
    }
    fake.faults.failUploads = true;
    await expect(client.uploadArtifact(`${artifactUri}/up.onnx`, local)).rejects.toMatchObject({
      kind: 'server',
      message: `upload '${local}' to '${artifactUri}/up.onnx': MLflow failed 3 times, last: HTTP 500 INTERNAL_ERROR: No space left on device`,
    });
  });

  it('fails when the stage name is not an MLflow stage, listing them, without asking MLflow', async () => {
    const before = fake.requests.length;
    await expect(client.getLatestVersionInStage(NAME, 'Prod')).rejects.toMatchObject({
      kind: 'invalid',
      message: "stage 'Prod' is not one of None, Staging, Production, Archived",
    });
    expect(fake.requests.length).toBe(before);
  });

  it('fails when the stage is empty as unassigned, having asked MLflow for that stage only', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    await expect(client.getLatestVersionInStage(NAME, 'ARCHIVED')).rejects.toMatchObject({
      kind: 'unassigned',
      message: `model '${NAME}' has no version in stage 'Archived'`,
    });
    expect(fake.requests.at(-1)?.url).toBe(
      `/api/2.0/mlflow/registered-models/get-latest-versions?name=${NAME}&stages=Archived`,
    );
  });

  it('finds an existing experiment by name instead of creating another', async () => {
    expect(await client.ensureExperiment('exp')).toBe('1');
    expect(await client.ensureExperiment('exp')).toBe('1');
    expect(await client.ensureExperiment('other')).toBe('2');
    expect([...fake.experiments]).toEqual([
      ['exp', '1'],
      ['other', '2'],
    ]);
  });

  it('fails when the experiment lookup fails other than not-found, without creating one', async () => {
    fake.requiredAuthorization = 'Bearer s3cret';
    await expect(client.ensureExperiment('exp')).rejects.toMatchObject({
      kind: 'unauthorized',
      message: expect.stringMatching(/^get experiment 'exp': MLflow refused the request with HTTP 401/),
    });
    expect(fake.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('starts a run in the experiment with its name and finishes it', async () => {
    const exp = await client.ensureExperiment('exp');
    const run = await client.createRun(exp, 'train');
    expect(run).toMatchObject({ experiment_id: exp, status: 'RUNNING' });
    expect(run.artifact_uri).toBe(`mlflow-artifacts:/${exp}/${run.run_id}/artifacts`);
    expect(fake.runs.get(run.run_id)).toMatchObject({ run_name: 'train', experiment_id: exp });
    await client.finishRun(run.run_id, 'FINISHED');
    expect(fake.runs.get(run.run_id)?.status).toBe('FINISHED');
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/2.0/mlflow/runs/update' });
  });

  it('fails when creating the registered model fails other than "already exists"', async () => {
    await client.ensureRegisteredModel(NAME);
    await client.ensureRegisteredModel(NAME);
    fake.requiredAuthorization = 'Bearer s3cret';
    await expect(client.ensureRegisteredModel(NAME)).rejects.toMatchObject({ kind: 'unauthorized' });
  });

  it('resolves runs:/ sources with and without a path, and trailing slashes anywhere', async () => {
    const { runId } = await registerVersion({ 'model.onnx': 'A' });
    const root = `mlflow-artifacts:/1/${runId}/artifacts`;
    const resolve = async (source: string): Promise<string> =>
      client.resolveArtifactLocation(await client.createModelVersion(NAME, source, runId));
    expect(await resolve(`runs:/${runId}`)).toBe(root);
    expect(await resolve(`runs:/${runId}/`)).toBe(root);
    expect(await resolve(`runs:/${runId}/model/sub//`)).toBe(`${root}/model/sub`);
    expect(await resolve(`${root}/model//`)).toBe(`${root}/model`);
    const run = fake.runs.get(runId);
    if (run) run.artifact_uri = `${root}//`;
    expect(await resolve(`runs:/${runId}`)).toBe(root);
    expect(await resolve(`runs:/${runId}/model`)).toBe(`${root}/model`);
    const logged = fake.addLoggedModel('1');
    fake.loggedModels.set(logged.modelId, `${logged.artifactUri}//`);
    expect(await resolve(`models:/${logged.modelId}`)).toBe(logged.artifactUri);
  });

  it('fails when a run or logged model keeps its artifacts outside the proxy, naming source, location and fix', async () => {
    const { runId } = await registerVersion({ 'model.onnx': 'A' });
    const run = fake.runs.get(runId);
    if (run) run.artifact_uri = `s3://bucket/1/${runId}/artifacts`;
    const v1 = await client.createModelVersion(NAME, `runs:/${runId}/model`, runId);
    await expect(client.resolveArtifactLocation(v1)).rejects.toMatchObject({
      kind: 'invalid',
      message:
        `version 1 of model '${NAME}' has source 'runs:/${runId}/model' which resolves to 's3://bucket/1/${runId}/artifacts': ` +
        'only artifacts served through the MLflow artifact proxy (mlflow-artifacts:) can be fetched; ' +
        'run the server with --serve-artifacts and register from a run logged through it',
    });
    const logged = fake.addLoggedModel('1');
    fake.loggedModels.set(logged.modelId, 's3://bucket/models/m-1/artifacts');
    const v2 = await client.createModelVersion(NAME, `models:/${logged.modelId}`);
    await expect(client.resolveArtifactLocation(v2)).rejects.toThrow(
      `has source 'models:/${logged.modelId}' which resolves to 's3://bucket/models/m-1/artifacts':`,
    );
  });

  it('refuses other sources without asking MLflow', async () => {
    await registerVersion({ 'model.onnx': 'A' });
    for (const source of ['s3://bucket/model', 'gs://bucket/runs:/abc/model', 'runs:/abc/model\nx']) {
      const v = await client.createModelVersion(NAME, source);
      const before = fake.requests.length;
      await expect(client.resolveArtifactLocation(v)).rejects.toThrow(
        `has source '${source}' which resolves to '${source}': only artifacts served through`,
      );
      expect(fake.requests.length).toBe(before);
    }
  });

  it('downloads a file exactly maxBytes long, and refuses a larger announced one before creating the file', async () => {
    const { artifactUri } = await registerVersion({ 'big.png': 'x'.repeat(100) });
    const uri = `${artifactUri}/big.png`;
    expect(await client.downloadArtifact(uri, join(tmp, 'a'), { maxBytes: 100 })).toMatchObject({
      bytes: 100,
    });
    await expect(client.downloadArtifact(uri, join(tmp, 'b'), { maxBytes: 99 })).rejects.toMatchObject({
      kind: 'invalid',
    });
    expect(existsSync(join(tmp, 'b'))).toBe(false);
  });

  it('fails when the artifact file is missing as not-found with the status MLflow answered', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    await expect(
      client.downloadArtifact(`${artifactUri}/missing.onnx`, join(tmp, 'x')),
    ).rejects.toMatchObject({
      kind: 'not-found',
      status: 500,
      message: `download '${artifactUri}/missing.onnx': the file does not exist in the artifact store`,
    });
  });

  it('retries a download answered 503 and sends the credentials with it', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'hello' });
    fake.requiredAuthorization = 'Bearer s3cret';
    const authed = new MlflowClient({
      connection: { baseUrl: fake.url, authorization: 'Bearer s3cret' },
      backoffMs: 1,
    });
    fake.faults.failNext = 1;
    fake.faults.failStatus = 503;
    const dest = join(tmp, 'out.onnx');
    expect((await authed.downloadArtifact(`${artifactUri}/model.onnx`, dest)).bytes).toBe(5);
    expect(readFileSync(dest, 'utf8')).toBe('hello');
  });

  it('retries a download answered 500 (not a missing file) or 429, and names the download when retries run out', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'hello' });
    const uri = `${artifactUri}/model.onnx`;
    for (const status of [500, 429]) {
      fake.faults.failNext = 1;
      fake.faults.failStatus = status;
      const before = fake.requests.length;
      expect((await client.downloadArtifact(uri, join(tmp, `${status}.onnx`))).bytes).toBe(5);
      expect(fake.requests.length - before).toBe(2);
    }
    fake.faults.failNext = 3;
    await expect(client.downloadArtifact(uri, join(tmp, 'x'))).rejects.toMatchObject({
      kind: 'server',
      message: `download '${uri}': MLflow failed 3 times, last: HTTP 429 TEMPORARILY_UNAVAILABLE: try again`,
    });
  });

  it('fails a download answered with an HTML 404 once, hinting at MLFLOW_TRACKING_URI rather than a missing file', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'hello' });
    const uri = `${artifactUri}/model.onnx`;
    const wrong = new MlflowClient({ connection: { baseUrl: `${fake.url}/sub` }, retries: 2, backoffMs: 1 });
    const before = fake.requests.length;
    await expect(wrong.downloadArtifact(uri, join(tmp, 'x'))).rejects.toMatchObject({
      kind: 'not-found',
      status: 404,
      message:
        `download '${uri}': HTTP 404 without an MLflow error body from ${fake.url}/sub ` +
        '(is MLFLOW_TRACKING_URI the base URL of an MLflow tracking server?)',
    });
    expect(fake.requests.length - before).toBe(1);
  });

  it('times a transfer out with its own limit, not the API call one', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    const local = join(tmp, 'up.onnx');
    writeFileSync(local, 'B');
    const impatient = new MlflowClient({
      connection: { baseUrl: fake.url },
      timeoutMs: 60_000,
      transferTimeoutMs: 200,
      retries: 0,
    });
    fake.faults.hangNext = 1;
    await expect(impatient.downloadArtifact(`${artifactUri}/model.onnx`, join(tmp, 'x'))).rejects.toThrow(
      `download '${artifactUri}/model.onnx': cannot reach MLflow at ${fake.url} after 1 attempts (no answer within 200 ms); ` +
        'check MLFLOW_TRACKING_URI and that the server is up',
    );
    fake.faults.hangNext = 1;
    await expect(impatient.uploadArtifact(`${artifactUri}/up.onnx`, local)).rejects.toMatchObject({
      kind: 'unreachable',
      message: expect.stringContaining('after 1 attempts (no answer within 200 ms)'),
    });
  });

  it('retries an upload answered 429, and does not retry one answered 401', async () => {
    const { artifactUri } = await registerVersion({ 'model.onnx': 'A' });
    const local = join(tmp, 'up.onnx');
    writeFileSync(local, 'B');
    fake.faults.failNext = 1;
    fake.faults.failStatus = 429;
    await client.uploadArtifact(`${artifactUri}/up.onnx`, local);
    expect(fake.artifacts.get(`${artifactProxyPath(artifactUri)}/up.onnx`)?.toString()).toBe('B');
    fake.requiredAuthorization = 'Bearer s3cret';
    const before = fake.requests.length;
    await expect(client.uploadArtifact(`${artifactUri}/up.onnx`, local)).rejects.toMatchObject({
      kind: 'unauthorized',
      status: 401,
    });
    expect(fake.requests.length - before).toBe(1);
  });

  it('uploads over TLS to an https:// tracking URI (a plain-HTTP server there fails the handshake)', async () => {
    const local = join(tmp, 'up.onnx');
    writeFileSync(local, 'B');
    const https = new MlflowClient({
      connection: { baseUrl: fake.url.replace('http:', 'https:') },
      retries: 0,
    });
    await expect(
      https.uploadArtifact('mlflow-artifacts:/1/r/artifacts/up.onnx', local),
    ).rejects.toMatchObject({
      kind: 'unreachable',
      message: expect.stringContaining('SSL routines'),
    });
  });

  it('fails an upload to a registry that is down, naming the URL and the error', async () => {
    const port = await freePort();
    const local = join(tmp, 'up.onnx');
    writeFileSync(local, 'B');
    const down = new MlflowClient({ connection: { baseUrl: `http://127.0.0.1:${port}` }, retries: 0 });
    await expect(down.uploadArtifact('mlflow-artifacts:/1/r/artifacts/up.onnx', local)).rejects.toMatchObject(
      {
        kind: 'unreachable',
        message: expect.stringContaining(
          `cannot reach MLflow at http://127.0.0.1:${port} after 1 attempts (connect ECONNREFUSED 127.0.0.1:${port})`,
        ),
      },
    );
  });
});

describe('MlflowClient against answers a working registry does not give', () => {
  let server: ScriptedMlflow;
  let client: MlflowClient;

  beforeEach(async () => {
    server = await ScriptedMlflow.start();
    client = new MlflowClient({ connection: { baseUrl: server.url }, retries: 2, backoffMs: 1 });
  });
  afterEach(() => server.stop());

  const html = (status: number, body: string): Reply => ({
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body,
  });

  it('fails when a 200 answer is not JSON, hinting at MLFLOW_TRACKING_URI', async () => {
    server.reply(html(200, '<!doctype html><title>MLflow</title>'));
    await expect(client.getModelVersion(NAME, '1')).rejects.toMatchObject({
      kind: 'invalid',
      status: 200,
      message:
        `get version 1 of model '${NAME}': MLflow answered 200 with a body that is not JSON ` +
        '(is MLFLOW_TRACKING_URI the tracking server?)',
    });
  });

  it('fails when a 200 answer lacks a field or has a version that is not a number, naming the field', async () => {
    server.reply(RECORDED.emptyObject);
    await expect(client.getModelVersion(NAME, '1')).rejects.toMatchObject({
      kind: 'invalid',
      status: 200,
      message: `get version 1 of model '${NAME}': unexpected answer from MLflow: 'model_version' Invalid input: expected object, received undefined`,
    });
    const recorded = RECORDED.modelVersion.body.model_version;
    for (const version of ['v1', '1a', '']) {
      server.reply({ status: 200, body: { model_version: { ...recorded, version } } });
      await expect(client.getModelVersion(NAME, '1')).rejects.toThrow(
        `get version 1 of model '${NAME}': unexpected answer from MLflow: 'model_version.version' Invalid string: must match pattern /^[0-9]+$/`,
      );
    }
    server.reply({ status: 200, body: { model_version: { ...recorded, version: '10' } } });
    expect((await client.getModelVersion(NAME, '10')).version).toBe('10');
  });

  it('fails when the experiment answers lack their ids', async () => {
    server.reply({ status: 200, body: { experiment: { name: 'exp' } } });
    await expect(client.ensureExperiment('exp')).rejects.toThrow(
      "get experiment 'exp': unexpected answer from MLflow: 'experiment.experiment_id' Invalid input: expected string, received undefined",
    );
    server.reply(
      {
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'exp'" },
      },
      RECORDED.emptyObject,
    );
    await expect(client.ensureExperiment('exp')).rejects.toThrow(
      "create experiment 'exp': unexpected answer from MLflow: 'experiment_id' Invalid input: expected string, received undefined",
    );
  });

  it('does not take a version of another stage (or of none) as the newest of the stage asked for', async () => {
    const recorded = RECORDED.modelVersion.body.model_version;
    const stageless: Record<string, unknown> = { ...recorded };
    delete stageless.current_stage;
    server.reply({
      status: 200,
      body: { model_versions: [{ ...recorded, current_stage: 'Staging' }, stageless] },
    });
    await expect(client.getLatestVersionInStage(NAME, 'Production')).rejects.toMatchObject({
      kind: 'unassigned',
      message: `model '${NAME}' has no version in stage 'Production'`,
    });
  });

  it('creates the experiment when the lookup answers not-found, and names that call when it fails', async () => {
    server.reply(
      {
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'exp'" },
      },
      ...Array.from({ length: 3 }, () => ({
        status: 503,
        body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'try again' },
      })),
    );
    await expect(client.ensureExperiment('exp')).rejects.toThrow(
      "create experiment 'exp': MLflow failed 3 times, last: HTTP 503 TEMPORARILY_UNAVAILABLE: try again",
    );
    expect(server.requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      'GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=exp ',
      ...Array.from({ length: 3 }, () => 'POST /api/2.0/mlflow/experiments/create {"name":"exp"}'),
    ]);
  });

  it('sends requests shaped as the recorded ones: JSON bodies on POST only, tags as key/value pairs', async () => {
    server.reply(RECORDED.run, RECORDED.emptyObject, RECORDED.modelVersion, RECORDED.emptyObject);
    const before = Date.now();
    await client.createRun('1', 'train-onnx', { 'mlflow.source.type': 'LOCAL' });
    await client.finishRun('f77c2d593e9c4294ae5441b1e957b260', 'FAILED');
    await client.createModelVersion(NAME, 'mlflow-artifacts:/1/r/artifacts/model');
    await client.setAlias(NAME, 'champion', '2');
    const [create, finish, version, alias] = server.requests;
    expect(create.headers['content-type']).toBe('application/json');
    const createBody = JSON.parse(create.body) as Record<string, unknown>;
    expect(createBody).toEqual({
      experiment_id: '1',
      run_name: 'train-onnx',
      start_time: expect.any(Number),
      tags: [{ key: 'mlflow.source.type', value: 'LOCAL' }],
    });
    expect(createBody.start_time).toBeGreaterThanOrEqual(before);
    expect(JSON.parse(finish.body)).toEqual({
      run_id: 'f77c2d593e9c4294ae5441b1e957b260',
      status: 'FAILED',
      end_time: expect.any(Number),
    });
    expect(version.body).toBe(`{"name":"${NAME}","source":"mlflow-artifacts:/1/r/artifacts/model"}`);
    expect(alias.body).toBe(`{"name":"${NAME}","alias":"champion","version":"2"}`);
    server.reply(RECORDED.modelVersion);
    await client.getModelVersion(NAME, '1');
    const get = server.requests.at(-1);
    expect(get?.url).toBe(`/api/2.0/mlflow/model-versions/get?name=${NAME}&version=1`);
    expect(get?.headers['content-type']).toBeUndefined();
    expect(get?.body).toBe('');
  });

  it('uploads with the recorded content type and a Content-Length', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlflow-client-'));
    try {
      const local = join(tmp, 'model.onnx');
      writeFileSync(local, 'hello');
      await client.uploadArtifact('mlflow-artifacts:/1/r/artifacts/model/model.onnx', local);
      expect(server.requests).toEqual([
        expect.objectContaining({
          method: 'PUT',
          url: '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model/model.onnx',
          headers: expect.objectContaining({
            'content-type': 'application/octet-stream',
            'content-length': '5',
          }),
          body: 'hello',
        }),
      ]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('retries an upload whose answer is cut mid-body', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlflow-client-'));
    try {
      const local = join(tmp, 'model.onnx');
      writeFileSync(local, 'hello');
      server.reply({ status: 200, body: { padding: 'x'.repeat(100) }, cutAfter: 10 });
      await client.uploadArtifact('mlflow-artifacts:/1/r/artifacts/model/model.onnx', local);
      expect(server.requests).toHaveLength(2);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('maps refusals and other answers without an MLflow error body to kinds', async () => {
    const cases: [Reply, string, string][] = [
      [
        { status: 403, body: { error_code: 'PERMISSION_DENIED', message: 'User does not have permission' } },
        'unauthorized',
        'MLflow refused the request with HTTP 403; set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
      ],
      [
        { status: 401, body: { error_code: 'UNAUTHENTICATED', message: 'Credential was not sent' } },
        'unauthorized',
        'MLflow refused the request with HTTP 401; set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
      ],
      [
        { status: 403, body: { message: 'Permission denied' } },
        'unauthorized',
        'MLflow refused the request with HTTP 403; set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
      ],
      [
        RECORDED.wrongMethod,
        'invalid',
        `HTTP 405 without an MLflow error body from ${server.url} (is MLFLOW_TRACKING_URI the base URL of an MLflow tracking server?)`,
      ],
      [
        { status: 404, body: { error_code: 'ENDPOINT_NOT_FOUND', message: 'No such endpoint' } },
        'not-found',
        'No such endpoint (ENDPOINT_NOT_FOUND)',
      ],
      [{ status: 400, body: { error_code: 'BAD_REQUEST' } }, 'invalid', ' (BAD_REQUEST)'],
    ];
    for (const [reply, kind, message] of cases) {
      server.reply(reply);
      await expect(client.getModelVersion(NAME, '1')).rejects.toMatchObject({
        kind,
        status: reply.status,
        message: `get version 1 of model '${NAME}': ${message}`,
      });
    }
    expect(server.requests).toHaveLength(cases.length);
  });

  it('retries a proxy error page and an error body without a code, reporting the status only', async () => {
    const proxy = html(502, '<html><head><title>502 Bad Gateway</title></head></html>');
    for (const reply of [proxy, { status: 503, body: { message: 'down' } }]) {
      server.reply(reply, reply, reply);
      await expect(client.getModelVersion(NAME, '1')).rejects.toThrow(
        new RegExp(`^get version 1 of model '${NAME}': MLflow failed 3 times, last: HTTP ${reply.status}$`),
      );
    }
  });

  it('waits between attempts, doubling the delay from backoffMs', async () => {
    const slow = new MlflowClient({ connection: { baseUrl: server.url }, retries: 2, backoffMs: 1_000 });
    const busy: Reply = {
      status: 503,
      body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'try again' },
    };
    server.reply(busy, busy, RECORDED.run);
    await slow.getRun('f77c2d593e9c4294ae5441b1e957b260');
    const [a, b, c] = server.requests.map((r) => r.at);
    expect(b - a).toBeGreaterThanOrEqual(990);
    // Loose (2.5 s of slack for a loaded machine): starting at 4 × backoffMs would make this delay 4 s.
    expect(b - a).toBeLessThan(3_500);
    expect(c - b).toBeGreaterThanOrEqual(1_990);
  });
});
