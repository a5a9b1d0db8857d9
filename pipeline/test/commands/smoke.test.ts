import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDefaultModel, buildSimpleCnn, writeModelDir } from '../../../service/src/model/builders';
import { startService as startProcess, type ServiceProcess } from '../../../bench/src/harness';
import { smoke } from '../../src/commands/smoke';
import { evaluateModelDir } from '../../src/evaluation/evaluate';
import { buildEvidence, loadEvidenceImages, type Evidence } from '../../src/evaluation/evidence';
import { readGoldenSet } from '../../src/evaluation/golden-set';
import { REPO_ROOT } from '../support/repo';

/** The real service (see bench/src/service-process.ts) on `env`, once it listens: smoke waits for /ready itself. */
function startService(env: Record<string, string>): Promise<ServiceProcess> {
  return startProcess({
    env: { DRAIN_DELAY_MS: '0', INFERENCE_WORKERS: '1', ...env },
    inheritEnv: false,
    readyPath: '/health',
  });
}

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
          '{"requestId":"r","model":{"name":"m","version":"1"},"predictions":[{"id":"r","label":"cat","index":0,"score":7,"topK":[]}]}',
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

describe('smoke compares the live answers with what the gate computed (evidence)', () => {
  let tmp: string;
  let gated: ServiceProcess;
  let other: ServiceProcess;
  let evidence: Evidence;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'smoke-evidence-'));
    const sha = writeModelDir(join(tmp, 'gated'), buildDefaultModel());
    // Another model served under the same version: its decision level is moved, so dark-red cats flip.
    writeModelDir(join(tmp, 'other'), buildDefaultModel({ redThreshold: 0.5 }));
    const golden = readGoldenSet(join(REPO_ROOT, 'charts/golden-sets/default'), 'charts/golden-sets/default');
    const evaluation = await evaluateModelDir(join(tmp, 'gated'), golden, { expectedSha256: sha });
    evidence = buildEvidence(evaluation, {
      name: 'cats-dogs-classifier',
      version: '3',
      sha256: sha,
      from: 'repository',
      samples: 4,
      scoreTolerance: 0.01,
    });
    const env = { MODEL_NAME: 'cats-dogs-classifier', MODEL_VERSION: '3' };
    [gated, other] = await Promise.all([
      startService({ ...env, MODEL_DIR: join(tmp, 'gated') }),
      startService({ ...env, MODEL_DIR: join(tmp, 'other') }),
    ]);
  });
  afterAll(async () => {
    await gated?.stop();
    await other?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = async (url: string, file: Evidence = evidence): Promise<{ ok: boolean; lines: string[] }> => {
    const lines: string[] = [];
    const images = await loadEvidenceImages(file, REPO_ROOT);
    const result = await smoke({
      url,
      expectVersion: '3',
      readyIntervalMs: 200,
      predictions: 1,
      evidence: { file, images },
      report: (l) => lines.push(l),
    });
    return { ok: result.ok, lines };
  };

  it('passes when the service gives every sampled golden image the label and score the gate computed', async () => {
    const { ok, lines } = await run(gated.url);
    expect(ok).toBe(true);
    const golden = lines.filter((l) => l.includes(' golden '));
    expect(golden).toHaveLength(4);
    expect(golden[0]).toMatch(
      /^PASS golden cat\/cat-01.png: cat #0 \(0\.\d{3}\), gate: cat #0 \(0\.\d{3}\)$/,
    );
    expect(lines[lines.length - 1]).toBe('smoke: PASS (7/7 checks passed)');
  });

  it('fails when the served model differs from the gated one, showing which images differ', async () => {
    const { ok, lines } = await run(other.url);
    expect(ok).toBe(false);
    // Same name and version: only the digest tells the models apart.
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^FAIL evidence: the gate's evidence is for cats-dogs-classifier \(sha256 [0-9a-f]{12}\), the service serves cats-dogs-classifier \(sha256 [0-9a-f]{12}\): not the model the gate judged$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^FAIL golden cat\/cat-01.png: served dog #1 \(0\.\d{3}\), gate: cat #0 \(0\.\d{3}\); another class$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^smoke: \d of 4 golden images differ from what the gate computed for version 3: .*cat\/cat-01.png/,
      ),
    );
    expect(lines[lines.length - 1]).toMatch(/^smoke: FAIL/);
  });

  it('fails when the evidence was written for another model with the same version number', async () => {
    const { ok, lines } = await run(gated.url, { ...evidence, name: 'another-model' });
    expect(ok).toBe(false);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^FAIL evidence: the gate's evidence is for another-model \(sha256 [0-9a-f]{12}\), the service serves cats-dogs-classifier/,
      ),
    );
  });

  it('fails when the evidence was written for another version', async () => {
    const { ok, lines } = await run(gated.url, { ...evidence, version: '2' });
    expect(ok).toBe(false);
    expect(lines).toContain(
      "FAIL evidence: the gate's evidence is for version 2, expected 3: promote wrote it for another version",
    );
  });

  it('refuses a golden image that changed since the gate judged it', async () => {
    const changed = { ...evidence, expected: [{ ...evidence.expected[0]!, sha256: 'f'.repeat(64) }] };
    await expect(loadEvidenceImages(changed, REPO_ROOT)).rejects.toThrow(
      /^golden image cat\/cat-01.png changed since the gate judged it \(sha256 [0-9a-f]{64}, evidence f{64}\)/,
    );
  });
});
