import { availableParallelism } from 'node:os';
import { ConfigError, DEFAULT_MODEL_DIR, cpuLimit, defaultConfig, loadConfig } from '../src/config';

describe('loadConfig', () => {
  test('every key has a default', () => {
    // The whole object: a changed default, or a key added without one here, fails this test.
    expect(loadConfig({}, null)).toStrictEqual({
      port: 8000,
      host: '0.0.0.0',
      modelDir: DEFAULT_MODEL_DIR,
      modelName: 'cats-dogs-default',
      modelVersion: '0',
      modelSha256: undefined,
      modelFiles: undefined,
      logLevel: 'info',
      maxBodyBytes: 10 * 1024 * 1024,
      maxBufferedBodyBytes: 40 * 1024 * 1024,
      maxImagePixels: 40_000_000,
      maxImagesPerRequest: 32,
      requestTimeoutMs: 10_000,
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 65_000,
      drainDelayMs: 5_000,
      shutdownTimeoutMs: 20_000,
      inferenceWorkers: availableParallelism(),
      intraOpThreads: 1,
      interOpThreads: 1,
      queueMax: 64,
      sharpConcurrency: 1,
      feedbackTtlMs: 3_600_000,
      feedbackMaxEntries: 100_000,
    });
    expect(defaultConfig()).toStrictEqual(loadConfig({}, null));
    expect(DEFAULT_MODEL_DIR).toMatch(/service[/\\]models[/\\]default$/);
  });

  test('reads the environment variables', () => {
    const config = loadConfig(
      {
        PORT: '9000',
        MODEL_SHA256: 'a'.repeat(64),
        INFERENCE_WORKERS: '3',
        LOG_LEVEL: 'debug',
        MODEL_VERSION: '12',
      },
      null,
    );
    expect(config).toMatchObject({
      port: 9000,
      modelSha256: 'a'.repeat(64),
      inferenceWorkers: 3,
      logLevel: 'debug',
    });
    expect(config.modelVersion).toBe('12');
  });

  test('reads MODEL_FILES as the pinned files', () => {
    const files = `MLmodel=${'b'.repeat(64)},model.onnx=${'a'.repeat(64)}`;
    expect(loadConfig({ MODEL_FILES: files }, null).modelFiles).toEqual({
      MLmodel: 'b'.repeat(64),
      'model.onnx': 'a'.repeat(64),
    });
    expect(() => loadConfig({ MODEL_FILES: 'MLmodel' }, null)).toThrow(
      'MODEL_FILES="MLmodel": must be <file>=<sha256>[,<file>=<sha256>…]: the pin\'s files',
    );
  });

  test('fails when a value is invalid, naming the variable, the value and the rule', () => {
    expect(() => loadConfig({ PORT: '70000' }, null)).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '70000' }, null)).toThrow('PORT="70000": must be ≤ 65535');
    expect(() => loadConfig({ MODEL_SHA256: 'ABC' }, null)).toThrow(
      'MODEL_SHA256="ABC": must be 64 lower-case hex characters',
    );
    expect(() => loadConfig({ LOG_LEVEL: 'loud' }, null)).toThrow('LOG_LEVEL="loud"');
    expect(() => loadConfig({ INFERENCE_WORKERS: 'many' }, null)).toThrow('INFERENCE_WORKERS="many"');
  });

  test('fails when MAX_BUFFERED_BODY_BYTES is below MAX_BODY_BYTES, naming both and the fix', () => {
    expect(() => loadConfig({ MAX_BODY_BYTES: '2048', MAX_BUFFERED_BODY_BYTES: '1024' }, null)).toThrow(
      'MAX_BUFFERED_BODY_BYTES="1024": must be ≥ MAX_BODY_BYTES (2048)',
    );
    expect(loadConfig({ MAX_BODY_BYTES: '2048' }, null).maxBufferedBodyBytes).toBe(8192);
  });

  test('fails when HEADERS_TIMEOUT_MS is over REQUEST_TIMEOUT_MS, naming both and the fix', () => {
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '3000' }, null)).toThrow(
      'HEADERS_TIMEOUT_MS="3000": must be ≤ REQUEST_TIMEOUT_MS (2000)',
    );
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '2000' }, null).headersTimeoutMs).toBe(2000);
    expect(loadConfig({ KEEP_ALIVE_TIMEOUT_MS: '5000' }, null).keepAliveTimeoutMs).toBe(5000);
  });

  test('fails listing every invalid variable at once', () => {
    expect(() => loadConfig({ MAX_BODY_BYTES: '1kb', DRAIN_DELAY_MS: '-1' }, null)).toThrow(
      /MAX_BODY_BYTES="1kb".*; DRAIN_DELAY_MS="-1"/,
    );
  });

  test('INFERENCE_WORKERS=auto follows the cgroup CPU limit', () => {
    expect(loadConfig({ INFERENCE_WORKERS: 'auto' }, '100000 100000\n').inferenceWorkers).toBe(1);
  });
});

describe('cpuLimit', () => {
  test('rounds the cgroup quota up, capped by the host', () => {
    expect(cpuLimit('50000 100000')).toBe(1);
    expect(cpuLimit('150000 100000')).toBe(Math.min(2, availableParallelism()));
  });

  test('falls back to the host CPUs without a quota', () => {
    expect(cpuLimit('max 100000')).toBe(availableParallelism());
    expect(cpuLimit(null)).toBe(availableParallelism());
  });
});
