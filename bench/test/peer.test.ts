import { existsSync } from 'node:fs';
import os from 'node:os';
import {
  ensurePeerPackages,
  maxAbsDiff,
  medianFigures,
  peerContract,
  peerPython,
  peerServerCommands,
  roundOrder,
  startPeer,
  serviceFigures,
  type PeerContract,
} from '../src/peer';
import { parseModelMetadata } from '../../service/src/model/format';
import { defaultVariant, figures, level } from './bench-fixtures';

const meta = (over: Record<string, unknown> = {}) =>
  parseModelMetadata(
    {
      labels: ['a', 'b'],
      input: { name: 'input', height: 224, width: 224 },
      output: { name: 'logits' },
      ...over,
    },
    'test',
  );

describe('peer (the reference FastAPI + PyTorch server of `npm run bench -- --peer`)', () => {
  describe('peerContract', () => {
    it('passes the service metadata with every default filled in', () => {
      expect(peerContract(meta(), 'm')).toEqual({
        name: 'm',
        layout: 'NCHW',
        height: 224,
        width: 224,
        channelOrder: 'RGB',
        resize: 'squash',
        interpolation: 'bilinear',
        shorterSide: 256,
        scale: 1 / 255,
        mean: [0, 0, 0],
        std: [1, 1, 1],
        background: [255, 255, 255],
        labels: ['a', 'b'],
        outputKind: 'logits',
        maxPixels: 40_000_000,
      });
    });

    it('keeps the choices a model makes', () => {
      const c = peerContract(
        meta({
          input: { name: 'x', layout: 'NHWC', height: 96, width: 128, channelOrder: 'BGR' },
          preprocessing: {
            resize: 'center-crop',
            resizeShorterSide: 160,
            background: '#0080ff',
            scale: 1,
            interpolation: 'lanczos3',
          },
          output: { name: 'p', kind: 'probabilities' },
        }),
        'n',
        1000,
      );
      expect(c).toMatchObject({
        layout: 'NHWC',
        channelOrder: 'BGR',
        resize: 'center-crop',
        interpolation: 'lanczos3',
        shorterSide: 160,
        background: [0, 128, 255],
        scale: 1,
        outputKind: 'probabilities',
        maxPixels: 1000,
      });
    });
  });

  describe('peerServerCommands', () => {
    const contract: PeerContract = peerContract(meta(), 'm');

    it('starts one server.py per worker, all on the same port, each binding its own SO_REUSEPORT socket', () => {
      const cmds = peerServerCommands({
        modelDir: '/models/m',
        contract,
        port: 8123,
        workers: 3,
        python: '/py',
      });
      expect(cmds).toHaveLength(3);
      for (const c of cmds) {
        expect(c.command).toBe('/py');
        expect(existsSync(c.args[0])).toBe(true);
        expect(c.args[0]).toMatch(/bench\/peer\/server\.py$/);
        const opt = (name: string) => c.args[c.args.indexOf(name) + 1];
        expect(opt('--port')).toBe('8123');
        expect(opt('--host')).toBe('127.0.0.1');
        expect(opt('--model-dir')).toBe('/models/m');
        expect(opt('--threads')).toBe('1');
        expect(JSON.parse(opt('--contract'))).toEqual(contract);
        expect(c.args).toContain('--reuse-port'); // server.py binds its own socket with SO_REUSEPORT
        expect(c.args).not.toContain('--workers'); // never uvicorn's shared-socket workers
        expect(c.env).toEqual({ PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' });
      }
    });

    it('defaults to one worker per available core with one torch thread each, as the service does', () => {
      const cmds = peerServerCommands({ modelDir: '/m', contract, port: 1 });
      expect(cmds).toHaveLength(os.availableParallelism());
      expect(cmds[0].command).toBe(peerPython());
    });

    it('fails when the worker count is not a whole number ≥ 1', () => {
      expect(() => peerServerCommands({ modelDir: '/m', contract, port: 1, workers: 0 })).toThrow(
        'peer workers (0) must be a whole number ≥ 1',
      );
    });
  });

  describe('startPeer', () => {
    const contract = peerContract(meta(), 'm');

    it('fails with the output of a worker that dies before it is ready', async () => {
      // Node is no Python: it exits at once on server.py's first line.
      await expect(
        startPeer({ modelDir: '/m', contract, python: process.execPath, workers: 2, readyTimeoutMs: 20_000 }),
      ).rejects.toThrow(/a peer worker exited before ready; logs:\n[\s\S]*server\.py/);
    });

    it('fails when the Python cannot be started at all', async () => {
      await expect(
        startPeer({
          modelDir: '/m',
          contract,
          python: '/nonexistent/python3',
          workers: 1,
          readyTimeoutMs: 20_000,
        }),
      ).rejects.toThrow(/exited before ready; logs:\n.*ENOENT/);
    });
  });

  it("uses Debian's python3 (where apt installs the packages) unless PEER_PYTHON says otherwise", () => {
    expect(peerPython({})).toBe('/usr/bin/python3');
    expect(peerPython({ PEER_PYTHON: '/opt/py/bin/python' })).toBe('/opt/py/bin/python');
  });

  it('installs nothing when the packages already import', () => {
    const lines: string[] = [];
    ensurePeerPackages((l) => lines.push(l), '/bin/true');
    expect(lines).toEqual([]);
  });

  it('alternates the servers and reverses every other pair, so drift weighs on both', () => {
    expect(roundOrder(1)).toEqual(['service', 'peer']);
    expect(roundOrder(2)).toEqual(['service', 'peer', 'peer', 'service']);
  });

  it('takes the median of each figure over the rounds', () => {
    const m = medianFigures([
      figures({ saturationImagesPerSec: 100, readyMs: 300 }),
      figures({ saturationImagesPerSec: 120, readyMs: 500 }),
      figures({ saturationImagesPerSec: 300, readyMs: 400 }),
    ]);
    expect(m.saturationImagesPerSec).toBe(120);
    expect(m.readyMs).toBe(400);
    expect(
      medianFigures([figures({ p50OneConnectionMs: 10 }), figures({ p50OneConnectionMs: 13 })])
        .p50OneConnectionMs,
    ).toBe(11.5);
  });

  it("reads the service's figures from its default-option round", () => {
    const v = defaultVariant({ halfRate: level(32, 95, { peakRssMiB: 320 }) });
    expect(serviceFigures(v)).toEqual({
      saturationImagesPerSec: 190,
      cpuMsPerImage: 10,
      p50OneConnectionMs: 10,
      p99OneConnectionMs: 20,
      peakRssMiB: 320,
      readyMs: 500,
    });
  });

  it('measures the largest output difference, and refuses outputs of another width', () => {
    expect(maxAbsDiff([1, 2, 3], Float32Array.from([1, 2.5, 2.9]))).toBeCloseTo(0.5);
    expect(maxAbsDiff([1, 2], [1, 2, 3])).toBe(Number.POSITIVE_INFINITY);
  });
});
