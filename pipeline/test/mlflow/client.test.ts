import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient, MlflowError } from '../../src/mlflow';
import { FakeMlflow } from '../support/fake-mlflow';

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
    await expect(client.getVersionByAlias(NAME, 'production')).rejects.toMatchObject({ kind: 'not-found' });
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

  it('fails when the stage name is not an MLflow stage', async () => {
    await expect(client.getLatestVersionInStage(NAME, 'Prod')).rejects.toThrow(/stage 'Prod' is not one of/);
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
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
