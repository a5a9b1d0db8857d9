import { Size } from 'cdk8s';
import { ContainerResourceAmounts, resourceAmountProblems } from '../src/resource-amounts';

const VALID: ContainerResourceAmounts = {
  cpuRequestMillicores: 500,
  cpuLimitMillicores: 2000,
  memoryRequest: Size.mebibytes(512),
  memoryLimit: Size.gibibytes(2),
};
const problems = (r: Partial<ContainerResourceAmounts>) =>
  resourceAmountProblems({ ...VALID, ...r }, (f) => `<${f}>`);

describe('resourceAmountProblems', () => {
  it('accepts requests at or below their limits', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ cpuRequestMillicores: 2000, memoryRequest: Size.gibibytes(2) })).toEqual([]);
  });

  it('fails when a request exceeds its limit, naming both fields as the caller renders them', () => {
    expect(problems({ cpuRequestMillicores: 2001, memoryRequest: Size.gibibytes(3) })).toEqual([
      {
        field: 'cpuRequestMillicores',
        message:
          '<cpuRequestMillicores> must be ≤ <cpuLimitMillicores>: lower the request or raise the limit',
      },
      {
        field: 'memoryRequest',
        message: '<memoryRequest> must be ≤ <memoryLimit>: lower the request or raise the limit',
      },
    ]);
  });

  it('fails on fractions of a millicore or a MiB, and on zero, without comparing what is invalid', () => {
    expect(problems({ cpuLimitMillicores: 0.5, memoryRequest: Size.kibibytes(1536) })).toEqual([
      {
        field: 'cpuLimitMillicores',
        message: '<cpuLimitMillicores> must be a positive whole number of millicores, e.g. 250 for 250m',
      },
      {
        field: 'memoryRequest',
        message: '<memoryRequest> must be a positive whole number of mebibytes, e.g. Size.mebibytes(512)',
      },
    ]);
    expect(problems({ memoryLimit: Size.mebibytes(0) }).map((p) => p.field)).toEqual(['memoryLimit']);
  });

  it.each([0, -1, -500])('fails on %p millicores, the boundary of "positive"', (cpu) => {
    expect(problems({ cpuRequestMillicores: cpu })).toEqual([
      {
        field: 'cpuRequestMillicores',
        message: '<cpuRequestMillicores> must be a positive whole number of millicores, e.g. 250 for 250m',
      },
    ]);
  });

  it('accepts 1 millicore and 1 MiB', () => {
    expect(problems({ cpuRequestMillicores: 1, memoryRequest: Size.mebibytes(1) })).toEqual([]);
  });
});
