import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fetchModel } from '../../src/commands/model-fetch';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient, registeredDigests, registerInFake, tinyModel, writeModel } from '../support/models';

const NAME = 'cats-dogs-classifier';
const run = promisify(execFile);

describe('model-fetch', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let files: Record<string, string>;
  let version: string;

  beforeEach(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'model-fetch-'));
    writeModel(join(tmp, 'src'), tinyModel());
    version = await registerInFake(fake, join(tmp, 'src'), NAME);
    files = registeredDigests(fake, NAME, version).files;
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const dest = (): string => join(tmp, 'models', 'current');
  const fetch = (over: Partial<Parameters<typeof fetchModel>[1]> = {}): ReturnType<typeof fetchModel> =>
    fetchModel(fakeClient(fake), {
      name: NAME,
      version,
      files,
      dest: dest(),
      waitAttempts: 3,
      waitIntervalMs: 1,
      log: () => undefined,
      ...over,
    });

  it('downloads and verifies the pinned files into the destination', async () => {
    expect(await fetch()).toBe('fetched');
    expect(readFileSync(join(dest(), 'model.onnx'))).toEqual(readFileSync(join(tmp, 'src', 'model.onnx')));
    expect(readdirSync(dest()).sort()).toEqual(['MLmodel', 'model.onnx']);
    expect(readdirSync(join(tmp, 'models'))).toEqual(['current']);
  });

  it('keeps a destination that already holds the pinned files', async () => {
    await fetch();
    const before = fake.requests.length;
    expect(await fetch()).toBe('present');
    expect(fake.requests.length).toBe(before);
  });

  it.each([
    ['a directory', (path: string): void => mkdirSync(path)],
    ['a dangling link', (path: string): void => symlinkSync(join(tmp, 'nowhere'), path)],
  ])(
    'replaces a destination where a pinned name is %s, instead of failing on every start',
    async (_what, make) => {
      mkdirSync(dest(), { recursive: true });
      writeFileSync(join(dest(), 'model.onnx'), 'stale');
      make(join(dest(), 'MLmodel'));
      expect(await fetch()).toBe('fetched');
      expect(readFileSync(join(dest(), 'model.onnx'))).toEqual(readFileSync(join(tmp, 'src', 'model.onnx')));
    },
  );

  it('resolves runs:/ and models:/ sources', async () => {
    const runId = [...fake.runs.keys()][0];
    const client = fakeClient(fake);
    const v2 = await client.createModelVersion(NAME, `runs:/${runId}/model`, runId);
    expect(await fetch({ version: v2.version })).toBe('fetched');
    const logged = fake.addLoggedModel('1');
    for (const [key, data] of fake.artifacts) {
      fake.artifacts.set(
        `${logged.artifactUri.slice('mlflow-artifacts:/'.length)}/${key.split('/').pop()}`,
        data,
      );
    }
    const v3 = await client.createModelVersion(NAME, `models:/${logged.modelId}`, runId);
    rmSync(dest(), { recursive: true });
    expect(await fetch({ version: v3.version })).toBe('fetched');
  });

  it('fails when model.onnx does not match the pinned sha256 and leaves nothing behind', async () => {
    await expect(fetch({ files: { ...files, 'model.onnx': 'a'.repeat(64) } })).rejects.toThrow(
      /model.onnx of cats-dogs-classifier version 1 has sha256 [0-9a-f]{64} but the pin expects a{64}/,
    );
    expect(readdirSync(join(tmp, 'models'))).toEqual([]);
  });

  it('fails when MLmodel does not match its pinned sha256', async () => {
    await expect(fetch({ files: { ...files, MLmodel: 'b'.repeat(64) } })).rejects.toThrow(
      /MLmodel of cats-dogs-classifier version 1 has sha256 [0-9a-f]{64} but the pin expects b{64}/,
    );
    expect(readdirSync(join(tmp, 'models'))).toEqual([]);
  });

  it('fails when a file that influences serving is not pinned, leaving nothing behind', async () => {
    const without = (name: string): Record<string, string> =>
      Object.fromEntries(Object.entries(files).filter(([f]) => f !== name));
    await expect(fetch({ files: without('MLmodel') })).rejects.toThrow(
      /not servable as pinned: .*not a model directory: no MLmodel/,
    );
    await expect(fetch({ files: without('model.onnx') })).rejects.toThrow(/model\.onnx: file not found/);
    expect(readdirSync(join(tmp, 'models'))).toEqual([]);
  });

  it('fails when the download stays truncated, leaving an existing destination untouched', async () => {
    writeModel(dest(), tinyModel(7));
    const old = readFileSync(join(dest(), 'model.onnx'));
    fake.faults.truncateNext = 100;
    await expect(fetch()).rejects.toThrow(/failed 3 times, last: (truncated|connection lost)/);
    expect(readFileSync(join(dest(), 'model.onnx'))).toEqual(old);
    expect(readdirSync(join(tmp, 'models'))).toEqual(['current']);
  });

  it('removes temp directories a killed earlier run left behind', async () => {
    writeModel(join(tmp, 'models', '.current.fetch-0123456789ab'), tinyModel(9));
    expect(await fetch()).toBe('fetched');
    expect(readdirSync(join(tmp, 'models'))).toEqual(['current']);
  });

  it('survives one truncated download by retrying', async () => {
    fake.faults.truncateNext = 1;
    expect(await fetch()).toBe('fetched');
  });

  it('waits for MLflow to come up (bounded)', async () => {
    fake.faults.resetNext = 2;
    const lines: string[] = [];
    expect(await fetch({ log: (l) => lines.push(l) })).toBe('fetched');
    expect(lines.filter((l) => l.includes('waiting for MLflow'))).toHaveLength(2);
  });

  it('fails when MLflow stays down after the bounded wait', async () => {
    fake.faults.resetNext = 1000;
    await expect(fetch({ waitAttempts: 2 })).rejects.toThrow(
      /MLflow at http:\/\/127.0.0.1:\d+ is not ready after 2 attempts/,
    );
    expect(existsSync(dest())).toBe(false);
  });

  it('fails when the registered artifacts lack a pinned file', async () => {
    for (const key of [...fake.artifacts.keys()]) if (key.endsWith('MLmodel')) fake.artifacts.delete(key);
    await expect(fetch()).rejects.toThrow(/have no MLmodel \(found: model.onnx\)/);
  });

  it('fails when the version does not exist', async () => {
    await expect(fetch({ version: '9' })).rejects.toThrow(
      /Model Version \(name=cats-dogs-classifier, version=9\) not found/,
    );
  });

  it('fails with 401 when the credentials are rejected', async () => {
    fake.requiredAuthorization = 'Bearer right';
    await expect(fetch()).rejects.toThrow(/HTTP 401/);
  });

  it('runs as a CLI: exit 0 on success, 1 with the reason on a mismatch, 2 on a bad option', async () => {
    const cli = [require.resolve('tsx/cli'), join(__dirname, '../../src/cli.ts'), 'model-fetch'];
    const env = { ...process.env, MLFLOW_TRACKING_URI: fake.url };
    const pinned = Object.entries(files).flatMap(([f, sha]) => ['--file', `${f}=${sha}`]);
    const args = ['--name', NAME, '--version', version, ...pinned, '--dest', dest()];
    await run(process.execPath, [...cli, ...args], { env });
    expect(existsSync(join(dest(), 'MLmodel'))).toBe(true);
    rmSync(dest(), { recursive: true });
    const bad = await run(
      process.execPath,
      [...cli, ...args.slice(0, 4), ...pinned, '--file', `model.onnx=${'c'.repeat(64)}`, '--dest', dest()],
      { env },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('but the pin expects cccc') });
    const usage = await run(process.execPath, [...cli, '--name', NAME], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(usage).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("required option '--version <n>'"),
    });
  });
});
