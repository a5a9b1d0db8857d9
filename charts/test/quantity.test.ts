import { cpuMillis, memoryMebibytes } from '../src/quantity';

describe('quantity', () => {
  it.each(['500m', '2', '1.5', '.5', '1k'])('accepts the CPU quantity %s', (q) =>
    expect(() => cpuMillis(q)).not.toThrow(),
  );
  it.each(['512Mi', '2Gi', '1048576Ki', '1Ti'])('accepts the memory quantity %s', (q) =>
    expect(() => memoryMebibytes(q)).not.toThrow(),
  );
  it.each(['500mm', '', 'two', '-1', '1 Gi', '1gi', '5e3'])('rejects %p as no quantity', (q) =>
    expect(() => cpuMillis(q)).toThrow('is not a Kubernetes quantity'),
  );

  it('converts CPU to millicores', () => {
    expect([cpuMillis('500m'), cpuMillis('2'), cpuMillis('1.5'), cpuMillis('0.1'), cpuMillis('.25')]).toEqual(
      [500, 2000, 1500, 100, 250],
    );
  });

  it('converts memory to mebibytes', () => {
    expect([memoryMebibytes('512Mi'), memoryMebibytes('2Gi'), memoryMebibytes('1048576Ki')]).toEqual([
      512, 2048, 1024,
    ]);
  });

  it('fails on a malformed quantity, naming it and showing valid forms', () => {
    expect(() => cpuMillis('500mm', 'cpuRequest')).toThrow(
      "cpuRequest '500mm' is not a Kubernetes quantity: write a number with an optional suffix, e.g. 500m, 2, 512Mi, 1Gi.",
    );
  });

  it.each(['0', '0.0001'])(
    'fails on the CPU quantity %p (zero, a fraction of a millicore), naming it by default and showing valid forms',
    (q) =>
      expect(() => cpuMillis(q)).toThrow(
        `CPU quantity '${q}' must be a positive whole number of millicores, e.g. 250m or 1.5.`,
      ),
  );

  it.each(['0Mi', '1G'])(
    'fails on the memory quantity %p (zero, not a whole number of mebibytes), naming it by default and showing valid forms',
    (q) =>
      expect(() => memoryMebibytes(q)).toThrow(
        `memory quantity '${q}' must be a positive whole number of mebibytes, e.g. 512Mi or 2Gi.`,
      ),
  );

  it('accepts the smallest amounts: 1m and 1Mi', () => {
    expect([cpuMillis('1m'), memoryMebibytes('1Mi')]).toEqual([1, 1]);
  });
});
