import { renderMarkdown } from '../src/report';
import { evaluateTargets, TARGETS, targetText } from '../src/targets';
import type { ModelResult } from '../src/bench';
import { measuredModel, peer, report } from './bench-fixtures';
import type { MeasuredModel } from '../src/targets';

const withTargets = (m: MeasuredModel): ModelResult => ({ ...m, targets: evaluateTargets(m) });
const rowOf = (md: string, start: string): string => md.split('\n').find((l) => l.startsWith(start)) ?? '';

describe('renderMarkdown', () => {
  it('prints every target with its measured value and yes/no, and says which need --peer', () => {
    const md = renderMarkdown(report([withTargets(measuredModel())]));
    expect(md).toContain('| target | measured | met | missed by |');
    for (const t of TARGETS) expect(md).toContain(`| ${targetText(t)} |`);
    expect(rowOf(md, '| service saturation / in-process ceiling')).toBe(
      '| service saturation / in-process ceiling (same run) ≥ 0.95x | 0.95x (190.0 / 200.0 img/s) | yes |  |',
    );
    expect(rowOf(md, '| saturation / peer saturation')).toBe(
      '| saturation / peer saturation ≥ 1.5x | not measured (run with --peer) | — |  |',
    );
    expect(md).not.toContain('Against the peer');
  });

  it("profiles the service's CPU per image by thread at saturation, busiest first, leaving out idle threads", () => {
    const md = renderMarkdown(report([withTargets(measuredModel())]));
    expect(md).toContain('Where the service CPU goes at saturation');
    expect(rowOf(md, '| option | libvips worker')).toBe(
      '| option | libvips worker | WorkerThread | MainThread | V8Worker | all threads |',
    );
    expect(md).toContain('| default (workers=CPU limit, intraOp=1) | 4.00 | 3.00 | 2.00 | 1.00 | 10.00 |');
    expect(md).not.toContain('| other');
  });

  it('prints the CPU floor per image', () => {
    const md = renderMarkdown(report([withTargets(measuredModel())]));
    expect(md).toContain('2 cores → 200.0 img/s');
    expect(rowOf(md, '| preprocess png-640x480')).toBe('| preprocess png-640x480 (sharp) | 10.00 |');
    expect(rowOf(md, '| inference')).toBe('| inference (ONNX Runtime) | 2.00 |');
  });

  it('prints the service and the peer side by side with ratios, and a missed target with its gap', () => {
    const md = renderMarkdown(report([withTargets(measuredModel({ peer: peer() }))]));
    expect(md).toContain('2 worker processes, each on its own SO_REUSEPORT socket');
    expect(rowOf(md, '| img/s at saturation')).toBe('| img/s at saturation | 190.0 | 100.0 | 1.90x |');
    expect(rowOf(md, '| p50 at one connection, ms')).toBe(
      '| p50 at one connection, ms | 10.00 | 20.00 | 0.50x |',
    );
    expect(rowOf(md, '| cold start to ready, ms')).toBe(
      '| cold start to ready, ms | 500.0 | 3000.0 | 0.17x |',
    );
    expect(rowOf(md, '| preprocess png-640x480')).toBe(
      '| preprocess png-640x480 (sharp vs Pillow) | 10.00 | 6.00 | 1.67x |',
    );
    expect(rowOf(md, '| inference')).toBe(
      '| inference (ONNX Runtime vs torch 1.13.0) | 2.00 | 4.00 | 0.50x |',
    );
    expect(rowOf(md, '| preprocessing CPU (sharp) / Pillow')).toBe(
      '| preprocessing CPU (sharp) / Pillow, same images and output size ≤ 1x | 1.60x (8.00 / 5.00 CPU-ms/img) | **no** | 0.60x (60 % over) |',
    );
    expect(md).toContain('peer 100.0 (worker cores 0.90/0.95), 100.0 (worker cores 0.90/0.95)');
  });

  it('says under the targets what limits each missed one, and prints no such list when all are met', () => {
    const missed = renderMarkdown(report([withTargets(measuredModel({ peer: peer() }))]));
    const list = missed.slice(missed.indexOf("What limits each missed target (this run's profile):"));
    expect(list.split('\n').filter((l) => l.startsWith('- '))).toEqual([
      '- preprocessing CPU (sharp) / Pillow, same images and output size ≤ 1x: CPU-ms per image, sharp / ' +
        'Pillow: jpeg-640x480 6.00 / 4.00, png-640x480 10.00 / 6.00',
    ]);
    expect(renderMarkdown(report([withTargets(measuredModel())]))).not.toContain('What limits');
  });

  it("prints where the main thread's wall time went at saturation when a profile was taken", () => {
    const profile = {
      connections: 16,
      seconds: 4,
      imagesPerSec: 180,
      file: 'bench-default-main-thread.cpuprofile',
      wallMs: 4000,
      samples: 3500,
      idle: 0.3,
      gc: 0.18,
      functions: [
        { what: 'postMessage (native, from dispatch build/service/src/inference/pool.js)', share: 0.11 },
        { what: 'a|b node:x:1', share: 0.01 },
      ],
      packages: [
        { what: 'service', share: 0.2 },
        { what: 'sharp', share: 0.12 },
      ],
    };
    const md = renderMarkdown(report([withTargets(measuredModel({ profile }))]));
    expect(md).toContain(
      'The main thread at saturation, from a CPU profile (`bench-default-main-thread.cpuprofile` beside this ' +
        'report; 16 connections for 4.0 s, 180.0 img/s while profiled).',
    );
    expect(md).toContain('idle 30.0 %, garbage collection 18.0 %.');
    expect(md).toContain(
      'By package (self time, a native counted with its caller): service 20.0 %, sharp 12.0 %.',
    );
    expect(rowOf(md, '| postMessage')).toBe(
      '| postMessage (native, from dispatch build/service/src/inference/pool.js) | 11.0 % |',
    );
    expect(rowOf(md, '| a')).toBe('| a\\|b node:x:1 | 1.0 % |');
    expect(renderMarkdown(report([withTargets(measuredModel())]))).not.toContain('CPU profile');
  });
});
