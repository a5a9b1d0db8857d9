import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSimpleCnn, writeModelDir } from '../../../service/src/model/onnx-builder';
import { smoke } from '../../src/commands/smoke';
import { startService, type ServiceProcess } from '../support/service-process';

describe('smoke against the real service on the default model', () => {
  let tmp: string;
  let service: ServiceProcess;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'smoke-'));
    writeModelDir(join(tmp, 'default'), buildSimpleCnn());
    service = await startService({
      MODEL_DIR: join(tmp, 'default'),
      MODEL_NAME: 'cats-dogs-classifier',
      MODEL_VERSION: '3',
    });
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('passes when the service is ready and every prediction comes from the expected version', async () => {
    const lines: string[] = [];
    const result = await smoke({
      url: service.url,
      expectVersion: '3',
      readyIntervalMs: 200,
      report: (l) => lines.push(l),
    });
    expect(result.ok).toBe(true);
    expect(result.checks.map((c) => c.name)).toEqual([
      'ready',
      'model',
      'predict 1/5 landscape-gradient.jpg',
      'predict 2/5 portrait-rings.jpg',
      'predict 3/5 checker-alpha.png',
      'predict 4/5 stripes.webp',
      'predict 5/5 tiny-odd.jpg',
    ]);
    expect(lines[2]).toMatch(
      /^PASS predict 1\/5 landscape-gradient.jpg: 200, version 3, (cat|dog) \(0\.\d{3}\), \d+ ms$/,
    );
    expect(lines[lines.length - 1]).toBe('smoke: PASS (7/7 checks passed)');
  });

  it('fails when the service runs another version, naming both', async () => {
    const lines: string[] = [];
    const result = await smoke({ url: service.url, expectVersion: '4', report: (l) => lines.push(l) });
    expect(result.ok).toBe(false);
    expect(lines).toContain('FAIL model: cats-dogs-classifier version 3, expected 4');
    expect(lines).toContain(
      'FAIL predict 1/5 landscape-gradient.jpg: served by version 3 (X-Model-Version: 3), expected 4',
    );
    expect(lines[lines.length - 1]).toBe('smoke: FAIL (1/7 checks passed)');
  });
});

describe('smoke failures', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/ready') {
        res.end('{"status":"ready"}');
      } else if (req.url === '/model') {
        res.end('{"name":"m","version":"1"}');
      } else {
        res.setHeader('x-model-version', '1');
        res.end(
          '{"model":{"name":"m","version":"1"},"predictions":[{"label":"cat","index":0,"score":7,"topK":[]}]}',
        );
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fails when the predictions are malformed', async () => {
    const lines: string[] = [];
    const result = await smoke({ url, expectVersion: '1', predictions: 1, report: (l) => lines.push(l) });
    expect(result.ok).toBe(false);
    expect(lines[2]).toMatch(
      /^FAIL predict 1\/1 landscape-gradient.jpg: malformed answer: 'predictions.0.score'/,
    );
  });

  it('fails when the service never turns ready within the configured attempts', async () => {
    const lines: string[] = [];
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const result = await smoke({
      url: `http://127.0.0.1:${closed}`,
      expectVersion: '1',
      readyAttempts: 3,
      readyIntervalMs: 1,
      report: (l) => lines.push(l),
    });
    expect(result.ok).toBe(false);
    expect(lines).toEqual([
      'FAIL ready: GET /ready not 200 after 3 attempts (last: ECONNREFUSED)',
      'smoke: FAIL (0/1 checks passed)',
    ]);
  });
});
