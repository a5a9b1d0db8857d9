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
    const twice = `model.onnx=${'a'.repeat(64)},MLmodel=${'b'.repeat(64)},model.onnx=${'c'.repeat(64)}`;
    expect(() => loadConfig({ MODEL_FILES: twice }, null)).toThrow(
      `MODEL_FILES="${twice}": names model.onnx twice: each file once`,
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

  test('numbers: whole, trimmed, within their bounds; the message names the bound', () => {
    expect(loadConfig({ PORT: ' 9000\n' }, null).port).toBe(9000);
    for (const value of ['12abc', 'abc12', '1e3', '-1', '0x10', '9000.5']) {
      expect(() => loadConfig({ PORT: value }, null)).toThrow(
        `PORT=${JSON.stringify(value)}: must be a whole number from 0 to 65535`,
      );
    }
    expect(() => loadConfig({ MAX_BODY_BYTES: '1023' }, null)).toThrow(
      'MAX_BODY_BYTES="1023": must be ≥ 1024',
    );
    // The largest values each bound allows, and one over.
    const GiB = 1024 * 1024 * 1024;
    expect(loadConfig({ MAX_BUFFERED_BODY_BYTES: String(16 * GiB) }, null).maxBufferedBodyBytes).toBe(
      16 * GiB,
    );
    expect(() => loadConfig({ MAX_BUFFERED_BODY_BYTES: String(16 * GiB + 1) }, null)).toThrow(
      `must be ≤ ${16 * GiB}`,
    );
    expect(loadConfig({ FEEDBACK_TTL_SECONDS: '604800' }, null).feedbackTtlMs).toBe(604_800_000);
    expect(() => loadConfig({ FEEDBACK_TTL_SECONDS: '604801' }, null)).toThrow(
      'FEEDBACK_TTL_SECONDS="604801": must be ≤ 604800',
    );
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ PORT: '', MODEL_NAME: '', LOG_LEVEL: '' }, null)).toStrictEqual(loadConfig({}, null));
  });

  test('names, versions and digests must match their whole pattern', () => {
    expect(loadConfig({ MODEL_NAME: 'cats.dogs_v2-final' }, null).modelName).toBe('cats.dogs_v2-final');
    for (const name of ['-leading-dash', 'has space', 'slash/in', 'x'.repeat(257)]) {
      expect(() => loadConfig({ MODEL_NAME: name }, null)).toThrow(
        `MODEL_NAME=${JSON.stringify(name)}: must be a model name: letters, digits, . _ - (at most 256)`,
      );
    }
    expect(loadConfig({ MODEL_NAME: 'x'.repeat(256) }, null).modelName).toHaveLength(256);
    for (const version of ['.1', '1 2', '2/', 'v'.repeat(65)]) {
      expect(() => loadConfig({ MODEL_VERSION: version }, null)).toThrow(
        `MODEL_VERSION=${JSON.stringify(version)}: must be a version: letters, digits, . _ - (at most 64)`,
      );
    }
    for (const sha of [`${'a'.repeat(64)}0`, `0${'a'.repeat(64)}`, 'a'.repeat(63)]) {
      expect(() => loadConfig({ MODEL_SHA256: sha }, null)).toThrow('MODEL_SHA256=');
    }
    const pair = (file: string, digit: string) => `${file}=${digit.repeat(64)}`;
    expect(
      loadConfig(
        { MODEL_FILES: [pair('MLmodel', 'a'), pair('a.json', 'b'), pair('m.onnx', 'c')].join(',') },
        null,
      ).modelFiles,
    ).toEqual({
      MLmodel: 'a'.repeat(64),
      'a.json': 'b'.repeat(64),
      'm.onnx': 'c'.repeat(64),
    });
    for (const files of [
      `x${pair('a', 'b')},`,
      `${pair('a', 'b')}=`,
      `/${pair('a', 'b')}`,
      `${pair('a', 'b')}0`,
    ]) {
      expect(() => loadConfig({ MODEL_FILES: files }, null)).toThrow('MODEL_FILES=');
    }
  });

  test('LOG_LEVEL takes each of the pino levels', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(loadConfig({ LOG_LEVEL: level }, null).logLevel).toBe(level);
    }
  });

  test('MAX_BUFFERED_BODY_BYTES may equal MAX_BODY_BYTES; the errors say how to fix them', () => {
    expect(
      loadConfig({ MAX_BODY_BYTES: '2048', MAX_BUFFERED_BODY_BYTES: '2048' }, null).maxBufferedBodyBytes,
    ).toBe(2048);
    expect(() => loadConfig({ MAX_BODY_BYTES: '2048', MAX_BUFFERED_BODY_BYTES: '2047' }, null)).toThrow(
      'raise MAX_BUFFERED_BODY_BYTES or lower MAX_BODY_BYTES',
    );
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '2001' }, null)).toThrow(
      'lower HEADERS_TIMEOUT_MS or raise REQUEST_TIMEOUT_MS',
    );
    expect(
      loadConfig({ REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '2000' }, null).headersTimeoutMs,
    ).toBe(2000);
  });

  test('the error is a ConfigError by name too (what the start-up log prints)', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'x' }, null);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).name).toBe('ConfigError');
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

  test('reads the quota as the kernel writes it, and nothing else', () => {
    expect(cpuLimit('  50000 100000\n')).toBe(1);
    expect(cpuLimit('50000\t100000')).toBe(1);
    expect(cpuLimit('50000  100000')).toBe(1);
    // A zero quota or period is no limit; text before the numbers is not cpu.max.
    const host = availableParallelism();
    expect(cpuLimit('0 100000')).toBe(host);
    expect(cpuLimit('100000 0')).toBe(host);
    expect(cpuLimit('quota 50000 100000')).toBe(host);
  });
});
