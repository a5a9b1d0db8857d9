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

  it('fails on fractions of a millicore or a mebibyte, and on zero', () => {
    expect(() => cpuMillis('0.0001')).toThrow('must be a positive whole number of millicores');
    expect(() => memoryMebibytes('1G')).toThrow('must be a positive whole number of mebibytes');
    expect(() => memoryMebibytes('0Mi')).toThrow('must be a positive whole number of mebibytes');
  });

  it.each([
    [
      'cpuMillis',
      () => cpuMillis('0'),
      "CPU quantity '0' must be a positive whole number of millicores, e.g. 250m or 1.5.",
    ],
    [
      'cpuMillis',
      () => cpuMillis('0.0001'),
      "CPU quantity '0.0001' must be a positive whole number of millicores, e.g. 250m or 1.5.",
    ],
    [
      'memoryMebibytes',
      () => memoryMebibytes('1G'),
      "memory quantity '1G' must be a positive whole number of mebibytes, e.g. 512Mi or 2Gi.",
    ],
    [
      'memoryMebibytes',
      () => memoryMebibytes('0Mi'),
      "memory quantity '0Mi' must be a positive whole number of mebibytes, e.g. 512Mi or 2Gi.",
    ],
  ])('%s names the quantity by default and shows valid forms', (_, call, message) =>
    expect(call).toThrow(message),
  );

  it('accepts the smallest amounts: 1m and 1Mi', () => {
    expect([cpuMillis('1m'), memoryMebibytes('1Mi')]).toEqual([1, 1]);
  });
});
