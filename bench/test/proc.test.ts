import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  gcBetween,
  procCpuSeconds,
  procThreadCpuSeconds,
  scrapeServiceMetrics,
  threadCpuMsPerImage,
} from '../src/service-process';

describe('CPU readings from /proc', () => {
  it("splits a process's CPU time by thread group, adding up to the process's own reading", () => {
    const end = Date.now() + 300;
    while (Date.now() < end); // burn CPU on this thread (the Jest worker's main thread)
    const groups = procThreadCpuSeconds(process.pid);
    const total = procCpuSeconds(process.pid);
    expect([...groups.keys()].every((name) => !/\d$/.test(name))).toBe(true); // numbers dropped
    const sum = [...groups.values()].reduce((a, b) => a + b, 0);
    expect(sum).toBeGreaterThanOrEqual(0.25);
    // Threads that already ended count in the process's total only.
    expect(sum).toBeLessThanOrEqual(total + 0.02);
    expect(procThreadCpuSeconds(2 ** 22 + 1).size).toBe(0); // no such process
  });

  it('turns two readings into CPU-ms per image for each group', () => {
    const before = new Map([
      ['MainThread', 1.0],
      ['WorkerThread', 2.0],
    ]);
    const after = new Map([
      ['MainThread', 1.5],
      ['WorkerThread', 3.0],
      ['V8Worker', 0.2],
    ]);
    expect(threadCpuMsPerImage(before, after, 100)).toEqual({ MainThread: 5, WorkerThread: 10, V8Worker: 2 });
  });
});

describe("the service's /metrics as the bench reads them", () => {
  // Lines as the service's prom-client registry prints them (before any young-generation collection).
  const page = (majorCount: number, majorSeconds: number): string =>
    [
      '# TYPE nodejs_eventloop_lag_min_seconds gauge',
      'nodejs_eventloop_lag_min_seconds 0.010027008',
      '# TYPE nodejs_eventloop_lag_max_seconds gauge',
      'nodejs_eventloop_lag_max_seconds 0.031211519',
      '# TYPE nodejs_gc_duration_seconds histogram',
      'nodejs_gc_duration_seconds_bucket{le="0.001",kind="major"} 0',
      `nodejs_gc_duration_seconds_sum{kind="major"} ${majorSeconds}`,
      `nodejs_gc_duration_seconds_count{kind="major"} ${majorCount}`,
      'nodejs_gc_duration_seconds_sum{kind="incremental"} 0.0023884200006723403',
      'nodejs_gc_duration_seconds_count{kind="incremental"} 1',
      '',
    ].join('\n');
  let server: Server;
  let url = '';
  let pages: string[] = [];

  beforeAll(async () => {
    server = createServer((_req, res) => res.end(pages.shift() ?? ''));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("reads the loop stall and the main thread's collections, and the collections between two scrapes", async () => {
    pages = [page(1, 0.015), page(5, 0.055)];
    const before = await scrapeServiceMetrics(url);
    expect(before.loopStallMs).toBeCloseTo(21.184511, 5);
    expect(before.gc).toEqual({ major: { count: 1, ms: 15 }, minor: { count: 0, ms: 0 } });
    const after = await scrapeServiceMetrics(url);
    const between = gcBetween(before.gc, after.gc);
    expect(between.major.count).toBe(4);
    expect(between.major.ms).toBeCloseTo(40);
    expect(between.minor).toEqual({ count: 0, ms: 0 });
  });

  it('gives NaN, not zeros, when the service does not answer', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const m = await scrapeServiceMetrics(`http://127.0.0.1:${port}`);
    expect(m.loopStallMs).toBeNaN();
    expect(m.gc.major.count).toBeNaN();
  });
});
