import { procCpuSeconds, procThreadCpuSeconds, threadCpuMsPerImage } from '../src/service-process';

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
